"""``expand``: the library entry point. options -> scan -> plan -> probe -> lock -> execute -> manifest.

The CLI is a thin layer over this function; pipelines call it directly. Each stage lives in its
own module; this one only calls them in order and keeps the state of a run while it executes. Where the
outputs go is the run's sink (``expander.sinks``), chosen once here from the options.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expander import images
from expander.augment import probe_pipeline
from expander.dataset import Dataset, natural_key
from expander.duplicates import exclusions
from expander.errors import ExpanderError, OutputError, PipelineError
from expander.execute import JobResult, Settings, execute, start_workers_early
from expander.generator import inspect_generator
from expander.labels import run as run_labels
from expander.manifest import (
    MANIFEST_NAME,
    SUMMARY_NAME,
    Record,
    plan_row,
    records,
    run_summary,
    write_manifest,
    write_summary,
)
from expander.options import OUTPUT_ARGUMENTS, ExpandOptions, default_out, location
from expander.output import (
    changed_since,
    check_capacity,
    check_contents,
    check_location,
    lock,
    redo,
    release_space,
    remove_previous,
    reserve_space,
)
from expander.pipeline import resolve_pipeline
from expander.plan import Plan, make_plan
from expander.ray_executor import RaySession
from expander.scan import scan
from expander.sinks import open_sink
from expander.sinks.base import LabelFiles, Sink
from expander.storage import StoreError, StoreUnavailable, impatient, open_store


@dataclass(frozen=True)
class ExpandResult:
    """What a run did. ``to_dict()`` is the JSON summary written to ``expander.json``."""

    source: Path | str  # a folder, or the URL of an object-store prefix
    out: Path | str
    status: str  # "complete", "dry-run", "interrupted" or "stopped" (disk full or a failing disk)
    plan: Plan  # each job's ``done`` holds the outputs found in the sink (resumed, or left by a stopped run)
    finished: dict[str, JobResult] = field(repr=False)  # source -> its job's result, for jobs run to the end
    failed: dict[str, Record] = field(repr=False)  # output path -> what went wrong
    sink: Sink | None = field(default=None, repr=False)  # where the outputs are
    resumed: int = 0
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict, repr=False)
    label_files: LabelFiles | None = field(default=None, repr=False)

    def records(self) -> Iterator[Record]:
        """One record per planned output that was attempted, in plan order (the manifest's rows)."""
        assert self.sink is not None
        return records(self.plan, self.finished, self.failed, self.sink, self.label_files)

    @property
    def written(self) -> frozenset[str]:
        """Output paths in the sink, resumed ones included."""
        if self.sink is None:
            return frozenset()
        rows = records(self.plan, self.finished, self.failed, self.sink, look=False)
        return frozenset(r.output for r in rows if r.status == "ok")

    @property
    def label_format(self) -> str | None:
        """The labelled dataset's format (a registry name), or None for class folders."""
        labels = self.summary.get("labels")
        return labels["format"] if labels else None

    @property
    def failures(self) -> list[dict[str, str]]:
        return self.summary["failures"]

    @property
    def exit_code(self) -> int:
        """0 when every input was processed; 1 when any failed (the good ones are still written) or the run stopped."""
        return 1 if self.failures or self.status == "stopped" else 0

    def to_dict(self) -> dict[str, Any]:
        return self.summary


def expand(
    src: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    progress: bool = False,
    on_plan: Callable[[list[dict[str, Any]]], None] | None = None,
    **options: Any,
) -> ExpandResult:
    """Write augmented copies of the images in ``src`` to ``out`` (default ``<SRC>_expanded`` beside it).

    ``options`` are ``ExpandOptions``' fields (the [option table](api.md#options) lists them with their
    defaults): a quota (``per_image=20``, ``balance=True`` or ``target_per_class=500``; ``per_image=5``
    without one), ``classes``, ``preset`` or ``pipeline``, ``seed``, ``workers``, ``labels``, ``shards``,
    ``resume``, ... Only the ``train`` split (or every class folder, without splits) is augmented;
    ``val``/``test`` are copied unchanged.

    Args:
        src: ``SRC/<class>/<image>``, ``SRC/{train,val,test}/<class>/<image>``, or a labelled dataset; a
            folder or an object-store URL.
        out: output folder or URL.
        progress: show a progress bar on stderr.
        on_plan: called with the plan rows (split, class, originals, new, total, augmented)
            once the output folder is checked, before anything is written.

    Raises:
        ExpanderError: bad arguments, source layout, pipeline or output folder, another run writing
            to ``out``, or a plan too large (nothing is written).
        TypeError: an option that ``ExpandOptions`` does not have.
        KeyboardInterrupt: after cleaning up and writing the manifest of what is done; the partial run
            can be finished with ``resume``. (The CLI turns SIGTERM into ``errors.Terminated``, a
            KeyboardInterrupt.)
    """
    destination = location(out) if out is not None else default_out(src)
    return run(ExpandOptions(location(src), destination, **options), progress=progress, on_plan=on_plan)


def run(
    options: ExpandOptions,
    *,
    progress: bool = False,
    on_plan: Callable[[list[dict[str, Any]]], None] | None = None,
) -> ExpandResult:
    """``expand`` for options already checked: scan -> plan -> probe -> lock -> execute -> manifest."""
    started = time.perf_counter()
    with _executor(options) as connect:  # Ray starts in the background while this process scans and plans
        return _run(options, connect, started, progress, on_plan)


def _run(options: ExpandOptions, connect, started: float, progress: bool, on_plan) -> ExpandResult:
    scanned = scan(options.src, options.labels, options.max_pixels)
    dataset = run_labels.checked(_without_excluded(scanned, options.exclude), options.skip_bad_labels)
    dataset = run_labels.converted(dataset, options.to)
    if dataset.labels is not None and options.generator is not None:
        raise PipelineError("--generator makes images without moving labels; a labelled dataset needs a pipeline.")
    pipeline, partners = _pipeline(options)
    if options.workers > 1 and not options.dry_run and options.backend == "local":
        start_workers_early(pipeline)  # a fork server's imports, if one is needed, run while this process plans
    plan = make_plan(
        dataset, options.quota, seed=options.seed, classes=options.classes, originals=options.originals,
        output_ext=f".{options.format}" if options.format else None, partners=partners,
    )  # fmt: skip
    label_files = run_labels.sink_rules(dataset)
    sink = open_sink(options.shards or "files", open_store(options.out), dataset, seed=options.seed,
                     shard_size=options.shard_size, labels=label_files)  # fmt: skip
    plan = sink.order(plan)
    check_location(dataset, options.out)
    arguments = options.arguments()
    state = _Run(dataset, plan, arguments, pipeline, started, sink, label_files)
    check = functools.partial(check_contents, options.out, arguments, pipeline, OUTPUT_ARGUMENTS,
                              resume=options.resume, overwrite=options.overwrite)  # fmt: skip
    if options.dry_run:
        check()
        return state.result("dry-run")
    if options.generator is None:
        augmented = [job.source for job in plan.jobs if job.copies][:10]
        probe_pipeline(pipeline, dataset.location, augmented, options.size, options.max_pixels)
    moving = run_labels.worker_options(dataset, options.min_visibility, options.keep_empty)
    settings = Settings(arguments["source"], pipeline, sink.writer(), options.quality, options.size,
                        options.max_pixels, moving)  # fmt: skip
    run_jobs = connect()  # Ray is up before anything is written
    with lock(options.out) as held:
        previous = check()
        state.plan = sink.resume(plan) if options.resume else plan
        if options.resume and previous is not None:
            state.first_started_ns = previous.get("started_ns") or state.first_started_ns
            state.plan = _redo_changed(state, previous.get("started_ns"))
        check_capacity(state.plan, dataset, options.out, size=options.size, max_outputs=options.max_outputs,
                       check_space=options.space_check)  # fmt: skip
        if options.overwrite and previous is not None:  # --overwrite into a new folder has nothing to remove
            remove_previous(options.out)
        if not sink.store.remote:
            images.remove_temp_files(options.out)  # the lock is ours: any temporary file is a killed run's
        state.taken_over = held.taken_over
        if on_plan is not None:
            on_plan([plan_row(row) for row in plan.rows])
        return state.execute(run_jobs, settings, options.workers, progress)


def _redo_changed(state: _Run, since_ns: int | None) -> Plan:
    """On --resume, the plan with the outputs of sources modified since the interrupted run started written
    again (files); shards cannot be partly rewritten, so that is refused."""
    changed = changed_since(state.plan, state.dataset, since_ns)
    if changed and state.sink.kind != "files":
        raise OutputError(
            f"Cannot resume in '{state.out}': {len(changed)} source file(s) changed since the interrupted run started "
            f"(e.g. '{changed[0]}'), and {state.sink.kind} shards cannot be partly rewritten. Use --overwrite to "
            "start again."
        )
    state.changed_sources = changed
    return redo(state.plan, changed)


def _without_excluded(dataset: Dataset, exclude: Path | None) -> Dataset:
    """The dataset less the files a duplicates file drops (they are listed in the summary's ``excluded``)."""
    if exclude is None:
        return dataset

    dropped = set(exclusions(exclude, dataset))
    items = tuple(i for i in dataset.items if i.rel_path not in dropped)
    return dataclasses.replace(dataset, items=items, excluded=tuple(sorted(dropped, key=natural_key)))


def _pipeline(options: ExpandOptions) -> tuple[dict[str, Any], bool]:
    """The run's serialised pipeline (or a generator's description), and whether outputs need partners."""
    if options.generator is None:
        return resolve_pipeline(options.preset, options.pipeline, options.style_refs), False

    info = inspect_generator(options.generator)
    return info.to_dict(), info.arity == 2


class _Run:
    """The state of one run while it executes: what finished, what failed, and why it stopped.

    The main process keeps per finished job 40 bytes per written output (size and SHA-256) and one
    record per failure; manifest rows are rebuilt from the plan, the results and the sink.
    """

    def __init__(self, dataset: Dataset, plan: Plan, arguments: dict, pipeline: dict, started: float, sink: Sink,
                 label_files: LabelFiles | None):  # fmt: skip
        self.dataset, self.plan, self.arguments, self.pipeline = dataset, plan, arguments, pipeline
        self.started, self.sink, self.label_files = started, sink, label_files
        self.finished: dict[str, JobResult] = {}
        self.failed: dict[str, Record] = {}
        self.stopped = ""  # why the run stopped early (disk full, I/O error, the store), else ""
        self.stopped_by = ""  # "disk" or "store": what the user fixes before --resume
        self.taken_over: dict[str, Any] | None = None
        self.out = arguments["out"] if sink.store.remote else Path(arguments["out"])
        self.manifest_error = ""
        self.dataset_files: dict[str, str] = {}  # a labelled run's dataset-level files (data.yaml, ...) and SHA-256
        self.first_started_ns = time.time_ns()  # the first try's start, carried through --resume
        self.changed_sources: list[str] = []  # sources modified since then, whose outputs were written again

    def execute(self, run_jobs, settings: Settings, workers: int, progress: bool) -> ExpandResult:
        resumed = sum(len(job.done) for job in self.plan.jobs)
        todo = [job for job in self.plan.jobs if len(job.done) < job.size]
        try:
            write_summary(self.sink.store, self.result("running", resumed).summary)
        except ExpanderError:
            raise  # the store refuses or cannot be reached: its own message says so
        except OSError as e:
            why = e.strerror or e
            raise OutputError(f"Cannot write in output folder '{self.out}': {why}. Free space or fix it.") from e
        reserve_space(self.out, self.plan.outputs)
        bar = _progress_bar(self.plan.outputs - resumed, progress)
        try:
            for result in run_jobs(todo, settings, workers):
                self.failed.update((r.output, r) for r in result.failed)
                bar.update(result.attempted)
                if result.stopped:
                    self.stopped, self.stopped_by = result.stopped, result.stopped_by
                    break  # leaving the loop stops the pool: nothing more is scheduled
                self._into_sink(self.sink.add, result)
                if self.stopped:
                    break  # the sink could not write (a shard on a full disk)
            if not self.stopped:
                self._into_sink(self.sink.finish)
        except KeyboardInterrupt:
            bar.close()
            with impatient():  # the user is waiting: a store that does not answer is noted, not waited for
                self._finish("interrupted", resumed)
            raise
        bar.close()
        if self.stopped_by == "store":
            with impatient():  # the store was just waited for: the manifest is tried once, --resume rebuilds it
                return self._finish("stopped", resumed)
        return self._finish("stopped" if self.stopped else "complete", resumed)

    def _into_sink(self, write, *result: JobResult) -> None:
        """Hand results to the sink and keep what it stored; a sink that cannot write (disk full, store gone) stops
        the run like a worker's full disk does: what it stored is recorded, ``--resume`` does the rest."""
        try:
            write(*result)
        except (StoreError, StoreUnavailable) as e:
            self.stopped, self.stopped_by = str(e).rstrip("."), "store"
        except OSError as e:
            self.stopped, self.stopped_by = f"{e.strerror or e} writing '{e.filename or self.out}'", "disk"
        for stored in self.sink.take_written():  # their bytes are in the sink now: keep the checksums only
            self.finished[stored.source] = dataclasses.replace(stored, samples=()) if stored.samples else stored

    def _finish(self, status: str, resumed: int) -> ExpandResult:
        """Clean up and write the dataset-level files, the manifest and the summary; a run that stopped early
        lists what it left in the sink."""
        if not self.sink.store.remote:
            images.remove_temp_files(self.out)  # a worker killed mid-write (its batch was retried) may leave one
        release_space(self.out)
        try:
            if status != "complete":
                self.plan = self.sink.left_by_stop(self.plan, self.finished)
            self._put_dataset_files()
            self.sink.close_run()
            result = self.result(status, resumed, exact=True)
            write_manifest(self.sink.store, result.records())
            write_summary(self.sink.store, result.summary)
        except (OSError, StoreError, StoreUnavailable) as e:
            why = getattr(e, "strerror", None) or e
            self.manifest_error = f"{why} writing {MANIFEST_NAME}/{SUMMARY_NAME} in '{self.out}'"
            result = self.result(status, resumed)
        return result

    def _put_dataset_files(self) -> None:
        """data.yaml, the COCO JSON, VOC's lists: made by the format from the outputs in the sink, in plan order,
        if the sink keeps them."""
        rows = functools.partial(records, self.plan, self.finished, self.failed, self.sink, look=False)
        self.dataset_files = self.sink.put_dataset_files(
            functools.partial(run_labels.dataset_files, self.dataset, self.plan, rows)
        )

    def result(self, status: str, resumed: int = 0, exact: bool = False) -> ExpandResult:
        """The run as it stands. ``exact``: outputs written before this run are looked up in the sink (hashed),
        as the final summary and manifest need; else counted only."""
        elapsed = time.perf_counter() - self.started
        rows = records(self.plan, self.finished, self.failed, self.sink, self.label_files, look=exact)
        summary = run_summary(self.dataset, self.plan, self.arguments, self.pipeline, status, rows, resumed, elapsed)
        summary["stopped"] = self.stopped or None
        summary["stopped_by"] = self.stopped_by or None
        summary["manifest_error"] = self.manifest_error or None
        summary["took_over_lock"] = self.taken_over
        summary["started_ns"] = self.first_started_ns
        summary["changed_sources"] = self.changed_sources
        summary["sink"] = self.sink.kind
        if summary.get("labels"):
            summary["labels"]["files"] = sorted(self.dataset_files)
            summary["labels"]["files_sha256"] = self.dataset_files
        index = self.sink.index()
        if index is not None:
            summary["shards"] = {k: index[k] for k in ("format", "files", "samples")} | {"index": "shards.json"}
        return ExpandResult(self.dataset.location, self.out, status, self.plan, self.finished, self.failed, self.sink,
                            resumed, elapsed, summary, self.label_files)  # fmt: skip


def _executor(options: ExpandOptions):
    """A context giving ``connect()``, which returns the function that runs jobs: the local pool or Ray tasks
    (same records, same files)."""
    if options.backend == "ray" and not options.dry_run:
        return RaySession(options.address, options.workers)  # checks that Ray is installed
    return contextlib.nullcontext(lambda: execute)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return _NoProgress()  # a quiet run does not import tqdm (15 ms before the first job)
    from tqdm import tqdm  # lazy: tqdm costs ~13 ms to import; only a run that shows a bar needs it

    tqdm.monitor_interval = 0  # no monitor thread: the pool forks
    return tqdm(total=total, unit="img", desc="expanding", file=sys.stderr, smoothing=0.1)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
