"""The fast path: pipelines made only of Affine and flips, run with OpenCV directly.

albumentations costs about a second to import in every process and about 1 ms of Python per call
around a 0.3-0.6 ms ``warpAffine``. For a pipeline of ``Affine``, ``HorizontalFlip`` and ``VerticalFlip``
(the keras preset, or any pipeline file made of them) this module does what albumentations 2.0.8 does,
step for step: the same draws from the same per-node random streams (seeded as ``expander.augment``
seeds them), the same matrix, the same OpenCV calls. The bytes are identical to albumentations' output
(tests/test_fastpath.py checks it), so which path ran never shows in a run's files.

Everything else goes through albumentations: other transforms, options we do not mirror (fit_output,
balanced_scale, nested compositions), and images other than 8-bit grayscale or RGB.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

Step = Callable[[np.ndarray, random.Random], np.ndarray]


def python_stream(seed: int, position: int) -> random.Random:
    """The Python random stream of the pipeline node at ``position`` (0 = the outer Compose) for ``seed``."""
    return random.Random(f"{seed}:{position}")


class FastPipeline:
    """Callable ``(image, seed) -> image`` for 8-bit grayscale or RGB images."""

    def __init__(self, steps: list[tuple[int, Step]]):
        self.steps = steps  # (position in the pipeline, step)

    @staticmethod
    def accepts(image: np.ndarray) -> bool:
        return image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        for position, step in self.steps:
            image = step(image, python_stream(seed, position))
        return image


def compile_fast(transform: dict[str, Any]) -> FastPipeline | None:
    """A FastPipeline for a serialised (validated, ``albumentations.to_dict``) Compose, or None."""
    if transform.get("__class_fullname__") != "Compose" or transform.get("p") != 1.0:
        return None
    if transform.get("bbox_params") or transform.get("keypoint_params") or transform.get("additional_targets"):
        return None
    steps = []
    for position, node in enumerate(transform.get("transforms", []), start=1):
        build = _BUILDERS.get(node.get("__class_fullname__"))
        step = build(node) if build else None
        if step is None:
            return None
        steps.append((position, step))
    return FastPipeline(steps)


def _applies(p: float, rng: random.Random) -> bool:
    # BasicTransform.should_apply: no draw when p is 0 or 1.
    if p <= 0.0:
        return False
    return p >= 1.0 or rng.random() < p


def _flip(code: int) -> Callable[[dict], Step | None]:
    def build(node: dict) -> Step | None:
        if set(node) != {"__class_fullname__", "p"}:
            return None
        p = float(node["p"])
        return lambda image, rng: cv2.flip(image, code) if _applies(p, rng) else image

    return build


_AFFINE_KEYS = {
    "__class_fullname__", "p", "balanced_scale", "border_mode", "fill", "fill_mask", "fit_output", "interpolation",
    "keep_ratio", "mask_interpolation", "rotate", "rotate_method", "scale", "shear", "translate_percent",
    "translate_px",
}  # fmt: skip


def _affine(node: dict) -> Step | None:
    if set(node) != _AFFINE_KEYS or node["fit_output"] or node["balanced_scale"]:
        return None
    ranges = [node["scale"], node["shear"]] + [node[k] for k in ("translate_percent", "translate_px") if node[k]]
    if not all(isinstance(r, dict) and list(r) == ["x", "y"] and all(map(_is_range, r.values())) for r in ranges):
        return None
    if not _is_range(node["rotate"]) or not isinstance(node["fill"], (int, float, list)):
        return None
    p, rotate, keep_ratio = float(node["p"]), node["rotate"], bool(node["keep_ratio"])
    percent, pixels, shear, scale = node["translate_percent"], node["translate_px"], node["shear"], node["scale"]
    interpolation, border_mode, fill = node["interpolation"], node["border_mode"], node["fill"]

    def step(image: np.ndarray, rng: random.Random) -> np.ndarray:
        if not _applies(p, rng):
            return image
        height, width = image.shape[:2]
        # Affine.get_params_dependent_on_data: translate, shear, scale, rotate, in that order.
        if pixels is not None:
            tx, ty = (rng.randint(int(pixels[k][0]), int(pixels[k][1])) for k in ("x", "y"))
        elif percent is not None:
            fx, fy = (rng.uniform(*percent[k]) for k in ("x", "y"))
            tx, ty = int(fx * width), int(fy * height)
        else:
            tx = ty = 0
        shear_x, shear_y = (-rng.uniform(*shear[k]) for k in ("x", "y"))
        scale_x, scale_y = (rng.uniform(*scale[k]) for k in ("x", "y"))
        if keep_ratio:
            scale_y = scale_x
        angle = rng.uniform(*rotate)
        matrix = _matrix(tx, ty, shear_x, shear_y, scale_x, scale_y, angle, (width / 2 - 0.5, height / 2 - 0.5))
        if _is_identity(matrix):
            return image  # albumentations skips the warp for an identity matrix
        channels = 1 if image.ndim == 2 else image.shape[2]
        border_value = [fill] * channels if isinstance(fill, float) else tuple(fill) if isinstance(fill, list) else fill
        return cv2.warpAffine(image, matrix[:2, :], (width, height), flags=interpolation, borderMode=border_mode,
                              borderValue=border_value)  # fmt: skip

    return step


_EYE = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _is_identity(matrix: np.ndarray) -> bool:
    """``np.allclose(matrix, np.eye(3))`` (its default tolerances) in a tenth of the time."""
    return all(abs(a - b) <= 1e-8 + 1e-5 * abs(b) for a, b in zip(matrix.flat, _EYE, strict=True))


def _is_range(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


def _matrix(tx, ty, shear_x, shear_y, scale_x, scale_y, angle, shift) -> np.ndarray:
    """albumentations' create_affine_transformation_matrix, operation for operation (same float results)."""
    rad = np.deg2rad(angle % 360)
    shear_x, shear_y = np.deg2rad(shear_x), np.deg2rad(shear_y)
    to_topleft = np.array([[1, 0, -shift[0]], [0, 1, -shift[1]], [0, 0, 1]])
    scaling = np.array([[scale_x, 0, 0], [0, scale_y, 0], [0, 0, 1]])
    rotation = np.array([[np.cos(rad), np.sin(rad), 0], [-np.sin(rad), np.cos(rad), 0], [0, 0, 1]])
    shearing = np.array([[1, np.tan(shear_x), 0], [np.tan(shear_y), 1, 0], [0, 0, 1]])
    translation = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    to_centre = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]])
    matrix = to_centre @ translation @ shearing @ rotation @ scaling @ to_topleft
    matrix[2] = [0, 0, 1]
    return matrix


_BUILDERS: dict[str, Callable[[dict], Step | None]] = {
    "Affine": _affine,
    "HorizontalFlip": _flip(1),
    "VerticalFlip": _flip(0),
}
