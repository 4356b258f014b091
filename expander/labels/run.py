"""What a run does with its dataset's labels in the main process: refuse (or leave out) label lines that cannot
be read before any work, give the sink and the workers the format's rules, and make the dataset-level files
(data.yaml, the COCO JSON, VOC's lists) from what was written.

Each function takes any dataset and does nothing for class folders (``dataset.labels`` None), so the run that
calls them never asks which kind its dataset is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from expander.errors import LayoutError
from expander.labels import registry
from expander.labels.base import Files, LabelOptions, Read, Written
from expander.labels.labelled import options_for
from expander.sinks.base import LabelFiles

if TYPE_CHECKING:
    from expander.dataset import Dataset
    from expander.manifest import Record
    from expander.plan import Plan


def checked(dataset: Dataset, skip: bool) -> Dataset:
    """The dataset if all its label files can be read; else LayoutError naming the lines, unless ``skip``
    (--skip-bad-labels): then the lines are left out, and images whose labels cannot be read at all too."""
    labels = dataset.labels
    if labels is None:
        return dataset
    errors = [e for i in dataset.items if i.objects is not None for e in i.objects.errors] + list(labels.errors)
    if not errors:
        return dataset
    if not skip:
        shown = "\n  ".join(errors[:10]) + (f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else "")
        raise LayoutError(
            f"{len(errors)} label line(s) or entries in '{dataset.location}' cannot be read as {labels.format}:\n"
            f"  {shown}\nFix them, or pass --skip-bad-labels to leave them out (each is reported); nothing was "
            "written."
        )
    unreadable = [i for i in dataset.items if i.objects is not None and i.objects.unreadable]
    rejected = [(i.rel_path, "its labels cannot be read (--skip-bad-labels left it out)") for i in unreadable]
    items = tuple(i for i in dataset.items if not (i.objects is not None and i.objects.unreadable))
    left_out = tuple(
        e for i in unreadable if i.objects is not None for e in i.objects.errors
    )  # reported with the lines skipped
    labels = dataclasses.replace(labels, errors=(*left_out, *labels.errors))
    return dataclasses.replace(dataset, items=items, rejected=(*dataset.rejected, *rejected), labels=labels)


def sink_rules(dataset: Dataset) -> LabelFiles | None:
    """How the sink finds an output's label files and counts their objects (its format's rules)."""
    label_set = dataset.labels
    if label_set is None:
        return None
    chosen = registry.get(label_set.format)
    return LabelFiles(lambda job, output: chosen.label_paths(job.objects, job.source, output),
                      lambda files: chosen.count(files, label_set))  # fmt: skip


def worker_options(dataset: Dataset, min_visibility: float, keep_empty: bool) -> LabelOptions | None:
    """What each worker needs to move the labels with the pixels (``--min-visibility``, ``--keep-empty``)."""
    return None if dataset.labels is None else options_for(dataset.labels, min_visibility, keep_empty)


def dataset_files(dataset: Dataset, plan: Plan, rows: Callable[[], Iterable[Record]], read: Read) -> Files:
    """The output's dataset-level files, made by the format from the outputs written (``rows``: the manifest's
    rows, asked for only when the dataset is labelled), in plan order; ``read`` gives the output's files."""
    labels = dataset.labels
    if labels is None:
        return {}
    chosen = registry.get(labels.format)
    jobs = {job.source: job for job in plan.jobs}
    written = [Written(r.output, r.source, r.split, chosen.label_paths(jobs[r.source].objects, r.source, r.output))
               for r in rows() if r.status == "ok"]  # fmt: skip
    return chosen.dataset_files(labels, written, read)
