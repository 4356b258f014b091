"""Pipeline-scale I/O, side by side in one run: files vs WebDataset shards, and the local pool vs Ray over S3.

    .venv/bin/pip install -e ".[dev,ray]"
    .venv/bin/python benchmarks/bench_pipeline.py            # about 20 minutes on 2 cores

1. Files vs shards: ``expander expand`` writes 20,000 and 200,000 outputs (copies of the --source photos,
   ``--size 64x64``, no originals) as files and as ``--shards webdataset``, in interleaved rounds (each
   arm once per round), and prints the median wall time, files created, bytes written and peak RSS.
2. Local pool vs Ray over S3: an S3 server (moto's, a separate process on loopback) holds the source; each arm
   reads it and writes 20,000 outputs back to the server, with ``-j 2`` and with ``--backend ray -j 2``.

Every run is a whole ``python -m expander expand`` process, timed from start to exit.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "datasets" / "dogs_vs_cats" / "train"


def run(command: list[str], env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MB, largest process) of one whole command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return {"s": seconds, "rss_mb": usage.ru_maxrss / 1024}


def expand_command(src: str, out: str, per_image: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "expander", "expand", src, "-o", out, "--per-image", str(per_image),
            "--no-originals", "--size", "64x64", "--no-space-check", "-j", "2", "-q", *extra]  # fmt: skip


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def files_vs_shards(source: Path, images: int, outputs: int, rounds: int, work: Path) -> list[str]:
    per_image = outputs // images
    arms = {"files": [], "webdataset": ["--shards", "webdataset", "--shard-size", "100MB"]}
    times: dict[str, list[dict]] = {arm: [] for arm in arms}
    sizes: dict[str, tuple[int, int]] = {}
    for _ in range(rounds):
        for arm, extra in arms.items():
            out = work / f"out-{arm}"
            shutil.rmtree(out, ignore_errors=True)
            os.sync()
            times[arm].append(run(expand_command(str(source), str(out), per_image, *extra)))
            sizes[arm] = tree_size(out)
    lines = [f"{per_image * images:,} outputs ({images} photos x {per_image}, 64x64), {rounds} rounds:"]
    base = statistics.median(t["s"] for t in times["files"])
    for arm in arms:
        seconds = [t["s"] for t in times[arm]]
        median = statistics.median(seconds)
        files, size = sizes[arm]
        lines.append(
            f"  {arm:<11} median {median:7.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f})  "
            f"{median / base:4.2f}x files  {files:>8,} files  {size / 1e6:8.1f} MB  "
            f"peak RSS {max(t['rss_mb'] for t in times[arm]):5.0f} MB"
        )
    return lines


def pool_vs_ray_over_s3(source: Path, images: int, outputs: int, rounds: int) -> list[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    try:
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        import s3fs

        time.sleep(2)
        fs = s3fs.S3FileSystem()
        fs.mkdir("bench")
        fs.put(str(source) + "/", "bench/src/", recursive=True)
        per_image = outputs // images
        arms = {"local pool": [], "ray": ["--backend", "ray"]}
        times: dict[str, list[float]] = {arm: [] for arm in arms}
        for n in range(rounds):
            for arm, extra in arms.items():
                out = f"s3://bench/out-{arm.replace(' ', '-')}-{n}"
                times[arm].append(run(expand_command("s3://bench/src", out, per_image, *extra), env)["s"])
                fs.rm(out.split("://", 1)[1], recursive=True)
    finally:
        server.terminate()
        server.wait()
    base = statistics.median(times["local pool"])
    lines = [f"{per_image * images:,} outputs read from and written to an S3 server (moto, loopback), {rounds} rounds:"]
    for arm, seconds in times.items():
        median = statistics.median(seconds)
        lines.append(f"  {arm:<11} median {median:7.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f})  "
                     f"{median / base:4.2f}x local pool  {per_image * images / median:6.0f} outputs/s")  # fmt: skip
    return lines


def corpus(source: Path, images: int, target: Path) -> Path:
    """The first ``images`` photos of --source in class folders (the same for every arm)."""
    from expander.scan import scan

    dataset = scan(source)
    per_class = images // len(dataset.classes)
    for class_name in dataset.classes:
        (target / class_name).mkdir(parents=True)
        for item in [i for i in dataset.items if i.class_name == class_name][:per_class]:
            shutil.copy(dataset.root / item.rel_path, target / class_name / Path(item.rel_path).name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds at 20,000 outputs (one fewer at 200,000)")
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    import cv2

    print(f"# bench_pipeline {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  {os.cpu_count()} CPUs  "
          f"Python {platform.python_version()}  OpenCV {cv2.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        src = corpus(args.source, args.images, work / "src")
        for outputs, rounds in ((20_000, args.rounds), (200_000, max(1, args.rounds - 1))):
            print("\n".join(files_vs_shards(src, args.images, outputs, rounds, work)), flush=True)
        if not args.skip_s3:
            print("\n".join(pool_vs_ray_over_s3(src, args.images, 20_000, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
