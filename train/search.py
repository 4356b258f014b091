"""``train search``: find the augmentation for a dataset on validation accuracy alone, then test the winner once.

Candidates are (preset, magnitude, copies per image): each preset's strength ranges scaled by the magnitude
(``expander.pipeline.scaled_pipeline``), expanded offline with N copies of every training original, or applied
on the fly (N = 0: a new copy of every image at every step). An epoch is one pass's worth of steps over the
training *originals* for every candidate, so a candidate with more copies gets no more optimiser steps.

1. **The pilot** trains a few candidates spread over both kinds at the full length (``--epochs``), then at
   shorter lengths (epochs / eta**2, epochs / eta) until one ranks them as the full length does (Spearman's
   rank correlation at least ``AGREEMENT``). That length is the shortest the first rung may have: a rung too
   short to rank only adds noise. The pilot's full-length runs are finalists, so they are not spent twice.
2. **Successive halving** (Jamieson & Talwalkar, 2016) over the other candidates: each rung keeps the best
   1/eta *of each kind* (offline, on the fly) by validation accuracy, with eta times the epochs, and the last
   rung trains at the full length. Kinds meet only at full length: on the fly converges more slowly, so a
   short rung that mixes them is biased against it (measured on dogs-vs-cats: best at 60 epochs, 7th of 9
   at 25).
3. **The finalists** (the pilot's full-length runs and the last rung's) are ranked once; the best wins.

The budget is epochs (``--budget``) or minutes (``--minutes``: the pilot's full-length runs measure what a run
and an epoch cost here); the pilot is part of it. What it leaves lengthens the first rung.

Each run is a fresh training (the cosine schedule depends on the epoch count), kept in the study store
by what determines it, so an interrupted search resumes without retraining. No run of the search is
given the test images; only the final compare (winner vs no augmentation, ``--seeds`` seeds) tests.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from expander.manifest import package_versions
from expander.pipeline import preset_dict, save_pipeline, scaled_pipeline
from train.data import Sample
from train.errors import TrainError
from train.fit import FitConfig
from train.runs import RunSpec, default_store, report_folder, run_all
from train.stats import BASELINE, arm_stats, compared, effect
from train.store import StudyStore
from train.study import StudyData, _data_summary, _prepare, check_presets
from train.study_report import write_search_report

SEARCH_SEED = 0  # the seed of every search run; the final compare repeats with seeds 0..K-1
PILOT_SIZE = 4  # the pilot's candidates: four ranks, so one swap of neighbours still reaches AGREEMENT
AGREEMENT = 0.8  # Spearman's rank correlation with the full length at which a shorter rung counts as ranking
PIPELINE_NAME = "pipeline.json"


@dataclass(frozen=True)
class Candidate:
    preset: str
    magnitude: float
    per_image: int  # copies per training original; 0: on the fly

    @property
    def online(self) -> bool:
        return self.per_image == 0

    @property
    def name(self) -> str:
        return f"{self.preset} x{self.magnitude:g}, " + ("on the fly" if self.online else f"{self.per_image}/image")

    def config(self, base: FitConfig) -> FitConfig:
        """The training configuration of this candidate's runs: ``base``, with the pipeline on the fly if so."""
        if not self.online:
            return base
        return dataclasses.replace(base, online=self.preset, online_magnitude=self.magnitude)

    def pipeline(self) -> dict:
        return scaled_pipeline(preset_dict(self.preset), self.magnitude)


def candidates(presets: list[str], magnitudes: list[float], per_image: list[int]) -> list[Candidate]:
    check_presets(presets)
    if not magnitudes or any(m <= 0 for m in magnitudes):
        raise TrainError(f"--magnitudes must be positive numbers; got {', '.join(map(str, magnitudes)) or 'none'}.")
    if not per_image or any(n < 0 for n in per_image):
        raise TrainError(f"--per-image must be 0 (on the fly) or more; got {', '.join(map(str, per_image)) or 'none'}.")
    return [Candidate(p, m, n) for p in presets for m in magnitudes for n in per_image]


