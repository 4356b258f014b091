"""``train search``: find the augmentation for a dataset on validation accuracy alone, then test the winner once.

Candidates are (preset, magnitude, copies per image): each preset's strength ranges scaled by the magnitude
(``expander.pipeline.scaled_pipeline``), expanded offline with N copies of every training original, or applied
on the fly (N = 0: a new copy of every image at every step). Successive halving (Jamieson & Talwalkar, 2016;
the inner loop of Hyperband) spends the ``--budget``: every candidate trains a few epochs, the best 1/eta by
validation accuracy go on with eta times the epochs, until one is left. An epoch is one pass's worth of steps
over the training *originals* for every candidate, so a candidate with more copies gets no more optimiser
steps. The budget is epochs, or minutes: then a two-epoch pilot run of the costliest kind of candidate
measures what a run and an epoch cost. How far each rung's ranking agrees with the next one's (Spearman's rank
correlation over the candidates that trained in both) is reported, so a first rung too short to rank shows.

Each run is a fresh training (the cosine schedule depends on the epoch count), kept in the study store
by what determines it, so an interrupted search resumes without retraining. No run of the search is
given the test images; only the final compare (winner vs no augmentation, ``--seeds`` seeds) tests.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from expander.manifest import package_versions
from expander.pipeline import preset_dict, save_pipeline, scaled_pipeline
from train.errors import TrainError
from train.fit import FitConfig
from train.runs import RunSpec, default_out, default_store, run_all
from train.stats import BASELINE, arm_stats, compared, effect
from train.store import StudyStore
from train.study import StudyData, _data_summary, _prepare, check_presets
from train.study_report import write_search_report

SEARCH_SEED = 0  # the seed of every search run; the final compare repeats with seeds 0..K-1
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


def rung_plan(count: int, budget: int, eta: int, most: int | None = None) -> list[tuple[int, int]]:
    """[(candidates, epochs per run)] per rung: all ``count`` first, 1/eta of them each rung after, down to one.

    Epochs grow eta-fold per rung, none past ``most`` (the final compare's length), from the longest first rung
    that keeps the total within ``budget``.
    """
    counts = _counts(count, eta)
    plan = _longest(counts, eta, most, budget, lambda plan: sum(n * e for n, e in plan) <= budget)
    if plan is None:
        least = sum(n * e for n, e in _rungs(counts, eta, most, 1))
        raise TrainError(
            f"--budget {budget} epochs cannot train {count} candidates in {len(counts)} rungs (eta {eta}): "
            f"it needs at least {least}. Raise --budget, or give fewer presets, magnitudes or --per-image values."
        )
    return plan


def timed_plan(count: int, seconds: float, eta: int, run_seconds: float, epoch_seconds: float,
               most: int | None = None) -> list[tuple[int, int]]:  # fmt: skip
    """``rung_plan`` for a time budget: the most epochs whose runs fit in ``seconds``, a run costing
    ``run_seconds`` besides its epochs (loading, evaluation) and ``epoch_seconds`` per epoch."""
    counts = _counts(count, eta)
    fixed = run_seconds * sum(counts)

    def fits(plan: list[tuple[int, int]]) -> bool:
        return fixed + epoch_seconds * sum(n * e for n, e in plan) <= seconds

    longest = int(seconds // epoch_seconds) if epoch_seconds > 0 else 0
    plan = _longest(counts, eta, most, longest, fits)
    if plan is None:
        least = (fixed + epoch_seconds * sum(n * e for n, e in _rungs(counts, eta, most, 1))) / 60
        raise TrainError(
            f"--minutes {seconds / 60:g} cannot train {count} candidates in {len(counts)} rungs (eta {eta}) here: "
            f"a run costs about {run_seconds:.0f} s and an epoch {epoch_seconds:.1f} s, so it needs at least "
            f"{least:.0f} minutes. Give more minutes, or fewer presets, magnitudes or --per-image values."
        )
    return plan


def _counts(count: int, eta: int) -> list[int]:
    """Candidates per rung: all, then 1/eta of them (rounded up) each rung after, down to one."""
    if eta < 2:
        raise TrainError(f"--eta must be 2 or more; got {eta}.")
    counts = [count]
    while counts[-1] > 1:
        counts.append(math.ceil(counts[-1] / eta))
    return counts


def _longest(counts: list[int], eta: int, most: int | None, longest: int, fits) -> list[tuple[int, int]] | None:
    """The plan with the longest first rung (at most ``longest`` epochs) that ``fits``, or None if one epoch does
    not."""
    low, high = 0, min(longest, most or longest)
    while low < high:  # the cost grows with the first rung: the largest first rung that fits, by bisection
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(_rungs(counts, eta, most, middle)) else (low, middle - 1)
    return _rungs(counts, eta, most, low) if low >= 1 else None


def _rungs(counts: list[int], eta: int, most: int | None, first: int) -> list[tuple[int, int]]:
    """(candidates, epochs) per rung from a first rung of ``first`` epochs: eta times more each rung, but at most
    ``most``."""
    return [(n, min(first * eta**rung, most or first * eta**rung)) for rung, n in enumerate(counts)]


def _pilot(candidate: Candidate, expanded, base: FitConfig, data: StudyData, store: StudyStore,
           progress: bool) -> dict:  # fmt: skip
    """Two epochs of ``candidate`` (kept in the store like every run): what a run and an epoch cost here. The
    second epoch is the epoch's cost; the first one's graph tracing is part of every run's fixed cost."""
    subset = data.subsets[0]
    spec = RunSpec(f"pilot: {candidate.name}", 0, SEARCH_SEED, expanded(candidate, SEARCH_SEED), subset.val, ())
    config = candidate.config(dataclasses.replace(base, epochs=2))
    (run,) = run_all([spec], data.classes, config, store, progress)
    epoch = run["history"][1]["seconds"]
    return {
        "candidate": candidate.name,
        "epoch_seconds": epoch,
        "run_seconds": max(run["train_seconds"] - 2 * epoch, 0.0),
    }


def rank_agreement(rungs: list[dict]) -> list[dict]:
    """Spearman's rank correlation of validation accuracy between each rung and the next, over the candidates
    that trained in both (None with fewer than three: no ranking to agree on)."""
    agreement = []
    for before, after in itertools.pairwise(rungs):
        later = {r["candidate"]: r["val_accuracy"] for r in after["results"]}
        pairs = [(r["val_accuracy"], later[r["candidate"]]) for r in before["results"] if r["candidate"] in later]
        rho = None
        if len(pairs) >= 3:
            a, b = (stats.rankdata(side) for side in zip(*pairs, strict=True))
            rho = float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else None
        agreement.append({"rungs": [before["rung"], after["rung"]], "candidates": len(pairs), "spearman": rho})
    return agreement


def search(
    src: str | Path,
    *,
    presets: Sequence[str] = ("keras", "traditional", "light", "strong", "trivial"),
    magnitudes: Sequence[float] = (0.5, 1.0, 1.5),
    per_image: Sequence[int] = (0, 2, 5),
    budget: int = 300,
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
    progress: bool = False,
) -> dict:
    """Rank candidate augmentations by validation accuracy with successive halving; compare the winner on test.

    The search spends ``budget`` epochs, or about ``minutes`` when given (sized by a pilot run). Writes the
    winner's pipeline to ``out/pipeline.json`` (for ``expander expand --pipeline``) and the report
    (report.json, report.md) to ``out``; returns the report.
    """
    pool = candidates(list(presets), list(magnitudes), list(per_image))
    if minutes is not None and minutes <= 0:
        raise TrainError(f"--minutes must be positive; got {minutes:g}.")
    plan = rung_plan(len(pool), budget, eta, config.epochs)  # checks eta and the epoch budget before any work
    store = default_store(store, out)
    out = Path(out) if out is not None else default_out("search")
    data, runs_store = _prepare(src, test, out, store, None, None, val_fraction, test_fraction, seeds)
    subset = data.subsets[0]
    # Equal steps for every candidate: an epoch is a pass's worth over the originals, copies or not.
    base = dataclasses.replace(config, epoch_images=config.epoch_images or len(subset.train))

    def expanded(candidate: Candidate, seed: int):
        if candidate.online:
            return subset.train
        return subset.train + runs_store.expansion(subset.train, data.classes, pipeline=candidate.pipeline(),
                                              per_image=candidate.per_image, seed=seed, workers=workers,
                                              progress=progress)  # fmt: skip

    pilot = None
    if minutes is not None:
        pilot = _pilot(max(pool, key=lambda c: (c.online, c.per_image)), expanded, base, data, runs_store, progress)
        plan = timed_plan(len(pool), minutes * 60, eta, pilot["run_seconds"], pilot["epoch_seconds"], base.epochs)
    alive, rungs = pool, []
    for rung, (_, epochs) in enumerate(plan):
        specs = [RunSpec(c.name, 0, SEARCH_SEED, expanded(c, SEARCH_SEED), subset.val, ()) for c in alive]
        configs = {c.name: c.config(dataclasses.replace(base, epochs=epochs)) for c in alive}
        runs = run_all(specs, data.classes, dataclasses.replace(base, epochs=epochs), runs_store, progress, configs)
        ranked = sorted(zip(alive, runs, strict=True), key=lambda pair: _rank_key(pair[1], pool.index(pair[0])))
        keep = plan[rung + 1][0] if rung + 1 < len(plan) else 1
        rungs.append(_rung_summary(rung, epochs, ranked, keep))
        alive = [c for c, _ in ranked[:keep]]
    winner = alive[0]
    out.mkdir(parents=True, exist_ok=True)
    save_pipeline(winner.pipeline(), out / PIPELINE_NAME)
    final = final_compare(data, runs_store, winner, expanded, base, seeds, progress)
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
        "plan": [{"candidates": n, "epochs": e} for n, e in plan],
        "epochs_spent": sum(n * e for n, e in plan),
        "pilot": pilot,
        "rungs": rungs,
        "rank_agreement": rank_agreement(rungs),
        "winner": {**dataclasses.asdict(winner), "name": winner.name, "pipeline": str((out / PIPELINE_NAME).resolve())},
        **final,
    }  # fmt: skip
    write_search_report(out, report)
    return report


def final_compare(data: StudyData, store: StudyStore, winner: Candidate, expanded, config: FitConfig,
                  seeds: int, progress: bool) -> dict:  # fmt: skip
    """The one look at the test images: no augmentation vs the winner, ``seeds`` seeds, ``config.epochs`` each."""
    subset = data.subsets[0]
    specs = []
    for seed in range(seeds):
        specs.append(RunSpec(BASELINE, 0, seed, subset.train, subset.val, data.test))
        specs.append(RunSpec(winner.name, 0, seed, expanded(winner, seed), subset.val, data.test))
    runs = run_all(specs, data.classes, config, store, progress, {winner.name: winner.config(config)})
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


def _rung_summary(rung: int, epochs: int, ranked: list, keep: int) -> dict:
    return {
        "rung": rung,
        "epochs": epochs,
        "kept": keep,
        "results": [
            {
                "candidate": c.name,
                **dataclasses.asdict(c),
                "val_accuracy": r["val_accuracy"],
                "val_loss": r["val_loss"],
                "best_epoch": r["best_epoch"],
                "train_seconds": r["train_seconds"],
                "reused": r["reused"],
                "train_images": r["train_images"],
                "kept": place < keep,
            }
            for place, (c, r) in enumerate(ranked)
        ],
    }
