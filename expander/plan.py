"""Dataset + quota options -> the list of files to write. Pure: no I/O, no randomness state.

Every output gets its seed from (run seed, relative source path, copy index) through a
stable hash, so a plan -- and therefore every byte written -- is the same whatever the
worker count or the order in which workers finish.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

from expander.errors import PlanError
from expander.scan import AUGMENTED_SPLIT, Dataset, Item


@dataclass(frozen=True)
class Quota:
    """How many new images to make. Exactly one of the three is set."""

    per_image: int | None = None
    balance: bool = False
    target_per_class: int | None = None

    def __post_init__(self) -> None:
        chosen = [self.per_image is not None, self.balance, self.target_per_class is not None]
        if sum(chosen) != 1:
            raise PlanError("Choose exactly one quota: --per-image N, --balance, or --target-per-class K.")
        for name in ("per_image", "target_per_class"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise PlanError(f"--{name.replace('_', '-')} must be 0 or more, got {value}.")


@dataclass(frozen=True)
class Output:
    """One file to write. ``copy_index`` is None for the copy of the original."""

    rel_path: str
    copy_index: int | None
    seed: int | None
    partner: str | None = None  # a second source (same split and class) for two-image generators


@dataclass(frozen=True)
class Job:
    """All outputs of one source image, so the source is read and decoded once."""

    source: str  # relative to the source root
    split: str | None
    class_name: str
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class PlanRow:
    split: str | None
    class_name: str
    originals: int
    new: int
    augmented: bool

    @property
    def total(self) -> int:
        return self.originals + self.new


@dataclass(frozen=True)
class Plan:
    jobs: tuple[Job, ...]
    rows: tuple[PlanRow, ...]

    @property
    def outputs(self) -> int:
        return sum(len(job.outputs) for job in self.jobs)


def output_seed(run_seed: int, source: str, copy_index: int) -> int:
    """A 63-bit seed from a stable hash; never Python's ``hash()``, which varies per process."""
    key = f"{run_seed}\x00{source}\x00{copy_index}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> 1


def make_plan(
    dataset: Dataset,
    quota: Quota,
    *,
    seed: int = 0,
    classes: tuple[str, ...] | None = None,
    originals: bool = True,
    output_ext: str | None = None,
    partners: bool = False,
) -> Plan:
    """Decide every output file.

    Args:
        dataset: the scanned source.
        quota: how many new images per class or per image.
        seed: run seed; every output seed derives from it.
        classes: augment only these classes (others are copied); None means all.
        originals: also write a copy of every source image.
        output_ext: extension for new images (e.g. ``.png``); None keeps each source's.
        partners: give every new image a partner source, another image of its split and class
            drawn from the output's seed (itself only when it is alone).

    Raises:
        PlanError: an unknown class, or a class with no images to augment.
    """
    selected = _check_classes(dataset, classes)
    new_counts = _new_counts(dataset, quota, selected, seed)

    jobs: list[Job] = []
    rows: list[PlanRow] = []
    for split in dataset.splits:
        for class_name in dataset.classes:
            items = [i for i in dataset.items if i.split == split and i.class_name == class_name]
            augmented = (split in (None, AUGMENTED_SPLIT)) and class_name in selected
            new_total = 0
            for item in items:
                n = new_counts.get(item.rel_path, 0) if augmented else 0
                new_total += n
                job = _job(item, n, seed, originals, output_ext)
                jobs.append(_with_partners(job, [i.rel_path for i in items]) if partners else job)
            if items or augmented:
                rows.append(PlanRow(split, class_name, len(items) if originals else 0, new_total, augmented))
    return Plan(jobs=_resolve_collisions(jobs), rows=tuple(rows))


def _check_classes(dataset: Dataset, classes: tuple[str, ...] | None) -> set[str]:
    if classes is None:
        return set(dataset.classes)
    unknown = [c for c in classes if c not in dataset.classes]
    if unknown:
        raise PlanError(
            f"Unknown class{'es' if len(unknown) > 1 else ''} {', '.join(repr(c) for c in unknown)} "
            f"in '{dataset.root}'. Classes found: {', '.join(dataset.classes)}."
        )
    return set(classes)