def rung_plan(sizes: list[int], budget: int, eta: int, most: int, least: int = 1) -> list[tuple[int, int]]:
    """[(candidates, epochs per run)] per rung of the halving: all first, then 1/eta of each kind per rung
    (``sizes``: candidates per kind) down to one per kind, whose rung trains ``most`` epochs (the full length).

    Epochs grow eta-fold per rung, none past ``most``, from the longest first rung of at least ``least``
    (the pilot's) that keeps the total within ``budget``.
    """
    counts = _counts(sizes, eta)
    plan = _longest(counts, eta, most, least, budget, lambda plan: sum(n * e for n, e in plan) <= budget)
    if plan is None:
        needed = sum(n * e for n, e in _rungs(counts, eta, most, least))
        raise TrainError(
            f"--budget cannot train {sum(sizes)} candidates in {len(counts)} rung(s) (eta {eta}) from a "
            f"{least}-epoch first rung: it needs {needed} epochs after the pilot, and {budget} are left. Raise "
            "--budget, or give fewer presets, magnitudes or --per-image values."
        )
    return plan


def timed_plan(sizes: list[int], seconds: float, eta: int, run_seconds: float, epoch_seconds: float, most: int,
               least: int = 1) -> list[tuple[int, int]]:  # fmt: skip
    """``rung_plan`` for a time budget: the most epochs whose runs fit in ``seconds``, a run costing
    ``run_seconds`` besides its epochs (loading, evaluation) and ``epoch_seconds`` per epoch."""
    counts = _counts(sizes, eta)
    fixed = run_seconds * sum(counts)

    def cost(plan: list[tuple[int, int]]) -> float:
        return fixed + epoch_seconds * sum(n * e for n, e in plan)

    plan = _longest(counts, eta, most, least, most, lambda plan: cost(plan) <= seconds)
    if plan is None:
        needed = cost(_rungs(counts, eta, most, least)) / 60
        raise TrainError(
            f"--minutes cannot train {sum(sizes)} candidates in {len(counts)} rung(s) (eta {eta}) here from a "
            f"{least}-epoch first rung: a run costs about {run_seconds:.0f} s and an epoch {epoch_seconds:.1f} s, "
            f"so it needs {needed:.1f} more minutes after the pilot, and {max(seconds, 0) / 60:.1f} are left. "
            "Give more minutes (the pilot's runs are kept), or fewer presets, magnitudes or --per-image values."
        )
    return plan


def _counts(sizes: list[int], eta: int) -> list[int]:
    """Candidates per rung: all, then 1/eta of each kind (rounded up) each rung after, down to one per kind."""
    if eta < 2:
        raise TrainError(f"--eta must be 2 or more; got {eta}.")
    sizes = [n for n in sizes if n]
    if not sizes:
        return []
    counts = [sum(sizes)]
    while counts[-1] > len(sizes):
        counts.append(sum(_quota(n, eta, len(counts)) for n in sizes))
    return counts


def _quota(size: int, eta: int, rung: int) -> int:
    """How many of a kind's ``size`` candidates train in ``rung``."""
    return math.ceil(size / eta**rung)


def _longest(counts: list[int], eta: int, most: int, least: int, longest: int, fits) -> list[tuple[int, int]] | None:
    """The plan with the longest first rung, from ``least`` to ``longest`` epochs, that ``fits``; None if
    ``least`` does not. No rungs (every candidate was in the pilot) is the empty plan, whatever the budget."""
    if not counts:
        return []
    least = min(least, most)
    if not fits(_rungs(counts, eta, most, least)):
        return None
    low, high = least, max(least, min(longest, most))
    while low < high:  # the cost grows with the first rung: the largest first rung that fits, by bisection
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(_rungs(counts, eta, most, middle)) else (low, middle - 1)
    return _rungs(counts, eta, most, low)


def _rungs(counts: list[int], eta: int, most: int, first: int) -> list[tuple[int, int]]:
    """(candidates, epochs) per rung from a first rung of ``first`` epochs: eta times more each rung, at most
    ``most``, and the last rung at ``most`` (its candidates are finalists)."""
    plan = [(n, min(first * eta**rung, most)) for rung, n in enumerate(counts)]
    return [*plan[:-1], (plan[-1][0], most)] if plan else []


def pilot_candidates(pool: list[Candidate], size: int = PILOT_SIZE) -> list[Candidate]:
    """``size`` candidates spread evenly over the pool ordered by kind (offline, then on the fly, each in the
    given order), so the pilot sees both kinds when the pool has both."""
    ordered = sorted(pool, key=lambda c: c.online)
    if len(ordered) <= size:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (size - 1))] for i in range(size)]


