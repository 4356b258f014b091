"""Apply a pipeline to one decoded image with one seed: the only run-time caller of albumentations.

Rules for images that albumentations does not take as they are:

* RGBA: the colour channels are augmented as the image and the alpha channel as a mask, so
  geometric transforms move alpha with the pixels and colour transforms leave it alone.
* 16-bit: augmented in float32 scaled to [0, 1] and rounded back to 16 bits, so no
  precision is lost to an 8-bit round trip.
* grayscale: stays one channel (albumentations' colour transforms treat it as luminance).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np

from expander.pipeline import build_pipeline


class Augmenter:
    """Callable ``(image, seed) -> image``, built once per worker from a serialised pipeline."""

    def __init__(self, pipeline: dict[str, Any]):
        import albumentations as A

        self.compose = build_pipeline(pipeline["transform"])
        # Colour transforms on grayscale are documented to act on luminance only; no need to warn per image.
        warnings.filterwarnings("ignore", message=".*not applicable to grayscale.*", category=UserWarning)
        self._nodes = list(_walk(self.compose, A.BaseCompose))

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        self._reseed(seed)
        depth16 = image.dtype == np.uint16
        # Always hand the pipeline a copy: some transforms write into their input (albumentations
        # 2.0.8's AutoContrast does on 2-D grayscale), and the source is reused for every copy.
        image = image.astype(np.float32) / 65535.0 if depth16 else image.copy()
        if image.ndim == 3 and image.shape[2] == 4:
            out = self.compose(image=np.ascontiguousarray(image[:, :, :3]), mask=image[:, :, 3])
            result = np.dstack([out["image"], out["mask"]])
        else:
            result = self.compose(image=image)["image"]
        if result.ndim == 3 and result.shape[2] == 1:
            result = result[:, :, 0]
        if depth16:
            result = np.clip(np.rint(result * 65535.0), 0, 65535).astype(np.uint16)
        return result

    def _reseed(self, seed: int) -> None:
        # Compose.set_random_seed gives every transform the same seed, which makes their
        # probability draws identical (two p=0.5 transforms would always fire together).
        # Each node gets its own stream derived from (seed, position in the pipeline).
        for position, node in enumerate(self._nodes):
            node.random_generator = np.random.default_rng((seed, position))
            node.py_random = random.Random(f"{seed}:{position}")


def _walk(node: Any, compose_type: type):
    yield node
    if isinstance(node, compose_type):
        for child in node.transforms:
            yield from _walk(child, compose_type)
