"""Duplicate groups and train/test leaks as a file that ``expand --exclude`` acts on.

``expander inspect SRC --duplicates dup.json`` writes the groups it found (exact copies and
near-duplicates joined into groups) with a decision per file; ``expander expand SRC --exclude dup.json``
leaves the dropped files out of the output. The input is never touched.

The decision: evaluation data is never dropped (val and test are the user's yardstick), so a train file that is
a copy of a val or test file is dropped (a leak: the model would be tested on what it trained on); among train
files, the first in natural order is kept and each copy of a kept file is dropped (``groups``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from expander import images
from expander.dataset import Dataset, natural_key
from expander.errors import ExpanderError
from expander.images import write_atomic
from expander.storage import open_store

SCHEMA = 1
_EVALUATION = ("val", "valid", "validation", "test")


def groups(report: dict[str, Any], split_of: dict[str, str | None]) -> list[dict[str, Any]]:
    """Exact groups and near-duplicate pairs joined into groups (a file in two pairs joins them), decided.

    A group is every file linked through pairs, however many (one line each in a report). The decision is made
    pair by pair, not group by group, so a chain of look-alikes (A ~ B ~ C, where A and C differ) does not drop
    C for being like a dropped B: in natural order, val and test files are kept; a train file is dropped when it
    pairs with one of them (a leak) or with a train file kept before it (a duplicate). Members of an exact group
    pair with each other. No duplicate or leak then survives ``--exclude``.
    """
    partners: dict[str, set[str]] = {}
    kinds: dict[str, set[str]] = {}
    for found in [*report["exact_duplicates"], *report["near_duplicates"]]:
        files = found["files"]
        for f in files:
            partners.setdefault(f, set()).update(g for g in files if g != f)
            kinds.setdefault(f, set()).add(found.get("difference", found["kind"]))
    result = []
    for files in _components(partners):
        files.sort(key=natural_key)
        differences = sorted({k for f in files for k in kinds.get(f, ())})
        group = _decide(files, "exact" if differences == ["exact"] else "near", split_of, partners)
        result.append({**group, "differences": differences})
    return sorted(result, key=lambda g: (not g["cross_split"], natural_key(g["files"][0])))


def _components(partners: dict[str, set[str]]) -> list[list[str]]:
    seen: set[str] = set()
    found = []
    for start in partners:
        if start in seen:
            continue
        component, pending = [], [start]
        seen.add(start)
        while pending:
            f = pending.pop()
            component.append(f)
            for g in partners[f] - seen:
                seen.add(g)
                pending.append(g)
        found.append(component)
    return found


def _decide(files: list[str], kind: str, split_of: dict[str, str | None], partners: dict[str, set[str]]) -> dict:
    evaluation = {f for f in files if split_of.get(f) in _EVALUATION}
    kept: set[str] = set(evaluation)
    leaked = False
    for f in files:
        if f in evaluation:
            continue
        if partners[f] & evaluation:
            leaked = True
        elif not partners[f] & kept:
            kept.add(f)
    if leaked:
        reason = "leak: also in " + "/".join(sorted({str(split_of[f]) for f in evaluation}))
    else:
        reason = "duplicate: " + ("one kept" if len(kept) == 1 else f"{len(kept)} kept, none a copy of another")
    return {"files": files, "kind": kind, "cross_split": len({split_of.get(f) for f in files}) > 1,
            "keep": [f for f in files if f in kept], "drop": [f for f in files if f not in kept],
            "reason": reason}  # fmt: skip


def write(report: dict[str, Any], split_of: dict[str, str | None], path: str | Path) -> dict[str, Any]:
    """Write the duplicates file and return what it holds."""
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


def contact_sheet(found: list[dict[str, Any]], location: str, path: str | Path, cell: int = 160,
                  max_groups: int = 60) -> int:  # fmt: skip
    """Draw each group (leaks first) as a row of its files side by side, captioned with split, name and the
    decision, so a person can confirm at a glance; return how many groups it shows. An unreadable file shows
    as a blank tile."""
    # lazy: the drawing code (~20 ms) only when a contact sheet is asked for
    from expander.preview import draw_text, fit_tile

    store, rows = open_store(location), []
    widest = min(8, max((len(g["files"]) for g in found), default=1))
    for group in found[:max_groups]:
        tiles = []
        for name in group["files"][:widest]:
            try:
                tile = fit_tile(images.decode(store.read(name), name), cell)
            except (OSError, images.DecodeError):  # a file that went away or changed: the row shows the others
                tile = np.full((cell, cell, 3), 32, np.uint8)
            draw_text(tile, "drop" if name in group["drop"] else "keep", (4, 16))
            draw_text(tile, name[-(cell // 8) :], (2, cell - 6))  # the end of the path: it tells files apart
            tiles.append(tile)
        tiles += [np.full((cell, cell, 3), 32, np.uint8)] * (widest - len(tiles))
        band = np.full((20, cell * widest, 3), 32, np.uint8)
        more = f" (+{len(group['files']) - widest} more)" if len(group["files"]) > widest else ""
        draw_text(band, f"{group['reason']}; {', '.join(group['differences'])}{more}", (4, 14))
        rows.append(np.vstack([band, np.hstack(tiles)]))
    if not rows:
        rows.append(np.full((20, cell, 3), 32, np.uint8))
    images.write_atomic(path, images.encode(np.vstack(rows), "png", 95))
    return min(len(found), max_groups)