def ladder(epochs: int, eta: int) -> list[int]:
    """The first-rung lengths the pilot tries, shortest first: epochs / eta**2 and epochs / eta (at least 1)."""
    return sorted({max(1, round(epochs / eta**power)) for power in (2, 1)} - {epochs})


def spearman(before: Sequence[float], after: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties share their mean rank); None with fewer than three values or a
    ranking with all values tied (nothing to agree on)."""
    if len(before) < 3:
        return None
    a, b = stats.rankdata(before), stats.rankdata(after)
    return float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else None


def agrees(rho: float | None) -> bool:
    """Whether a correlation reaches AGREEMENT (rounded: four ranks with one swap give 0.7999999999999999)."""
    return rho is not None and round(rho, 9) >= AGREEMENT


def places(runs: Sequence[dict]) -> list[int]:
    """Each run's place in the search's ranking of ``runs`` (0 is the best): validation accuracy, then loss."""
    order = sorted(range(len(runs)), key=lambda i: _rank_key(runs[i], i))
    return [order.index(i) for i in range(len(runs))]


def rank_agreement(rungs: list[dict]) -> list[dict]:
    """Spearman's rank correlation of the search's ranking between each rung and the next, over the candidates
    that trained in both (None with fewer than three: no ranking to agree on)."""
    agreement = []
    for before, after in itertools.pairwise(rungs):
        later = {r["candidate"]: r for r in after["results"]}
        both = [(r, later[r["candidate"]]) for r in before["results"] if r["candidate"] in later]
        rho = spearman(*(places(side) for side in zip(*both, strict=True))) if both else None
        agreement.append({"rungs": [before["rung"], after["rung"]], "candidates": len(both), "spearman": rho})
    return agreement


@dataclass
class _Trainer:
    """Trains candidates for the search (seed 0, validation only) through the study store."""

    data: StudyData
    store: StudyStore
    base: FitConfig
    expanded: Callable[[Candidate, int], tuple[Sample, ...]]
    progress: bool
    parallel: int | None

    def __call__(self, chosen: list[Candidate], epochs: int) -> list[dict]:
        subset = self.data.subsets[0]
        specs = [RunSpec(c.name, 0, SEARCH_SEED, self.expanded(c, SEARCH_SEED), subset.val, ()) for c in chosen]
        config = dataclasses.replace(self.base, epochs=epochs)
        configs = {c.name: c.config(config) for c in chosen}
        return run_all(specs, self.data.classes, config, self.store, self.progress, configs, self.parallel)


def run_pilot(chosen: list[Candidate], train: _Trainer, eta: int) -> tuple[dict, list[dict]]:
    """The pilot: ``chosen`` at the full length, then at each ``ladder`` length until one ranks them as the full
    length does (the search's own ranking: validation accuracy, then loss). That length is the shortest first
    rung: the longest tried if none agrees, the full length if there is no shorter one. Returns the pilot's
    summary and its full-length runs."""
    full = train.base.epochs
    finals = train(chosen, full)
    tried: list[dict] = []
    first, agreed = full, False
    for length in ladder(full, eta):
        runs = train(chosen, length)
        rho = spearman(places(runs), places(finals))
        results = [_result(c, r) for c, r in zip(chosen, runs, strict=True)]
        tried.append({"epochs": length, "spearman": rho, "results": results})
        first, agreed = length, agrees(rho)
        if agreed:
            break
    every = finals + [r for t in tried for r in t["results"]]
    epoch = float(np.median([_epoch_seconds(r) for r in finals]))
    summary = {
        "candidates": [c.name for c in chosen],
        "epochs": full,
        "finals": [_result(c, r) for c, r in zip(chosen, finals, strict=True)],
        "lengths": tried,
        "first_rung": first,
        "bar": AGREEMENT,
        "agreed": agreed,
        "epoch_seconds": epoch,
        "run_seconds": float(np.median([max(r["train_seconds"] - full * epoch, 0.0) for r in finals])),
        "seconds": sum(r["train_seconds"] for r in every),
        "epochs_spent": full * len(finals) + sum(t["epochs"] * len(t["results"]) for t in tried),
    }
    return summary, finals


def _epoch_seconds(run: dict) -> float:
    """An epoch's cost in a run: the median of its epochs after the first (whose graph tracing is the run's)."""
    seconds = [h["seconds"] for h in run["history"]]
    return float(np.median(seconds[1:] or seconds))


def halve(rest: list[Candidate], plan: list[tuple[int, int]], eta: int, train: _Trainer,
          order: list[Candidate]) -> tuple[list[dict], list[tuple[Candidate, dict]]]:  # fmt: skip
    """Successive halving of ``rest`` by ``plan``, each kind cut to 1/eta per rung on its own. Returns the rungs'
    summaries and the last rung's (candidate, run) pairs: the finalists it adds."""
    sizes = {kind: sum(c.online == kind for c in rest) for kind in (False, True)}
    alive, rungs, last = rest, [], []
    for rung, (_, epochs) in enumerate(plan):
        runs = train(alive, epochs)
        ranked = sorted(zip(alive, runs, strict=True), key=lambda pair: _rank_key(pair[1], order.index(pair[0])))
        if rung + 1 == len(plan):
            kept, last = [c for c, _ in ranked], ranked
        else:
            kept = _best_of_each_kind([c for c, _ in ranked], {k: _quota(n, eta, rung + 1) for k, n in sizes.items()})
        rungs.append(_rung_summary(rung, epochs, ranked, kept))
        alive = [c for c in alive if c in kept]
    return rungs, last


