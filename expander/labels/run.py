"""What a run does with its dataset's labels in the main process: refuse (or leave out) label lines that cannot
be read before any work, give the sink and the workers the format's rules, and make the dataset-level files
(data.yaml, the COCO JSON, VOC's lists) from what was written; and for ``verify``, what a labelled run's
summary records of them and whether its dataset-level files still hold.

Each function takes any dataset and does nothing for class folders (``dataset.labels`` None), so the run that
calls them never asks which kind its dataset is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from expander.errors import ExpanderError, LayoutError
from expander.images import header_size
from expander.labels import registry
from expander.labels.base import Files, LabelOptions, LabelSet, Read, Written
from expander.labels.instances import check_mask_memory
from expander.labels.labelled import options_for
from expander.plan import Job
from expander.scan import scan
from expander.sinks.base import LabelFiles
from expander.storage import open_store

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
    dataset = _crowded_masks(dataset)
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


CROWDED = 1_000  # objects with masks from which an image's size is read before any work, to bound their memory
HEADER_BYTES = 64 * 1024


def _crowded_masks(dataset: Dataset) -> Dataset:
    """The dataset with every image whose objects' masks would take more than MAX_MASK_BYTES to move made
    unreadable, naming why: found from the image's header, before any work, for images with ``CROWDED`` objects
    with masks or more (a typical segmentation set's images are not read here; the worker checks those)."""
    assert dataset.labels is not None
    chosen = registry.get(dataset.labels.format)
    crowded = [i for i in dataset.items if i.objects is not None and chosen.masked(i.objects) >= CROWDED]
    if not crowded:
        return dataset
    store, over = open_store(dataset.location), {}
    for item in crowded:
        assert item.objects is not None
        try:
            size = header_size(store.head(item.rel_path, HEADER_BYTES), item.rel_path)
            if size is not None:
                check_mask_memory(chosen.masked(item.objects), size[1], size[0])
        except OSError:
            continue  # the worker says why the image cannot be read
        except ValueError as e:
            objects = dataclasses.replace(item.objects, errors=(*item.objects.errors, f"{item.rel_path}: {e}"),
                                          unreadable=True)  # fmt: skip
            over[item.rel_path] = dataclasses.replace(item, objects=objects)
    return (
        dataclasses.replace(dataset, items=tuple(over.get(i.rel_path, i) for i in dataset.items)) if over else dataset
    )


def converted(dataset: Dataset, to: str | None) -> Dataset:
    """The dataset to be written as ``to`` (``--to``): its labels read as they are, written as that format.

    Raises:
        LayoutError: class folders (nothing to convert), or labels the target cannot place.
    """
    labels = dataset.labels
    if to is None or (labels is not None and to == labels.format):
        return dataset
    if labels is None:
        raise LayoutError(f"--to {to} converts labels, and '{dataset.location}' was read as class folders: there "
                          "are none. Leave out --to, or pass --labels FORMAT if it holds labels.")  # fmt: skip
    chosen = registry.get(f"{labels.format}>{to}")
    return dataclasses.replace(dataset, labels=chosen.relabel(dataset.items, labels))  # type: ignore[attr-defined]


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
    labels, rules = dataset.labels, sink_rules(dataset)
    if labels is None or rules is None:
        return {}
    jobs = {job.source: job for job in plan.jobs}
    written = [Written(r.output, r.source, r.split, rules.paths(jobs[r.source], r.output))
               for r in rows() if r.status == "ok"]  # fmt: skip
    return registry.get(labels.format).dataset_files(labels, written, read)


# --- a labelled run as its summary records it (verify) -------------------------------------------------------
def recorded(summary: dict) -> LabelSet | None:
    """The labelled run's format and classes as its summary records them (None for class folders)."""
    labels = summary.get("labels")
    if not isinstance(labels, dict) or not labels.get("format"):
        return None
    settings = labels.get("settings") or {}
    details = {**settings, "settings": settings, "class_masks": bool(labels.get("class_masks"))}
    return LabelSet(str(labels["format"]), tuple(labels.get("classes") or ()), details=details)


def recorded_options(summary: dict) -> LabelOptions | None:
    """The workers' label options of the run (``verify --replay`` makes outputs again with them)."""
    labels, arguments = summary.get("labels"), summary["arguments"]
    if not isinstance(labels, dict):
        return None
    settings = labels.get("settings") or {}
    return LabelOptions(labels["format"], arguments.get("min_visibility", 0.1), bool(arguments.get("keep_empty")),
                        tuple(sorted(settings.items())))  # fmt: skip


def source_jobs(summary: dict) -> dict[str, Job]:
    """A labelled run's sources with their labels, read again from the source dataset (none for class folders:
    a replay's job is made from its manifest row)."""
    options = recorded_options(summary)
    if options is None:
        return {}
    dataset = scan(summary["arguments"]["source"], options.format)
    return {i.rel_path: Job(i.rel_path, i.split, i.class_name, objects=i.objects) for i in dataset.items}


def dataset_file_problems(labels: LabelSet | None, summary: dict, written: Callable[[], list[Written]],
                          read: Read) -> list[dict]:  # fmt: skip
    """The dataset-level files of a run whose summary records ``labels``: what the run wrote (SHA-256), and valid
    as a training tool reads them, checked by the format against the source read again (``written``: the
    outputs, asked for only when the run is labelled); one {"file", "reason"} per problem."""
    if labels is None:
        return []
    problems = []
    for name, sha in ((summary.get("labels") or {}).get("files_sha256") or {}).items():
        try:
            data = read(name)
        except OSError:
            continue  # listed as missing
        if hashlib.sha256(data).hexdigest() != sha:
            problems.append({"file": name, "reason": "differs from what the run wrote (SHA-256)"})
    source = _source_labels(summary)
    if source is not None:
        try:
            found = registry.get(source.format).check_dataset_files(source, written(), read)
        except Exception as e:  # a damaged file the format's check did not foresee: named, not a crash
            found = [f"cannot be checked: {type(e).__name__}: {e}"]
        problems += [{"file": p.split(":", 1)[0], "reason": p} for p in found]
    return problems


def _source_labels(summary: dict) -> LabelSet | None:
    """The source dataset's LabelSet, read again (None when the source is gone: the checksums still hold)."""
    try:
        dataset = scan(summary["arguments"]["source"], summary["labels"]["format"])
    except (ExpanderError, OSError, KeyError, TypeError):
        return None
    return dataset.labels
