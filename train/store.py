"""A study's store: training subsets, cached expansions and finished runs, so a study can resume.

Everything is addressed by what determines it, never by when it was made:

* ``subsets/<key>/<class>/<file>``: symlinks to the training originals of one subset, the folder
  that gets expanded (so an expansion can only ever see training images);
* ``expansions/<key>/``: ``expander.expand`` output for (subset, preset, per-image N, seed);
  reused when complete, resumed when interrupted;
* ``runs/<key>.json``: one finished training run, keyed by its data, model configuration and seed.
  Training is deterministic, so a stored run is the run that would be trained again.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from expander import expand
from expander.images import TEMP_SUFFIX, write_atomic
from expander.manifest import read_manifest, read_summary
from train.data import Sample
from train.errors import TrainError

STORE_VERSION = 2  # bump when a stored run's meaning changes; old runs are then ignored


def digest(value) -> str:
    """A short stable hash of a JSON-able value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def samples_digest(samples: tuple[Sample, ...]) -> str:
    """The set of samples, whatever their order (what a subset or an expansion holds)."""
    return digest(sorted((s.path, s.label) for s in samples))


def ordered_digest(samples: tuple[Sample, ...]) -> str:
    """The samples in their order: a run's batches are seeded permutations of its training set's order."""
    return digest([(s.path, s.label) for s in samples])


