"""``expand``: the library entry point. scan -> plan -> execute -> manifest, nothing else.

The CLI is a thin layer over this function; pipelines call it directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from expander import images
from expander.errors import ExpanderError, OutputError
from expander.execute import Record, Settings, execute, start_workers_early
from expander.manifest import SUMMARY_NAME, package_versions, read_summary, write_manifest, write_summary
from expander.pipeline import DEFAULT_PRESET, resolve_pipeline
from expander.plan import Plan, PlanRow, Quota, make_plan
from expander.scan import Dataset, scan

# Arguments that change what is written; --resume refuses to mix runs that differ in any.
_OUTPUT_ARGUMENTS = (
    "source", "per_image", "balance", "target_per_class", "classes", "seed",
    "originals", "format", "quality", "size",
)  # fmt: skip


@dataclass(frozen=True)
class ExpandResult:
    """What a run did. ``to_dict()`` is the JSON summary written to ``expander.json``."""

    source: Path
    out: Path
    status: str  # "complete", "dry-run" or "interrupted"
    plan: Plan  # on a resumed run, each job's ``done`` holds the outputs found on disk
    finished: frozenset[str] = field(repr=False)  # sources whose job ran to the end in this run
    failed: dict[str, Record] = field(repr=False)  # output path -> what went wrong
    resumed: int = 0
    duration_s: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict, repr=False)

    def records(self) -> Iterator[Record]:
        """One record per planned output that was attempted, in plan order (the manifest's rows)."""
        return _records(self.plan, self.finished, self.failed)

    @property
    def written(self) -> frozenset[str]:
        """Output paths on disk, resumed ones included."""
        return frozenset(r.output for r in self.records() if r.status == "ok")

    @property
    def failures(self) -> list[dict[str, str]]:
        return self.summary["failures"]

    @property
    def exit_code(self) -> int:
        """0 when every input was processed, 1 when any failed (the good ones are still written)."""
        return 1 if self.failures else 0

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
    format: str | None = None,  # noqa: A002 - mirrors the --format option
    quality: int = 95,
    size: str | tuple[int, int] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
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
        progress: show a progress bar on stderr.
        on_plan: called with the plan rows (split, class, originals, new, total, augmented)
            once the output folder is checked, before anything is written.

    Raises:
        ExpanderError: bad arguments, source layout or output folder (nothing is written).
        KeyboardInterrupt: after cleaning up; the partial run can be finished with ``resume``.
    """
    started = time.perf_counter()
    src = Path(src)
    dataset = scan(src)
    out = Path(out) if out is not None else default_out(src)
    if per_image is None and not balance and target_per_class is None:
        per_image = 5
    quota = Quota(per_image=per_image, balance=balance, target_per_class=target_per_class)
    if format is not None and format not in images.OUTPUT_FORMATS:
        raise ExpanderError(f"--format must be one of {', '.join(images.OUTPUT_FORMATS)}; got {format!r}.")
    if not 1 <= quality <= 100:
        raise ExpanderError(f"--quality must be between 1 and 100; got {quality}.")
    size_wh = parse_size(size)
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
    }
    _check_output(src, out, arguments, pipeline_dict, resume=resume, overwrite=overwrite, dry_run=dry_run)

    # Only failures are kept as records, and finished jobs by their source; manifest rows are rebuilt
    # from the plan, so the main process holds nothing per output (a plan holds nothing per output either).
    finished: set[str] = set()
    failed: dict[str, Record] = {}

    def summarise(status: str, resumed: int) -> ExpandResult:
        elapsed = time.perf_counter() - started
        records = _records(plan, finished, failed)
        summary = _summary(dataset, plan, arguments, pipeline_dict, status, records, resumed, elapsed)
        return ExpandResult(src, out, status, plan, frozenset(finished), dict(failed), resumed, elapsed, summary)

    if dry_run:
        return summarise("dry-run", 0)
    if on_plan is not None:
        on_plan([_row_dict(row) for row in plan.rows])

    with executor as run_jobs:  # connects to a Ray cluster, if any, before anything is written
        if overwrite and out.exists():
            shutil.rmtree(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"Cannot create output folder '{out}': {e.strerror}. Choose a writable --out.") from e
        images.remove_temp_files(out)
        if resume:
            plan = _mark_done(plan, out)
        resumed = sum(len(job.done) for job in plan.jobs)
        todo = [job for job in plan.jobs if len(job.done) < job.size]
        write_summary(out, summarise("running", resumed).summary)

        # Absolute paths: Ray workers run in other folders, and on other nodes.
        settings = Settings(str(src.resolve()), str(out.resolve()), pipeline_dict, quality, size_wh)
        bar = _progress_bar(plan.outputs - resumed, progress)
        try:
            for result in run_jobs(todo, settings, workers):
                finished.add(result.source)
                failed.update((r.output, r) for r in result.failed)
                bar.update(result.attempted)
        except KeyboardInterrupt:
            bar.close()
            images.remove_temp_files(out)
            _finish(out, summarise("interrupted", resumed))
            raise
        bar.close()
        images.remove_temp_files(out)  # a worker killed mid-write (its batch was retried) may leave one behind
        return _finish(out, summarise("complete", resumed))


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


def _check_output(
    src: Path, out: Path, arguments: dict, pipeline: dict, *, resume: bool, overwrite: bool, dry_run: bool
) -> None:
    src_abs, out_abs = src.resolve(), out.resolve()
    if out_abs == src_abs or src_abs in out_abs.parents:
        raise OutputError(
            f"Output folder '{out}' is inside the source folder '{src}'; the source is never written to. "
            "Choose an --out outside it."
        )
    if out_abs in src_abs.parents:
        raise OutputError(f"Output folder '{out}' contains the source folder '{src}'. Choose another --out.")
    if resume and overwrite:
        raise OutputError("Give either --resume or --overwrite, not both.")
    if out.exists() and not out.is_dir():
        raise OutputError(f"Output '{out}' exists and is not a folder. Choose another --out.")
    if not out.exists() or not any(out.iterdir()):
        return
    previous = read_summary(out)
    if resume:
        if previous is None:
            raise OutputError(
                f"Cannot resume in '{out}': it has no {SUMMARY_NAME}, so it is not an expander output. "
                "Choose an empty --out."
            )
        changed = [k for k in _OUTPUT_ARGUMENTS if previous.get("arguments", {}).get(k) != arguments[k]] + (
            ["pipeline"] if previous.get("pipeline") != pipeline else []
        )
        if changed:
            raise OutputError(
                f"Cannot resume in '{out}': it was written with different {', '.join(changed)}. "
                "Repeat the original command with --resume, or use --overwrite to start again."
            )
    elif overwrite:
        if previous is None:
            raise OutputError(
                f"Refusing to overwrite '{out}': it has no {SUMMARY_NAME}, so it was not written by expander "
                "and may hold files you need. Empty it yourself or choose another --out."
            )
    elif not dry_run:
        raise OutputError(
            f"Output folder '{out}' is not empty. Use --resume to finish an interrupted run, "
            "--overwrite to replace a previous expander output, or choose another --out."
        )


def _mark_done(plan: Plan, out: Path) -> Plan:
    """The plan with each job's outputs that are already on disk (a resumed run) marked ``done``.

    Files only ever appear under their final name complete, so existing means finished.
    """
    jobs = []
    for job in plan.jobs:
        done = frozenset(o.copy_index or 0 for o in job.outputs if (out / o.rel_path).is_file())
        jobs.append(dataclasses.replace(job, done=done) if done else job)
    return dataclasses.replace(plan, jobs=tuple(jobs))


def _records(plan: Plan, finished: AbstractSet[str], failed: dict[str, Record]) -> Iterator[Record]:
    """Manifest rows in plan order: failures as recorded, written outputs rebuilt from the plan."""
    for job in plan.jobs:
        ran = job.source in finished
        if not ran and not job.done:
            continue  # nothing of it attempted yet
        for o in job.outputs:
            if o.rel_path in failed:
                yield failed[o.rel_path]
            elif ran or (o.copy_index or 0) in job.done:
                yield Record(o.rel_path, job.source, job.class_name, job.split, o.copy_index, o.seed, "ok",
                             partner=o.partner or "")  # fmt: skip


def _finish(out: Path, result: ExpandResult) -> ExpandResult:
    write_manifest(out, result.records())
    write_summary(out, result.summary)
    return result


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
    return {
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
