"""Duplicate groups and train/test leaks as a file that ``expand --exclude`` acts on.

``expander inspect SRC --duplicates dup.json`` writes the groups it found (exact copies and
near-duplicates joined into groups) with a decision per file; ``expander expand SRC --exclude dup.json``
leaves the dropped files out of the output. The input is never touched.

The decision: evaluation data is never dropped (val and test are the user's yardstick), so in a group
that reaches val or test every train member is dropped (a leak: the model would be tested on what it
trained on); a group inside train keeps its first member in natural order and drops the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from expander.dataset import Dataset, natural_key
from expander.errors import ExpanderError

SCHEMA = 1
_EVALUATION = ("val", "valid", "validation", "test")


def groups(report: dict[str, Any], split_of: dict[str, str | None]) -> list[dict[str, Any]]:
    """Exact groups and near-duplicate pairs joined into groups (a file in two pairs joins them), decided."""
    parent: dict[str, str] = {}

    def root(f: str) -> str:
        while parent.setdefault(f, f) != f:
            parent[f] = parent[parent[f]]
            f = parent[f]
        return f

    kinds: dict[str, set[str]] = {}
    for found in [*report["exact_duplicates"], *report["near_duplicates"]]:
        first, *rest = found["files"]
        for other in rest:
            parent[root(other)] = root(first)
        kinds.setdefault(first, set()).add(found["kind"])
    members: dict[str, list[str]] = {}
    for f in parent:
        members.setdefault(root(f), []).append(f)
    result = []
    for files in members.values():
        files.sort(key=natural_key)
        kind = {k for f in files for k in kinds.get(f, ())}
        result.append(_decide(files, "exact" if kind == {"exact"} else "near", split_of))
    return sorted(result, key=lambda g: natural_key(g["files"][0]))


def _decide(files: list[str], kind: str, split_of: dict[str, str | None]) -> dict[str, Any]:
    splits = {split_of.get(f) for f in files}
    evaluation = [f for f in files if split_of.get(f) in _EVALUATION]
    if evaluation:
        drop = [f for f in files if split_of.get(f) not in _EVALUATION]
        reason = "leak: also in " + "/".join(sorted({str(split_of[f]) for f in evaluation}))
    else:
        drop = files[1:]
        reason = "duplicate: one kept"
    return {"files": files, "kind": kind, "cross_split": len(splits) > 1, "keep": [f for f in files if f not in drop],
            "drop": drop, "reason": reason}  # fmt: skip


def write(report: dict[str, Any], split_of: dict[str, str | None], path: str | Path) -> dict[str, Any]:
    """Write the duplicates file and return what it holds."""
    from expander.images import write_atomic

    found = groups(report, split_of)
    data = {
        "schema": SCHEMA,
        "source": report["source"],
        "groups": found,
        "drop": sorted({f for g in found for f in g["drop"]}, key=natural_key),
    }
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())
    return data


def exclusions(path: str | Path, dataset: Dataset) -> tuple[str, ...]:
    """The files a duplicates file drops, checked against the dataset it is applied to.

    Raises:
        ExpanderError: the file cannot be read, is not a duplicates file, or names files the dataset lacks.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        drop = data["drop"]
        if data.get("schema") != SCHEMA or not isinstance(drop, list) or not all(isinstance(f, str) for f in drop):
            raise ValueError("not a duplicates file of this expander (schema 1, a 'drop' list of paths)")
    except (OSError, ValueError, KeyError, TypeError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise ExpanderError(
            f"Cannot use --exclude '{path}': {reason}. Write it with: expander inspect SRC --duplicates FILE"
        ) from None
    known = {i.rel_path for i in dataset.items}
    unknown = [f for f in drop if f not in known]
    if unknown:
        raise ExpanderError(
            f"--exclude '{path}' drops {len(unknown)} file(s) that '{dataset.root}' does not have "
            f"(e.g. '{unknown[0]}'): it was written for another dataset or before the dataset changed. Run "
            "expander inspect SRC --duplicates again."
        )
    return tuple(drop)
