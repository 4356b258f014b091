"""``scan`` of a large class-folder tree: this checkout against another checkout (a git worktree of an earlier
commit), each in a fresh process, in interleaved rounds; prints the times and the median ratio. It checks that
both give the same items in the same order.

    git worktree add /tmp/before 356de39
    .venv/bin/python benchmarks/bench_scan.py --other /tmp/before --files 100000 --rounds 3

The tree is made of empty ``.png`` files (scan reads names, not pixels): ``--files`` spread over 10 classes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PROBE = (
    "import hashlib, sys, time\n"
    "from expander.scan import scan\n"
    "start = time.perf_counter()\n"
    "dataset = scan(sys.argv[1])\n"
    "seconds = time.perf_counter() - start\n"
    "order = repr([(i.rel_path, i.split, i.class_name) for i in dataset.items]).encode()\n"
    "print(seconds, hashlib.sha256(order).hexdigest())\n"
)


def make_tree(root: Path, files: int) -> None:
    for n in range(files):
        folder = root / "train" / f"class{n % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img{n // 10}.png").touch()


def run(checkout: Path, tree: Path) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(tree)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(checkout)}).stdout.split()  # fmt: skip
    return float(out[0]), out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        make_tree(tree, args.files)
        times: dict[str, list[float]] = {"other": [], "this": []}
        orders = set()
        for _ in range(args.rounds):
            for name, checkout in (("other", args.other), ("this", HERE)):
                seconds, order = run(checkout, tree)
                times[name].append(seconds)
                orders.add(order)
    for name, found in times.items():
        print(f"{name}: {' '.join(f'{t:.2f}' for t in found)} s (median {statistics.median(found):.2f})")
    print(f"this/other: {statistics.median(times['this']) / statistics.median(times['other']):.2f}")
    print("same items in the same order" if len(orders) == 1 else "THE ITEMS DIFFER")


if __name__ == "__main__":
    main()
