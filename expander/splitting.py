"""Leak-free splits (``expander split``): train/val/test in which no duplicate group straddles two splits.

Duplicates, exact and near as ``inspect`` finds them, are joined into groups (a file in two pairs joins them);
each group is placed whole. A dataset without splits gets new ones, stratified by class: the groups are placed
largest first, then in an order drawn from the seed, each into the split that lacks most of its class's share
(``--val`` and ``--test`` of each class). A dataset with splits keeps them, and each group that straddles them
moves whole to the evaluation split it touches (test before val): an evaluation image never moves into train.
Every move is in the report.

Class folders are written as a new tree, ``OUT/<split>/<class>/<file>``, each file byte for byte, with the
assignment and the report in ``OUT/split.json``; the tree is made beside OUT and renamed into place when
complete, so an interrupted split leaves nothing. A labelled dataset is refused for now: its split is written by
its format's own lists and files, which this does not rewrite yet.
"""

from __future__ import annotations

import json
import posixpath
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from expander.dataset import Dataset, natural_key
from expander.errors import ExpanderError, LayoutError
from expander.images import write_atomic
from expander.inspection import find_duplicates
from expander.limits import DEFAULT_MAX_PIXELS
from expander.scan import scan
from expander.storage import open_store

SPLIT_FILE = "split.json"
EVALUATION = ("test", "val", "valid", "validation")  # where a straddling group goes, first found first


def split_dataset(src: str | Path, out: str | Path, val: float = 0.1, test: float = 0.1, seed: int = 0,
                  workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> dict[str, Any]:  # fmt: skip
    """Split ``src`` into ``out`` without leaks and return the report (see the module docstring).

    Raises:
        ExpanderError: fractions out of range, ``out`` not new, or a labelled dataset.
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ExpanderError(f"--val and --test must each be 0 or more and together under 1; got {val} and {test}.")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExpanderError(f"'{out}' is not a new, empty folder: split writes a whole new tree. Choose another.")
    dataset = scan(src, "auto", max_pixels)
    if dataset.labels is not None:
        raise LayoutError(
            f"'{dataset.location}' is a labelled dataset ({dataset.labels.format}): split makes new trees of class "
            "folders only, so far; a labelled dataset's splits live in its format's own lists and files. Find its "
            f"leaks with: expander inspect {dataset.location} --duplicates dup.json"
        )
    groups = duplicate_groups(dataset, find_duplicates(dataset, workers, max_pixels))
    old = {i.rel_path: i.split for i in dataset.items}
    if dataset.has_splits:  # its own splits are kept: no shares are drawn
        assignment, moves = _kept_together(groups, old)
        arguments: dict[str, Any] = {"val": None, "test": None, "seed": seed}
    else:
        assignment, moves = _stratified(groups, {i.rel_path: i.class_name for i in dataset.items}, val, test, seed), []
        arguments = {"val": val, "test": test, "seed": seed}
    partial = out.parent / f".{out.name}.partial"  # the tree appears whole under OUT, or not at all
    shutil.rmtree(partial, ignore_errors=True)
    try:
        written = _write_tree(dataset, assignment, partial)
        report = _report(dataset, out, groups, assignment, moves, written, arguments)
        write_atomic(partial / SPLIT_FILE, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
        if out.exists():
            out.rmdir()  # empty: checked above
        partial.rename(out)
    except BaseException as e:  # a bad file, a full disk, Ctrl-C: nothing is left half-written
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(e, OSError):
            raise ExpanderError(
                f"Cannot write the split of '{dataset.location}' beside '{out}': {e.strerror or e}. Nothing was "
                "written; free space or choose another -o."
            ) from None
        raise
    return report


def duplicate_groups(dataset: Dataset, found: list[dict]) -> list[list[str]]:
    """Every image in exactly one group: duplicates joined through their pairs, every other image alone."""
    parent = {i.rel_path: i.rel_path for i in dataset.items}

    def root(path: str) -> str:
        while parent[path] != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    for duplicate in found:
        first, *others = duplicate["files"]
        for other in others:
            parent[root(other)] = root(first)
    members: dict[str, list[str]] = {}
    for path in parent:
        members.setdefault(root(path), []).append(path)
    return sorted((sorted(m, key=natural_key) for m in members.values()), key=lambda m: natural_key(m[0]))


def _stratified(groups: list[list[str]], class_of: dict[str, str], val: float, test: float,
                seed: int) -> dict[str, str]:  # fmt: skip
    """Each group into the split that lacks most of its class's share (its members' most common class)."""
    totals = Counter(class_of.values())
    share = {"train": 1 - val - test, "val": val, "test": test}
    placed: Counter[tuple[str, str]] = Counter()
    rng = random.Random(seed)
    order = sorted(groups, key=lambda g: (-len(g), rng.random()))
    assignment = {}
    for group in order:
        cls = Counter(class_of[p] for p in group).most_common(1)[0][0]
        lacking = {s: share[s] * totals[cls] - placed[s, cls] for s in share}
        chosen = max(share, key=lambda s: (lacking[s], ("test", "val", "train").index(s)))  # ties: train first
        placed[chosen, cls] += len(group)
        assignment.update(dict.fromkeys(group, chosen))
    return assignment


def _kept_together(groups: list[list[str]], split_of: dict[str, str | None]) -> tuple[dict[str, str], list[dict]]:
    """The dataset's own splits, each straddling group moved whole to the evaluation split it touches."""
    assignment = {p: s or "train" for p, s in split_of.items()}
    moves = []
    for group in groups:
        splits = {split_of[p] for p in group}
        if len(splits) < 2:
            continue
        to = next((s for s in EVALUATION if s in splits), "train")
        for path in group:
            if assignment[path] != to:
                moves.append({"file": path, "from": assignment[path], "to": to,
                              "group": [p for p in group if p != path]})  # fmt: skip
                assignment[path] = to
    return assignment, moves


def _write_tree(dataset: Dataset, assignment: dict[str, str], out: Path) -> dict[str, str]:
    """Each image copied byte for byte to ``out/<split>/<class>/<name>``; a name already taken there (a moved
    file meeting one of its new split's) gets its old split added. Returns source -> written path."""
    store, written, taken = open_store(dataset.location), {}, set()
    for item in sorted(dataset.items, key=lambda i: natural_key(i.rel_path)):
        split = assignment[item.rel_path]
        name = posixpath.basename(item.rel_path)
        target = posixpath.join(split, item.class_name, name)
        if target in taken:
            stem, ext = posixpath.splitext(name)
            target = posixpath.join(split, item.class_name, f"{stem}__from_{item.split}{ext}")
        taken.add(target)
        path = out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, store.read(item.rel_path))
        written[item.rel_path] = target
    return written


def _report(dataset: Dataset, out: Path, groups: list[list[str]], assignment: dict[str, str], moves: list[dict],
            written: dict[str, str], arguments: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    class_of = {i.rel_path: i.class_name for i in dataset.items}
    counts = Counter((assignment[p], class_of[p]) for p in assignment)
    splits = [s for s in ("train", "val", "valid", "validation", "test") if any(k[0] == s for k in counts)]
    together = [g for g in groups if len(g) > 1]
    return {
        "source": dataset.location,
        "out": str(out),
        **arguments,
        "images": len(assignment),
        "per_split": {s: {c: counts.get((s, c), 0) for c in dataset.classes} for s in splits},
        "groups_kept_together": len(together),
        "images_in_groups": sum(len(g) for g in together),
        "groups": together,
        "moves": moves,
        "files": {p: written[p] for p in sorted(written, key=natural_key)},
    }
