"""``expand``: the library entry point. options -> scan -> plan -> probe -> lock -> execute -> manifest.

The CLI is a thin layer over this function; pipelines call it directly. Each stage lives in its
own module; this one only calls them in order and keeps the state of a run while it executes.
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
from typing import TYPE_CHECKING, Any

from expander import images
from expander.augment import probe_pipeline
from expander.dataset import Dataset, natural_key
from expander.errors import OutputError, PipelineError
from expander.execute import JobResult, Settings, execute, start_workers_early
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
    check_capacity,
    check_contents,
    check_location,
    lock,
    mark_done,
    release_space,
    remove_previous,
    reserve_space,
)
from expander.pipeline import resolve_pipeline
from expander.plan import Plan, make_plan
from expander.scan import scan
from expander.storage import Store, is_url, open_store

if TYPE_CHECKING:
    from expander.shards.sink import ShardSink


@dataclass(frozen=True)
class ExpandResult:
    """What a run did. ``to_dict()`` is the JSON summary written to ``expander.json``."""

    source: Path | str  # a folder, or the URL of an object-store prefix
    out: Path | str
    status: str  # "complete", "dry-run", "interrupted" or "stopped" (disk full or a failing disk)
    plan: Plan  # each job's ``done`` holds the outputs found on disk (resumed, or left by a stopped run)
    finished: dict[str, JobResult] = field(repr=False)  # source -> its job's result, for jobs run to the end
    failed: dict[str, Record] = field(repr=False)  # output path -> what went wrong
    dst_root: Store | None = field(default=None, repr=False)  # where outputs found on disk are hashed
    resumed: int = 0
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict, repr=False)
    located: dict[str, tuple[str, int, str]] | None = field(default=None, repr=False)  # sharded: where each output is

    def records(self) -> Iterator[Record]:
        """One record per planned output that was attempted, in plan order (the manifest's rows)."""
        return records(self.plan, self.finished, self.failed, self.dst_root, self.label_format, located=self.located)

    @property
    def written(self) -> frozenset[str]:
        """Output paths on disk, resumed ones included."""
        rows = records(self.plan, self.finished, self.failed, None, located=self.located)  # no file hashed
        return frozenset(r.output for r in rows if r.status == "ok")

    @property
    def label_format(self) -> str | None:
        """The labelled dataset's format (yolo, coco, voc, masks), or None for class folders."""
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
    dataset = _without_excluded(scan(options.src, options.scan_labels), options.exclude)
    if dataset.labels is not None and is_url(options.out):
        raise OutputError("A labelled dataset (boxes, masks) is written to a local folder only; choose a local --out.")
    if dataset.labels is not None and options.generator is not None:
        raise PipelineError("--generator makes images without moving labels; a labelled dataset needs a pipeline.")
    pipeline, partners = _pipeline(options)
    if options.workers > 1 and not options.dry_run and options.backend == "local":
        start_workers_early(pipeline)  # a fork server's imports, if one is needed, run while this process plans
    plan = make_plan(
        dataset, options.quota, seed=options.seed, classes=options.classes, originals=options.originals,
        output_ext=f".{options.format}" if options.format else None, partners=partners,
    )  # fmt: skip
    if options.shards:
        if dataset.labels is not None:
            raise OutputError("--shards writes class-folder datasets; a labelled dataset is written as files.")
        from expander.shards.sink import shard_order  # imported only by sharded runs (tarfile and all)

        plan = dataclasses.replace(plan, jobs=tuple(shard_order(plan.jobs, options.seed, dataset.splits)))
    check_location(dataset, options.out)
    arguments = options.arguments()
    state = _Run(dataset, plan, arguments, pipeline, started)
    check = functools.partial(check_contents, options.out, arguments, pipeline, OUTPUT_ARGUMENTS,
                              resume=options.resume, overwrite=options.overwrite)  # fmt: skip
    if options.dry_run:
        check()
        return state.result("dry-run")
    if options.generator is None:
        augmented = [job.source for job in plan.jobs if job.copies][:10]
        probe_pipeline(pipeline, dataset.location, augmented, options.size, options.max_pixels)
    label_options = _label_options(options, dataset)
    settings = Settings(arguments["source"], arguments["out"], pipeline, options.quality, options.size,
                        options.max_pixels, label_options, shards=options.shards is not None)  # fmt: skip
    with _executor(options) as run_jobs, lock(options.out) as held:  # Ray connects before anything is written
        check()
        if options.shards:
            state.plan, state.sink = _sharded(plan, options, dataset)
        else:
            state.plan = mark_done(plan, options.out) if options.resume else plan
        check_capacity(state.plan, dataset, options.out, size=options.size, max_outputs=options.max_outputs,
                       check_space=options.space_check)  # fmt: skip
        if options.overwrite:
            remove_previous(options.out)
        if not is_url(options.out):
            images.remove_temp_files(options.out)  # the lock is ours: any temporary file is a killed run's
        state.taken_over = held.taken_over
        if on_plan is not None:
            on_plan([plan_row(row) for row in plan.rows])
        return state.execute(run_jobs, settings, options.workers, progress)


def _sharded(plan: Plan, options: ExpandOptions, dataset: Dataset) -> tuple[Plan, ShardSink]:
    """The plan and the shard sink of a sharded run; resumed, the jobs in shards already on disk are done."""
    from expander.shards.sink import ShardSink, ShardSize, completed_shards

    assert options.shards is not None
    store = open_store(options.out)
    located: dict[str, tuple[str, int, str]] = {}
    if options.resume:
        completed, located = completed_shards(store, options.shards, dataset.splits)
        jobs = [dataclasses.replace(j, done=frozenset(o.copy_index or 0 for o in j.outputs))
                if any(o.rel_path in located for o in j.outputs) else j for j in plan.jobs]  # fmt: skip
        plan = dataclasses.replace(plan, jobs=tuple(jobs))
    size = ShardSize.parse(options.shard_size)
    sink = ShardSink(store, options.shards, size, options.seed, dataset.classes, list(plan.jobs))
    if options.resume:
        sink.resume(completed, located)
    return plan, sink


def _without_excluded(dataset: Dataset, exclude: Path | None) -> Dataset:
    """The dataset less the files a duplicates file drops (they are listed in the summary's ``excluded``)."""
    if exclude is None:
        return dataset
    from expander.duplicates import exclusions

    dropped = set(exclusions(exclude, dataset))
    items = tuple(i for i in dataset.items if i.rel_path not in dropped)
    return dataclasses.replace(dataset, items=items, excluded=tuple(sorted(dropped, key=natural_key)))


def _label_options(options: ExpandOptions, dataset: Dataset):
    if dataset.labels is None:
        return None
    from expander.labels.worker import LabelOptions

    return LabelOptions.of(dataset.labels, options.min_visibility, options.keep_empty)


def _pipeline(options: ExpandOptions) -> tuple[dict[str, Any], bool]:
    """The run's serialised pipeline (or a generator's description), and whether outputs need partners."""
    if options.generator is None:
        return resolve_pipeline(options.preset, options.pipeline, options.style_refs), False
    from expander.generator import inspect_generator

    info = inspect_generator(options.generator)
    return info.to_dict(), info.arity == 2


class _Run:
    """The state of one run while it executes: what finished, what failed, and why it stopped.

    The main process keeps per finished job 40 bytes per written output (size and SHA-256) and one
    record per failure; manifest rows are rebuilt from the plan.
    """

    def __init__(self, dataset: Dataset, plan: Plan, arguments: dict, pipeline: dict, started: float):
        self.dataset, self.plan, self.arguments, self.pipeline = dataset, plan, arguments, pipeline
        self.started = started
        self.finished: dict[str, JobResult] = {}
        self.failed: dict[str, Record] = {}
        self.stopped = ""  # why the run stopped early (disk full, I/O error), else ""
        self.taken_over: dict[str, Any] | None = None
        self.out: Path | str = arguments["out"] if is_url(arguments["out"]) else Path(arguments["out"])
        self.store = open_store(self.out)
        self.manifest_error = ""
        self.label_files: list[str] = []  # dataset-level label files written (data.yaml, COCO JSON, ...)
        self.sink: ShardSink | None = None  # a sharded run's: only what it has put in shards is written

    def execute(self, run_jobs, settings: Settings, workers: int, progress: bool) -> ExpandResult:
        resumed = sum(len(job.done) for job in self.plan.jobs)
        todo = [job for job in self.plan.jobs if len(job.done) < job.size]
        try:
            write_summary(self.store, self.result("running", resumed).summary)
        except OSError as e:
            raise OutputError(f"Cannot write in output folder '{self.out}': {e.strerror}. Free space or fix it.") from e
        reserve_space(self.out, self.plan.outputs)
        bar = _progress_bar(self.plan.outputs - resumed, progress)
        try:
            for result in run_jobs(todo, settings, workers):
                self.failed.update((r.output, r) for r in result.failed)
                bar.update(result.attempted)
                if result.stopped:
                    self.stopped = result.stopped
                    break  # leaving the loop stops the pool: nothing more is scheduled
                self._written(self._into_shards(self.sink.add, result) if self.sink else [result])
                if self.stopped:
                    break  # a shard could not be written
            if self.sink is not None and not self.stopped:
                self._written(self._into_shards(self.sink.finish))
        except KeyboardInterrupt:
            bar.close()
            self._finish("interrupted", resumed)
            raise
        bar.close()
        return self._finish("stopped" if self.stopped else "complete", resumed)

    def _into_shards(self, write, *result: JobResult) -> list[JobResult]:
        """What the sink wrote; a shard that cannot be written (disk full, store gone) stops the run like a
        worker's full disk does: what is in complete shards is recorded, ``--resume`` does the rest."""
        assert self.sink is not None
        try:
            write(*result)
        except OSError as e:
            self.stopped = f"{e.strerror or e} writing a shard"
        return self.sink.take_written()

    def _written(self, results: list[JobResult]) -> None:
        for result in results:  # a sharded run's bytes are in their shard now: keep the checksums only
            self.finished[result.source] = dataclasses.replace(result, payloads=()) if result.payloads else result

    def _finish(self, status: str, resumed: int) -> ExpandResult:
        """Clean up and write the manifest and summary; a run that stopped early lists what is on disk."""
        if not self.store.remote:
            images.remove_temp_files(self.out)  # a worker killed mid-write (its batch was retried) may leave one
        if status != "complete" and self.sink is None:  # list the unfinished jobs' files that are on disk
            self.plan = mark_done(self.plan, self.out, skip=self.finished)
        result = self.result(status, resumed)
        release_space(self.out)
        try:
            if self.dataset.labels is not None:  # data.yaml, COCO JSON, ImageSets: from what is on disk
                from expander.labels.dataset_files import write_dataset_files

                assert isinstance(self.out, Path)  # labelled datasets are written to local folders
                self.label_files = write_dataset_files(self.dataset, self.plan, result.records(), self.out)
                result = self.result(status, resumed)
            if self.sink is not None:
                write_summary(self.store, self.sink.index(), self.sink.INDEX_NAME)
            write_manifest(self.store, result.records())
            write_summary(self.store, result.summary)
        except OSError as e:
            self.manifest_error = f"{e.strerror or e} writing {MANIFEST_NAME}/{SUMMARY_NAME} in '{self.out}'"
            result = self.result(status, resumed)
        return result

    def result(self, status: str, resumed: int = 0) -> ExpandResult:
        elapsed = time.perf_counter() - self.started
        label_format = self.dataset.labels.format if self.dataset.labels else None
        # Counts only: no image to hash; resumed outputs' label files are read for their objects.
        located = self.sink.located if self.sink is not None else None
        rows = records(self.plan, self.finished, self.failed, None, label_format, self.store, located)
        summary = run_summary(self.dataset, self.plan, self.arguments, self.pipeline, status, rows, resumed, elapsed)
        summary["stopped"] = self.stopped or None
        summary["manifest_error"] = self.manifest_error or None
        summary["took_over_lock"] = self.taken_over
        if summary.get("labels"):
            summary["labels"]["files"] = self.label_files
        if self.sink is not None:
            index = self.sink.index()
            summary["shards"] = {k: index[k] for k in ("format", "files", "samples")} | {"index": self.sink.INDEX_NAME}
        return ExpandResult(self.dataset.location, self.out, status, self.plan, self.finished, self.failed, self.store,
                            resumed, elapsed, summary, located)  # fmt: skip


def _executor(options: ExpandOptions):
    """A context giving the function that runs jobs: the local pool or Ray tasks (same records, same files)."""
    if options.backend == "ray":
        from expander.ray_executor import RaySession

        return RaySession(options.address, options.workers)  # checks that Ray is installed
    return contextlib.nullcontext(execute)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return _NoProgress()  # a quiet run does not import tqdm (15 ms before the first job)
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the pool forks
    return tqdm(total=total, unit="img", desc="expanding", file=sys.stderr, smoothing=0.1)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
