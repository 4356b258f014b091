from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE, make_tree
from typer.testing import CliRunner

from expander import expand
from expander.cli import app
from expander.inspection import file_facts, inspect_dataset
from expander.pipeline import preset_dict
from expander.preview import preview
from expander.verify import verify

runner = CliRunner()


def smooth_image(seed: int, shape=(120, 160)) -> np.ndarray:
    """A photo-like image: random coarse structure, smoothly upscaled (BGR)."""
    coarse = np.random.default_rng(seed).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def save(path: Path, image: np.ndarray, quality: int = 95) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for i in range(6):
        save(root / "train" / "cat" / f"c{i}.jpg", smooth_image(i))
    for i in range(2):
        save(root / "train" / "dog" / f"d{i}.jpg", smooth_image(100 + i))
    save(root / "test" / "cat" / "t0.jpg", smooth_image(200))
    shutil.copy(root / "train" / "cat" / "c0.jpg", root / "test" / "cat" / "copy_of_c0.jpg")  # exact leak
    near = cv2.resize(smooth_image(3), (144, 108), interpolation=cv2.INTER_AREA)  # 90% size, quality 50
    save(root / "train" / "cat" / "c3_small.jpg", near, quality=50)
    darker = (smooth_image(4).astype(np.float32) * 0.85).astype(np.uint8)
    save(root / "test" / "cat" / "t1_darker_c4.jpg", darker)  # a near-duplicate leak
    save(root / "train" / "dog" / "d2_mirrored_d0.jpg", smooth_image(100)[:, ::-1])
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_inspect_finds_duplicates_leaks_corrupt_files_and_imbalance(planted: Path) -> None:
    report = inspect_dataset(planted, workers=2)

    assert report["splits"]["train"] == {
        "classes": {"cat": 7, "dog": 4}, "images": 11, "imbalance_ratio": 1.75, "empty_classes": [],
    }  # fmt: skip
    assert report["splits"]["test"]["empty_classes"] == ["dog"]
    assert report["unreadable"] == [
        {"file": "train/dog/broken.jpg", "error": "not a decodable image (corrupt, truncated, or not the format "
         "its extension says)"}
    ]  # fmt: skip
    assert report["exact_duplicates"] == [
        {"files": ["train/cat/c0.jpg", "test/cat/copy_of_c0.jpg"], "cross_split": True, "kind": "exact"}
    ]
    assert [(d["files"], d["cross_split"], d["difference"]) for d in report["near_duplicates"]] == [
        (["train/cat/c4.jpg", "test/cat/t1_darker_c4.jpg"], True, "tone"),  # leaks first
        (["train/cat/c3.jpg", "train/cat/c3_small.jpg"], False, "resized"),
        (["train/dog/d0.jpg", "train/dog/d2_mirrored_d0.jpg"], False, "flipped"),
    ]
    assert all(d["correlation"] >= 0.85 for d in report["near_duplicates"])
    assert report["leaks"] == report["exact_duplicates"] + report["near_duplicates"][:1]
    assert report["modes"] == {"RGB": 13} and report["formats"] == {".jpg": 14}
    assert (
        report["suggestion"]
        == f"fix the 2 train/test leak(s) listed above first (expander inspect {planted} --duplicates dup.json writes "
        f"which copies to drop, keeping the test copy), then: expander expand {planted} --balance --exclude dup.json"
    )


def test_inspect_finds_a_recoloured_leak_by_its_brightest_channel(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for i in range(8):
        save(root / "train" / "cat" / f"c{i}.jpg", smooth_image(i))
    hsv = cv2.cvtColor(smooth_image(2), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 30) % 180  # a hue turn: the grey picture changes with it
    save(root / "test" / "cat" / "t0_recoloured_c2.jpg", cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))
    cv2.imwrite(str(root / "test" / "cat" / "t1_grey.png"), cv2.cvtColor(smooth_image(9), cv2.COLOR_BGR2GRAY))

    report = inspect_dataset(root)

    assert [(d["files"], d["cross_split"], d["difference"]) for d in report["near_duplicates"]] == [
        (["train/cat/c2.jpg", "test/cat/t0_recoloured_c2.jpg"], True, "colour")
    ]
    grey, colour = file_facts(str(root), "test/cat/t1_grey.png", "test", "cat"), file_facts(
        str(root), "train/cat/c2.jpg", "train", "cat")  # fmt: skip
    assert (grey.colour_thumbnail, grey.colour_hashes) == (b"", b"")  # a grey image: its grey signature is all
    assert (len(colour.colour_thumbnail), len(colour.colour_hashes)) == (64 * 64, 16)


