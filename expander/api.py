"""``expand``: the library entry point. scan -> plan -> execute -> manifest, nothing else.

The CLI is a thin layer over this function; pipelines call it directly.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from expander import images
from expander.augment import probe_pipeline
from expander.errors import ExpanderError, OutputError
from expander.execute import JobResult, Settings, execute, start_workers_early
from expander.limits import DEFAULT_MAX_OUTPUTS, DEFAULT_MAX_PIXELS
from expander.manifest import (
    MANIFEST_NAME,
    SUMMARY_NAME,
    SUMMARY_SCHEMA,
    Record,
    file_digest,
    package_versions,
    write_manifest,
    write_summary,
)
from expander.output import (
    OutputLock,
    check_capacity,
    check_contents,
    check_location,
    mark_done,
    release_space,
    remove_previous,
    reserve_space,
)
from expander.pipeline import DEFAULT_PRESET, resolve_pipeline
from expander.plan import Plan, PlanRow, Quota, make_plan
from expander.scan import Dataset, scan

# Arguments that change what is written; --resume refuses to mix runs that differ in any.
_OUTPUT_ARGUMENTS = (
    "source", "per_image", "balance", "target_per_class", "classes", "seed",
    "originals", "format", "quality", "size", "max_pixels",
)  # fmt: skip


@dataclass(frozen=True)
class ExpandResult:
    """What a run did. ``to_dict()`` is the JSON summary written to ``expander.json``."""

    source: Path
    out: Path
    status: str  # "complete", "dry-run", "interrupted" or "stopped" (disk full or a failing disk)
    plan: Plan  # each job's ``done`` holds the outputs found on disk (resumed, or left by a stopped run)
    finished: dict[str, JobResult] = field(repr=False)  # source -> its job's result, for jobs run to the end
    failed: dict[str, Record] = field(repr=False)  # output path -> what went wrong
    dst_root: Path | None = field(default=None, repr=False)  # where outputs found on disk are hashed
    resumed: int = 0
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict, repr=False)

    def records(self) -> Iterator[Record]:
        """One record per planned output that was attempted, in plan order (the manifest's rows)."""
        return _records(self.plan, self.finished, self.failed, self.dst_root)

    @property
    def written(self) -> frozenset[str]:
        """Output paths on disk, resumed ones included."""
        records = _records(self.plan, self.finished, self.failed, None)  # no need to hash resumed files
        return frozenset(r.output for r in records if r.status == "ok")

    @property
    def failures(self) -> list[dict[str, str]]:
        return self.summary["failures"]

    @property
    def exit_code(self) -> int:
        """0 when every input was processed; 1 when any failed (the good ones are still written) or the run stopped."""
        return 1 if self.failures or self.status == "stopped" else 0

    def to_dict(self) -> dict[str, Any]:
        return self.summary


def default_out(src: str | os.PathLike) -> Path:
    """``<SRC>_expanded`` beside the source folder."""
    src = Path(src).resolve()
    return src.with_name(f"{src.name}_expanded")


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_size(size: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"64x48"`` or ``(64, 48)`` -> (width, height)."""
    if size is None:
        return None
    try:
        width, height = (int(v) for v in (size.lower().split("x") if isinstance(size, str) else size))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        raise ExpanderError(f"--size must be WIDTHxHEIGHT with positive integers, e.g. 64x64; got {size!r}.")
    return width, height


def expand(
    src: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    per_image: int | None = None,
    balance: bool = False,
    target_per_class: int | None = None,
    classes: list[str] | tuple[str, ...] | None = None,
    preset: str | None = None,
    pipeline: str | os.PathLike | None = None,
    style_refs: str | os.PathLike | None = None,
    generator: str | os.PathLike | None = None,
    seed: int = 0,
    workers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    originals: bool = True,
    format: str | None = None,
    quality: int = 95,
    size: str | tuple[int, int] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_outputs: int | None = DEFAULT_MAX_OUTPUTS,
    space_check: bool = True,
    progress: bool = False,
    on_plan: Callable[[list[dict[str, Any]]], None] | None = None,
) -> ExpandResult:
    """Write augmented copies of the images in ``src`` to ``out``.

    Without a quota, ``per_image=5``. Only the ``train`` split (or every class folder, without
    splits) is augmented; ``val``/``test`` are copied unchanged.

    Args:
        src: ``SRC/<class>/<image>`` or ``SRC/{train,val,test}/<class>/<image>``.
        out: output folder; default ``<SRC>_expanded`` beside ``src``.
        per_image: exactly this many new images per selected source image.
        balance: bring every selected class up to the size of the largest class.
        target_per_class: bring every selected class up to this many images.
        classes: augment only these classes; the others are copied.
        preset: a name from ``expander.pipeline.PRESETS`` (default ``keras``).
        pipeline: an albumentations JSON/YAML pipeline file (instead of ``preset``).
        style_refs: a folder of reference images; each new image is moved toward the style of one of
            them (FDA or histogram matching), after ``preset`` or ``pipeline`` if given, alone otherwise.
        generator: a Keras image-to-image model (``.keras``) that makes the new images instead of a
            pipeline, e.g. from ``train augnet``; two-image models get a partner of the same class.
        seed: run seed; the same arguments give byte-identical files.
        workers: processes to use; default all available cores (with ``backend="ray"`` and an
            ``address``, the cluster's CPUs are used instead).
        backend: ``"local"`` (a process pool) or ``"ray"`` (Ray tasks; ``pip install 'expander[ray]'``).
            Both write byte-identical files and the same manifest.
        address: with ``backend="ray"``, a running cluster (``"auto"`` or ``"HOST:PORT"``); default
            a local Ray runtime started for this run.
        originals: also copy every source image (byte for byte unless ``size``).
        format: ``jpg``, ``png`` or ``webp`` for new images; default each source's format.
        quality: JPEG/WebP quality, 1-100.
        size: ``"WxH"`` to resize every written image; default no resizing.
        resume: finish an interrupted run in ``out`` (same arguments required).
        overwrite: replace a previous expander output in ``out``.
        dry_run: plan only; write nothing.
        max_pixels: refuse (as a failed input) any image whose header says it has more pixels; None: no
            limit. Also caps ``size``.
        max_outputs: refuse a plan of more files than this; None: no limit.
        space_check: refuse a plan whose estimated size exceeds the free space on ``out``'s disk.
        progress: show a progress bar on stderr.
        on_plan: called with the plan rows (split, class, originals, new, total, augmented)
            once the output folder is checked, before anything is written.

    Raises:
        ExpanderError: bad arguments, source layout, pipeline or output folder, another run writing
            to ``out``, or a plan too large (nothing is written).
        KeyboardInterrupt: after cleaning up and writing the manifest of what is done; the partial run
            can be finished with ``resume``. (The CLI turns SIGTERM into ``errors.Terminated``, a
            KeyboardInterrupt.)
    """
    started = time.perf_counter()
    src = Path(src)
    dataset = scan(src)
    out = Path(out) if out is not None else default_out(src)
    if per_image is None and not balance and target_per_class is None:
        per_image = 5
    quota = Quota(per_image=per_image, balance=balance, target_per_class=target_per_class)
    size_wh = _check_options(format, quality, size, max_pixels)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ExpanderError(f"--workers must be 1 or more; got {workers}.")
    executor = _executor(backend, address, workers)
    if generator is not None:
        if preset or pipeline or style_refs:
            raise ExpanderError(
                "--generator makes the new images itself; leave out --preset, --pipeline and --style-refs."
            )
        from expander.generator import inspect_generator

        info = inspect_generator(generator)
        pipeline_dict = info.to_dict()
    else:
        pipeline_dict = resolve_pipeline(preset, pipeline, style_refs)
    if workers > 1 and not dry_run and backend == "local":
        start_workers_early(pipeline_dict)  # its imports run while this process plans
    plan = make_plan(
        dataset,
        quota,
        seed=seed,
        classes=tuple(classes) if classes else None,
        originals=originals,
        output_ext=f".{format}" if format else None,
        partners=generator is not None and info.arity == 2,
    )
    arguments = {
        "source": str(src.resolve()),
        "out": str(out.resolve()),
        "per_image": per_image,
        "balance": balance,
        "target_per_class": target_per_class,
        "classes": list(classes) if classes else None,
        "preset": None if pipeline or generator or (style_refs and not preset) else (preset or DEFAULT_PRESET),
        "pipeline_file": str(pipeline) if pipeline else None,
        "style_refs": str(Path(style_refs).resolve()) if style_refs else None,
        "generator": str(Path(generator).resolve()) if generator else None,
        "seed": seed,
        "workers": workers,
        "backend": backend,
        "address": address,
        "originals": originals,
        "format": format,
        "quality": quality,
        "size": list(size_wh) if size_wh else None,
        "max_pixels": max_pixels,
    }
    check_location(dataset, out)
    run = _Run(dataset, plan, arguments, pipeline_dict, started)
    if dry_run:
        check_contents(out, arguments, pipeline_dict, _OUTPUT_ARGUMENTS, resume=resume, overwrite=overwrite)
        return run.result("dry-run")
    if generator is None:
        augmented = [job.source for job in plan.jobs if job.copies][:10]
        probe_pipeline(pipeline_dict, dataset.root, augmented, size_wh, max_pixels)
    settings = Settings(str(src.resolve()), str(out.resolve()), pipeline_dict, quality, size_wh, max_pixels)
    with executor as run_jobs, OutputLock(out) as lock:  # connects to a Ray cluster, if any, before writing
        check_contents(out, arguments, pipeline_dict, _OUTPUT_ARGUMENTS, resume=resume, overwrite=overwrite)
        if resume:
            run.plan = mark_done(plan, out)
        check_capacity(run.plan, dataset, out, size=size_wh, max_outputs=max_outputs, check_space=space_check)
        if overwrite:
            remove_previous(out)
        images.remove_temp_files(out)  # the lock is ours: any temporary file is a killed run's
        run.taken_over = lock.taken_over
        if on_plan is not None:
            on_plan([_row_dict(row) for row in plan.rows])
        return run.execute(run_jobs, settings, workers, progress)


def _check_options(
    format: str | None,
    quality: int,
    size: str | tuple[int, int] | None,
    max_pixels: int | None,
) -> tuple[int, int] | None:
    """Validate the output options; return the size as (width, height)."""
    if format is not None and format not in images.OUTPUT_FORMATS:
        raise ExpanderError(f"--format must be one of {', '.join(images.OUTPUT_FORMATS)}; got {format!r}.")
    if not 1 <= quality <= 100:
        raise ExpanderError(f"--quality must be between 1 and 100; got {quality}.")
    if max_pixels is not None and max_pixels < 1:
        raise ExpanderError(f"--max-pixels must be 1 or more; got {max_pixels}.")
    size_wh = parse_size(size)
    if size_wh and max_pixels is not None and size_wh[0] * size_wh[1] > max_pixels:
        raise ExpanderError(
            f"--size {size_wh[0]}x{size_wh[1]} is {size_wh[0] * size_wh[1]:,} pixels per image, over --max-pixels "
            f"{max_pixels:,}. Choose a smaller --size, or raise --max-pixels if you mean it."
        )
    return size_wh


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
        self.out = Path(arguments["out"])
        self.manifest_error = ""

    def execute(self, run_jobs, settings: Settings, workers: int, progress: bool) -> ExpandResult:
        resumed = sum(len(job.done) for job in self.plan.jobs)
        todo = [job for job in self.plan.jobs if len(job.done) < job.size]
        try:
            write_summary(self.out, self.result("running", resumed).summary)
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
                    self.plan = mark_done(self.plan, self.out, skip=self.finished)
                    break  # leaving the loop stops the pool: nothing more is scheduled
                self.finished[result.source] = result
        except KeyboardInterrupt:
            bar.close()
            self._finish("interrupted", resumed)
            raise
        bar.close()
        return self._finish("stopped" if self.stopped else "complete", resumed)

    def _finish(self, status: str, resumed: int) -> ExpandResult:
        """Clean up and write the manifest and summary; a run that stopped early lists what is on disk."""
        images.remove_temp_files(self.out)  # a worker killed mid-write (its batch was retried) may leave one
        if status == "interrupted":
            self.plan = mark_done(self.plan, self.out, skip=self.finished)
        result = self.result(status, resumed)
        release_space(self.out)
        try:
            write_manifest(self.out, result.records())
            write_summary(self.out, result.summary)
        except OSError as e:
            self.manifest_error = f"{e.strerror or e} writing {MANIFEST_NAME}/{SUMMARY_NAME} in '{self.out}'"
            result = self.result(status, resumed)
        return result

    def result(self, status: str, resumed: int = 0) -> ExpandResult:
        elapsed = time.perf_counter() - self.started
        records = _records(self.plan, self.finished, self.failed, None)  # counts only: nothing to hash
        summary = _summary(self.dataset, self.plan, self.arguments, self.pipeline, status, records, resumed, elapsed)
        summary["stopped"] = self.stopped or None
        summary["manifest_error"] = self.manifest_error or None
        summary["took_over_lock"] = self.taken_over
        return ExpandResult(self.dataset.root, self.out, status, self.plan, self.finished, self.failed, self.out,
                            resumed, elapsed, summary)  # fmt: skip


def _executor(backend: str, address: str | None, workers: int):
    """A context giving the function that runs jobs: the local pool or Ray tasks (same records, same files)."""
    if backend == "local":
        if address is not None:
            raise ExpanderError("--address needs --backend ray.")
        return contextlib.nullcontext(execute)
    if backend == "ray":
        from expander.ray_executor import RaySession

        return RaySession(address, workers)  # checks that Ray is installed
    raise ExpanderError(f"--backend must be 'local' or 'ray'; got {backend!r}.")


def _records(
    plan: Plan, finished: dict[str, JobResult], failed: dict[str, Record], dst: Path | None
) -> Iterator[Record]:
    """Manifest rows in plan order: failures as recorded, written outputs rebuilt from the plan.

    Sizes and checksums come from the workers; outputs found on disk (resumed) are hashed here.
    """
    for job in plan.jobs:
        result = finished.get(job.source)
        if result is None and not job.done:
            continue  # nothing of it attempted yet
        position = 0
        for o in job.outputs:
            done = (o.copy_index or 0) in job.done
            if o.rel_path in failed:
                yield failed[o.rel_path]
            elif done or result is not None:
                digest = result.digest(position) if result is not None and not done else None
                if digest is None and dst is not None:
                    try:
                        digest = file_digest(dst / o.rel_path)
                    except OSError:
                        position += not done
                        continue  # gone since it was found (someone deleted it): not listed, --resume rewrites it
                size, sha = digest or (None, "")
                yield Record(o.rel_path, job.source, job.class_name, job.split, o.copy_index, o.seed, "ok",
                             partner=o.partner or "", size=size, sha256=sha)  # fmt: skip
            position += not done


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the pool forks
    return tqdm(total=total, unit="img", desc="expanding", file=sys.stderr, disable=not enabled, smoothing=0.1)


def _summary(
    dataset: Dataset,
    plan: Plan,
    arguments: dict,
    pipeline: dict,
    status: str,
    records: Iterable[Record],
    resumed: int,
    elapsed: float,
) -> dict[str, Any]:
    failed_sources: dict[str, str] = {}
    counts = {(row.split, row.class_name): {"originals": 0, "new": 0, "failed": 0} for row in plan.rows}
    written = failed_outputs = 0
    for r in records:  # a single pass: records may be a generator
        bucket = counts.setdefault((r.split, r.class_name), {"originals": 0, "new": 0, "failed": 0})
        if r.status == "ok":
            bucket["originals" if r.copy_index is None else "new"] += 1
            written += 1
        else:
            bucket["failed"] += 1
            failed_outputs += 1
            failed_sources.setdefault(r.source, r.error)
    for shown, reason in dataset.rejected:  # files the scan could not take (e.g. a name that is not UTF-8)
        failed_sources.setdefault(shown, reason)
    return {
        "schema": SUMMARY_SCHEMA,
        "status": status,
        "source": arguments["source"],
        "out": arguments["out"],
        "arguments": arguments,
        "pipeline": pipeline,
        "versions": package_versions("expander", "albumentations", "opencv-python-headless", "numpy"),
        "plan": [_row_dict(row) for row in plan.rows],
        "counts": [
            {"split": split, "class": cls, **c, "total": c["originals"] + c["new"]}
            for (split, cls), c in counts.items()
        ],
        "totals": {
            "planned": plan.outputs,
            "written": written,
            "resumed": resumed,
            "failed_outputs": failed_outputs,
            "failed_sources": len(failed_sources),
        },
        "failures": [{"source": s, "error": e} for s, e in failed_sources.items()],
        "ignored": dataset.ignored,
        "duration_s": round(elapsed, 3),
        "images_per_s": round((written - resumed) / elapsed, 1) if elapsed > 0 else None,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _row_dict(row: PlanRow) -> dict[str, Any]:
    return {
        "split": row.split,
        "class": row.class_name,
        "originals": row.originals,
        "new": row.new,
        "total": row.total,
        "augmented": row.augmented,
    }
