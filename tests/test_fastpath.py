"""The fast path gives albumentations' pixels for Affine and flips, and is taken only where it can.

JPEG copies of colour images are one warp of their YCbCr planes: close to the warp-flip-encode path, not its bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
from conftest import SAMPLE, make_tree, tree_digest, write_image

import expander.augment as augment_module
from expander import expand
from expander.augment import Augmenter
from expander.fastpath import compile_fast, ycbcr_planes
from expander.images import encode_jpeg_planes
from expander.pipeline import preset_dict


def _dict(*transforms, **compose) -> dict:
    return json.loads(json.dumps(A.to_dict(A.Compose(list(transforms), **compose))))


FAST = {
    "keras": preset_dict("keras"),
    "every option": _dict(
        A.VerticalFlip(p=0.3),
        A.Affine(scale=(0.8, 1.2), keep_ratio=True, shear=(-10, 10), rotate=(-40, 30), p=0.7, border_mode=0),
        A.HorizontalFlip(p=0.5),
    ),
    "pixels, reflect, uneven scale": _dict(
        A.Affine(translate_px=(-20, 20), scale={"x": (0.9, 1.1), "y": (0.7, 1.3)}, border_mode=4, p=1.0)
    ),
    "colour fill": _dict(A.Affine(rotate=(-90, 90), fill=(255, 128, 0), border_mode=0, p=1.0)),
    "identity": _dict(A.Affine(p=1.0)),
}


@pytest.mark.parametrize("name", list(FAST))
def test_fast_path_is_byte_identical_to_albumentations(name: str) -> None:
    augmenter = Augmenter(FAST[name])
    assert augmenter.fast is not None
    rng = np.random.default_rng(0)
    for shape in [(37, 53, 3), (64, 64), (120, 81, 3), (5, 7)]:
        image = rng.integers(0, 256, size=shape, dtype=np.uint8)
        for seed in range(40):
            fast, slow = augmenter.fast(image, seed), augmenter.albumentations(image, seed)
            assert fast.dtype == slow.dtype and fast.shape == slow.shape, (name, shape, seed)
            assert np.array_equal(fast, slow), (name, shape, seed)


@pytest.mark.parametrize(
    "pipeline",
    [
        preset_dict("traditional"),
        preset_dict("noise"),
        _dict(A.Affine(fit_output=True)),
        _dict(A.Affine(scale=(0.8, 1.2), balanced_scale=True)),
        _dict(A.OneOf([A.HorizontalFlip(), A.VerticalFlip()])),
        _dict(A.HorizontalFlip(), p=0.5),
        _dict(A.HorizontalFlip(), A.RandomBrightnessContrast()),
    ],
    ids=["traditional", "noise", "fit_output", "balanced_scale", "nested", "compose p", "colour transform"],
)
def test_anything_else_goes_through_albumentations(pipeline: dict) -> None:
    assert compile_fast(pipeline["transform"]) is None


def test_images_the_fast_path_does_not_take_go_through_albumentations() -> None:
    augmenter = Augmenter(preset_dict("keras"))
    rgba = np.zeros((20, 30, 4), np.uint8)
    deep = np.zeros((20, 30, 3), np.uint16)
    assert not augmenter.fast.accepts(rgba) and not augmenter.fast.accepts(deep)
    assert augmenter(rgba, 3).shape == (20, 30, 4) and augmenter(deep, 3).dtype == np.uint16
    assert augmenter.fast.accepts(np.zeros((20, 30), np.uint8)) and augmenter.fast.accepts(
        np.zeros((2, 3, 3), np.uint8)
    )


def test_a_keras_run_never_imports_albumentations_and_writes_its_bytes(tmp_path: Path, monkeypatch) -> None:
    code = (
        "import sys; from expander import expand; "
        f"r = expand({str(SAMPLE)!r}, {str(tmp_path / 'fast')!r}, per_image=2, workers=1, progress=False); "
        "print(r.status, len(r.written), 'albumentations' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["complete", "375", "False"]

    monkeypatch.setattr(augment_module, "compile_fast", lambda transform: None)  # albumentations for everything
    expand(SAMPLE, tmp_path / "slow", per_image=2, workers=1, progress=False)
    files = sorted(p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*") if p.is_file())
    assert len(files) == 377  # 375 images, manifest.csv, expander.json
    for rel in files:
        if rel.name != "expander.json":
            assert (tmp_path / "fast" / rel).read_bytes() == (tmp_path / "slow" / rel).read_bytes(), rel


@pytest.mark.parametrize(
    ("pipeline", "order"),
    [
        (preset_dict("keras"), "BGR"),
        (FAST["every option"], "BGR"),
        (_dict(A.Affine(rotate=(-90, 90), fill=(7, 7, 7), border_mode=0)), "BGR"),
        (FAST["colour fill"], "RGB"),  # a fill per channel depends on the order
        (preset_dict("traditional"), "RGB"),  # colour transforms
    ],
    ids=["keras", "every option", "grey fill", "colour fill", "traditional"],
)
def test_images_stay_in_bgr_only_where_no_transform_cares(pipeline: dict, order: str) -> None:
    assert Augmenter(pipeline).channel_order == order


@pytest.mark.parametrize("size", [None, "20x16"])
def test_colour_runs_kept_in_bgr_write_the_rgb_path_s_files(tmp_path: Path, monkeypatch, size) -> None:
    """The same bytes, except JPEG copies of colour images: those the planes make (PSNR checked)."""
    src = make_tree(tmp_path / "src", {"jpg": 3}, ext=".jpg", shape=(31, 45, 3))
    make_tree(src, {"png": 2}, ext=".png", shape=(31, 45, 3))
    make_tree(src, {"rgba": 2}, ext=".png", shape=(31, 45, 4))  # albumentations, handed BGRA
    write_image(src / "deep" / "img1.png", shape=(31, 45, 3), dtype=np.uint16)  # albumentations, 16-bit BGR
    assert Augmenter(preset_dict("keras")).channel_order == "BGR"
    expand(src, tmp_path / "bgr", per_image=3, workers=1, size=size, progress=False)
    monkeypatch.setattr(augment_module, "compile_fast", lambda transform: None)  # RGB, albumentations throughout
    assert Augmenter(preset_dict("keras")).channel_order == "RGB"
    expand(src, tmp_path / "rgb", per_image=3, workers=1, size=size, progress=False)
    bgr, rgb = tree_digest(tmp_path / "bgr"), tree_digest(tmp_path / "rgb")
    for record in ("expander.json", "manifest.csv"):  # the manifest holds the files' checksums
        bgr.pop(record), rgb.pop(record)
    assert len(bgr) == 8 * 4 and sorted(bgr) == sorted(rgb)
    planar = sorted(rel for rel in bgr if rel.startswith("jpg/") and "__aug" in rel)
    assert len(planar) == 9 and all(bgr[rel] != rgb[rel] for rel in planar)
    assert {rel: bgr[rel] for rel in bgr if rel not in planar} == {rel: rgb[rel] for rel in rgb if rel not in planar}
    for rel in planar:  # random noise, the worst case for 4:2:0 chroma: still close
        assert _psnr(_read(tmp_path / "bgr" / rel), _read(tmp_path / "rgb" / rel)) >= 30, rel


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth colour image with one sharp-edged block off centre (so a wrong flip or warp shows), BGR."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    waves = [127 + 100 * np.sin(rng.uniform(2, 9) * x + rng.uniform(1, 7) * y * y + rng.uniform(0, 6)) for _ in "bgr"]
    image = np.dstack(waves).astype(np.uint8)
    cv2.rectangle(image, (width // 5, height // 6), (width // 2, height // 3), (20, 200, 90), -1)
    return image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def _read(path: Path) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)


def _jpeg(image: np.ndarray) -> np.ndarray:
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


FOLDING = {
    **{name: FAST[name] for name in ("keras", "every option", "pixels, reflect, uneven scale", "identity")},
    "grey fill": _dict(A.HorizontalFlip(p=0.5), A.Affine(rotate=(-60, 60), fill=40, border_mode=0, p=0.8)),
    "nothing fires": _dict(A.Affine(rotate=(-9, 9), p=0.0), A.HorizontalFlip(p=0.0)),
}


@pytest.mark.parametrize("name", list(FOLDING))
def test_jpeg_copies_of_colour_images_are_one_warp_of_their_ycbcr_planes(name: str) -> None:
    """The same draws as the warp-and-flip path: its JPEG is the nearest of all copies' in luma, 40 dB or closer.

    Colour is compared more loosely: these images put saturated colour into fine detail, the worst case for
    chroma kept at half size (on photos the two paths' JPEGs are about 45 dB apart, benchmarks/bench_worker.py).
    """
    augmenter = Augmenter(FOLDING[name])
    for height, width in [(37, 53), (120, 81), (64, 64), (9, 7)]:
        image = _photo(height, width, seed=height)
        references = [_jpeg(augmenter(image, seed)) for seed in range(20)]
        for seed in range(20):
            made = augmenter.jpeg(image, seed, 95)
            assert made is not None
            decoded = cv2.imdecode(np.frombuffer(made, np.uint8), cv2.IMREAD_COLOR)
            assert decoded.shape == image.shape
            luma = [_psnr(_luma(decoded), _luma(reference)) for reference in references]
            nearest = references[int(np.argmax(luma))]
            small = height < 16  # a 9x7 image is mostly edges, and two copies' draws can round alike
            assert small or np.array_equal(nearest, references[seed]), (name, height, width, seed)
            assert luma[seed] >= (35 if small else 40), (name, height, width, seed)
            assert small or _psnr(decoded, references[seed]) >= 25, (name, height, width, seed)


@pytest.mark.parametrize("name", ["keras", "identity"])
def test_jpeg_copies_of_odd_sized_images_are_the_same_bytes_every_time(name: str) -> None:
    """libjpeg-turbo reads 4:2:0 luma rounded up to even sizes: that row and column must be ours, not whatever
    memory follows the array (which made runs differ from one another before it was padded)."""
    augmenter = Augmenter(FOLDING[name])
    for height, width in [(13, 17), (37, 53), (8, 9), (9, 8)]:
        image = _photo(height, width, seed=width)
        first = [augmenter.jpeg(image, seed, 95) for seed in range(8)]
        for _ in range(20):
            garbage = [np.full(size, 255, np.uint8) for size in (width * height, width * height + 1, 64 * 1024)]
            augmenter._planes = (None, None)  # planes made again, in memory laid out anew
            again = [augmenter.jpeg(image.copy(), seed, 95) for seed in range(8)]
            del garbage
            assert again == first, (name, height, width)


def test_the_jpeg_encoder_never_reads_past_an_odd_sized_luma_plane() -> None:
    """A plain odd-sized luma array is copied into an even-backed one: same bytes every time, the same bytes as
    the even-backed view fastpath gives, and a view of the wrong shape is not taken for one."""
    luma, cb, cr = ycbcr_planes(_photo(13, 17, seed=3))
    expected = encode_jpeg_planes(luma, cb, cr, 95)
    for _ in range(20):
        garbage = [np.full(size, 255, np.uint8) for size in (13 * 17, 13 * 17 + 1, 64 * 1024)]
        assert encode_jpeg_planes(luma.copy(), cb, cr, 95) == expected
        del garbage
    wide = np.full((14, 20), 255, np.uint8)
    wide[:13, :17] = luma  # a view whose base is larger than the encoder reads, with other pixels beside it
    assert encode_jpeg_planes(wide[:13, :17], cb, cr, 95) == expected


def _luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[:, :, 0]


def test_the_planes_are_jpeg_s_own_ycbcr() -> None:
    image = _photo(31, 45, seed=1)
    luma, cb, cr = ycbcr_planes(image)
    assert luma.shape == (31, 45) and cb.shape == cr.shape == (16, 23)
    assert all(plane.dtype == np.uint8 for plane in (luma, cb, cr)) and cb.flags.c_contiguous and cr.flags.c_contiguous
    assert luma.strides == (46, 1) and luma.base is not None and luma.base.shape == (32, 46)  # the encoder reads 32x46
    ycc = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb).astype(np.float64)
    assert np.abs(luma - ycc[:, :, 0]).max() <= 1
    assert abs(cb[3, 4] - ycc[6:8, 8:10, 2].mean()) <= 1 and abs(cr[3, 4] - ycc[6:8, 8:10, 1].mean()) <= 1
    assert abs(cb[15, 22] - ycc[30, 44, 2]) <= 1  # the last row and column: edges replicated


@pytest.mark.parametrize(
    ("pipeline", "image"),
    [
        (_dict(A.Affine(rotate=(-9, 9), p=1.0), A.Affine(scale=(0.9, 1.1), p=1.0)), _photo(20, 30, 0)),
        (FAST["colour fill"], _photo(20, 30, 0)),
        (preset_dict("keras"), _photo(20, 30, 0)[:, :, 0].copy()),  # grey
        (preset_dict("keras"), cv2.cvtColor(_photo(20, 30, 0), cv2.COLOR_BGR2BGRA)),
        (_dict(A.HorizontalFlip(p=0.5)), _photo(20, 30, 0)),
    ],
    ids=["two affines", "colour fill", "grey image", "bgra image", "no affine"],
)
def test_what_one_warp_of_the_planes_cannot_do_takes_the_warp_and_flip_path(pipeline: dict, image) -> None:
    assert Augmenter(pipeline).jpeg(image, 3, 95) is None