def _cpu_seconds() -> float:
    """CPU time of this process tree: this process, its reaped children, and each live descendant with the
    children it reaped (a fork server's finished pool workers are the fork server's to reap, not ours)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    stats = {}
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone
        stats[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))  # ppid; utime..cstime
    tick, tree, stack = os.sysconf("SC_CLK_TCK"), 0, [os.getpid()]
    while stack:
        parent = stack.pop()
        for pid, (ppid, ticks) in stats.items():
            if ppid == parent:
                tree += ticks
                stack.append(pid)
    return total + tree / tick


def writable_folder(folder: Path, option: str, what: str = "write in") -> Path:
    """``folder`` once a file could be written in it, or in the nearest folder above it that exists (where it
    will be made): a store or report folder that cannot take a file (read-only, under a file) is refused before
    any training, not after the first run trained for minutes, and nothing is made when it is refused (root
    passes permission checks, so only a write tells).

    Raises:
        TrainError: naming the folder, the option and why.
    """
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise TrainError(f"Cannot {what} {option} '{folder}': '{blocking}' is a file, not a folder. Choose another "
                         f"{option}.")  # fmt: skip
    nearest = next(p for p in (folder, *folder.parents) if p.exists())
    try:
        handle, probe = tempfile.mkstemp(dir=nearest, prefix=".write-probe-")
        os.close(handle)
        Path(probe).unlink()
    except OSError as e:
        raise TrainError(f"Cannot {what} {option} '{folder}': {e.strerror or e}. Nothing was trained. Choose "
                         f"another {option}.") from None  # fmt: skip
    return folder


class StudyStore:
    def __init__(self, root: str | Path):
        """A store in the folder ``root``, made if missing; refused before any training when it cannot be.

        Raises:
            TrainError: ``root`` is a file, lies under one, or cannot be made.
        """
        self.root = writable_folder(Path(root), "--store", "keep runs in")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TrainError(f"Cannot keep runs in --store '{self.root}': {e.strerror or e}. Choose another "
                             "--store.") from None  # fmt: skip

    # --- subsets and expansions -------------------------------------------------------------

    def subset_folder(self, samples: tuple[Sample, ...], classes: tuple[str, ...]) -> Path:
        """A folder of symlinks to ``samples`` in ``<class>/<file>`` layout (the input of an expansion)."""
        folder = self.root / "subsets" / samples_digest(samples)
        for s in samples:
            link = folder / classes[s.label] / Path(s.path).name
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                tmp = link.with_name(f".{link.name}{TEMP_SUFFIX}")
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(s.path)
                tmp.replace(link)
        return folder

    def expansion(
        self,
        samples: tuple[Sample, ...],
        classes: tuple[str, ...],
        *,
        preset: str | None = None,
        pipeline: dict | None = None,
        per_image: int,
        seed: int,
        workers: int | None = None,
        progress: bool = False,
    ) -> tuple[Sample, ...]:
        """The new images expander makes from ``samples`` (originals not included), expanding only if needed.

        Made with ``preset``, or with ``pipeline`` (a serialised pipeline, kept under pipelines/ by its digest).
        """
        out = self._expanded(samples, classes, preset, pipeline, per_image, seed, workers, progress)
        sources = {f"{classes[s.label]}/{Path(s.path).name}": s for s in samples}  # manifest's source column
        new = []
        for row in read_manifest(out):
            if row["status"] == "ok":
                original = sources[row["source"]]
                new.append(Sample(str((out / row["output"]).resolve()), original.label, original.key))
        return tuple(new)

    def copies(
        self, samples: tuple[Sample, ...], classes: tuple[str, ...], *, preset: str, per_image: int, seed: int,
        workers: int | None = None, progress: bool = False,
    ) -> tuple[tuple[Sample, ...], ...]:  # fmt: skip
        """``per_image`` views of ``samples``: view k holds copy k+1 of every sample, in ``samples``' order.

        Raises:
            TrainError: a copy failed to be made (each view needs every image).
        """
        out = self._expanded(samples, classes, preset, None, per_image, seed, workers, progress)
        made = {(row["source"], row["copy"]): row for row in read_manifest(out) if row["status"] == "ok"}
        views = []
        for k in range(1, per_image + 1):
            view = []
            for s in samples:
                row = made.get((f"{classes[s.label]}/{Path(s.path).name}", str(k)))
                if row is None:
                    raise TrainError(f"Copy {k} of '{s.path}' was not made (see {out / 'manifest.csv'}).")
                view.append(Sample(str((out / row["output"]).resolve()), s.label, s.key))
            views.append(tuple(view))
        return tuple(views)

    def expansion_cost(self, samples: tuple[Sample, ...], preset: str, per_image: int, seed: int) -> dict | None:
        """CPU and wall seconds the expansion took when it was made here (None if made before costs were kept)."""
        path = self._expansion_folder(samples, preset, per_image, seed).with_suffix(".cost.json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _expansion_folder(self, samples: tuple[Sample, ...], name: str, per_image: int, seed: int) -> Path:
        return self.root / "expansions" / f"{samples_digest(samples)}-{name}-n{per_image}-s{seed}"

    def _expanded(self, samples, classes, preset, pipeline, per_image, seed, workers, progress) -> Path:
        """The expansion's folder, complete: made (or resumed) if needed, its cost kept beside it."""
        subset = self.subset_folder(samples, classes)
        pipeline_file = self._pipeline_file(pipeline) if pipeline is not None else None
        name = preset if pipeline_file is None else pipeline_file.stem
        out = self._expansion_folder(samples, name, per_image, seed)
        summary = read_summary(out) if out.is_dir() else None
        if summary is None or summary.get("status") != "complete":
            bar = progress and sys.stderr.isatty()  # a log file gets the runs' lines, not a bar's frames
            cpu, wall = _cpu_seconds(), time.perf_counter()
            expand(subset, out, per_image=per_image, preset=preset, pipeline=pipeline_file, seed=seed,
                   originals=False, workers=workers, resume=summary is not None, progress=bar)  # fmt: skip
            cost = {"cpu_seconds": _cpu_seconds() - cpu, "wall_seconds": time.perf_counter() - wall,
                    "resumed": summary is not None}  # fmt: skip
            write_atomic(out.with_suffix(".cost.json"), (json.dumps(cost) + "\n").encode("utf-8"))
        return out

    def _pipeline_file(self, pipeline: dict) -> Path:
        path = self.root / "pipelines" / f"p{digest(pipeline)}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, (json.dumps(pipeline, indent=2) + "\n").encode("utf-8"))
        return path

    # --- runs -------------------------------------------------------------------------------

    def run_path(self, key: str) -> Path:
        return self.root / "runs" / f"{key}.json"

    def load_run(self, key: str) -> dict | None:
        """The stored record of a finished run, or None: not there, from another store version, or damaged
        (a record that cannot be read is trained again and written over, not a traceback)."""
        path = self.run_path(key)
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            record = stored["record"] if stored.get("version") == STORE_VERSION else None
        except (OSError, ValueError, KeyError, AttributeError):
            return None
        return record if isinstance(record, dict) else None

    def save_run(self, key: str, spec: dict, record: dict) -> None:
        path = self.run_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": STORE_VERSION, "spec": spec, "record": record}, indent=1) + "\n"
        write_atomic(path, text.encode("utf-8"))
