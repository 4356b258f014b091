from __future__ import annotations

import numpy as np
import pytest

from train.metrics import classification_metrics
from train.report import verdict
from train.stats import describe, paired_difference


def test_classification_metrics_on_a_known_case() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    probabilities = np.eye(3)[[0, 0, 1, 1, 1, 1]] * 0.8 + 0.2 / 3  # predictions 0,0,1,1,1,1
    m = classification_metrics(y_true, probabilities, 3)
    assert m["confusion"] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["recall"] == pytest.approx([2 / 3, 1.0, 0.0])
    assert m["precision"] == pytest.approx([1.0, 0.5, 0.0])
    assert m["f1"] == pytest.approx([0.8, 2 / 3, 0.0], abs=1e-6)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 3, abs=1e-6)
    p_true = 0.8 + 0.2 / 3
    expected_loss = -(4 * np.log(p_true) + 2 * np.log(0.2 / 3)) / 6
    assert m["loss"] == pytest.approx(expected_loss)


def test_paired_difference_uses_a_t_interval() -> None:
    d = paired_difference([0.80, 0.82, 0.78], [0.70, 0.71, 0.72])
    assert d["values"] == pytest.approx([0.10, 0.11, 0.06])
    assert d["mean"] == pytest.approx(0.09)
    half = 4.302652729749464 * np.std([0.10, 0.11, 0.06], ddof=1) / np.sqrt(3)
    assert d["ci95"] == pytest.approx([0.09 - half, 0.09 + half])


def test_one_seed_has_no_interval_and_says_so() -> None:
    d = paired_difference([0.8], [0.7])
    assert d["ci95"] is None and describe([0.5])["std"] == 0.0
    assert "from a single seed; run with --seeds 3" in verdict({"accuracy": d}, 1)


def test_verdict_reports_direction_and_uncertainty() -> None:
    up = {"accuracy": {"mean": 0.05, "ci95": [0.01, 0.09]}}
    flat = {"accuracy": {"mean": 0.01, "ci95": [-0.02, 0.04]}}
    assert verdict(up, 3) == (
        "The expanded dataset improved test accuracy by +5.0 points (95% CI +1.0 to +9.0, 3 seeds); "
        "the interval excludes zero."
    )
    assert verdict(flat, 3).startswith("No clear difference for the expanded dataset: test accuracy changed by +1.0")
    assert verdict(up, 3, "on-the-fly arm").startswith("The on-the-fly arm improved test accuracy by +5.0 points")


def _runs(accuracies: list[float]) -> list[dict]:
    return [{"seed": seed, "test": {"accuracy": a}} for seed, a in enumerate(accuracies)]


def test_the_helped_hurt_verdict_follows_the_paired_interval() -> None:
    """Helped when the 95% interval of the per-seed differences is above zero, hurt when below, unclear when it
    holds zero, no verdict from one seed; and the ablation sentence groups the presets so."""
    from train.stats import compared, effect
    from train.study_report import ablation_verdict

    baseline = _runs([0.60, 0.62, 0.61])
    helped = compared(_runs([0.70, 0.71, 0.69]), baseline)  # +10, +9, +8 points: interval [+6.5, +11.5]
    hurt = compared(_runs([0.50, 0.53, 0.52]), baseline)  # -10, -9, -9
    unclear = compared(_runs([0.65, 0.58, 0.62]), baseline)  # +5, -4, +1
    assert [effect(d) for d in (helped, hurt, unclear)] == ["helped", "hurt", "unclear"]
    assert effect(compared(_runs([0.9]), _runs([0.5]))) == "single seed"
    assert helped["accuracy"]["ci95"][0] == pytest.approx(0.09 - 4.302653 * 0.01 / 3**0.5, abs=1e-6)

    def row(arm: str, difference: dict | None) -> dict:
        mean = 0.61 + (difference["accuracy"]["mean"] if difference else 0.0)
        return {"arm": arm, "accuracy": {"mean": mean}, "difference": difference,
                "effect": effect(difference) if difference else ""}  # fmt: skip

    rows = [row("strong", helped), row("light", unclear), row("none", None), row("noise", hurt)]
    assert ablation_verdict(rows, 3) == (
        "Best: strong, 70.0% test accuracy (+9.0 points over no augmentation, 95% CI +6.5 to +11.5, 3 seed(s)). "
        "Helped (interval above zero): strong; Unclear (interval includes zero): light; Hurt (interval below zero): "
        "noise."
    )
