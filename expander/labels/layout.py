"""Names that mark a labelled dataset's layout: kept apart from the format modules so that a class-folder
run can check for them without importing any of those."""

from __future__ import annotations

from pathlib import Path

MASK_FOLDERS = ("masks", "Masks", "mask", "PedMasks", "SegmentationObject", "SegmentationClass", "annotations")
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
_MARKERS = {"labels", "Annotations", *MASK_FOLDERS, *YAML_NAMES}
_SPLITS = ("train", "val", "valid", "validation", "test")


def looks_labelled(root: Path) -> bool:
    """Cheap test, two levels deep: does anything look like a label folder or file?"""
    for folder in (root, *(root / s for s in _SPLITS)):
        try:
            names = [p.name for p in folder.iterdir()]
        except OSError:
            continue
        if any(n in _MARKERS or (n.endswith(".json") and n != "expander.json") for n in names):
            return True
    return False
