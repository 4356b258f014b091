"""The dataset-level label files of an output: YOLO's data.yaml, COCO's annotation JSON per split,
VOC's ImageSets lists, a masks dataset's class names file. Written when a run ends (complete or not),
from the outputs on disk, in plan order, before the manifest that commits the run."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from expander.dataset import Dataset
from expander.images import write_atomic
from expander.labels import coco, voc, yolo
from expander.manifest import Record
from expander.plan import Plan


def write_dataset_files(dataset: Dataset, plan: Plan, records: Iterable[Record], out: Path) -> list[str]:
    """Write them; return their paths relative to ``out``."""
    labels = dataset.labels
    assert labels is not None
    rows = [r for r in records if r.status == "ok"]
    written: list[tuple[str, str | None]] = [(r.output, r.source) for r in rows]
    if labels.format == "yolo":
        folders: dict[str | None, str] = {}
        for r in rows:
            folders.setdefault(r.split, posixpath.dirname(r.output))
        files = yolo.dataset_files(labels, list(dataset.splits), folders)
    elif labels.format == "coco":
        files = coco.dataset_files(labels, out, written)
    elif labels.format == "voc":
        files = voc.dataset_files(labels, written, {r.output: r.split for r in rows})
    else:
        files = {name: (dataset.root / name).read_bytes() for name in labels.files}  # the class names file
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out / name, data)
    return sorted(files)
