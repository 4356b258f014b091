"""The fast path: pipelines made only of Affine and flips, run with OpenCV directly.

albumentations costs about a second to import in every process and about 1 ms of Python per call
around a 0.3-0.6 ms ``warpAffine``. For a pipeline of ``Affine``, ``HorizontalFlip`` and ``VerticalFlip``
(the keras preset, or any pipeline file made of them) this module does what albumentations 2.0.8 does,
step for step: the same draws from the same per-node random streams (seeded as ``expander.augment``
seeds them), the same matrix, the same OpenCV calls. The pixels are identical to albumentations' output
(tests/test_fastpath.py checks it).

JPEG copies of colour images with one Affine step take a shorter way (``FastPipeline.jpeg``): the same
draws, every step's matrix folded into one warp (a flip is a matrix too), done on the image's YCbCr 4:2:0
planes (chroma at half size) and encoded from them, with no colour conversion or chroma subsampling per
copy. That is about 15% less work per copy than warp, flip and ``imencode``; the files differ from
albumentations' by about as much as a second JPEG encoding would (PSNR about 45 dB on photos,
benchmarks/bench_worker.py; tests/test_fastpath.py checks the draws and bounds the difference).

Everything else goes through albumentations: other transforms, options we do not mirror (fit_output,
balanced_scale, nested compositions), and images other than 8-bit grayscale or RGB.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from expander.images import encode_jpeg_planes

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
# chroma pixel -> luma pixel in 4:2:0 (JPEG's siting: a chroma sample sits between its 2x2 luma pixels)
_CHROMA_TO_LUMA = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])
_LUMA_TO_CHROMA = np.linalg.inv(_CHROMA_TO_LUMA)


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

    def __init__(self, steps: list[tuple[int, _Step]], order_free: bool = True):
        # (position in the pipeline, step, its random stream): one Random per step, reseeded per call,
        # is the state python_stream gives without allocating a new generator every time.
        self.steps = [(position, step, random.Random()) for position, step in steps]
        self.order_free = order_free
        affines = [step for _, step in steps if isinstance(step, _Affine)]
        # jpeg() folds every step into one warp: that needs one warp's options and a grey fill (one value per plane)
        self.folding = affines[0] if len(affines) == 1 and affines[0].grey_fill is not None else None

    @staticmethod
    def accepts(image: np.ndarray) -> bool:
        return image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        height, width = image.shape[:2]
        for matrix, step in self._draws(width, height, seed):
            image = step.apply(image, matrix)
        return image

    def takes_planes(self, image: np.ndarray) -> bool:
        """Whether ``jpeg`` can make this image's JPEG copies: BGR colour, one Affine step."""
        return self.folding is not None and self.order_free and image.dtype == np.uint8 and image.ndim == 3 \
            and image.shape[2] == 3  # fmt: skip

    def jpeg(self, planes: Planes, seed: int, quality: int) -> bytes:
        """A copy's JPEG bytes: the same draws as ``__call__``, all steps in one warp of ``planes``."""
        luma, cb, cr = planes
        height, width = luma.shape
        total = None
        for matrix, _step in self._draws(width, height, seed):
            total = matrix.copy() if total is None else matrix @ total
        if total is not None and not _is_identity(total):
            warp, chroma = self.folding, _LUMA_TO_CHROMA @ total @ _CHROMA_TO_LUMA
            assert warp is not None
            half = (cb.shape[1], cb.shape[0])
            even = (2 * half[0], 2 * half[1])  # see ycbcr_planes: the encoder reads an even-sized luma plane
            luma = warp.warp(luma, total, even, warp.grey_fill)[:height, :width]
            cb, cr = warp.warp(cb, chroma, half, 128.0), warp.warp(cr, chroma, half, 128.0)
        return encode_jpeg_planes(luma, cb, cr, quality)

    def _draws(self, width: int, height: int, seed: int):
        """(matrix, step) for each step that changes the image, in order, with albumentations' draws."""
        for position, step, rng in self.steps:
            rng.seed(_stream_key(seed, position))
            matrix = step.matrix(width, height, rng)
            if matrix is not None:
                yield matrix, step


def ycbcr_planes(image: np.ndarray) -> Planes:
    """A BGR image's JPEG planes: full-range YCbCr (JFIF), chroma of each 2x2 block (edges replicated).

    Chroma is converted from the 2x2-averaged image (the same up to rounding, a third less work). The luma
    plane of an odd-sized image is a view into one a row and column larger: libjpeg-turbo reads 4:2:0 luma
    planes rounded up to even sizes (through the view's stride), and must not read past the array's end.
    """
    height, width = image.shape[:2]
    padded = image
    if height % 2 or width % 2:  # so the halving is an exact 2x2 average (and OpenCV's fast one)
        padded = cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
    half = cv2.resize(padded, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA)
    half = cv2.cvtColor(half, cv2.COLOR_BGR2YCrCb)
    luma = cv2.cvtColor(padded, cv2.COLOR_BGR2GRAY)[:height, :width]
    return luma, cv2.extractChannel(half, 2), cv2.extractChannel(half, 1)


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


