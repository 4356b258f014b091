"""Every file under a source accounted for, and labels that nothing reads refused rather than dropped.

Once a label format (or the class-folder layout) has read a dataset, each file under the source is one of: an
image the run reads, a label or dataset file the run reads, or ignored with a reason (``Inventory``). Two kinds
of file may not be ignored, because ignoring them is how labels get lost without a word:

* a file that holds labels (``expander.labels.evidence`` recognises it by its content) when no format read
  the dataset, or when it labels an image the chosen format read as having no objects;
* an image that the chosen format does not place (neither labelled nor a background image of its layout).

Either stops the run before anything is written (``LayoutError``, exit 2) with what was seen and what would
read it. ``--labels none`` reads class folders and lists label files as ignored.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import Counter
from typing import TYPE_CHECKING, Any

from expander.dataset import RUN_RECORDS, Dataset, Inventory, is_image_name, natural_key
from expander.errors import LayoutError
from expander.labels import registry
from expander.labels.evidence import Evidence, examine
from expander.labels.tree import BROKEN_LINK, HIDDEN, LINK_LOOP, NOT_REGULAR, OUTSIDE, stem

if TYPE_CHECKING:
    from expander.labels.tree import Tree
    from expander.plan import Plan

# Why a file was ignored, by reason key (the keys count in reports; expander.json lists each file with both).
REASONS = {
    HIDDEN: "hidden (its name starts with a dot); a hidden folder is not entered",
    LINK_LOOP: "a link that loops back on itself",
    BROKEN_LINK: "a link to nothing",
    NOT_REGULAR: "not a regular file (a FIFO, socket or device): never opened",
    OUTSIDE: "a link to a file outside the dataset: never opened (copy the file into the dataset instead)",
    "bad_name": "its name is not valid UTF-8: rename it",
    "not_image": "neither an image nor a label file",
    "nested": "an image in a folder below its class folder: class folders are read one level deep",
    "orphan_label": "a label file whose image is not in the dataset",
    "run_record": "an expander run's manifest or summary",
}


def label_files_nobody_reads(tree: Tree, claimed: set[str]) -> list[Evidence]:
    """The files that hold labels (by their content) among those no reader took."""
    return [found for f in tree.files if f not in claimed and (found := examine(tree, f)) is not None]


def refuse_unread(tree: Tree, evidence: list[Evidence]) -> None:
    """Stop a run whose source holds labels that no format read (no format found, class folders next).

    Raises:
        LayoutError: what was seen, per folder and kind, and what would read it.
    """
    if not evidence:
        return
    images = Counter(posixpath.dirname(i) or "." for i in tree.images)
    seen = "\n  ".join(_groups(evidence))
    where = ", ".join(f"{n} in {folder}/" for folder, n in images.most_common(3)) or "none"
    raise LayoutError(
        f"'{tree.location}' holds labels that no format here reads as they are laid out:\n  {seen}\n"
        f"Images: {where}. Nothing was written: reading this as class folders would drop the labels.\n"
        f"Formats read: {', '.join(registry.NAMES)} (docs/labels.md shows the layout each reads). Pass "
        "--labels FORMAT to read it as one of them, or --labels none to read class folders and leave the labels out."
    )


def _groups(evidence: list[Evidence]) -> list[str]:
    """One line per folder and kind: how many, an example, and which --labels reads them."""
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for found in evidence:
        groups.setdefault((posixpath.dirname(found.path) or ".", found.kind), []).append(found)
    lines = []
    for (folder, kind), members in groups.items():
        first = members[0]
        reads = f"--labels {first.reads_as} reads this kind" if first.reads_as else "no format here reads it yet"
        lines.append(f"{len(members)} {kind} in {folder}/ (e.g. {first.path}): {reads}")
    return lines


def account(tree: Tree, dataset: Dataset, evidence: list[Evidence], labels: str | None) -> Dataset:
    """The dataset with its ``Inventory``: every file under the source in exactly one place. ``evidence``: the
    label files among those its reader did not take (``label_files_nobody_reads``).

    Raises:
        LayoutError: an image the format does not place, or labels of an image it read as having none.
    """
    claimed = {i.rel_path for i in dataset.items}
    taken = set() if dataset.labels is None else label_files(dataset) & set(tree.files)
    _refuse_unplaced(tree, dataset, claimed | taken)
    ignored = [(path, reason, REASONS[reason]) for path, reason in tree.skipped]
    ignored += [(shown, "bad_name", REASONS["bad_name"]) for shown, _ in tree.rejected]
    orphans = set(dataset.labels.orphans) if dataset.labels is not None else set()
    _refuse_links_out(tree, dataset)
    other = _other_labels(dataset, [e for e in evidence if e.path not in orphans], labels)
    for path in tree.files:
        if path in claimed or path in taken:
            continue
        if path in other:
            ignored.append((path, "unread_labels", other[path]))
        elif path in orphans:
            ignored.append((path, "orphan_label", REASONS["orphan_label"]))
        elif path in RUN_RECORDS:
            ignored.append((path, "run_record", REASONS["run_record"]))
        elif dataset.labels is None and is_image_name(path):
            ignored.append((path, "nested", REASONS["nested"]))
        else:
            ignored.append((path, "not_image", REASONS["not_image"]))
    ignored.sort(key=lambda entry: natural_key(entry[0]))
    total = len(tree.files) + len(tree.skipped) + len(tree.rejected)
    inventory = Inventory(total, len(claimed), len(taken), tuple(ignored))
    return dataclasses.replace(dataset, inventory=inventory, ignored=inventory.counts())


def label_files(dataset: Dataset) -> set[str]:
    """The label and dataset files a labelled dataset's reader took (its orphans aside)."""
    assert dataset.labels is not None
    own = {f for i in dataset.items if i.objects is not None for f in i.objects.label_files}
    return own | set(dataset.labels.files)


