"""Training runs kept in a store: what ``compare`` and the studies (ablate, curve, search) all train through.

A run is an arm's training set, validation and test images and seed (:class:`RunSpec`); its store key is the
digest of everything that decides its numbers. ``run_all`` trains the runs the store lacks, saving each as it
finishes, so the same command after a kill or Ctrl-C trains only what is missing and reports the same numbers.
On a terminal it shows a progress bar; into a log file it writes a line per finished run and one every
``EPOCHS_PER_LINE`` epochs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from train.data import Sample, detect_channels
from train.fit import FitConfig, fit_one
from train.store import StudyStore, digest, ordered_digest

EPOCHS_PER_LINE = 10
STORE = Path("runs") / "store"  # where finished runs are kept when no --out or --store says otherwise


def default_store(store: str | Path | None, out: str | Path | None) -> Path:
    """Where finished runs are kept: --store, else OUT/store, else runs/store (so that the same command without
    --out, whose report folder is new each time, still finds them)."""
    return Path(store) if store is not None else Path(out) / "store" if out is not None else STORE


def default_out(kind: str) -> Path:
    return Path("runs") / f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class RunSpec:
    """One training run: an arm on one subset with one seed."""

    arm: str  # BASELINE or a preset name
    subset: int  # index into StudyData.subsets
    seed: int
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]
    views: tuple[tuple[Sample, ...], ...] = ()  # copies of train that epochs cycle through (train copies)

    def key_fields(self, config: FitConfig, channels: int, classes: tuple[str, ...]) -> dict:
        """Everything that determines this run's numbers (the store key is their digest)."""
        fields = {
            "config": config.key_dict(),
            "channels": channels,
            "classes": list(classes),
            "seed": self.seed,
            # In order: the same images in another order are other batches, so other numbers.
            "train": ordered_digest(self.train),
            "val": ordered_digest(self.val),
            "test": ordered_digest(self.test),
        }
        if self.views:  # only then: the keys of runs stored before views existed stay the same
            fields["views"] = [ordered_digest(view) for view in self.views]
        return fields


def run_all(
    specs: list[RunSpec],
    classes: tuple[str, ...],
    config: FitConfig,
    store: StudyStore,
    progress: bool = False,
    arm_configs: dict[str, FitConfig] | None = None,
) -> list[dict]:
    """Train every run not in the store (saving each as it finishes); returns one record per spec. Each trains
    under ``config``, or ``arm_configs[spec.arm]`` where given.

    Progress counts image-epochs over the whole study, so its ETA accounts for the larger expanded arms.
    """
    from tqdm import tqdm  # lazy: tqdm costs ~13 ms to import; only a terminal shows a bar

    def config_of(spec: RunSpec) -> FitConfig:  # an arm may train under its own configuration (compare --online)
        return (arm_configs or {}).get(spec.arm, config)

    channels = detect_channels(specs[0].train)
    keyed = []
    for spec in specs:
        fields = spec.key_fields(config_of(spec), channels, classes)
        keyed.append((spec, digest(fields), fields))
    loaded = {key: store.load_run(key) for _, key, _ in keyed}
    stored = {key: record for key, record in loaded.items() if record is not None}
    todo = [(s, k, f) for s, k, f in keyed if k not in stored]

    def epoch_size(spec: RunSpec) -> int:  # images an epoch trains on
        return config_of(spec).epoch_images or len(spec.train)

    lines = progress and not sys.stderr.isatty()  # a log file gets lines, never a bar's \r frames
    bar = tqdm(total=sum(epoch_size(s) * config_of(s).epochs for s, _, _ in todo), unit="img", unit_scale=True,
               file=sys.stderr, disable=not progress or lines, smoothing=0.05, desc="study")  # fmt: skip
    if len(todo) < len(keyed):
        _say(
            bar, progress, f"Reusing {len(keyed) - len(todo)} finished run(s) from {store.root}; training {len(todo)}."
        )
    for number, (spec, key, fields) in enumerate(todo, 1):
        bar.set_description(f"run {number}/{len(todo)}: {spec.arm}, {len(spec.train)} images, seed {spec.seed}")
        started = time.perf_counter()
        images, epochs = epoch_size(spec), config_of(spec).epochs

        def advance(epoch: int, logs: dict, images=images, epochs=epochs, spec=spec, started=started) -> None:
            bar.update(images)
            if lines and epoch % EPOCHS_PER_LINE == 0:
                accuracy, seconds = 100 * logs["val_accuracy"], time.perf_counter() - started
                line = f"{spec.arm} seed {spec.seed}: epoch {epoch}/{epochs}, validation accuracy {accuracy:.2f}%"
                _say(bar, progress, f"{line}, {seconds:.0f} s")

        model, record = fit_one(spec.train, spec.val, spec.test, classes, config_of(spec), spec.seed, channels,
                                on_epoch=advance, views=spec.views)  # fmt: skip
        del model
        record["train_seconds"] = time.perf_counter() - started
        bar.update(epoch_size(spec) * (epochs - record["epochs_run"]))  # early stopping skipped these
        store.save_run(key, fields, record)
        stored[key] = record
        scored = (
            f"test accuracy {100 * record['test']['accuracy']:.2f}%"
            if record["test"]
            else (f"validation accuracy {100 * record['val_accuracy']:.2f}%")
        )
        _say(
            bar,
            progress,
            f"{spec.arm} ({len(spec.train)} images, seed {spec.seed}): {scored}, best epoch "
            f"{record['best_epoch']}/{record['epochs_run']}, {record['train_seconds']:.0f} s",
        )
        _free_keras_memory()
    bar.close()
    reused = {k for _, k, _ in keyed} - {k for _, k, _ in todo}
    return [
        {"arm": s.arm, "subset": s.subset, "seed": s.seed, "key": k, "reused": k in reused, **stored[k]}
        for s, k, _ in keyed
    ]


def _say(bar, progress: bool, line: str) -> None:
    if progress:
        bar.write(line, file=sys.stderr)
        sys.stderr.flush()  # a log file shows the line now, not at exit


def _free_keras_memory() -> None:
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    keras.backend.clear_session()  # dozens of models in one process otherwise keep their graphs alive
