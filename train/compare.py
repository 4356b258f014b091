"""The experiments: ``compare`` (two arms x K seeds), ``fit_folder`` (one arm) and ``evaluate``."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from expander.manifest import package_versions
from expander.options import default_workers
from expander.scan import scan
from train.data import (
    Sample,
    checked_for_leaks,
    decode_error,
    detect_channels,
    load_split,
    make_dataset,
    map_files,
)
from train.errors import TrainError
from train.fit import FitConfig, fit_one, quiet_tensorflow
from train.metrics import classification_metrics
from train.report import verdict, write_reports
from train.runs import RunSpec, default_store, report_folder, run_all
from train.stats import arm_stats, check_seeds, compared
from train.store import StudyStore
from train.study import check_presets


def compare(
    original: str | Path,
    expanded: str | Path,
    *,
    test: str | Path | None = None,
    out: str | Path | None = None,
    config: FitConfig = FitConfig(),
    seeds: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    online: str | None = None,
    allow_leaks: bool = False,
    store: str | Path | None = None,
    parallel: int | None = None,
    progress: bool = False,
) -> dict:
    """Train ``config`` on ORIGINAL and on EXPANDED with the same seeds; evaluate both on the same test images.

    With ``online`` (a preset), a third arm trains on ORIGINAL's training images with that pipeline applied
    on the fly to every image of every epoch: offline copies vs on-the-fly vs none, one model and seed set.
    Every finished run is kept in ``store`` (default ``out/store``, or ``runs/store`` without ``out``), so the
    same command after a kill or Ctrl-C trains only the runs that are missing and writes the same report.
    ``parallel`` runs train at once (``run_all``). A training image that shows the same picture as a validation
    or test image stops the run before any training (TrainError), unless ``allow_leaks``: then the report says
    so. Returns the report (also written to ``out/report.json`` with report.md and PNG plots).
    """
    seed_list = check_seeds(seeds)
    quiet_tensorflow()  # and says what to install if the train extra is missing
    split = load_split(original, expanded, test, val_fraction=val_fraction, test_fraction=test_fraction)
    split = checked_for_leaks(split, original, default_workers(), allow_leaks)  # before any folder is made
    runs_store_path = default_store(store, out)
    out = report_folder(out, "compare")  # before the store: the default store is inside it
    runs_store = StudyStore(runs_store_path)
    if not split.train_expanded:
        raise TrainError(f"No training images left in EXPANDED '{expanded}' after leaving out validation/test copies.")
    if online is not None:
        check_presets([online])
    channels = detect_channels(split.train_original)
    plan = {"original": (split.train_original, config), "expanded": (split.train_expanded, config)}
    if online is not None:
        plan["online"] = (split.train_original, dataclasses.replace(config, online=online))
    specs = [
        RunSpec(arm, 0, seed, train, split.val, split.test) for seed in seed_list for arm, (train, _) in plan.items()
    ]
    configs = {arm: arm_config for arm, (_, arm_config) in plan.items()}
    runs = [_as_compare_run(r) for r in run_all(specs, split.classes, config, runs_store, progress, configs, parallel)]

    arms = {arm: [r for r in runs if r["arm"] == arm] for arm in plan}
    stats = {arm: arm_stats(arms[arm], split.classes) for arm in plan}
    difference = compared(arms["expanded"], arms["original"])
    extra = {}
    if online is not None:
        extra["online"] = stats["online"]
        extra["online_difference"] = compared(arms["online"], arms["original"])
    report = {
        "arguments": {
            "original": str(Path(original).resolve()),
            "expanded": str(Path(expanded).resolve()),
            "test": str(Path(test).resolve()) if test else None,
            "out": str(out.resolve()),
            "seeds": seed_list,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "channels": channels,
            **config.to_dict(),
            "online": online,
            "allow_leaks": allow_leaks,
        },
        "versions": package_versions("expander", "albumentations", "tensorflow", "keras", "numpy"),
        "data": _data_summary(split),
        "original": stats["original"],
        "expanded": stats["expanded"],
        "difference": difference,
        **extra,
        "verdict": verdict(difference, seeds)
        + (f" {verdict(extra['online_difference'], seeds, 'on-the-fly arm')}" if online is not None else ""),
        "runs": runs,
    }
    write_reports(out, report)
    return report


def _as_compare_run(stored: dict) -> dict:
    """A stored run as the report lists it: the same whether this invocation trained it or reused it."""
    return {k: v for k, v in stored.items() if k not in ("subset", "key", "reused")}


def fit_folder(
    folder: str | Path,
    *,
    test: str | Path | None = None,
    out: str | Path | None = None,
    config: FitConfig = FitConfig(),
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    progress: bool = False,
    allow_leaks: bool = False,
) -> dict:
    """Train one model on ``folder``; save ``model.keras``, ``model.json``, ``history.csv``, ``metrics.json``.
    A training image that is a validation or test image stops it first (``checked_for_leaks``)."""
    quiet_tensorflow()
    split = load_split(folder, None, test, val_fraction=val_fraction, test_fraction=test_fraction)
    split = checked_for_leaks(split, folder, default_workers(), allow_leaks)  # before any folder is made
    out = report_folder(out, "fit")
    channels = detect_channels(split.train_original)
    bar = _bar(config.epochs, progress)
    model, record = fit_one(split.train_original, split.val, split.test, split.classes, config, seed, channels,
                            on_epoch=lambda epoch, logs: bar.update(1))  # fmt: skip
    bar.close()
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    info = {"classes": list(split.classes), "image_size": config.image_size, "channels": channels}
    (out / "model.json").write_text(json.dumps({**info, "config": config.to_dict()}, indent=2) + "\n")
    with open(out / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(record["history"][0]))
        writer.writeheader()
        writer.writerows(record["history"])
    metrics = {
        **{k: v for k, v in record.items() if k != "history"},
        "classes": list(split.classes),
        "data": _data_summary(split),
        "versions": package_versions("expander", "tensorflow", "keras", "numpy"),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def evaluate(model_path: str | Path, folder: str | Path, batch_size: int = 64) -> dict:
    """Evaluate a saved model on ``folder`` (its test/ or val/ split, or its class folders)."""
    quiet_tensorflow()
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    model_path = Path(model_path)
    if not model_path.is_file():
        raise TrainError(f"Model file '{model_path}' does not exist; train one with: train fit DIR --out RUN")
    info_path = model_path.with_name("model.json")
    model = keras.models.load_model(model_path)
    _, height, width, channels = model.input_shape
    ds = scan(folder)
    split = next((s for s in ("test", "val") if s in ds.splits), None)
    items = [i for i in ds.items if i.split == split]
    classes = json.loads(info_path.read_text())["classes"] if info_path.is_file() else list(ds.classes)
    unknown = sorted({i.class_name for i in items} - set(classes))
    if unknown:
        raise TrainError(f"'{folder}' has classes the model was not trained on: {', '.join(unknown)}.")
    samples = tuple(Sample(str(ds.root.resolve() / i.rel_path), classes.index(i.class_name), "") for i in items)
    errors = map_files(decode_error, [s.path for s in samples])
    unreadable = [{"file": s.path, "error": e} for s, e in zip(samples, errors, strict=True) if e]
    samples = tuple(s for s, e in zip(samples, errors, strict=True) if not e)
    if not samples:
        raise TrainError(f"No readable images to evaluate in '{folder}' ({len(unreadable)} do not decode).")
    probabilities = model.predict(make_dataset(samples, (width, height), channels, batch_size), verbose=0)
    metrics = classification_metrics(np.array([s.label for s in samples]), probabilities, len(classes))
    return {"model": str(model_path), "folder": str(folder), "images": len(samples), "classes": classes,
            "unreadable": unreadable, **metrics}  # fmt: skip


def _data_summary(split) -> dict:
    def per_class(samples) -> dict[str, int]:
        counts = np.bincount([s.label for s in samples], minlength=len(split.classes))
        return {c: int(n) for c, n in zip(split.classes, counts, strict=True)}

    return {
        "classes": list(split.classes),
        "test_source": split.test_source,
        "val_source": split.val_source,
        "counts": {
            "train_original": len(split.train_original),
            "train_expanded": len(split.train_expanded),
            "val": len(split.val),
            "test": len(split.test),
        },
        "per_class": {
            "train_original": per_class(split.train_original),
            "train_expanded": per_class(split.train_expanded),
            "val": per_class(split.val),
            "test": per_class(split.test),
        },
        "left_out": split.left_out,
        "leakage_check": split.leakage_check,
        "warnings": list(split.warnings),
        "unreadable": [{"file": path, "error": reason} for path, reason in split.unreadable],
    }


def _bar(total: int, enabled: bool):
    from tqdm import tqdm  # lazy: tqdm costs ~13 ms to import; only a terminal shows a bar

    return tqdm(total=total, unit="epoch", file=sys.stderr, disable=not enabled)