class _Flip:
    """HorizontalFlip (code 1) or VerticalFlip (code 0)."""

    def __init__(self, p: float, code: int):
        self.p, self.code = p, code

    def matrix(self, width: int, height: int, rng: random.Random) -> np.ndarray | None:
        if not _applies(self.p, rng):
            return None
        if self.code == 1:  # x -> width - 1 - x
            return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]])

    def apply(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return cv2.flip(image, self.code)


def _flip(code: int) -> Callable[[dict], _Flip | None]:
    def build(node: dict) -> _Flip | None:
        if set(node) != {"__class_fullname__", "p"}:
            return None
        return _Flip(float(node["p"]), code)

    return build


_AFFINE_KEYS = {
    "__class_fullname__", "p", "balanced_scale", "border_mode", "fill", "fill_mask", "fit_output", "interpolation",
    "keep_ratio", "mask_interpolation", "rotate", "rotate_method", "scale", "shear", "translate_percent",
    "translate_px",
}  # fmt: skip


def _affine(node: dict) -> _Affine | None:
    if set(node) != _AFFINE_KEYS or node["fit_output"] or node["balanced_scale"]:
        return None
    ranges = [node["scale"], node["shear"]] + [node[k] for k in ("translate_percent", "translate_px") if node[k]]
    if not all(isinstance(r, dict) and list(r) == ["x", "y"] and all(map(_is_range, r.values())) for r in ranges):
        return None
    if not _is_range(node["rotate"]) or not isinstance(node["fill"], (int, float, list)):
        return None
    return _Affine(node)


class _Affine:
    """albumentations' Affine: its draws, its matrix, its warp."""

    def __init__(self, node: dict):
        self.p, self.rotate, self.keep_ratio = float(node["p"]), node["rotate"], bool(node["keep_ratio"])
        self.percent, self.pixels = node["translate_percent"], node["translate_px"]
        self.shear, self.scale = node["shear"], node["scale"]
        self.interpolation, self.border_mode, self.fill = node["interpolation"], node["border_mode"], node["fill"]
        fill = self.fill if isinstance(self.fill, list) else [self.fill]
        self.grey_fill = float(fill[0]) if len(set(fill)) == 1 else None  # the fill of a grey border, or None
        self.matrix_of = _Matrix()

    def matrix(self, width: int, height: int, rng: random.Random) -> np.ndarray | None:
        """This copy's forward matrix (3x3, overwritten by the next call), or None where no warp happens."""
        if not _applies(self.p, rng):
            return None
        # Affine.get_params_dependent_on_data: translate, shear, scale, rotate, in that order.
        if self.pixels is not None:
            tx, ty = (rng.randint(int(self.pixels[k][0]), int(self.pixels[k][1])) for k in ("x", "y"))
        elif self.percent is not None:
            fx, fy = (rng.uniform(*self.percent[k]) for k in ("x", "y"))
            tx, ty = int(fx * width), int(fy * height)
        else:
            tx = ty = 0
        shear_x, shear_y = (-rng.uniform(*self.shear[k]) for k in ("x", "y"))
        scale_x, scale_y = (rng.uniform(*self.scale[k]) for k in ("x", "y"))
        if self.keep_ratio:
            scale_y = scale_x
        angle = rng.uniform(*self.rotate)
        matrix = self.matrix_of(tx, ty, shear_x, shear_y, scale_x, scale_y, angle, (width / 2 - 0.5, height / 2 - 0.5))
        return None if _is_identity(matrix) else matrix  # albumentations skips the warp for an identity matrix

    def apply(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        channels = 1 if image.ndim == 2 else image.shape[2]
        fill = self.fill
        border_value = [fill] * channels if isinstance(fill, float) else tuple(fill) if isinstance(fill, list) else fill
        return self.warp(image, matrix, (image.shape[1], image.shape[0]), border_value)

    def warp(self, image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border_value) -> np.ndarray:
        return cv2.warpAffine(image, matrix[:2, :], size, flags=self.interpolation, borderMode=self.border_mode,
                              borderValue=border_value)  # fmt: skip


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


_Step = _Flip | _Affine  # each has matrix(width, height, rng) -> matrix or None, and apply(image, matrix)

_BUILDERS: dict[str, Callable[[dict], _Step | None]] = {
    "Affine": _affine,
    "HorizontalFlip": _flip(1),
    "VerticalFlip": _flip(0),
}