def _best_of_each_kind(ranked: list[Candidate], quota: dict[bool, int]) -> list[Candidate]:
    """The first ``quota[kind]`` candidates of each kind (on the fly or not) in ``ranked`` order."""
    taken = dict.fromkeys(quota, 0)
    kept = []
    for candidate in ranked:
        if taken[candidate.online] < quota[candidate.online]:
            taken[candidate.online] += 1
            kept.append(candidate)
    return kept


def _check_budget(budget: int, pilot_size: int, sizes: list[int], eta: int, epochs: int) -> None:
    """Refuse, before any training, a budget of epochs too small for the cheapest search: the pilot agreeing at
    its shortest length, then the halving from that length."""
    lengths = ladder(epochs, eta)
    shortest = lengths[0] if lengths else epochs
    pilot = pilot_size * (epochs + (shortest if lengths else 0))
    least = pilot + sum(n * e for n, e in _rungs(_counts(sizes, eta), eta, epochs, shortest))
    if budget < least:
        raise TrainError(
            f"--budget {budget} epochs cannot pay for this search: the pilot alone trains at least {pilot} "
            f"({pilot_size} candidates at --epochs {epochs}, and shorter), and the whole search at least {least}. "
            "Raise --budget, lower --epochs, or give fewer presets, magnitudes or --per-image values."
        )


