"""Published datasets in their authors' layouts (tests/zoo.py): each is read as its format or refused with what
was seen, and every file under it is accounted for (issue 41 items 1, 2 and 5)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner
from zoo import ZOO, Published

from expander.cli import app
from expander.scan import scan

runner = CliRunner()


def _entries(root: Path) -> int:
    """Every file under ``root`` as the inventory counts them: a hidden folder once, without entering it."""
    count = 0
    for _folder, dirs, files in os.walk(root):
        count += sum(1 for d in dirs if d.startswith(".")) + len(files)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
    return count


@pytest.mark.parametrize("published", [p for p in ZOO if p.detected], ids=lambda p: p.name)
def test_a_published_dataset_is_read_as_its_format_with_every_file_accounted_for(
    tmp_path: Path, published: Published
) -> None:
    src = published.build(tmp_path / published.name)
    dataset = scan(src)

    if published.detected == "folders":
        assert dataset.labels is None
    else:
        assert dataset.labels is not None and dataset.labels.format == published.detected
    per_split: dict[str, int] = {}
    objects: dict[str, int] = {}
    for item in dataset.items:
        per_split[item.split or ""] = per_split.get(item.split or "", 0) + 1
        classes = [dataset.classes[c] for c in item.objects.classes] if item.objects else [item.class_name]
        for name in classes if dataset.labels is not None or item.class_name else ():
            objects[name] = objects.get(name, 0) + 1
    assert per_split == published.images
    assert objects == published.objects
    inventory = dataset.inventory
    assert inventory.files == _entries(src)
    assert inventory.images + inventory.label_files + len(inventory.ignored) == inventory.files

    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--per-image", "1", "-q", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "expander.json").read_text())
    assert summary["inventory"]["files"] == inventory.files
    assert summary["inventory"]["augmented"] + summary["inventory"]["copied"] == inventory.images
    assert len(summary["inventory"]["ignored_files"]) == len(inventory.ignored)
    assert runner.invoke(app, ["verify", str(out), "--replay", "2"]).exit_code == 0


@pytest.mark.parametrize("published", [p for p in ZOO if not p.detected], ids=lambda p: p.name)
def test_a_published_dataset_no_format_reads_is_refused_with_what_was_seen(
    tmp_path: Path, published: Published
) -> None:
    src = published.build(tmp_path / published.name)
    out = tmp_path / "out"

    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--per-image", "1"])

    assert result.exit_code == 2
    assert not out.exists()
    assert "Nothing was written" in result.stderr
    if published.refusal:
        assert result.stderr.startswith(f"Error: {published.refusal}")
        return
    assert result.stderr.startswith(f"Error: '{src}' holds labels that no format here reads as they are laid out:\n")
    seen = re.findall(r"^  \d+ (.+) in \S+/ \(e\.g\. ", result.stderr, flags=re.M)
    assert tuple(seen) == published.refused
    assert "Nothing was written: reading this as class folders would drop the labels." in result.stderr


def test_the_raccoon_set_names_its_csv_box_lists_as_not_read(tmp_path: Path) -> None:
    src = next(p for p in ZOO if p.name == "raccoon").build(tmp_path / "raccoon")
    dataset = scan(src)
    why = "CSV labels (filename,width,height,class,xmin,ymin,xmax,ymax), not read: the dataset is read as voc"
    assert list(dataset.inventory.ignored) == [
        ("data/raccoon_labels.csv", "unread_labels", why), ("data/test_labels.csv", "unread_labels", why),
        ("data/train_labels.csv", "unread_labels", why),
        ("README.md", "not_image", "neither an image nor a label file"),
    ]  # fmt: skip
    assert (dataset.inventory.files, dataset.inventory.images, dataset.inventory.label_files) == (10, 3, 3)


def test_labels_none_reads_class_folders_and_lists_the_label_files_it_leaves(tmp_path: Path) -> None:
    src = next(p for p in ZOO if p.name == "raccoon").build(tmp_path / "raccoon")
    dataset = scan(src, "none")
    assert dataset.labels is None and dataset.classes == ("annotations", "data", "images")
    assert [(path, why) for path, reason, why in dataset.inventory.ignored if reason == "unread_labels"][:2] == [
        ("annotations/raccoon-1.xml", "Pascal VOC XML, not read (--labels none)"),
        ("annotations/raccoon-2.xml", "Pascal VOC XML, not read (--labels none)"),
    ]
    assert dataset.ignored == {"unread_labels": 6, "not_image": 1}


def test_a_split_without_masks_is_kept_and_said_to_be_kept(tmp_path: Path) -> None:
    src = next(p for p in ZOO if p.name == "membrane").build(tmp_path / "membrane")
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--per-image", "1"])
    assert result.exit_code == 0, result.output
    assert "Note: test/ has no masks: its 6 image(s) are copied unchanged." in result.stdout
    assert "Source files: 12: 9 images (3 augmented, 6 copied unchanged), 3 label and dataset files, 0 ignored." in (
        result.stdout
    )
    assert sorted(p.name for p in (out / "test").iterdir()) == sorted(p.name for p in (src / "test").iterdir())
    for name in ("0.png", "0_predict.png"):
        assert (out / "test" / name).read_bytes() == (src / "test" / name).read_bytes()


def test_a_cvat_yolo_export_keeps_obj_data_and_names_and_lists_its_copies_the_darknet_way(tmp_path: Path) -> None:
    src = next(p for p in ZOO if p.name == "cvat-yolo").build(tmp_path / "cvat")
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(src), "-o", str(out), "--per-image", "2", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("obj.data", "obj.names"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert (out / "train.txt").read_text() == (
        "data/obj_train_data/1.jpg\ndata/obj_train_data/1__aug001.jpg\ndata/obj_train_data/1__aug002.jpg\n"
    )
    assert (out / "obj_train_data/1.txt").read_bytes() == (src / "obj_train_data/1.txt").read_bytes()
    assert [line.split()[0] for line in (out / "obj_train_data/1__aug001.txt").read_text().splitlines()] == ["2", "1"]