def _refuse_unplaced(tree: Tree, dataset: Dataset, taken: set[str]) -> None:
    if dataset.labels is None:
        return
    unplaced = [i for i in tree.images if i not in taken]
    if unplaced:
        folders = Counter(posixpath.dirname(i) or "." for i in unplaced)
        shown = ", ".join(f"{n} in {folder}/" for folder, n in folders.most_common(5))
        raise LayoutError(
            f"{len(unplaced)} image(s) in '{dataset.location}' are not part of its {dataset.labels.format} layout "
            f"({shown}; e.g. {unplaced[0]}): they are neither labelled nor background images of it, and would be "
            "left out. Nothing was written. Move them out of the dataset, or pass --labels with the format that "
            "reads them (--labels none reads class folders)."
        )


def _unlabelled_stems(dataset: Dataset) -> set[str]:
    return {stem(i.rel_path) for i in dataset.items if i.objects is not None and not i.objects.label_files}


def _refuse_links_out(tree: Tree, dataset: Dataset) -> None:
    """A label file that is a link out of the dataset was never opened; its image must not run without it."""
    if dataset.labels is None:
        return
    unlabelled = _unlabelled_stems(dataset)
    links = [path for path, reason in tree.skipped if reason == OUTSIDE and stem(path) in unlabelled]
    if links:
        raise LayoutError(
            f"{len(links)} label file(s) in '{dataset.location}' are links to files outside the dataset (e.g. "
            f"{links[0]}): they were not opened, and their images would be read without labels. Nothing was "
            "written. Copy the files they point to into the dataset, or remove the links."
        )


def _other_labels(dataset: Dataset, found: list[Evidence], labels: str | None) -> dict[str, str]:
    """Label files that the run does not read, with why; LayoutError when one labels an image read without
    labels (its objects would be lost)."""
    if dataset.labels is None:
        return {e.path: f"{e.kind}, not read (--labels {labels or 'none'})" for e in found}
    unlabelled = _unlabelled_stems(dataset)
    lost = [e for e in found if stem(e.path) in unlabelled]
    if lost:
        seen = "\n  ".join(_groups(lost))
        raise LayoutError(
            f"'{dataset.location}' is read as {dataset.labels.format}, but these label files are not, and they name "
            f"images it reads as having no labels:\n  {seen}\nNothing was written. Pass --labels with the format "
            "that reads them, or move them out of the dataset."
        )
    return {e.path: f"{e.kind}, not read: the dataset is read as {dataset.labels.format}" for e in found}


def inventory_summary(dataset: Dataset, plan: Plan | None = None) -> dict[str, Any]:
    """Every file under the source, in one place each: images augmented, images copied unchanged (with a plan;
    ``images`` alone without one), images left out (``--exclude``, ``--skip-bad-labels``), label and dataset
    files read, and each file ignored with its reason."""
    inventory = dataset.inventory
    found: dict[str, Any] = {"files": inventory.files, "images": inventory.images}
    if plan is not None:
        found["augmented"] = sum(1 for job in plan.jobs if job.copies)
        found["copied"] = sum(1 for job in plan.jobs if not job.copies and job.original)
        found["left_out"] = inventory.images - found["augmented"] - found["copied"]
    found["label_files"] = inventory.label_files
    found["ignored"] = len(inventory.ignored)
    found["ignored_files"] = [{"file": path, "reason": reason, "why": why} for path, reason, why in inventory.ignored]
    return found