def search(
    src: str | Path,
    *,
    presets: Sequence[str] = ("keras", "traditional", "light", "strong", "trivial"),
    magnitudes: Sequence[float] = (0.5, 1.0, 1.5),
    per_image: Sequence[int] = (0, 2, 5),
    budget: int = 1000,
    minutes: float | None = None,
    eta: int = 3,
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
    """Rank candidate augmentations by validation accuracy (a pilot, then successive halving); compare the
    winner on test.

    The search spends ``budget`` epochs, or about ``minutes`` when given, the pilot included. Writes the
    winner's pipeline to ``out/pipeline.json`` (for ``expander expand --pipeline``) and the report
    (report.json, report.md) to ``out``; returns the report.
    """
    pool = candidates(list(presets), list(magnitudes), list(per_image))
    if minutes is not None and minutes <= 0:
        raise TrainError(f"--minutes must be positive; got {minutes:g}.")
    _counts([len(pool)], eta)  # checks eta before any work
    chosen = pilot_candidates(pool)
    rest = [c for c in pool if c not in chosen]
    sizes = [sum(not c.online for c in rest), sum(c.online for c in rest)]
    if minutes is None:
        _check_budget(budget, len(chosen), sizes, eta, config.epochs)
    store = default_store(store, out)
    out = report_folder(out, "search")
    data, runs_store = _prepare(src, test, out, store, None, None, val_fraction, test_fraction, seeds, allow_leaks)
    subset = data.subsets[0]
    # Equal steps for every candidate: an epoch is a pass's worth over the originals, copies or not.
    base = dataclasses.replace(config, epoch_images=config.epoch_images or len(subset.train))

    def expanded(candidate: Candidate, seed: int):
        if candidate.online:
            return subset.train
        return subset.train + runs_store.expansion(subset.train, data.classes, pipeline=candidate.pipeline(),
                                              per_image=candidate.per_image, seed=seed, workers=workers,
                                              progress=progress)  # fmt: skip

    train = _Trainer(data, runs_store, base, expanded, progress, parallel)
    pilot, pilot_finals = run_pilot(chosen, train, eta)
    if minutes is not None:
        left = minutes * 60 - pilot["seconds"]
        plan = timed_plan(sizes, left, eta, pilot["run_seconds"], pilot["epoch_seconds"], base.epochs,
                          pilot["first_rung"])  # fmt: skip
    else:
        plan = rung_plan(sizes, budget - pilot["epochs_spent"], eta, base.epochs, pilot["first_rung"])
    rungs, last = halve(rest, plan, eta, train, pool)
    finals = list(zip(chosen, pilot_finals, strict=True)) + last
    finalists = sorted(finals, key=lambda pair: _rank_key(pair[1], pool.index(pair[0])))
    winner = finalists[0][0]
    out.mkdir(parents=True, exist_ok=True)
    save_pipeline(winner.pipeline(), out / PIPELINE_NAME)
    final = final_compare(data, runs_store, winner, expanded, base, seeds, progress, parallel)
    report = {
        "study": "search",
        "arguments": {
            "src": str(Path(src).resolve()), "test": str(Path(test).resolve()) if test else None,
            "out": str(out.resolve()), "store": str(runs_store.root.resolve()), "presets": list(presets),
            "magnitudes": list(magnitudes), "per_image": list(per_image), "budget": budget, "minutes": minutes,
            "eta": eta,
            "seeds": list(range(seeds)), "val_fraction": val_fraction, "test_fraction": test_fraction,
            **base.to_dict(),
        },
        "versions": package_versions("expander", "albumentations", "tensorflow", "keras", "numpy"),
        "data": _data_summary(data),
        "pilot": pilot,
        "plan": [{"candidates": n, "epochs": e} for n, e in plan],
        "epochs_spent": pilot["epochs_spent"] + sum(n * e for n, e in plan),
        "rungs": rungs,
        "rank_agreement": rank_agreement(rungs),
        "finalists": [_result(c, r) for c, r in finalists],
        "winner": {**dataclasses.asdict(winner), "name": winner.name, "pipeline": str((out / PIPELINE_NAME).resolve())},
        **final,
    }  # fmt: skip
    write_search_report(out, report)
    return report


def final_compare(data: StudyData, store: StudyStore, winner: Candidate, expanded, config: FitConfig,
                  seeds: int, progress: bool, parallel: int | None = None) -> dict:  # fmt: skip
    """The one look at the test images: no augmentation vs the winner, ``seeds`` seeds, ``config.epochs`` each."""
    subset = data.subsets[0]
    specs = []
    for seed in range(seeds):
        specs.append(RunSpec(BASELINE, 0, seed, subset.train, subset.val, data.test))
        specs.append(RunSpec(winner.name, 0, seed, expanded(winner, seed), subset.val, data.test))
    runs = run_all(specs, data.classes, config, store, progress, {winner.name: winner.config(config)}, parallel)
    arms = {arm: [r for r in runs if r["arm"] == arm] for arm in (BASELINE, winner.name)}
    difference = compared(arms[winner.name], arms[BASELINE])
    return {
        "final": {
            "epochs": config.epochs,
            "baseline": arm_stats(arms[BASELINE], data.classes),
            "winner": arm_stats(arms[winner.name], data.classes),
            "difference": difference,
            "effect": effect(difference),
        },
        "runs": runs,
    }


def _rank_key(run: dict, order: int) -> tuple:
    """Higher validation accuracy first, then lower validation loss, then the candidates' given order."""
    return (-run["val_accuracy"], run["val_loss"], order)


def _rung_summary(rung: int, epochs: int, ranked: list, kept: list[Candidate]) -> dict:
    return {
        "rung": rung,
        "epochs": epochs,
        "kept": len(kept),
        "results": [{**_result(c, r), "kept": c in kept} for c, r in ranked],
    }


def _result(candidate: Candidate, run: dict) -> dict:
    """What the report keeps of a search run: the candidate and its validation figures."""
    return {
        "candidate": candidate.name,
        **dataclasses.asdict(candidate),
        "val_accuracy": run["val_accuracy"],
        "val_loss": run["val_loss"],
        "best_epoch": run["best_epoch"],
        "train_seconds": run["train_seconds"],
        "reused": run["reused"],
        "train_images": run["train_images"],
    }
