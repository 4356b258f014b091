"""The output folder's rules: where it may be, who may write it, what --overwrite and --resume may do.

* It is never inside the source, nor does it contain it, through any link (``check_location``).
* One run writes it at a time: ``OutputLock`` holds an exclusive lock (``flock``) for the whole run.
  The kernel drops the lock when its holder dies, even by SIGKILL, so a stale lock file is simply
  taken over; a live holder is named in the error.
* ``--overwrite`` deletes only what the previous run's manifest lists, plus its own bookkeeping,
  and only when ``expander.json`` is one of ours (``remove_previous``): never a user's file.
* A plan is refused before anything is written when it is absurdly large or clearly does not fit
  on the disk (``check_capacity``), with the figures and the option that overrides it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import fcntl
import json
import os
import posixpath
import shutil
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from expander import images
from expander.dataset import Dataset
from expander.errors import OutputError
from expander.manifest import MANIFEST_NAME, SUMMARY_NAME, read_manifest, read_summary, summary_problem
from expander.plan import Plan
from expander.sinks import sink_files
from expander.storage import LocalStore, Store, is_url, open_store, safe_relative

LOCK_NAME = ".expander.lock"
RESERVE_NAME = ".expander.reserve"  # a folder: space and inodes set aside for the manifest, summary, dataset files
RESERVE_INODES = 16  # manifest.csv and expander.json (each written to a new inode, then renamed) and dataset files
_HIDDEN_BOOKKEEPING = (LOCK_NAME, RESERVE_NAME)
# Bytes per pixel of a new image at --size, by format: generous for photos, so that the estimate
# errs toward refusing only what clearly does not fit.
_BYTES_PER_PIXEL = {"jpg": 0.5, "webp": 0.5, "png": 3.0, "bmp": 3.0, "tiff": 3.0}


def check_location(dataset: Dataset, out: Path | str) -> None:
    """Refuse an output folder inside the source, containing it, or not a folder.

    The source's folders are compared by their real paths (``Dataset.folders``), so a class folder
    that is a link to another place protects that place too. In an object store, by their URLs.
    """
    if is_url(out) or dataset.url:
        _check_urls(dataset.location, str(out))
        return
    out = Path(out)
    src = dataset.root
    src_real = Path(os.path.realpath(src))
    out_real = Path(os.path.realpath(out))
    folders = [src_real, *(f for f in dataset.folders if f != src_real)]
    for folder in folders:
        if out_real == folder or folder in out_real.parents:
            raise OutputError(
                f"Output folder '{out}' is inside the source folder '{src}'"
                + (f" (through a link to '{folder}')" if folder != src_real else "")
                + "; the source is never written to. Choose an --out outside it."
            )
    for folder in folders:
        if out_real in folder.parents:
            raise OutputError(f"Output folder '{out}' contains the source folder '{folder}'. Choose another --out.")
    if out.exists() and not out.is_dir():
        raise OutputError(f"Output '{out}' exists and is not a folder. Choose another --out.")


def _check_urls(src: str, out: str) -> None:
    src, out = src.rstrip("/"), out.rstrip("/")
    if out == src or out.startswith(src + "/"):
        raise OutputError(
            f"Output '{out}' is inside the source '{src}'; the source is never written to. Choose another --out."
        )
    if src.startswith(out + "/"):
        raise OutputError(f"Output '{out}' contains the source '{src}'. Choose another --out.")


def check_contents(
    out: Path | str,
    arguments: dict[str, Any],
    pipeline: dict,
    compared: tuple[str, ...],
    *,
    resume: bool,
    overwrite: bool,
) -> dict[str, Any] | None:
    """What --resume/--overwrite may do with the folder's (or prefix's) contents; return the previous summary.

    ``compared`` names the arguments that must match for --resume.
    """
    if resume and overwrite:
        raise OutputError("Give either --resume or --overwrite, not both.")
    store = open_store(out)
    if not _has_contents(store):
        return None
    previous = read_summary(store)
    problem = summary_problem(previous)
    if resume:
        if problem or previous is None:
            raise OutputError(f"Cannot resume in '{out}': {problem}. Choose an empty --out.")
        changed = [k for k in compared if previous["arguments"].get(k) != arguments[k]]
        changed += ["pipeline"] if previous.get("pipeline") != pipeline else []
        if changed:
            raise OutputError(
                f"Cannot resume in '{out}': it was written with different {', '.join(changed)}. "
                "Repeat the original command with --resume, or use --overwrite to start again."
            )
        return previous
    if not overwrite:
        raise OutputError(
            f"Output folder '{out}' is not empty. Use --resume to finish an interrupted run, "
            "--overwrite to replace a previous expander output, or choose another --out."
        )
    if problem or previous is None:
        raise OutputError(
            f"Refusing to overwrite '{out}': {problem}, so it may hold files you need. "
            "Empty it yourself or choose another --out."
        )
    if previous.get("status") == "running" or not store.exists(MANIFEST_NAME):
        raise OutputError(
            f"Refusing to overwrite '{out}': its last run was killed before it wrote {MANIFEST_NAME}, so which "
            "files it wrote is not recorded. Run that command again with --resume to finish it (then "
            "--overwrite works), or empty the folder yourself."
        )
    return previous


def _has_contents(store: Store) -> bool:
    if not isinstance(store, LocalStore):
        return bool(store.files())
    out = store.root
    if not out.is_dir():
        return False
    with os.scandir(out) as entries:
        return any(entry.name not in _HIDDEN_BOOKKEEPING for entry in entries)


def lock(out: Path | str):
    """``OutputLock`` for a folder. An object store has no lock: one writer per prefix is the caller's to ensure
    (a run that was killed is still refused without --resume, by its summary's "running" status)."""
    return contextlib.nullcontext(_NoLock()) if is_url(out) else OutputLock(Path(out))


class _NoLock:
    taken_over = None


class OutputLock:
    """``with OutputLock(out):`` creates ``out`` if needed and holds it exclusively for the run.

    Raises:
        OutputError: the folder cannot be created or written, or another run holds it.
    """

    def __init__(self, out: Path):
        self.out = out
        self.path = out / LOCK_NAME
        self.fd: int | None = None
        self.created = False
        self.taken_over: dict[str, Any] | None = None  # the holder a killed run left in the lock file

    def __enter__(self) -> OutputLock:

        try:
            self.created = not self.out.exists()
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(
                f"Cannot create output folder '{self.out}': {e.strerror}. Choose a writable --out."
            ) from e
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutputError(
                    f"Cannot write in output folder '{self.out}': {e.strerror}. "
                    "Make it writable or choose another --out."
                ) from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(_read_holder(fd))
                os.close(fd)
                raise OutputError(
                    f"Another expander run ({holder}) is writing to '{self.out}'. Wait for it to finish (or stop "
                    "it), or choose another --out."
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the previous holder removed the file between our open and our lock: take the new one
        self.taken_over = _read_holder(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_holder()).encode())
        self.fd = fd
        _HELD.add(fd)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still locked: the next run then creates a fresh file
            _HELD.discard(self.fd)
            os.close(self.fd)
            self.fd = None
        if exc[0] is not None and self.created:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # refused before anything was written: leave no empty folder behind


# Lock descriptors this process holds. A forked worker closes its copies at once, so the lock lives
# exactly as long as the main process: a killed run's dying workers never keep its folder locked.
_HELD: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)  # closes this process's copy only; the holder's lock stays
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


