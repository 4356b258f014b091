"""Labelled datasets on real photos (../shared/datasets; skipped when absent, as in a user's checkout)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_DATASETS

from expander import expand
from expander.scan import scan
from expander.verify import verify

AQUARIUM = SHARED_DATASETS / "aquarium_yolo"
PENNFUDAN = SHARED_DATASETS / "pennfudan"


@pytest.mark.skipif(not AQUARIUM.is_dir(), reason="needs ../shared/datasets/aquarium_yolo")
def test_aquarium_balance_by_object_class(tmp_path: Path) -> None:
    dataset = scan(AQUARIUM)
    assert dataset.labels.format == "yolo" and dataset.splits == ("train", "valid", "test")
    result = expand(AQUARIUM, tmp_path / "out", balance=True, classes=["starfish", "stingray"], dry_run=True)
    plan = {(r["split"], r["class"]): (r["originals"], r["new"]) for r in result.to_dict()["plan"]}
    assert plan[("train", "starfish")][0] == 78 and plan[("train", "stingray")][0] == 136
    for rare in ("starfish", "stingray"):  # both reach the largest class's count (fish, 1961), not far past it
        before, new = plan[("train", rare)]
        assert 1961 <= before + new < 1961 + 40
    assert plan[("valid", "fish")] == (459, 0)  # only train is augmented


@pytest.mark.skipif(not AQUARIUM.is_dir(), reason="needs ../shared/datasets/aquarium_yolo")
def test_aquarium_as_coco_loads_in_pycocotools(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    src = _aquarium_as_coco(tmp_path / "coco", "valid")  # 127 photos, as a train split
    out = tmp_path / "out"
    result = expand(src, out, per_image=1, workers=2)
    assert result.exit_code == 0
    coco = COCO(str(out / "train/_annotations.coco.json"))
    assert len(coco.dataset["images"]) == 2 * 127
    assert verify(out, replay=5)["ok"]


def _aquarium_as_coco(root: Path, split: str) -> Path:
    """An aquarium split as a COCO train split (Roboflow's layout), converted here from its YOLO labels."""
    import cv2

    dataset = scan(AQUARIUM)
    images, annotations = [], []
    (root / "train").mkdir(parents=True)
    for item in (i for i in dataset.items if i.split == split):
        shutil.copy(AQUARIUM / item.rel_path, root / "train" / Path(item.rel_path).name)
        height, width = cv2.imread(str(AQUARIUM / item.rel_path)).shape[:2]
        images.append({"id": len(images) + 1, "file_name": Path(item.rel_path).name, "width": width, "height": height})
        for c, (x0, y0, x1, y1) in zip(item.objects.classes, item.objects.records, strict=True):  # normalised corners
            box = [x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height]
            annotations.append({"id": len(annotations) + 1, "image_id": len(images), "category_id": c, "bbox": box,
                                "area": box[2] * box[3], "iscrowd": 0})  # fmt: skip
    categories = [{"id": i, "name": n} for i, n in enumerate(dataset.classes)]
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / "train" / "_annotations.coco.json").write_text(json.dumps(data))
    return root


@pytest.mark.skipif(not PENNFUDAN.is_dir(), reason="needs ../shared/datasets/pennfudan")
def test_pennfudan_masks_expand_and_verify(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = expand(PENNFUDAN, out, per_image=1, preset="traditional", workers=2)
    assert result.exit_code == 0 and result.to_dict()["labels"]["format"] == "masks"
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 340 and all(r["labels"].startswith("PedMasks/") for r in rows)
    assert sum(int(r["objects"]) for r in rows if r["copy"] == "original") == 423
    check = verify(out, replay=10)
    assert check["ok"] and len(check["replayed"]) == 10
    # Its PASCAL 1.0 text annotations (the masks' boxes, said again) are accounted for as labels not read.
    inventory = result.to_dict()["inventory"]
    assert (inventory["files"], inventory["images"], inventory["label_files"], inventory["ignored"]) == (
        510,
        170,
        170,
        170,
    )
    assert {(e["reason"], e["why"]) for e in inventory["ignored_files"]} == {
        ("unread_labels", "PASCAL 1.0 text annotations, not read: the dataset is read as masks")
    }
