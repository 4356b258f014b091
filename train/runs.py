"""Training runs kept in a store: what ``compare`` and the studies (ablate, curve, search) all train through.

A run is an arm's training set, validation and test images and seed (:class:`RunSpec`); its store key is the
digest of everything that decides its numbers. ``run_all`` trains the runs the store lacks, saving each as it
finishes, so the same command after a kill or Ctrl-C trains only what is missing and reports the same numbers.
On a terminal it shows a progress bar; into a log file it writes a line per finished run and one every
``EPOCHS_PER_LINE`` epochs.

Runs train ``parallel`` at once, by default one per core (``runs_at_once``), each in a worker process of
expander's WorkerPool (never forked from this one: TensorFlow must not be), the cores shared out as
TensorFlow threads. A run on one thread waits for no other, so on 2 cores two runs of one thread each train
more images than one run of two threads (docs/performance.md). A run's numbers depend on its thread count,
which depends only on the command and the machine, never on what is left to train: a resumed study trains
on the same thread counts and gives the same numbers. One run at a time trains in this process, on
TensorFlow's own threads.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from expander.options import default_workers
from expander.pool import WorkerPool
from train.data import Sample, detect_channels
from train.errors import TrainError
from train.fit import FitConfig, fit_one, use_threads
from train.store import StudyStore, digest, ordered_digest, writable_folder

EPOCHS_PER_LINE = 10
WORKER_MEMORY = 2 << 30  # bytes a training process may need (measured: 1.1 GB peak in the 64 px recipe study)
WORKER_WORK = 20_000  # image-epochs each process must have to repay its start (~5 s: Python, TensorFlow)
STORE = Path("runs") / "store"  # where finished runs are kept when no --out or --store says otherwise


def default_store(store: str | Path | None, out: str | Path | None) -> Path:
    """Where finished runs are kept: --store, else OUT/store, else runs/store (so that the same command without
    --out, whose report folder is new each time, still finds them)."""
    return Path(store) if store is not None else Path(out) / "store" if out is not None else STORE


def report_folder(out: str | Path | None, kind: str) -> Path:
    """Where a command writes its report: ``--out``, else ``runs/<kind>-<time>``; checked writable before any
    training."""
    folder = Path(out) if out is not None else Path("runs") / f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    return writable_folder(folder, "--out")


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
    parallel: int | None = None,
) -> list[dict]:
    """Train every run not in the store (saving each as it finishes), ``parallel`` at once (None: as many as
    ``runs_at_once`` finds room for); returns one record per spec. Each trains under ``config``, or
    ``arm_configs[spec.arm]`` where given.

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
    work = sum((config_of(s).epoch_images or len(s.train)) * config_of(s).epochs for s in specs)
    at_once = runs_at_once(parallel, len(specs), work)
    threads = max(1, default_workers() // at_once) if at_once > 1 else None  # None: this process, TensorFlow's own
    todo = [_Job(s, k, f, config_of(s), threads) for s, k, f in keyed if k not in stored]

    lines = progress and not sys.stderr.isatty()  # a log file gets lines, never a bar's \r frames
    bar = tqdm(total=sum(job.images * job.config.epochs for job in todo), unit="img", unit_scale=True,
               file=sys.stderr, disable=not progress or lines, smoothing=0.05, desc="study")  # fmt: skip
    if len(todo) < len(keyed):
        _say(
            bar, progress, f"Reusing {len(keyed) - len(todo)} finished run(s) from {store.root}; training {len(todo)}."
        )
    in_processes = at_once > 1 and bool(todo)
    finished = (
        _in_processes(todo, classes, channels, lines, at_once)
        if in_processes
        else _one_by_one(todo, classes, channels, lines, bar)
    )
    for job, record in finished:
        done = 0 if in_processes else record["epochs_run"]  # one by one, the bar has moved with every epoch
        bar.update(job.images * (job.config.epochs - done))
        store.save_run(job.key, job.fields, record)
        stored[job.key] = record
        _say(bar, progress, _finished_line(job.spec, record))
    bar.close()
    reused = {k for _, k, _ in keyed} - {job.key for job in todo}
    return [
        {"arm": s.arm, "subset": s.subset, "seed": s.seed, "key": k, "reused": k in reused, **stored[k]}
        for s, k, _ in keyed
    ]


def runs_at_once(parallel: int | None, planned: int, work: int) -> int:
    """``parallel`` if given, else one run per core, but no more than the runs planned, than the machine's
    memory holds at WORKER_MEMORY each, or than the ``work`` planned (image-epochs) repays at WORKER_WORK
    each. From the command and the machine only, never from what is left: a resumed study keeps its threads."""
    if parallel is not None:
        return parallel
    return max(1, min(default_workers(), planned, memory() // WORKER_MEMORY, work // WORKER_WORK))


def memory() -> int:
    """The machine's memory in bytes (all of it, not what is free now, so that the choice stays the same)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class _Job:
    """A run the store lacks: its spec, store key and key fields, the configuration it trains under, and its
    TensorFlow threads (None: TensorFlow's own, in this process)."""

    spec: RunSpec
    key: str
    fields: dict
    config: FitConfig
    threads: int | None

    @property
    def images(self) -> int:  # images an epoch trains on
        return self.config.epoch_images or len(self.spec.train)


def _one_by_one(todo: list[_Job], classes: tuple[str, ...], channels: int, lines: bool,
                bar) -> Iterator[tuple[_Job, dict]]:  # fmt: skip
    """Each run in this process, in order; the bar moves every epoch."""
    for number, job in enumerate(todo, 1):
        bar.set_description(
            f"run {number}/{len(todo)}: {job.spec.arm}, {len(job.spec.train)} images, seed {job.spec.seed}"
        )
        yield job, _fit(job, classes, channels, lines, bar)


def _in_processes(todo: list[_Job], classes: tuple[str, ...], channels: int, lines: bool,
                  parallel: int) -> Iterator[tuple[_Job, dict]]:  # fmt: skip
    """The runs ``parallel`` at a time in worker processes, as they finish; the bar moves per finished run.

    expander's WorkerPool: a worker dies with this process (only this one keeps finished runs), Ctrl-C stops
    the workers at once, and a run whose worker is killed (the out-of-memory killer) is tried once more.
    """
    jobs = {job.key: job for job in todo}
    fit = functools.partial(_fit_in_worker, classes=classes, channels=channels, lines=lines)
    with WorkerPool(min(parallel, len(todo)), initializer=use_threads, initargs=(todo[0].threads,),
                    fork=False, in_flight=1) as pool:  # fmt: skip
        for key, record in pool.imap_unordered(fit, todo, lost=_lost):
            yield jobs[key], record


def _fit_in_worker(job: _Job, classes: tuple[str, ...], channels: int, lines: bool) -> tuple[str, dict]:
    return job.key, _fit(job, classes, channels, lines)


def _lost(job: _Job, reason: str) -> None:
    raise TrainError(
        f"Run {job.spec.arm} seed {job.spec.seed} was lost twice: {reason}. The runs finished so far are kept; "
        "run the same command again with fewer runs at once (--parallel 1 trains one by one) if memory is short."
    )


def _fit(job: _Job, classes: tuple[str, ...], channels: int, lines: bool, bar=None) -> dict:
    """Train one run (here or in a worker process) and return its record, with its wall time."""
    spec, started = job.spec, time.perf_counter()

    def advance(epoch: int, logs: dict) -> None:
        if bar is not None:
            bar.update(job.images)
        if lines and epoch % EPOCHS_PER_LINE == 0:
            accuracy, seconds = 100 * logs["val_accuracy"], time.perf_counter() - started
            line = (
                f"{spec.arm} seed {spec.seed}: epoch {epoch}/{job.config.epochs}, validation accuracy {accuracy:.2f}%"
            )
            _say(bar, True, f"{line}, {seconds:.0f} s")

    model, record = fit_one(spec.train, spec.val, spec.test, classes, job.config, spec.seed, channels,
                            on_epoch=advance, views=spec.views)  # fmt: skip
    del model
    record["train_seconds"] = time.perf_counter() - started
    record["threads"] = job.threads
    _free_keras_memory()
    return record


def _finished_line(spec: RunSpec, record: dict) -> str:
    scored = (
        f"test accuracy {100 * record['test']['accuracy']:.2f}%"
        if record["test"]
        else f"validation accuracy {100 * record['val_accuracy']:.2f}%"
    )
    return (
        f"{spec.arm} ({len(spec.train)} images, seed {spec.seed}): {scored}, best epoch "
        f"{record['best_epoch']}/{record['epochs_run']}, {record['train_seconds']:.0f} s"
    )


def _say(bar, progress: bool, line: str) -> None:
    """A line on stderr, above the bar if there is one (a worker process has none)."""
    if not progress:
        return
    if bar is None:
        print(line, file=sys.stderr)
    else:
        bar.write(line, file=sys.stderr)
    sys.stderr.flush()  # a log file shows the line now, not at exit


def _free_keras_memory() -> None:
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    keras.backend.clear_session()  # dozens of models in one process otherwise keep their graphs alive