def _holder() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}: {holder.get('command')}"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def reserve_space(out: Path | str, planned: int) -> None:
    """Set aside room for the manifest, the summary and a labelled run's dataset files: 256 bytes per planned
    output (at most 64 MB) and RESERVE_INODES inodes (a disk can run out of inodes before bytes).

    Released by ``release_space`` just before they are written, so a run stopped by a full disk can
    still record what it wrote.

    Raises:
        OutputError: the disk is already too full to start.
    """
    if is_url(out):
        return  # an object store does not fill up
    size = min(64 << 20, 65536 + 256 * planned)
    folder = Path(out) / RESERVE_NAME
    try:
        release_space(out)  # a killed run's reserve
        folder.mkdir()
        for number in range(RESERVE_INODES - 1):  # the folder is one inode
            fd = os.open(folder / str(number), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                if number == 0:
                    _allocate(fd, size)
            finally:
                os.close(fd)
    except OSError as e:
        release_space(out)
        raise OutputError(
            f"Cannot set aside {size:,} bytes and {RESERVE_INODES} files for the manifest in '{out}': {e.strerror}. "
            "Free some space, or choose another --out."
        ) from e


def _allocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.write(fd, bytes(size))  # a filesystem without fallocate: real zeros hold the space


def release_space(out: Path | str) -> None:
    if is_url(out):
        return
    reserve = Path(out) / RESERVE_NAME
    if reserve.is_dir() and not reserve.is_symlink():
        shutil.rmtree(reserve, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            reserve.unlink()  # the file a run before this version left


def safe_output_path(out: Path, rel_path: str) -> Path | None:
    """``out / rel_path`` when a manifest path stays inside ``out``; None for absolute or ``..`` paths."""
    if not safe_relative(rel_path):
        return None
    path = out / rel_path
    real_out = os.path.realpath(out)
    return path if os.path.realpath(path).startswith(real_out + os.sep) else None


def remove_previous(out: Path | str) -> int:
    """Delete what the previous run's manifest lists and its bookkeeping (not the lock); return files deleted.

    Folders left empty by that are removed too; anything else in ``out`` is kept.
    """
    store = open_store(out)
    try:
        rows = read_manifest(store)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise OutputError(
            f"Refusing to overwrite '{out}': its {MANIFEST_NAME} cannot be read ({e}), so which files the last run "
            "wrote is not known. Empty the folder yourself or choose another --out."
        ) from None
    removed = 0
    folders: set[str] = set()
    summary = read_summary(store) or {}
    label_files = (summary.get("labels") or {}).get("files") or [] if isinstance(summary.get("labels"), dict) else []
    listed = [name for row in rows for name in [row.get("output") or "", *(row.get("labels") or "").split(";")] if name]
    names = [*listed, *(f for f in [*label_files, *sink_files(summary)] if isinstance(f, str) and f)]
    if not isinstance(store, LocalStore):
        for name in names:
            if safe_relative(name):
                store.delete(name)
                removed += 1
        for name in (MANIFEST_NAME, SUMMARY_NAME):
            store.delete(name)
        return removed
    out = store.root
    for name in names:
        path = safe_output_path(out, name)
        if path is None or not path.is_file() or path.is_symlink():
            continue
        path.unlink()
        removed += 1
        folders.add(posixpath.dirname(name))
    for name in (MANIFEST_NAME, SUMMARY_NAME):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    images.remove_temp_files(out)
    for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
        while folder:
            with contextlib.suppress(OSError):  # not empty: the user's files stay, and so does the folder
                (out / folder).rmdir()
            folder = posixpath.dirname(folder)
    return removed


def check_capacity(
    plan: Plan,
    dataset: Dataset,
    out: Path | str,
    *,
    size: tuple[int, int] | None,
    max_outputs: int | None,
    check_space: bool,
) -> None:
    """Refuse a plan above ``max_outputs`` files, or one whose estimated size clearly exceeds the free space."""
    planned = plan.outputs
    if max_outputs is not None and planned > max_outputs:
        raise OutputError(
            f"The plan has {planned:,} outputs, over the limit of {max_outputs:,}. Check the quota "
            "(--per-image, --target-per-class), or raise the limit with --max-outputs if you mean it."
        )
    if not check_space or is_url(out):
        return  # an object store has no free space to compare with
    out = Path(out)
    needed = _estimated_bytes(plan, dataset, size)
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise OutputError(
            f"The plan needs about {needed / 1e9:.2f} GB ({planned:,} files) but '{probe}' has {free / 1e9:.2f} GB "
            "free. Free some space, choose another --out, or reduce the quota; --no-space-check skips this "
            "estimate."
        )


def _estimated_bytes(plan: Plan, dataset: Dataset, size: tuple[int, int] | None) -> int:
    total = 0
    for job in plan.jobs:
        pending = job.size - len(job.done)
        if not pending:
            continue
        if size is not None:
            fmt = images.format_of(f"new{job.ext}" if job.copies and job.ext else job.source)
            total += int(size[0] * size[1] * _BYTES_PER_PIXEL.get(fmt, 3.0)) * pending
            continue
        try:
            total += (dataset.root / job.source).stat().st_size * pending
        except OSError:
            continue  # reported when the job runs
    return total


def changed_since(plan: Plan, dataset: Dataset, since_ns: int | None) -> list[str]:
    """The sources with outputs already written whose image or label files were modified after ``since_ns`` (the
    interrupted run's start): their outputs no longer match them. A dataset-level label file (a COCO JSON,
    data.yaml) modified since then changes every source. Local datasets only (an object store's listing has no
    modification times here); a file copied in with an older modification time is not seen (verify --replay is)."""
    if since_ns is None or dataset.url is not None:
        return []
    root = Path(dataset.root)

    def modified(rel: str) -> bool:
        try:
            return (root / rel).stat().st_mtime_ns > since_ns
        except OSError:
            return True  # gone or unreadable: its outputs are written again, and fail there if they must

    shared = dataset.labels is not None and any(modified(f) for f in dataset.labels.files)
    return [
        job.source
        for job in plan.jobs
        if job.done
        and (
            shared
            or any(modified(f) for f in (job.source, *(job.objects.label_files if job.objects is not None else ())))
        )
    ]


def redo(plan: Plan, sources: list[str]) -> Plan:
    """The plan with the outputs of ``sources`` to be written again."""
    again = set(sources)
    jobs = tuple(dataclasses.replace(job, done=frozenset()) if job.source in again else job for job in plan.jobs)
    return dataclasses.replace(plan, jobs=jobs)
