"""--style-refs: new images move toward the colours of reference images, reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import tree_digest

from expander import expand
from expander.errors import PipelineError
from expander.pipeline import STYLE_REFS_KEY, resolve_pipeline
from expander.verify import verify


def write_tinted(path: Path, bgr_mean: tuple[int, int, int], seed: int, shape=(120, 160)) -> None:
    """A textured image whose mean colour is about ``bgr_mean`` (OpenCV channel order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    texture = rng.normal(0, 25, (*shape, 3))
    pixels = np.clip(np.array(bgr_mean, dtype=float) + texture, 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(path), pixels)


@pytest.fixture
def styled(tmp_path: Path) -> tuple[Path, Path]:
    src, refs = tmp_path / "src", tmp_path / "refs"
    for i in range(4):
        write_tinted(src / "sky" / f"blue{i}.png", (200, 90, 40), seed=i)  # blue
    for i in range(2):
        write_tinted(refs / f"sunset{i}.png", (30, 80, 210), seed=10 + i, shape=(90, 100))  # red, another size
    return src, refs


def mean_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1].reshape(-1, 3).mean(axis=0)


def test_new_images_move_toward_the_reference_colours(styled: tuple[Path, Path], tmp_path: Path) -> None:
    src, refs = styled
    result = expand(src, tmp_path / "out", per_image=6, style_refs=refs, workers=1)
    assert result.exit_code == 0
    reference = np.mean([mean_rgb(p) for p in sorted(refs.iterdir())], axis=0)
    outputs = sorted((tmp_path / "out" / "sky").glob("*__aug*.png"))
    assert len(outputs) == 24
    for output in outputs:
        source = src / "sky" / (output.name.split("__aug")[0] + ".png")
        before = np.linalg.norm(mean_rgb(source) - reference)
        after = np.linalg.norm(mean_rgb(output) - reference)
        # Both transforms move the mean colour at least a third of the way (measured: FDA takes the
        # reference's mean with its low frequencies, histogram matching blended 50-100% goes 55-88%).
        assert after < 0.67 * before, (output.name, before, after)
        assert mean_rgb(output)[0] > mean_rgb(source)[0] + 40  # redder
    summary = json.loads((tmp_path / "out" / "expander.json").read_text())
    assert summary["arguments"]["style_refs"] == str(refs.resolve()) and summary["arguments"]["preset"] is None
    assert summary["pipeline"][STYLE_REFS_KEY] == [str(p.resolve()) for p in sorted(refs.iterdir())]


def test_style_refs_are_reproducible_and_replayable(styled: tuple[Path, Path], tmp_path: Path) -> None:
    src, refs = styled
    one = expand(src, tmp_path / "one", per_image=3, preset="light", style_refs=refs, workers=1)
    two = expand(src, tmp_path / "two", per_image=3, preset="light", style_refs=refs, workers=2)
    digests = [{k: v for k, v in tree_digest(r.out).items() if k != "expander.json"} for r in (one, two)]
    assert digests[0] == digests[1] and len(digests[0]) == 4 + 12 + 1
    # The pipeline is the preset followed by the style step.
    transforms = one.to_dict()["pipeline"]["transform"]["transforms"]
    assert transforms[-1]["__class_fullname__"] == "OneOf"
    assert [t["__class_fullname__"] for t in transforms[-1]["transforms"]] == ["FDA", "HistogramMatching"]
    report = verify(tmp_path / "one", replay=12)
    assert report["ok"] and len(report["replayed"]) == 12 and report["changed"] == []


def test_grayscale_sources_take_grayscale_references(tmp_path: Path) -> None:
    src, refs = tmp_path / "src", tmp_path / "refs"
    src.joinpath("a").mkdir(parents=True)
    for i in range(2):
        dark = np.random.default_rng(i).normal(40, 10, (120, 160)).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(src / "a" / f"g{i}.png"), dark)
    write_tinted(refs / "bright.jpg", (220, 220, 220), seed=1)
    result = expand(src, tmp_path / "out", per_image=4, style_refs=refs, workers=1)
    assert result.exit_code == 0
    for output in sorted((tmp_path / "out" / "a").glob("*__aug*")):
        image = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2 and image.mean() > 60  # still grayscale, and brighter


def test_bad_style_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"--style-refs folder '.*missing' does not exist\."):
        resolve_pipeline(None, None, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(PipelineError, match=r"--style-refs folder '.*empty' holds no images\. Supported"):
        resolve_pipeline("keras", None, tmp_path / "empty")
