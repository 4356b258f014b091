"""The near-duplicate finders benchmarks/bench_dedup.py sets beside ``expander inspect``, each as its users run it.

    python benchmarks/dedup_peers.py METHOD FOLDER OUT.json   # the pairs METHOD finds among FOLDER's images

One method a process, so the parent can read each one's own time and peak memory (``os.wait4``). The peers are
what ``pip install -e ".[bench]"`` installs; none downloads a model (fastdup's is in its wheel).

- ``expander``: ``expander.inspection.inspect_dataset`` with 2 workers, the way ``expander inspect`` runs.
- ``phash``: imagehash's 64-bit pHash of every file, brute-force Hamming search at <= 6 bits (a notebook's way).
- ``imagededup``: imagededup's ``PHash`` with its default threshold (10 bits).
- ``fastdup``: fastdup's embedding and nearest neighbours, pairs at similarity >= 0.96 (its own clustering default).
- ``cleanvision``: cleanvision's ``near_duplicates`` check with its defaults.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

SUFFIXES = (".jpg", ".jpeg", ".png")


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)


def expander(root: Path) -> set[tuple[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from expander.inspection import inspect_dataset

    report = inspect_dataset(root, workers=2)
    found = {tuple(sorted(d["files"][:2])) for d in report["near_duplicates"]}
    for group in report["exact_duplicates"]:
        found |= {(a, b) for a in group["files"] for b in group["files"] if a < b}
    return found  # type: ignore[return-value]


def phash(root: Path, bits: int = 6) -> set[tuple[str, str]]:
    import imagehash
    from PIL import Image

    names = files(root)
    hashes = np.array([int(str(imagehash.phash(Image.open(root / f))), 16) for f in names], np.uint64)
    found = set()
    for start in range(0, len(hashes), 512):
        distance = _popcount(hashes[start : start + 512, None] ^ hashes[None, :])
        for i, j in zip(*np.nonzero(distance <= bits), strict=True):
            if start + i < j:
                found.add((names[start + i], names[j]))
    return found


def _popcount(x: np.ndarray) -> np.ndarray:
    """The set bits of each uint64 (numpy < 2, which the peers need, has no ``bitwise_count``)."""
    table = np.array([bin(v).count("1") for v in range(1 << 16)], np.uint8)
    return sum(table[(x >> np.uint64(shift)) & np.uint64(0xFFFF)].astype(np.int64) for shift in (0, 16, 32, 48))


def imagededup(root: Path) -> set[tuple[str, str]]:
    from imagededup.methods import PHash

    method = PHash(verbose=False)
    duplicates = method.find_duplicates(encoding_map=method.encode_images(image_dir=str(root), recursive=True))
    return {tuple(sorted((a, b))) for a, others in duplicates.items() for b in others}  # type: ignore[misc]


def fastdup(root: Path, similarity: float = 0.96) -> set[tuple[str, str]]:
    import fastdup as fd

    with tempfile.TemporaryDirectory() as work:
        run = fd.create(input_dir=str(root), work_dir=work)
        run.run(overwrite=True, num_threads=2, threshold=0.9, nearest_neighbors_k=5)
        table = run.similarity()
        near = table[table["distance"] >= similarity]
        return {
            tuple(sorted((Path(a).resolve().relative_to(root.resolve()).as_posix(),
                          Path(b).resolve().relative_to(root.resolve()).as_posix())))
            for a, b in zip(near["filename_from"], near["filename_to"], strict=True)
        }  # type: ignore[misc]  # fmt: skip


def cleanvision(root: Path) -> set[tuple[str, str]]:
    from cleanvision import Imagelab

    lab = Imagelab(data_path=str(root))
    lab.find_issues({"near_duplicates": {}}, verbose=False)
    found = set()
    for group in lab.info["near_duplicates"]["sets"]:
        names = sorted(Path(p).resolve().relative_to(root.resolve()).as_posix() for p in group)
        found |= {(a, b) for a in names for b in names if a < b}
    return found


METHODS = {"expander": expander, "phash": phash, "imagededup": imagededup, "fastdup": fastdup,
           "cleanvision": cleanvision}  # fmt: skip


def peak_mb() -> float:
    """This process's own peak resident memory since it started (VmHWM: not the parent's, which a forked child's
    ``ru_maxrss`` inherits), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    method, folder, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    found = sorted(METHODS[method](folder))
    out.write_text(json.dumps({"pairs": found, "peak_mb": peak_mb()}))
