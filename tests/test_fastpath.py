"""The fast path gives albumentations' bytes for Affine and flips, and is taken only where it can."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from conftest import SAMPLE, make_tree, tree_digest, write_image

import expander.augment as augment_module
from expander import expand
from expander.augment import Augmenter
from expander.fastpath import compile_fast
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
def test_colour_runs_kept_in_bgr_write_the_bytes_of_the_rgb_path(tmp_path: Path, monkeypatch, size) -> None:
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
    bgr.pop("expander.json"), rgb.pop("expander.json")
    assert len(bgr) == 8 * 4 + 1 and bgr == rgb
