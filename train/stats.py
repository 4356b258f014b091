"""Statistics over seeds, one home for every experiment (compare, ablate, curve, paper).

An arm is a list of runs (one per seed, each with its ``test`` metrics); ``arm_stats`` summarises
it, ``compared`` pairs two arms by seed, ``effect`` reads the 95% interval. All pure.
"""

from __future__ import annotations

import math

import numpy as np

from train.errors import TrainError

HEADLINE_METRICS = ("accuracy", "macro_f1", "balanced_accuracy", "loss", "ece")
BASELINE = "baseline"  # the arm trained on the originals alone, in studies
# Per-run numbers summarised too when the runs carry them (compare's runs time epochs, studies' whole runs).
_RUN_FIGURES = ("best_epoch", "gap", "gap_last", "seconds_per_epoch", "images_per_s", "train_seconds")


def check_seeds(seeds: int) -> list[int]:
    """The seeds 0..seeds-1 an experiment repeats each arm with."""
    if seeds < 1:
        raise TrainError(f"--seeds must be 1 or more; got {seeds}.")
    return list(range(seeds))


def describe(values: list[float]) -> dict:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=float)
    return {
        "mean": float(array.mean()),
        "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
        "values": [float(v) for v in array],
    }


def paired_difference(after: list[float], before: list[float]) -> dict:
    """Mean of per-seed differences with a 95% t confidence interval (None with one seed)."""
    from scipy import stats  # lazy: scipy.stats costs ~0.5 s to import; only the paired interval needs it

    diffs = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    result = describe(list(diffs))
    n = len(diffs)
    if n < 2:
        result["ci95"] = None
        return result
    half = float(stats.t.ppf(0.975, n - 1) * result["std"] / math.sqrt(n))
    result["ci95"] = [result["mean"] - half, result["mean"] + half]
    return result


def arm_stats(runs: list[dict], classes: tuple[str, ...] | list[str]) -> dict:
    """Mean ± std over seeds of the test metrics, per-class recall, and the per-run figures the runs carry."""
    stats = {m: describe([r["test"][m] for r in runs]) for m in HEADLINE_METRICS if all(m in r["test"] for r in runs)}
    if all("test_last" in r for r in runs):  # the last epoch's weights, beside the validation-selected ones
        stats["last"] = {m: describe([r["test_last"][m] for r in runs]) for m in HEADLINE_METRICS}
    stats["recall"] = {c: describe([r["test"]["recall"][i] for r in runs]) for i, c in enumerate(classes)}
    for figure in _RUN_FIGURES:
        if all(figure in r for r in runs):
            stats[figure] = describe([r[figure] for r in runs])
    if all("train_images" in r for r in runs):
        stats["train_images"] = round(np.mean([r["train_images"] for r in runs]))
    return stats


def compared(arm: list[dict], baseline: list[dict]) -> dict:
    """Paired-by-seed differences (arm - baseline) of the headline metrics."""
    by_seed = {r["seed"]: r for r in baseline}
    pairs = [(r, by_seed[r["seed"]]) for r in arm]
    return {
        m: paired_difference([a["test"][m] for a, _ in pairs], [b["test"][m] for _, b in pairs])
        for m in HEADLINE_METRICS
        if all(m in a["test"] and m in b["test"] for a, b in pairs)
    }


def effect(difference: dict) -> str:
    """'helped', 'hurt' or 'unclear' from a 95% interval on accuracy ('single seed' without one)."""
    ci = difference["accuracy"]["ci95"]
    if ci is None:
        return "single seed"
    return "helped" if ci[0] > 0 else "hurt" if ci[1] < 0 else "unclear"
