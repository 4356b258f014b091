"""Studies: many training runs that answer "does augmentation help my data, and which kind?".

* ``ablate``: one training subset, the no-augmentation baseline and one arm per preset.
* ``curve``: nested training subsets of growing size, baseline vs one preset at each.
* ``copies``: offline copies (1, 2, 5, ... per image, or cycled one per epoch) against on the fly.

All work the same way: choose subsets of the training originals (validation is held out of each
subset; test images come from the same rules as ``train compare`` and are never touched), expand
each subset with expander's library (only training originals are ever expanded, so nothing derived
from a validation or test image can reach a training set), then train every (arm, subset, seed) run.
Expansions and finished runs live in a :class:`~train.store.StudyStore`, so running the same
command again reuses them and only trains what is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from expander.dataset import VAL_SPLITS, Item
from expander.manifest import package_versions
from expander.options import default_workers
from expander.pipeline import PRESETS
from expander.scan import scan
from train.data import (
    Sample,
    check_classes,
    holdout,
    leak_warning,
    seeded_order,
    source_key,
    train_and_test,
    undecodable,
)
from train.errors import TrainError
from train.fit import FitConfig, quiet_tensorflow
from train.runs import RunSpec, default_store, report_folder, run_all
from train.stats import BASELINE, arm_stats, check_seeds, compared, effect
from train.store import StudyStore
from train.study_report import (
    ablation_verdict,
    copies_verdict,
    curve_verdict,
    write_ablation_report,
    write_copies_report,
    write_curve_report,
)

SUBSET_SEED = 0  # the order subsets are drawn in; fixed so that every study on SRC shares subsets


@dataclass(frozen=True)
class Subset:
    """The originals of one study size: ``per_class`` images per class, split into train and validation."""

    per_class: dict[str, int]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]

    @property
    def balanced(self) -> bool:
        return len(set(self.per_class.values())) == 1

    @property
    def size(self) -> int:
        """The curve's x: images per class when every class has the same number, else images in all."""
        return next(iter(self.per_class.values())) if self.balanced else sum(self.per_class.values())


@dataclass(frozen=True)
class StudyData:
    classes: tuple[str, ...]
    available: dict[str, int]  # training originals per class before subsetting
    test: tuple[Sample, ...]
    test_source: str
    subsets: tuple[Subset, ...]
    val_source: str = "held-out share of each subset"
    unreadable: tuple[tuple[str, str], ...] = ()  # (path, reason): left out of every set, as train compare does
    warnings: tuple[str, ...] = ()  # a leak run anyway (--allow-leaks)