def _new_counts(dataset: Dataset, quota: Quota, selected: set[str], seed: int) -> dict[str, int]:
    """Number of new copies per source image (relative path -> count) for augmented items."""
    augmentable = [i for i in dataset.items if i.split in (None, AUGMENTED_SPLIT) and i.class_name in selected]
    if quota.per_image is not None:
        return {i.rel_path: quota.per_image for i in augmentable}

    by_class: dict[str, list[Item]] = {c: [] for c in selected}
    for item in augmentable:
        by_class[item.class_name].append(item)
    if quota.balance:
        # The target is the largest class of the augmented split, selected or not.
        target = max(
            (dataset.count(s, c) for s in dataset.splits if s in (None, AUGMENTED_SPLIT) for c in dataset.classes),
            default=0,
        )
    else:
        target = quota.target_per_class or 0

    counts: dict[str, int] = {}
    for class_name, items in sorted(by_class.items()):
        need = max(0, target - len(items))
        if need and not items:
            where = f"'{dataset.root}/{AUGMENTED_SPLIT}'" if dataset.has_splits else f"'{dataset.root}'"
            raise PlanError(
                f"Class '{class_name}' has no images in {where} to augment; add images or leave it out with --classes."
            )
        base, extra = divmod(need, len(items)) if items else (0, 0)
        # Spread the remainder over images picked by a seeded hash, not the first in the folder.
        lucky = set(sorted((i.rel_path for i in items), key=lambda p: output_seed(seed, p, -1))[:extra])
        counts.update({i.rel_path: base + (i.rel_path in lucky) for i in items})
    return counts


def _job(item: Item, new: int, seed: int, originals: bool, output_ext: str | None) -> Job:
    folder, name = posixpath.split(item.rel_path)
    stem, ext = posixpath.splitext(name)
    width = max(3, len(str(new)))
    outputs = [Output(item.rel_path, None, None)] if originals else []
    outputs += [
        Output(f"{folder}/{stem}__aug{k:0{width}d}{output_ext or ext}", k, output_seed(seed, item.rel_path, k))
        for k in range(1, new + 1)
    ]
    return Job(item.rel_path, item.split, item.class_name, tuple(outputs))


def _with_partners(job: Job, members: list[str]) -> Job:
    others = [m for m in members if m != job.source] or [job.source]
    outputs = tuple(
        o if o.copy_index is None else Output(o.rel_path, o.copy_index, o.seed, others[o.seed % len(others)])
        for o in job.outputs
    )
    return Job(job.source, job.split, job.class_name, outputs)


def _resolve_collisions(jobs: list[Job]) -> tuple[Job, ...]:
    """Rename new images whose name another output already takes (``a.jpg`` and ``a.png`` with
    ``--format png``, or a source literally named ``a__aug001.jpg``) by adding the source extension
    to the stem: ``a_jpg__aug001.png``. Originals keep their names."""
    taken = {o.rel_path.casefold() for j in jobs for o in j.outputs if o.copy_index is None}
    seen: set[str] = set()
    resolved = []
    for job in jobs:  # plan order is deterministic, so the first claimant keeps the plain name
        outputs = []
        for out in job.outputs:
            path = out.rel_path
            if out.copy_index is not None and (path.casefold() in taken or path.casefold() in seen):
                folder, name = posixpath.split(job.source)
                stem, ext = posixpath.splitext(name)
                path = f"{folder}/{stem}_{ext.lstrip('.')}{out.rel_path[len(folder) + 1 + len(stem) :]}"
                if path.casefold() in taken or path.casefold() in seen:
                    raise PlanError(f"Cannot give '{job.source}' copy {out.copy_index} a unique output name.")
            if out.copy_index is not None:
                seen.add(path.casefold())
            outputs.append(Output(path, out.copy_index, out.seed, out.partner))
        resolved.append(Job(job.source, job.split, job.class_name, tuple(outputs)))
    return tuple(resolved)
