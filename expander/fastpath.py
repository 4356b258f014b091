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
    return random.Random(_stream_key(seed, position))


def _stream_key(seed: int, position: int) -> str:
    return f"{seed}:{position}"


class FastPipeline:
    """Callable ``(image, seed) -> image`` for 8-bit grayscale or RGB images.

    ``order_free``: no step depends on channel order (warps and flips treat every channel alike; only
    a per-channel ``fill`` does not), so the pipeline gives the same pixels on BGR images, in BGR.
    """

    def __init__(self, steps: list[tuple[int, Step]], order_free: bool = True):
        # (position in the pipeline, step, its random stream): one Random per step, reseeded per call,
        # is the state python_stream gives without allocating a new generator every time.
        self.steps = [(position, step, random.Random()) for position, step in steps]
        self.order_free = order_free

    @staticmethod
    def accepts(image: np.ndarray) -> bool:
        return image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        for position, step, rng in self.steps:
            rng.seed(_stream_key(seed, position))
            image = step(image, rng)
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
    fills = [node["fill"] for node in transform["transforms"] if isinstance(node.get("fill"), list)]
    return FastPipeline(steps, order_free=all(len(set(fill)) <= 1 for fill in fills))


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
    matrix_of = _Matrix()

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
        matrix = matrix_of(tx, ty, shear_x, shear_y, scale_x, scale_y, angle, (width / 2 - 0.5, height / 2 - 0.5))
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
    return all(abs(a - b) <= 1e-8 + 1e-5 * abs(b) for a, b in zip(matrix.ravel().tolist(), _EYE, strict=True))


def _is_range(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


class _Matrix:
    """albumentations' create_affine_transformation_matrix, operation for operation (same float results).

    The same products of the same float64 matrices, in the same order, through the same matmul
    (tests/test_fastpath.py compares the files); the six factors and the products live in arrays
    made once and filled per call, which halves the time numpy spends around the arithmetic.
    The returned matrix is overwritten by the next call.
    """

    def __init__(self):
        self.factors = [np.eye(3) for _ in range(6)]
        self.products = [np.empty((3, 3)) for _ in range(5)]

    def __call__(self, tx, ty, shear_x, shear_y, scale_x, scale_y, angle, shift) -> np.ndarray:
        to_topleft, scaling, rotation, shearing, translation, to_centre = self.factors
        rad = np.deg2rad(angle % 360)
        cos, sin = np.cos(rad), np.sin(rad)
        to_topleft[0, 2], to_topleft[1, 2] = -shift[0], -shift[1]
        scaling[0, 0], scaling[1, 1] = scale_x, scale_y
        rotation[0, 0], rotation[0, 1], rotation[1, 0], rotation[1, 1] = cos, sin, -sin, cos
        shearing[0, 1], shearing[1, 0] = np.tan(np.deg2rad(shear_x)), np.tan(np.deg2rad(shear_y))
        translation[0, 2], translation[1, 2] = tx, ty
        to_centre[0, 2], to_centre[1, 2] = shift
        # to_centre @ translation @ shearing @ rotation @ scaling @ to_topleft, evaluated left to right
        product = to_centre
        for factor, out in zip((translation, shearing, rotation, scaling, to_topleft), self.products, strict=True):
            product = np.matmul(product, factor, out=out)
        product[2] = [0, 0, 1]
        return product


_BUILDERS: dict[str, Callable[[dict], Step | None]] = {
    "Affine": _affine,
    "HorizontalFlip": _flip(1),
    "VerticalFlip": _flip(0),
}