def load_study_data(
    src: str | Path,
    test_dir: str | Path | None = None,
    *,
    per_class: list[int] | None = None,
    fractions: list[float] | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    allow_leaks: bool = False,
    workers: int = 1,
) -> StudyData:
    """Nested, stratified subsets of SRC's training originals, and the untouched test images.

    Give ``per_class`` (images per class) or ``fractions`` (of each class); neither means all images.
    Each subset's first images are the previous subset's, so a larger subset only adds images.

    Raises:
        TrainError: a size is out of range or a subset too small to hold out validation images; or a training
            image shows the same picture as a validation or test image (``leak_warning``), unless
            ``allow_leaks``.
    """
    if per_class and fractions:
        raise TrainError("Give either --per-class or --fractions, not both.")
    dataset = scan(src)
    pool, (test_root, test_items), test_source = train_and_test(dataset, test_dir, test_fraction, 0)
    bad = undecodable([dataset.root / i.rel_path for i in pool] + [test_root / i.rel_path for i in test_items])
    pool = [i for i in pool if str(dataset.root / i.rel_path) not in bad]
    test_items = [i for i in test_items if str(test_root / i.rel_path) not in bad]
    classes = tuple(sorted({i.class_name for i in pool}))
    check_classes({"SRC": classes, "test set": {i.class_name for i in test_items}})
    by_class = {c: seeded_order([i for i in pool if i.class_name == c], SUBSET_SEED) for c in classes}
    available = {c: len(items) for c, items in by_class.items()}

    if per_class:
        _check_increasing(per_class, "--per-class")
        short = {c: n for c, n in available.items() if n < per_class[-1]}
        if short:
            c, n = next(iter(short.items()))
            raise TrainError(
                f"--per-class {per_class[-1]} asks for more images than class '{c}' has for training ({n}). "
                f"Use sizes up to {min(available.values())}, or --fractions."
            )
        sizes = [dict.fromkeys(classes, k) for k in per_class]
    else:
        fractions = fractions or [1.0]
        _check_increasing(fractions, "--fractions")
        if not fractions[0] > 0 or fractions[-1] > 1:
            raise TrainError(f"--fractions must be in (0, 1]; got {', '.join(map(str, fractions))}.")
        sizes = [{c: max(2, round(f * n)) for c, n in available.items()} for f in fractions]

    def samples(root: Path, items: list[Item]) -> tuple[Sample, ...]:
        return tuple(
            Sample(str(root / i.rel_path), classes.index(i.class_name), source_key(i.class_name, i.rel_path))
            for i in items
        )

    src_root = dataset.root.resolve()
    own_val = next((s for s in VAL_SPLITS if s in dataset.splits), None)
    subsets = []
    for size in sizes:
        chosen = [i for c in classes for i in by_class[c][: size[c]]]
        val = [i for i in dataset.items if i.split == own_val] if own_val else holdout(chosen, val_fraction, 1)
        val_paths = {i.rel_path for i in val}
        train = [i for i in chosen if i.rel_path not in val_paths]
        subsets.append(Subset(size, samples(src_root, train), samples(src_root, val)))
    val_source = f"{own_val}/ split of SRC" if own_val else f"held-out {val_fraction:.0%} of each subset"
    test = samples(test_root.resolve(), test_items)
    largest = subsets[-1]  # every smaller subset's images are in it
    held = [s.path for s in (*largest.val, *test)]
    warning = leak_warning([s.path for s in largest.train], held, src, workers, allow_leaks)
    return StudyData(classes, available, test, test_source, tuple(subsets), val_source, tuple(sorted(bad.items())),
                     (warning,) if warning else ())  # fmt: skip


def _check_increasing(values: list, option: str) -> None:
    if any(b <= a for a, b in pairwise(values)) or values[0] <= 0:
        raise TrainError(f"{option} must be positive and increasing; got {', '.join(map(str, values))}.")


def check_presets(presets: list[str]) -> None:
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        raise TrainError(
            f"Unknown preset(s): {', '.join(unknown) or '(none given)'}. Valid presets: {', '.join(PRESETS)}."
        )


def plan_runs(
    data: StudyData,
    arms: list[str],
    seeds: list[int],
    store: StudyStore,
    *,
    per_image: int,
    workers: int | None = None,
    progress: bool = False,
) -> list[RunSpec]:
    """Every (subset, seed, arm) run, expanding each subset once per (preset, seed) first."""
    specs = []
    for index, subset in enumerate(data.subsets):
        for seed in seeds:
            for arm in arms:
                train = subset.train
                if arm != BASELINE:
                    train = train + store.expansion(subset.train, data.classes, preset=arm, per_image=per_image,
                                                    seed=seed, workers=workers, progress=progress)  # fmt: skip
                specs.append(RunSpec(arm, index, seed, train, subset.val, data.test))
    return specs


def _prepare(src, test, out, store, per_class, fractions, val_fraction, test_fraction, seeds,
             allow_leaks: bool = False) -> tuple:  # fmt: skip
    check_seeds(seeds)
    quiet_tensorflow()  # and says what to install if the train extra is missing
    data = load_study_data(src, test, per_class=per_class, fractions=fractions, val_fraction=val_fraction,
                           test_fraction=test_fraction, allow_leaks=allow_leaks, workers=default_workers())  # fmt: skip
    store = StudyStore(store)
    return data, store


