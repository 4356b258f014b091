"""Near-duplicate search at 10k, 100k and 1M hashes: today's quadratic search vs the LSH search, side by side.

    .venv/bin/python benchmarks/bench_dedup.py            # about 5 minutes on 2 cores

Known duplicate groups come from real photos (../shared/datasets: dogs-vs-cats, aquarium, Penn-Fudan): each
photo, re-encoded at JPEG quality 50, shrunk to 90%, and cropped by 5% on every side, hashed the way
``expander inspect`` hashes (17x16 thumbnail, 256-bit dHash). There are not a million real photos here, so
100k and 1M are reached with uniformly random hashes as distractors, which belong to no group (real unrelated
photos are closer to each other than random bits are: the candidate load on real data is higher than here).
Each size runs both searches in interleaved rounds (the quadratic one only where it finishes in minutes; its
1M time is extrapolated from 100k by n^2) and reports time, peak memory (tracemalloc), recall against the
exact search, and precision and recall of the hash decision against the known groups.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent.parent / "shared" / "datasets"
SOURCES = ("dogs_vs_cats/train", "dogs_vs_cats/test", "aquarium_yolo", "pennfudan/PNGImages")


def variants(image: np.ndarray) -> list[np.ndarray]:
    """The photo and three copies a dataset really collects: re-encoded, shrunk, cropped."""
    height, width = image.shape[:2]
    jpeg = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 50])[1], cv2.IMREAD_COLOR)
    smaller = cv2.resize(image, (max(1, width * 9 // 10), max(1, height * 9 // 10)), interpolation=cv2.INTER_AREA)
    dy, dx = height // 20, width // 20
    return [image, jpeg, smaller, image[dy : height - dy, dx : width - dx]]


def real_groups(limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(hashes (n, 4), group id per hash) of up to ``limit`` photos and their variants."""
    from expander.inspection import dhashes, thumbnail

    paths = sorted(p for s in SOURCES for p in (DATASETS / s).rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    thumbs, groups = [], []
    for group, path in enumerate(paths[:limit]):
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for variant in variants(image):
            thumbs.append(np.frombuffer(thumbnail(variant), np.uint8).reshape(16, 17))
            groups.append(group)
    return dhashes(np.stack(thumbs)), np.array(groups)


def timed(search, hashes: np.ndarray, max_bits: int) -> tuple[set[tuple[int, int]], float]:
    started = time.perf_counter()
    found, _ = search(hashes, max_bits)
    return {tuple(p) for p in found.tolist()}, time.perf_counter() - started


def peak_memory(search, hashes: np.ndarray, max_bits: int) -> float:
    """MB allocated at the peak of one search, in a run of its own (tracing slows allocation-heavy code)."""
    tracemalloc.start()
    search(hashes, max_bits)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak


def decision_quality(found: set[tuple[int, int]], groups: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of 'within the radius' as 'same photo', over the pairs of real photos."""
    real = len(groups)
    truth = {
        (i, j)
        for g in np.unique(groups)
        for i in np.flatnonzero(groups == g)
        for j in np.flatnonzero(groups == g)
        if i < j
    }
    inside = {p for p in found if p[1] < real}
    hits = len(inside & truth)
    return hits / max(1, len(inside)), hits / max(1, len(truth))


def main() -> None:
    from expander import neardup
    from expander.inspection import NEAR_DUPLICATE_BITS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exact-up-to", type=int, default=100_000, help="largest size the quadratic search runs at")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    hashes, groups = real_groups(min(sizes) // 4)
    keys = ", ".join(f"{size:,}: {neardup.parameters(size, NEAR_DUPLICATE_BITS)}" for size in sizes)
    print(
        f"{len(hashes)} hashes of {len(np.unique(groups))} real photos in groups of 4; radius {NEAR_DUPLICATE_BITS} "
        f"bits; LSH (bits per key, tables) by size: {keys}; median of {args.rounds} interleaved rounds.\n"
    )
    print("| hashes | search | median s | peak MB | pairs | recall vs exact | precision / recall vs groups |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    exact_times = {}
    for size in sizes:
        extra = rng.integers(0, 2**63, (size - len(hashes), 4), dtype=np.uint64) * 2 + 1
        all_hashes = np.concatenate([hashes, extra])
        methods = {"lsh": neardup.lsh_pairs}
        if size <= args.exact_up_to:
            methods = {"exact (today)": neardup.exact_pairs, **methods}
        runs: dict[str, list] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for name, search in methods.items():
                runs[name].append(timed(search, all_hashes, NEAR_DUPLICATE_BITS))
                print(f"  {size} {name}: {runs[name][-1][1]:.2f} s", file=sys.stderr)
        exact = runs["exact (today)"][0][0] if "exact (today)" in runs else None
        for name, these in runs.items():
            found = these[0][0]
            seconds = statistics.median(r[1] for r in these)
            peak = peak_memory(methods[name], all_hashes, NEAR_DUPLICATE_BITS)
            if name.startswith("exact"):
                exact_times[size] = seconds
            recall = f"{len(found & exact) / max(1, len(exact)):.4f}" if exact is not None else "-"
            precision, group_recall = decision_quality(found, groups)
            print(
                f"| {size:,} | {name} | {seconds:.2f} | {peak:.0f} | {len(found)} | {recall} | "
                f"{precision:.4f} / {group_recall:.4f} |"
            )
    if exact_times:
        largest = max(exact_times)
        for size in sizes:
            if size not in exact_times:
                estimate = exact_times[largest] * (size / largest) ** 2
                print(f"| {size:,} | exact (today), extrapolated by n^2 | {estimate:.0f} | | | | |")


if __name__ == "__main__":
    main()