def test_inspect_cli_table_and_json(planted: Path) -> None:
    table = runner.invoke(app, ["inspect", str(planted), "-j", "1"])
    assert table.exit_code == 0
    assert (
        "Train/test leaks (duplicates across splits): 2\n  train/cat/c0.jpg / test/cat/copy_of_c0.jpg (exact)\n"
        "  train/cat/c4.jpg / test/cat/t1_darker_c4.jpg (tone)\nExact duplicates: 1 group(s)\n" in table.stdout
    )
    assert ("Near-duplicates (the same picture re-encoded, resized, toned, recoloured, overlaid, mirrored or moved): "
            "3 pair(s)\n"
            "  train/cat/c4.jpg ~ test/cat/t1_darker_c4.jpg (tone)\n"
            "  train/cat/c3.jpg ~ train/cat/c3_small.jpg (resized)\n"
            "  train/dog/d0.jpg ~ train/dog/d2_mirrored_d0.jpg (flipped)\n") in table.stdout  # fmt: skip
    assert table.stdout.rstrip().endswith(f"then: expander expand {planted} --balance --exclude dup.json")
    as_json = runner.invoke(app, ["inspect", str(planted), "--json", "-j", "1"])
    assert json.loads(as_json.stdout)["images"] == 14


def test_inspect_draws_each_duplicate_group_leaks_first(planted: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "dups.png"
    result = runner.invoke(app, ["inspect", str(planted), "-j", "1", "--duplicates-sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Drew 4 duplicate group(s) in {sheet}\n"
    drawn = cv2.imread(str(sheet))
    assert drawn.shape == (4 * (20 + 160), 2 * 160, 3)  # a caption band and a row of two tiles per group
    first_tile = drawn[20 : 20 + 160, :160]
    assert first_tile.std() > 20  # a picture, not a blank tile


def test_preview_has_the_expected_grid_and_is_deterministic(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 3, "b": 2}, shape=(13, 17, 3))
    first = preview(src, tmp_path / "one.png", preset_dict("keras"), label="keras", copies=4, per_class=2, seed=1)
    again = preview(src, tmp_path / "two.png", preset_dict("keras"), label="keras", copies=4, per_class=2, seed=1)
    other = preview(src, tmp_path / "three.png", preset_dict("keras"), label="keras", copies=4, per_class=2, seed=2)
    sheet = cv2.imread(str(first))
    assert sheet.shape == (28 + 4 * (128 + 20), 5 * 128, 3)  # header + 2 classes x 2 rows (a caption band each)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_preview_cli_prints_the_path(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 1})
    out = tmp_path / "sheet.png"
    result = runner.invoke(app, ["preview", str(src), "--preset", "noise", "-n", "2", "--out", str(out)])
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert cv2.imread(str(out)).shape == (28 + 128 + 20, 3 * 128, 3)


def test_verify_passes_fresh_and_names_altered_deleted_and_extra_files(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 3, "b": 2}, ext=".jpg", shape=(13, 17, 3))
    out = tmp_path / "out"
    expand(src, out, per_image=2, workers=1)

    fresh = verify(out, replay=15)
    assert fresh["ok"] and fresh["checked"] == 15 and len(fresh["replayed"]) == 15 and fresh["changed"] == []

    altered = out / "a" / "img1__aug001.jpg"
    cv2.imwrite(str(altered), np.zeros((13, 17, 3), np.uint8))
    (out / "b" / "img2__aug002.jpg").unlink()
    shutil.copy(out / "a" / "img2.jpg", out / "a" / "stray.jpg")

    result = runner.invoke(app, ["verify", str(out), "--replay", "15", "-j", "1"])
    assert result.exit_code == 1
    assert f"{out.resolve()}: MISMATCH (15 files listed)" in result.stdout
    assert "  missing: b/img2__aug002.jpg" in result.stdout
    assert "  not in the manifest: a/stray.jpg" in result.stdout
    assert "  changed: a/img1__aug001.jpg (bytes differ from a replay of source + seed + pipeline)" in result.stdout


def test_verify_refuses_a_folder_that_is_not_an_expander_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: '{tmp_path}' has no readable expander.json: it is not an expander output")


def test_look_alike_items_are_not_near_duplicates() -> None:
    # Centred Fashion-MNIST items share their hash and outline but are different pictures.
    report = inspect_dataset(SAMPLE, workers=1)
    assert report["images"] == 165
    assert report["near_duplicates"] == [] and report["leaks"] == []
    assert report["suggestion"] == f"expander expand {SAMPLE} --balance"


def test_preview_names_the_images_it_had_to_skip(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 2})
    (src / "a" / "img0.png").write_bytes(b"")  # sorts first: the next readable image takes its row
    result = runner.invoke(app, ["preview", str(src), "-n", "1", "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "Skipped a/img0.png: empty file (0 bytes). (expander inspect lists every unreadable file.)"
    )
    assert cv2.imread(str(tmp_path / "s.png")).shape == (28 + 2 * 148, 2 * 128, 3)  # still 2 rows (per class)