def _common_arguments(src, test, out, store, config, seeds, per_image, val_fraction, test_fraction) -> dict:
    return {
        "src": str(Path(src).resolve()),
        "test": str(Path(test).resolve()) if test else None,
        "out": str(Path(out).resolve()),
        "store": str(store.root.resolve()),
        "seeds": list(range(seeds)),
        "per_image": per_image,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        **config.to_dict(),
    }


def _data_summary(data: StudyData) -> dict:
    def per_class(samples: tuple[Sample, ...]) -> dict[str, int]:
        counts = np.bincount([s.label for s in samples], minlength=len(data.classes))
        return {c: int(n) for c, n in zip(data.classes, counts, strict=True)}

    return {
        "classes": list(data.classes),
        "available_per_class": data.available,
        "test_source": data.test_source,
        "val_source": data.val_source,
        "test": per_class(data.test),
        "subsets": [
            {"per_class": s.per_class, "train": per_class(s.train), "val": per_class(s.val)} for s in data.subsets
        ],
        "unreadable": [{"file": path, "error": reason} for path, reason in data.unreadable],
        "warnings": list(data.warnings),
    }


def ablate(
    src: str | Path,
    *,
    presets: Sequence[str] = ("keras", "traditional", "noise", "trivial"),
    per_image: int = 5,
    per_class: int | None = None,
    fraction: float | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    store: str | Path | None = None,
    config: FitConfig = FitConfig(),
    seeds: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    workers: int | None = None,
    parallel: int | None = None,
    progress: bool = False,
    allow_leaks: bool = False,
) -> dict:
    """Train the no-augmentation baseline and one arm per preset on the same subset; rank them.

    Returns the report (also written to ``out``: report.json, report.md, ablation.png, curves.png).
    """

    presets = list(presets)
    check_presets(presets)
    if per_image < 1:
        raise TrainError(f"--per-image must be 1 or more; got {per_image}.")
    store = default_store(store, out)
    out = report_folder(out, "ablate")
    data, runs_store = _prepare(src, test, out, store, [per_class] if per_class else None,
                                [fraction] if fraction else None, val_fraction, test_fraction, seeds,
                                allow_leaks)  # fmt: skip
    arms = [BASELINE, *presets]
    specs = plan_runs(
        data, arms, list(range(seeds)), runs_store, per_image=per_image, workers=workers, progress=progress
    )
    runs = run_all(specs, data.classes, config, runs_store, progress, parallel=parallel)
    by_arm = {arm: [r for r in runs if r["arm"] == arm] for arm in arms}
    rows = []
    for arm in arms:
        row = {"arm": arm, "preset": None if arm == BASELINE else arm, **arm_stats(by_arm[arm], data.classes)}
        row["difference"] = None if arm == BASELINE else compared(by_arm[arm], by_arm[BASELINE])
        row["effect"] = None if arm == BASELINE else effect(row["difference"])
        rows.append(row)
    rows.sort(key=lambda r: -r["accuracy"]["mean"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    report = {
        "study": "ablate",
        "arguments": {
            **_common_arguments(src, test, out, runs_store, config, seeds, per_image, val_fraction, test_fraction),
            "presets": presets,
            "per_class": per_class,
            "fraction": fraction,
        },
        "versions": package_versions("expander", "albumentations", "tensorflow", "keras", "numpy"),
        "data": _data_summary(data),
        "arms": rows,
        "verdict": ablation_verdict(rows, seeds),
        "runs": runs,
    }
    write_ablation_report(out, report)
    return report


def curve(
    src: str | Path,
    *,
    fractions: list[float] | None = None,
    per_class: list[int] | None = None,
    preset: str = "keras",
    per_image: int = 5,
    test: str | Path | None = None,
    out: str | Path | None = None,
    store: str | Path | None = None,
    config: FitConfig = FitConfig(),
    seeds: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    workers: int | None = None,
    parallel: int | None = None,
    progress: bool = False,
    allow_leaks: bool = False,
) -> dict:
    """Baseline vs ``preset`` at each training-set size; shows where augmentation stops paying.

    Returns the report (also written to ``out``: report.json, report.md, curve.png).
    """

    check_presets([preset])
    if per_image < 1:
        raise TrainError(f"--per-image must be 1 or more; got {per_image}.")
    if not fractions and not per_class:
        fractions = [0.1, 0.25, 0.5, 1.0]
    store = default_store(store, out)
    out = report_folder(out, "curve")
    data, runs_store = _prepare(
        src, test, out, store, per_class, fractions, val_fraction, test_fraction, seeds, allow_leaks
    )
    specs = plan_runs(data, [BASELINE, preset], list(range(seeds)), runs_store, per_image=per_image,
                      workers=workers, progress=progress)  # fmt: skip
    runs = run_all(specs, data.classes, config, runs_store, progress, parallel=parallel)
    points = []
    for index, subset in enumerate(data.subsets):
        baseline = [r for r in runs if r["subset"] == index and r["arm"] == BASELINE]
        expanded = [r for r in runs if r["subset"] == index and r["arm"] == preset]
        difference = compared(expanded, baseline)
        points.append({
            "size": subset.size,
            "per_class": subset.per_class,
            "per_class_equal": all(s.balanced for s in data.subsets),
            "fraction": fractions[index] if fractions else None,
            "train_originals": len(subset.train),
            "val": len(subset.val),
            "baseline": arm_stats(baseline, data.classes),
            "expanded": arm_stats(expanded, data.classes),
            "difference": difference,
            "effect": effect(difference),
        })  # fmt: skip
    report = {
        "study": "curve",
        "arguments": {
            **_common_arguments(src, test, out, runs_store, config, seeds, per_image, val_fraction, test_fraction),
            "preset": preset,
            "fractions": fractions,
            "per_class": per_class,
        },
        "versions": package_versions("expander", "albumentations", "tensorflow", "keras", "numpy"),
        "data": _data_summary(data),
        "points": points,
        "verdict": curve_verdict(points, preset, seeds),
        "runs": runs,
    }
    write_curve_report(out, report)
    return report


ON_THE_FLY = "on the fly"
# An offline arm matches on the fly when its interval reaches zero *and* its mean is at most this far below:
# with few seeds every interval is wide, and "not distinguishable" alone would crown one copy per image.
MATCH_POINTS = 1.0


def copies(
    src: str | Path,
    *,
    copies: Sequence[int] = (1, 2, 5, 10, 20),
    cycle: int | None = None,
    preset: str = "traditional",
    test: str | Path | None = None,
    out: str | Path | None = None,
    store: str | Path | None = None,
    config: FitConfig = FitConfig(),
    seeds: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    workers: int | None = None,
    parallel: int | None = None,
    progress: bool = False,
    allow_leaks: bool = False,
) -> dict:
    """Offline copies against on the fly, at equal optimiser steps: how many copies per image match a new
    copy at every step?

    Arms, all with ``preset`` and every epoch ``len(train originals)`` images long: on the fly (a new copy of
    each image every epoch); offline xK for each K in ``copies`` (the originals plus K copies each, drawn at
    random); cycle xK (epoch e trains on copy e mod K of every image: the on-the-fly schedule replayed from
    disk; K = ``cycle``, by default the largest of ``copies``, 0 for none). Copies are made once per seed by
    expander (copy k of an image is the same bytes in every arm) and kept in the store.

    Returns the report (also written to ``out``: report.json, report.md, copies.png, curves.png).
    """
    check_presets([preset])
    counts = list(copies)
    if counts:
        _check_increasing(counts, "--copies")
    cycle = counts[-1] if cycle is None and counts else cycle or 0
    if cycle < 0 or not (counts or cycle):
        raise TrainError("Give --copies (e.g. 1,2,5,10,20), --cycle K, or both.")
    store = default_store(store, out)
    out = report_folder(out, "copies")
    data, runs_store = _prepare(src, test, out, store, None, None, val_fraction, test_fraction, seeds, allow_leaks)
    subset = data.subsets[0]
    steps = dataclasses.replace(config, online=None, epoch_images=config.epoch_images or len(subset.train))
    most = max([*counts, cycle])
    specs, costs = [], []
    for seed in range(seeds):
        views = runs_store.copies(subset.train, data.classes, preset=preset, per_image=most, seed=seed,
                                  workers=workers, progress=progress)  # fmt: skip
        costs.append(runs_store.expansion_cost(subset.train, preset, most, seed))
        specs.append(RunSpec(ON_THE_FLY, 0, seed, subset.train, subset.val, data.test))
        for k in counts:
            train = subset.train + tuple(s for view in views[:k] for s in view)
            specs.append(RunSpec(f"offline x{k}", 0, seed, train, subset.val, data.test))
        if cycle:
            specs.append(RunSpec(f"cycle x{cycle}", 0, seed, subset.train, subset.val, data.test, views[:cycle]))
    online = dataclasses.replace(steps, online=preset)
    runs = run_all(specs, data.classes, steps, runs_store, progress, {ON_THE_FLY: online}, parallel)
    per_copy = _seconds_per_copy(costs, most)
    rows = []
    reference = [r for r in runs if r["arm"] == ON_THE_FLY]
    for arm in dict.fromkeys(s.arm for s in specs):
        arm_runs = [r for r in runs if r["arm"] == arm]
        made = 0 if arm == ON_THE_FLY else int(arm.split("x")[-1])  # copies per image it trains on
        row = {"arm": arm, "copies": made, **arm_stats(arm_runs, data.classes)}
        row["vs_on_the_fly"] = None if arm == ON_THE_FLY else compared(arm_runs, reference)
        row["augment_cpu_seconds"] = {
            "once": None if arm == ON_THE_FLY or per_copy is None else per_copy * made,
            "per_run": float(np.mean([r.get("augment_seconds", 0.0) for r in arm_runs])),
        }
        rows.append(row)
    report = {
        "study": "copies",
        "arguments": {
            **_common_arguments(src, test, out, runs_store, steps, seeds, most, val_fraction, test_fraction),
            "preset": preset,
            "copies": counts,
            "cycle": cycle,
        },
        "versions": package_versions("expander", "albumentations", "tensorflow", "keras", "numpy"),
        "data": _data_summary(data),
        "expansion_costs": costs,
        "arms": rows,
        "match_points": MATCH_POINTS,
        "matches_on_the_fly": _first_match(rows),
        "runs": runs,
    }
    report["verdict"] = copies_verdict(report, seeds)
    write_copies_report(out, report)
    return report


def _seconds_per_copy(costs: list[dict | None], most: int) -> float | None:
    """Expansion CPU seconds per copy of every training image (the mean over seeds; None if not measured)."""
    known = [c["cpu_seconds"] for c in costs if c is not None and not c.get("resumed")]
    return float(np.mean(known)) / most if known and most else None


def _first_match(rows: list[dict]) -> str | None:
    """The first offline arm (fewest copies) within MATCH_POINTS of on the fly whose interval reaches zero."""
    for row in rows:
        difference = (row["vs_on_the_fly"] or {}).get("accuracy", {})
        ci, mean = difference.get("ci95"), difference.get("mean")
        close = mean is not None and 100 * mean >= -MATCH_POINTS - 1e-9  # accuracies are k/N: exact at the edge
        if row["arm"].startswith("offline") and ci is not None and ci[1] >= 0 and close:
            return row["arm"]
    return None
