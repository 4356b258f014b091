"""Apply a pipeline to one decoded image with one seed: the only run-time caller of albumentations.

Pipelines of Affine and flips on 8-bit grayscale or RGB images take expander.fastpath instead, which
gives the same pixels without importing albumentations, and makes JPEG copies of colour images in one
warp of their YCbCr planes (see there).

Rules for images that albumentations does not take as they are:

* RGBA: the colour channels are augmented as the image and the alpha channel as a mask, so
  geometric transforms move alpha with the pixels and colour transforms leave it alone.
* 16-bit: augmented in float32 scaled to [0, 1] and rounded back to 16 bits, so no
  precision is lost to an 8-bit round trip.
* grayscale: stays one channel (albumentations' colour transforms treat it as luminance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expander import images
from expander.errors import PipelineError
from expander.fastpath import Planes, compile_fast, python_stream, ycbcr_planes
from expander.pipeline import STYLE_METADATA_KEYS, STYLE_REFS_KEY, albumentations, build_pipeline
from expander.storage import open_store


@dataclass(frozen=True)
class LabelParams:
    """How labels move: boxes as pixel corners (``expander.labels.instances``), dropped below ``min_visibility``
    (the fraction of a box's area left inside the image); keypoints as points."""

    min_visibility: float = 0.1

    def compose_args(self, A) -> dict[str, Any]:
        return {
            "bbox_params": A.BboxParams(format="pascal_voc", label_fields=["object_index"],
                                        min_visibility=self.min_visibility, clip=True),
            "keypoint_params": A.KeypointParams(format="xy", label_fields=["keypoint_id"], remove_invisible=True),
        }  # fmt: skip


def fast_pipeline(pipeline: dict[str, Any]):
    """The fast path for a serialised pipeline, or None (style references, or transforms it does not mirror)."""
    return None if pipeline.get(STYLE_REFS_KEY) else compile_fast(pipeline["transform"])


class Augmenter:
    """Callable ``(image, seed) -> image``, built once per worker from a serialised pipeline."""

    def __init__(self, pipeline: dict[str, Any], labels: LabelParams | None = None, max_pixels: int | None = None):
        self._pipeline = pipeline
        self.max_pixels = max_pixels  # a copy larger than this is refused, as a source would be
        self._labels = labels
        self._style_files: list[str] = pipeline.get(STYLE_REFS_KEY) or []
        self.fast = None if labels else fast_pipeline(pipeline)  # the fast path moves no labels
        # The channel order it wants images in: OpenCV's own BGR when no transform cares, which
        # saves converting every image to RGB and back (same pixels, same files).
        self.channel_order = "BGR" if self.fast is not None and self.fast.order_free else "RGB"
        self._compose = None  # built on first use: a fast-path run never imports albumentations
        self._nodes: list = []
        self._buffers: dict[int, np.ndarray] = {}
        self._style: dict[tuple, list[np.ndarray]] = {}  # references converted to each input layout
        self._planes: tuple[np.ndarray | None, Planes | None] = (None, None)  # (image, its YCbCr planes)

    @property
    def compose(self):
        if self._compose is None:
            A = albumentations()
            # Colour transforms on grayscale are documented to act on luminance only; no need to warn per image.
            warnings.filterwarnings("ignore", message=".*not applicable to grayscale.*", category=UserWarning)
            # A colour-only pipeline on a labelled dataset: the labels simply stay where they are.
            warnings.filterwarnings("ignore", message="Got processor for .*, but no transform", category=UserWarning)
            compose = build_pipeline(self._pipeline["transform"])
            if self._labels is not None:  # the same transforms, in the same order: the same seeds per node
                compose = A.Compose(compose.transforms, p=compose.p, **self._labels.compose_args(A))
            self._compose = compose
            self._nodes = list(_walk(compose, A.BaseCompose))
        return self._compose

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        """The augmented image. Never written into ``image``; may be ``image`` itself when nothing changed."""
        if self.fast is not None and self.fast.accepts(image):
            return self.fast(image, seed)  # warpAffine and flip never write into their input
        return self.albumentations(image, seed)

    def jpeg(self, image: np.ndarray, seed: int, quality: int) -> bytes | None:
        """The augmented image's JPEG bytes where the fast path makes them from YCbCr planes, else None.

        The planes are made once per image (the last one is kept): every copy of a source reuses them.
        """
        if self.fast is None or not self.fast.takes_planes(image):
            return None
        if self._planes[0] is not image:
            self._planes = (image, ycbcr_planes(image))
        planes = self._planes[1]
        assert planes is not None
        return self.fast.jpeg(planes, seed, quality)

    def albumentations(self, image: np.ndarray, seed: int) -> np.ndarray:
        """The pipeline run by albumentations, whatever the fast path could do."""
        compose = self.compose
        self._reseed(seed)
        source = image  # what each copy must match: dtype and channels
        depth16 = image.dtype == np.uint16
        if depth16:
            image = image.astype(np.float32) / 65535.0
        if image.ndim == 3 and image.shape[2] == 4:
            colour = self._scratch(image[:, :, :3], 0)
            out = compose(image=colour, mask=self._scratch(image[:, :, 3], 1), **self._references(colour))
            result = np.dstack([out["image"], out["mask"]])
        else:
            scratch = self._scratch(image, 0)
            result = self._own(compose(image=scratch, **self._references(scratch))["image"])
        if result.ndim == 3 and result.shape[2] == 1 and source.ndim == 2:  # albumentations adds an axis to grey
            result = result[:, :, 0]
        if depth16:
            result = np.clip(np.rint(result * 65535.0), 0, 65535).astype(np.uint16)
        return checked(source, result, self.max_pixels)

    def labelled(self, image: np.ndarray, seed: int, **targets: Any) -> dict[str, Any]:
        """The pipeline on an image and its labels (``bboxes``, ``object_index``, ``masks``, ``keypoints``).

        16-bit images go through as float32 in [0, 1]; an alpha channel goes through as one more mask.
        """
        compose = self.compose
        self._reseed(seed)
        source = image  # what each copy must match: dtype and channels
        depth16 = image.dtype == np.uint16
        if depth16:
            image = image.astype(np.float32) / 65535.0
        masks = list(targets.pop("masks", []))
        alpha = image.ndim == 3 and image.shape[2] == 4
        if alpha:
            masks.append(image[:, :, 3])
            image = image[:, :, :3]
        scratch = self._scratch(image, 0)
        out = dict(compose(image=scratch, masks=masks, **targets, **self._references(scratch)))
        result = self._own(out["image"])
        masks = [np.asarray(m) for m in out["masks"]]
        if alpha:
            result = np.dstack([result, masks.pop()])
        if result.ndim == 3 and result.shape[2] == 1:
            result = result[:, :, 0]
        if depth16:
            result = np.clip(np.rint(result * 65535.0), 0, 65535).astype(np.uint16)
        out.update(image=checked(source, result, self.max_pixels), masks=masks)
        return out

    def _references(self, image: np.ndarray) -> dict[str, list[np.ndarray]]:
        """Style reference images in ``image``'s layout (channels, dtype), decoded once per worker."""
        if not self._style_files:
            return {}
        layout = (image.ndim, image.dtype.str)
        if layout not in self._style:
            self._style[layout] = [_as_layout(_decode_reference(path), image) for path in self._style_files]
        return dict.fromkeys(STYLE_METADATA_KEYS, self._style[layout])

    def _scratch(self, array: np.ndarray, slot: int) -> np.ndarray:
        """A private copy of ``array`` in a buffer reused across calls.

        The pipeline never gets the caller's array: some transforms write into their input
        (albumentations 2.0.8's AutoContrast does on 2-D grayscale), and a worker reuses one decoded
        source for every copy. Reusing the buffer matters: a fresh copy of a 500x375 photo costs
        ~0.7 ms in page faults, a copy into a warm buffer ~0.06 ms.
        """
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.shape != array.shape or buffer.dtype != array.dtype:
            buffer = self._buffers[slot] = np.empty_like(array, order="C")
        np.copyto(buffer, array)
        return buffer

    def _own(self, result: np.ndarray) -> np.ndarray:
        """The result, copied out if it is (a view of) a scratch buffer that the next call overwrites."""
        if any(np.may_share_memory(result, b) for b in self._buffers.values()):
            return result.copy()
        return result

    def _reseed(self, seed: int) -> None:
        # Compose.set_random_seed gives every transform the same seed, which makes their
        # probability draws identical (two p=0.5 transforms would always fire together).
        # Each node gets its own stream derived from (seed, position in the pipeline).
        for position, node in enumerate(self._nodes):
            node.random_generator = np.random.default_rng((seed, position))
            node.py_random = python_stream(seed, position)


def _decode_reference(path: str) -> np.ndarray:

    with open(path, "rb") as f:
        return images.decode(f.read(), path)  # the default pixel limit: references are never bombs we accept


def _as_layout(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A reference image converted to ``image``'s channels and dtype (uint8, or float32 in [0, 1])."""
    reference = images.to_8bit(reference, channels=1 if image.ndim == 2 else 3)
    if image.dtype == np.float32:
        reference = reference.astype(np.float32) / 255.0
    return np.ascontiguousarray(reference)


def _walk(node: Any, compose_type: type):
    yield node
    if isinstance(node, compose_type):
        children: list[Any] = node.transforms  # type: ignore[attr-defined]  # a BaseCompose
        for child in children:
            yield from _walk(child, compose_type)


def probe_pipeline(
    pipeline: dict[str, Any],
    src_root: str | Path,
    sources: list[str],
    size: tuple[int, int] | None = None,
    max_pixels: int | None = None,
    tries: int = 3,
) -> None:
    """Run the pipeline on a few of ``sources`` before anything is written, and refuse one that
    cannot make image files: an output that is not an 8/16-bit array with the source's channels (e.g.
    after Normalize, ToFloat or ToTensorV2), or a pipeline that fails on every image it is tried on.

    Fast-path pipelines (Affine and flips) always make images and are not probed.

    Raises:
        PipelineError: naming the source image, what came out, and the fix.
    """
    if "transform" not in pipeline or fast_pipeline(pipeline) is not None:
        return
    for path in pipeline.get(STYLE_REFS_KEY) or []:
        try:
            _decode_reference(path)
        except (OSError, images.DecodeError) as e:
            raise PipelineError(f"Style reference '{path}' cannot be used: {e}. Remove it from --style-refs.") from None

    store = open_store(src_root)
    augmenter = Augmenter(pipeline, max_pixels=max_pixels)
    errors = []
    for source in sources:
        try:
            image = images.decode_resized(store.read(source), source, size, max_pixels=max_pixels)
        except (OSError, images.DecodeError):
            continue  # the run reports it
        try:
            augmenter(image, 0)
        except PipelineOutputError as e:
            raise PipelineError(f"On '{source}' ({_describe(image)}), {e}. Fix the pipeline.") from None
        except Exception as e:  # any transform's failure: collected, then reported with the file it hit
            errors.append(f"'{source}': {type(e).__name__}: {' '.join(str(e).split())}")
            if len(errors) == tries:
                break
            continue
        return  # a transform that fires on some copies only is caught on those copies (``checked``)
    if errors:
        raise PipelineError(f"The pipeline fails on every source image it was tried on: {'; '.join(errors)}.")


class PipelineOutputError(ValueError):
    """A pipeline made something that is not an image file's pixels for one copy (recorded for that copy)."""


def checked(image: np.ndarray, result: Any, max_pixels: int | None) -> np.ndarray:
    """Every copy, not only the probe's: a transform inside OneOf or at p < 1 fires on some copies only.

    Raises:
        PipelineOutputError: a copy that is not an 8/16-bit image with the source's channels (Normalize,
            ToFloat), or larger than ``max_pixels`` (Resize to 15000x15000).
    """
    problem = _output_problem(image, result)
    if problem:
        raise PipelineOutputError(
            f"the pipeline turned this copy into {problem}; expander writes image files, so remove transforms "
            "that make model inputs (Normalize, ToFloat, ToTensorV2, ...), also inside OneOf or at p < 1"
        )
    height, width = result.shape[:2]
    if max_pixels is not None and height * width > max_pixels:
        raise PipelineOutputError(
            f"the pipeline made this copy {width}x{height} ({height * width:,} pixels), over --max-pixels "
            f"{max_pixels:,}; make the pipeline's sizes smaller, or raise --max-pixels if you mean it"
        )
    return result


def _output_problem(image: np.ndarray, result: Any) -> str:
    if not isinstance(result, np.ndarray):
        return f"a {type(result).__name__}, not an image array"
    if result.dtype != image.dtype:
        return f"{_describe(result)} (values {float(result.min()):g} to {float(result.max()):g})"
    if result.ndim != image.ndim or result.shape[2:] != image.shape[2:]:
        return _describe(result)
    return ""


def _describe(array: np.ndarray) -> str:
    channels = 1 if array.ndim == 2 else array.shape[2]
    return f"{channels}-channel {array.dtype}"
