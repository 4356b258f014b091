"""Pure functions: classification metrics from labels, and the statistics of repeated runs."""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, classes: int) -> dict:
    """Accuracy, loss, calibration error, macro-F1, balanced accuracy, per-class precision/recall/F1, confusion."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=int)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_per_class = confusion.sum(axis=1)
    predicted_per_class = confusion.sum(axis=0)
    hits = np.diag(confusion)
    precision = np.divide(hits, predicted_per_class, out=np.zeros(classes), where=predicted_per_class > 0)
    recall = np.divide(hits, true_per_class, out=np.zeros(classes), where=true_per_class > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(classes), where=denominator > 0)
    present = true_per_class > 0
    picked = probabilities[np.arange(len(y_true)), y_true]
    return {
        "accuracy": float(hits.sum() / max(len(y_true), 1)),
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))),
        "ece": expected_calibration_error(y_true, probabilities),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "precision": precision.round(6).tolist(),
        "recall": recall.round(6).tolist(),
        "f1": f1.round(6).tolist(),
        "confusion": confusion.tolist(),
    }


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error (Guo et al., 2017): how far confidence is from accuracy.

    Predictions are grouped by their top probability into ``bins`` equal-width bins; the result is the
    mean over images of |accuracy - mean confidence| of each image's bin. 0 is perfectly calibrated.
    """
    if len(y_true) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        members = which == b
        total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / len(y_true))
