"""Dataset + quota options -> the list of files to write. Pure: no I/O, no randomness state.

Every output gets its seed from (run seed, relative source path, copy index) through a
stable hash, so a plan -- and therefore every byte written -- is the same whatever the
worker count or the order in which workers finish.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from expander.dataset import AUGMENTED_SPLIT, Dataset, Item
from expander.errors import PlanError

if TYPE_CHECKING:
    from expander.labels.base import Objects


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
    """All outputs of one source image, so the source is read and decoded once.

    A job stores how to name and seed its outputs, not the outputs themselves: ``outputs`` derives
    them when asked, so a plan costs the same memory for 2 or 2,000 copies per image.
    """

    source: str  # relative to the source root
    split: str | None
    class_name: str
    run_seed: int = 0
    original: bool = True  # also write a copy of the source itself
    copies: int = 0  # new images, numbered 1..copies
    ext: str | None = None  # the new images' extension; None keeps the source's
    renamed: tuple[tuple[int, str], ...] = ()  # (copy, path) where the plain name is taken
    partners: tuple[str, ...] = ()  # one per copy, for two-image generators
    done: frozenset[int] = frozenset()  # outputs already on disk (a resumed run); 0 is the original
    objects: Objects | None = None  # a labelled dataset's labels of the source

    @property
    def outputs(self) -> tuple[Output, ...]:
        """Every planned output, in order: the original (if written), then copies 1..copies."""
        folder, name = posixpath.split(self.source)
        stem, ext = posixpath.splitext(name)
        width = max(3, len(str(self.copies)))
        renamed = dict(self.renamed)
        outputs = [Output(self.source, None, None)] if self.original else []
        for k in range(1, self.copies + 1):
            path = renamed.get(k) or posixpath.join(folder, f"{stem}__aug{k:0{width}d}{self.ext or ext}")
            partner = self.partners[k - 1] if self.partners else None
            outputs.append(Output(path, k, output_seed(self.run_seed, self.source, k), partner))
        return tuple(outputs)

    @property
    def pending(self) -> tuple[Output, ...]:
        """The outputs still to write."""
        return tuple(o for o in self.outputs if (o.copy_index or 0) not in self.done)

    @property
    def size(self) -> int:
        """How many outputs the job plans (written or not)."""
        return int(self.original) + self.copies


@dataclass(frozen=True)
class PlanRow:
    """Images per split and class; in a labelled dataset, object instances per split and object class
    (``new`` then counts the objects the planned copies carry, before any leaves the image)."""

    split: str | None
    class_name: str
    originals: int
    new: int
    augmented: bool
    unit: str = "images"  # or "objects"; a labelled plan's last row counts the image "files" to write

    @property
    def total(self) -> int:
        return self.originals + self.new


@dataclass(frozen=True)
class Plan:
    jobs: tuple[Job, ...]
    rows: tuple[PlanRow, ...]
    target: int | None = None  # a quota's target per class (--balance, --target-per-class)
    unreachable: tuple[str, ...] = ()  # selected classes the quota cannot raise: no image to augment holds one

    @property
    def outputs(self) -> int:
        return sum(job.size for job in self.jobs)


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
    if dataset.labels is not None:
        return _labelled_plan(dataset, quota, selected, seed, originals, output_ext)
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
            f"in '{dataset.location}'. Classes found: {', '.join(dataset.classes)}."
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
            where = f"'{dataset.location}/{AUGMENTED_SPLIT}'" if dataset.has_splits else f"'{dataset.location}'"
            raise PlanError(
                f"Class '{class_name}' has no images in {where} to augment; add images or leave it out with --classes."
            )
        base, extra = divmod(need, len(items)) if items else (0, 0)
        # Spread the remainder over images picked by a seeded hash, not the first in the folder.
        lucky = set(sorted((i.rel_path for i in items), key=lambda p: output_seed(seed, p, -1))[:extra])
        counts.update({i.rel_path: base + (i.rel_path in lucky) for i in items})
    return counts


def _job(item: Item, new: int, seed: int, originals: bool, output_ext: str | None) -> Job:
    return Job(item.rel_path, item.split, item.class_name, seed, originals, new, output_ext, objects=item.objects)


def _labelled_plan(
    dataset: Dataset, quota: Quota, selected: set[str], seed: int, originals: bool, output_ext: str | None
) -> Plan:
    """A labelled dataset's plan: copies chosen by object class, rows counting object instances, and a last row
    counting the image files to write."""
    names = dataset.classes
    augmentable = [i for i in dataset.items if i.split in (None, AUGMENTED_SPLIT)]
    new_counts, unreachable = _object_new_counts(dataset, augmentable, quota, {names.index(c) for c in selected}, seed)
    jobs = [_job(item, new_counts.get(item.rel_path, 0), seed, originals, output_ext) for item in dataset.items]
    rows = []
    for split in dataset.splits:
        in_split = [j for j in jobs if j.split == split]
        for index, name in enumerate(names):
            before = sum(j.objects.classes.count(index) for j in in_split if j.objects is not None)
            new = sum(j.copies * j.objects.classes.count(index) for j in in_split if j.objects is not None)
            augmented = split in (None, AUGMENTED_SPLIT) and name in selected and index not in unreachable
            rows.append(PlanRow(split, name, before if originals else 0, new, augmented, "objects"))
    files = PlanRow(None, "image files", sum(int(j.original) for j in jobs), sum(j.copies for j in jobs), True, "files")
    target = None if quota.per_image is not None else _target(dataset, augmentable, quota)
    return Plan(jobs=_resolve_collisions(jobs), rows=(*rows, files), target=target,
                unreachable=tuple(names[c] for c in sorted(unreachable)))  # fmt: skip


def _target(dataset: Dataset, items: list[Item], quota: Quota) -> int:
    if not quota.balance:
        return quota.target_per_class or 0
    from expander.labels.quotas import instance_counts  # lazy: numpy (~36 ms) only for quotas on labelled objects

    counts = instance_counts([i.objects.classes if i.objects is not None else () for i in items], len(dataset.classes))
    return int(counts.sum(axis=0).max(initial=0))


def _object_new_counts(
    dataset: Dataset, items: list[Item], quota: Quota, selected: set[int], seed: int
) -> tuple[dict[str, int], set[int]]:
    """Copies per image: ``per_image`` for every image holding a selected class (every image, background
    ones too, when all classes are selected); else enough to raise each selected class to the target. Also
    the selected classes a quota cannot raise: no training image holds one (they are reported, and left out;
    COCO's class lists and Roboflow's unused supercategory always have some)."""
    # lazy: numpy (~36 ms) only for quotas on labelled objects
    from expander.labels.quotas import copies_for_target, instance_counts

    every = len(selected) == len(dataset.classes)
    holders = [i for i in items if every or (i.objects is not None and selected & set(i.objects.classes))]
    if quota.per_image is not None:
        return {i.rel_path: quota.per_image for i in holders}, set()
    counts = instance_counts([i.objects.classes if i.objects is not None else () for i in items], len(dataset.classes))
    totals = counts.sum(axis=0)
    unreachable = {c for c in selected if not totals[c]}
    target = _target(dataset, items, quota)
    tiebreak = [output_seed(seed, i.rel_path, -1) for i in items]
    copies = copies_for_target(counts, sorted(selected - unreachable), target, tiebreak)
    return {i.rel_path: int(n) for i, n in zip(items, copies, strict=True) if n}, unreachable


def _with_partners(job: Job, members: list[str]) -> Job:
    others = [m for m in members if m != job.source] or [job.source]
    partners = tuple(others[(o.seed or 0) % len(others)] for o in job.outputs if o.copy_index is not None)
    return dataclasses.replace(job, partners=partners)


def _resolve_collisions(jobs: list[Job]) -> tuple[Job, ...]:
    """Rename new images whose name another output already takes (``a.jpg`` and ``a.png`` with
    ``--format png``, or a source literally named ``a__aug001.jpg``) by adding the source extension
    to the stem: ``a_jpg__aug001.png``. Originals keep their names; the first claimant keeps the plain one.

    A new image is named ``<folder>/<stem>__aug<digits><ext>``, so it can only meet an output whose
    name starts with the same ``<folder>/<stem>__aug`` (letter case aside): another job with that
    stem, an original named like a copy, or a renamed copy. Only those jobs' names are compared,
    so planning needs no memory per output.
    """
    taken = {j.source.casefold() for j in jobs if j.original}
    by_key: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        if job.copies:
            by_key.setdefault(_stem_key(job.source), []).append(index)
    risky = {key for key, members in by_key.items() if len(members) > 1}
    for name in taken:
        match = _COPY_NAME.fullmatch(posixpath.splitext(name)[0])
        if match and match[1] in by_key:
            risky.add(match[1])
    grown = risky
    while grown:  # a renamed copy takes <stem>_<ext>: a job with that stem must be compared too
        renamed_keys = {_renamed_stem(jobs[i].source).casefold() for key in grown for i in by_key[key]}
        grown = {key for key in renamed_keys if key in by_key} - risky
        risky |= grown

    resolved = list(jobs)
    seen: set[str] = set()
    for index in sorted(i for key in risky for i in by_key[key]):  # plan order: deterministic
        job, renamed = jobs[index], []
        for out in job.outputs:
            if out.copy_index is None:
                continue
            path = out.rel_path
            if path.casefold() in taken or path.casefold() in seen:
                stem = posixpath.splitext(job.source)[0]
                path = _renamed_stem(job.source) + out.rel_path[len(stem) :]
                if path.casefold() in taken or path.casefold() in seen:
                    raise PlanError(f"Cannot give '{job.source}' copy {out.copy_index} a unique output name.")
                renamed.append((out.copy_index, path))
            seen.add(path.casefold())
        if renamed:
            resolved[index] = dataclasses.replace(job, renamed=tuple(renamed))
    return tuple(resolved)


_COPY_NAME = re.compile(r"(.*)__aug\d+", re.DOTALL)


def _stem_key(source: str) -> str:
    return posixpath.splitext(source)[0].casefold()


def _renamed_stem(source: str) -> str:
    """``<folder>/<stem>_<ext>``: where a source's copies go when their plain names are taken."""
    stem, ext = posixpath.splitext(source)
    return f"{stem}_{ext.lstrip('.')}"
