"""expander split (issue 42 item 4): train/val/test in which no duplicate group straddles two splits, stratified
by class, deterministic by seed; a dataset with splits keeps them and its leaks move to the evaluation side."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from expander.cli import app
from expander.splitting import split_dataset

runner = CliRunner()


def _pictures(root: Path, counts: dict[str, int], seed: int = 0, split: str = "") -> None:
    """Distinct pictures (blurred noise: no two alike), ``counts`` per class."""
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        for k in range(n):
            picture = cv2.GaussianBlur((rng.random((48, 64, 3)) * 255).astype(np.uint8), (7, 7), 3)
            path = root / split / cls / f"{cls}_{k:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(path), picture)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """20 cats and 20 dogs, and a group of four: cat_00, two exact copies of it and its mirror image."""
    src = tmp_path / "src"
    _pictures(src, {"cat": 20, "dog": 20})
    cat = src / "cat"
    shutil.copy(cat / "cat_00.png", cat / "cat_00_copy.png")
    shutil.copy(cat / "cat_00.png", cat / "cat_00_again.png")
    assert cv2.imwrite(str(cat / "cat_00_mirror.png"), cv2.flip(cv2.imread(str(cat / "cat_00.png")), 1))
    return src


def test_new_splits_keep_each_duplicate_group_whole_and_each_class_in_proportion(tmp_path: Path, planted: Path) -> None:
    out = tmp_path / "out"
    report = split_dataset(planted, out, val=0.1, test=0.1, seed=0)

    group = ["cat/cat_00.png", "cat/cat_00_again.png", "cat/cat_00_copy.png", "cat/cat_00_mirror.png"]
    assert [sorted(g) for g in report["groups"]] == [sorted(group)]
    assert len({report["files"][p].split("/")[0] for p in group}) == 1  # one split for the whole group
    # 23 cats: 2.3 of them for val and for test -> 2 each; 20 dogs -> 2 each
    assert report["per_split"] == {"train": {"cat": 19, "dog": 16}, "val": {"cat": 2, "dog": 2},
                                   "test": {"cat": 2, "dog": 2}}  # fmt: skip
    assert report["moves"] == []
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == sorted(report["files"].values()) and len(written) == 43
    for source, target in report["files"].items():
        assert (out / target).read_bytes() == (planted / source).read_bytes()
    assert json.loads((out / "split.json").read_text()) == report


def test_the_same_seed_gives_the_same_split_and_another_seed_another(tmp_path: Path, planted: Path) -> None:
    first = split_dataset(planted, tmp_path / "a", seed=7)
    again = split_dataset(planted, tmp_path / "b", seed=7)
    other = split_dataset(planted, tmp_path / "c", seed=8)
    assert first["files"] == again["files"]
    assert first["files"] != other["files"] and first["per_split"] == other["per_split"]
    digest = {p.relative_to(tmp_path / "a").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (tmp_path / "a").rglob("*.png")}  # fmt: skip
    assert digest == {p.relative_to(tmp_path / "b").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (tmp_path / "b").rglob("*.png")}  # fmt: skip


def test_a_dataset_with_splits_keeps_them_and_moves_its_leaks_to_the_evaluation_side(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _pictures(src, {"cat": 8, "dog": 8}, split="train")
    _pictures(src, {"cat": 2, "dog": 2}, seed=1, split="test")
    shutil.copy(src / "test/cat/cat_00.png", src / "train/cat/cat_leak.png")
    shutil.copy(src / "test/dog/dog_01.png", src / "train/dog/dog_01.png")  # a leak under a name test has too
    out = tmp_path / "out"

    result = runner.invoke(app, ["split", str(src), "-o", str(out)])

    assert result.exit_code == 0, result.output
    assert "Moved 2 file(s) so that no duplicate group straddles two splits:\n" in result.stdout
    assert "  train/cat/cat_leak.png: train -> test (a duplicate of test/cat/cat_00.png)\n" in result.stdout
    report = json.loads((out / "split.json").read_text())
    assert [(m["file"], m["from"], m["to"]) for m in report["moves"]] == [
        ("train/cat/cat_leak.png", "train", "test"), ("train/dog/dog_01.png", "train", "test")]  # fmt: skip
    assert report["files"]["train/dog/dog_01.png"] == "test/dog/dog_01__from_train.png"
    assert report["files"]["test/dog/dog_01.png"] == "test/dog/dog_01.png"
    assert report["per_split"] == {"train": {"cat": 8, "dog": 7}, "test": {"cat": 3, "dog": 3}}
    assert report["val"] is None and report["test"] is None  # the dataset's own splits: no shares drawn
    assert all(f.startswith("test/") for s, f in report["files"].items() if s.startswith("test/"))


def test_split_refuses_a_labelled_dataset_and_an_output_that_is_not_new(tmp_path: Path, planted: Path) -> None:
    import zoo

    labelled = zoo.roboflow_yolo(tmp_path / "yolo")
    refused = runner.invoke(app, ["split", str(labelled), "-o", str(tmp_path / "o1")])
    assert refused.exit_code == 2
    assert "is a labelled dataset (yolo): split makes new trees of class folders only, so far" in refused.stderr
    assert not (tmp_path / "o1").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    result = runner.invoke(app, ["split", str(planted), "-o", str(taken)])
    assert result.exit_code == 2 and "is not a new, empty folder" in result.stderr
    assert [p.name for p in taken.iterdir()] == ["x"]
    shares = runner.invoke(app, ["split", str(planted), "-o", str(tmp_path / "o2"), "--val", "0.6", "--test", "0.5"])
    assert shares.exit_code == 2 and "together under 1" in shares.stderr


def test_a_split_that_fills_the_disk_half_way_leaves_nothing(tmp_path: Path) -> None:
    """The tree is written beside OUT and renamed into place: a real ENOSPC part-way (a 1 MB tmpfs, 60 pictures
    of 40 KB) leaves neither OUT nor the partial tree, and the error names the disk."""
    import os
    import subprocess

    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    for k in range(60):
        path = src / ("cat" if k % 2 else "dog") / f"{k:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), (rng.random((120, 110, 3)) * 255).astype(np.uint8))  # noise: ~40 KB
    disk = tmp_path / "small"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        result = runner.invoke(app, ["split", str(src), "-o", str(disk / "out")])
        assert result.exit_code == 2
        assert result.stderr == (f"Error: Cannot write the split of '{src}' beside '{disk / 'out'}': No space left "
                                 "on device. Nothing was written; free space or choose another -o.\n")  # fmt: skip
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
