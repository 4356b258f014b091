"""The output sinks side by side: files, WebDataset, TFRecord and Parquet shards, locally and into an S3 server on
loopback (moto's), the same job each, whole ``expander expand`` processes in interleaved rounds; and the two
start-up questions of issue 26: a pool reading an object store with 1 and 2 workers, and Ray against the
local pool.

    .venv/bin/python benchmarks/bench_sinks.py sinks --source ../shared/datasets/dogs_vs_cats/test --rounds 3
    .venv/bin/python benchmarks/bench_sinks.py pool-start --source ../shared/datasets/dogs_vs_cats/test
    .venv/bin/python benchmarks/bench_sinks.py ray --source ../shared/datasets/dogs_vs_cats/train --outputs 20000

Each row prints the median wall time and its ratio to the first method of the table, per round and overall.
The S3 server runs in this process: its CPU time is not the expander process's, but it shares the 2 cores,
as a store on the same machine would.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPANDER = [sys.executable, "-m", "expander", "expand"]


def s3_server() -> tuple[object, dict[str, str]]:
    """A moto S3 server on 127.0.0.1 and the environment that points expander's processes at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    os.environ.update(env)
    return server, env


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def clear(place: str, fs) -> None:
    if place.startswith("s3://"):
        fs.invalidate_cache()
        if fs.exists(place[5:]):
            fs.rm(place[5:], recursive=True)
    else:
        shutil.rmtree(place, ignore_errors=True)


def rounds(methods: dict[str, list[str]], count: int, env: dict[str, str], fs, outs: dict[str, str],
           around: dict[str, tuple[list[str], list[str]]] | None = None) -> None:  # fmt: skip
    """Run every method once per round, in a rotated order, and print medians and ratios to the first.

    ``around[name]`` is a command run before that method and one run after it, both untimed.
    """
    times: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for r in range(count):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            clear(outs[name], fs)
            before, after = (around or {}).get(name, ([], []))
            if before:
                subprocess.run(before, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                times[name].append(timed(methods[name], env))
            finally:  # a failed run still stops what was started for it (a Ray cluster)
                if after:
                    subprocess.run(after, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = times[names[0]][-1]
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s ({times[n][-1] / first:.2f}x)" for n in names),
              flush=True)  # fmt: skip
    base = statistics.median(times[names[0]])
    print(f"\n{'method':32} {'median s':>9} {'ratio':>7}  rounds")
    for name in names:
        median = statistics.median(times[name])
        print(f"{name:32} {median:9.2f} {median / base:6.2f}x  {', '.join(f'{t:.2f}' for t in times[name])}")


def sinks(args, env, fs) -> None:
    src = str(Path(args.source).resolve())
    fs.put(src + "/", "bench/src/", recursive=True)
    work = Path(tempfile.mkdtemp(prefix="bench-sinks-"))
    methods, outs = {}, {}
    for place in ("local", "s3"):
        for sink in ("files", "webdataset", "tfrecord", "parquet"):
            name = f"{sink} {place}"
            out = str(work / sink) if place == "local" else f"s3://bench/out-{sink}"
            shards = [] if sink == "files" else ["--shards", sink]
            source = src if place == "local" else "s3://bench/src"
            methods[name] = [*EXPANDER, source, "-o", out, "--per-image", str(args.per_image), "-q", *shards]
            outs[name] = out
    print(f"source {args.source} ({sum(1 for _ in Path(src).rglob('*.jpg'))} images), --per-image {args.per_image}")
    rounds(methods, args.rounds, env, fs, outs)
    shutil.rmtree(work, ignore_errors=True)


def pool_start(args, env, fs) -> None:
    """An object-store source with 1 and 2 workers (a forkserver re-imports OpenCV and albumentations)."""
    src = str(Path(args.source).resolve())
    fs.put(src + "/", "bench/pool/", recursive=True)
    work = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    methods, outs = {}, {}
    for workers in (1, 2):
        for place in ("local", "s3"):
            name = f"{place} source, -j {workers}"
            source = src if place == "local" else "s3://bench/pool"
            outs[name] = str(work / f"{place}{workers}")
            methods[name] = [*EXPANDER, source, "-o", outs[name], "--per-image", "1", "-j", str(workers), "-q"]
    rounds(methods, args.rounds, env, fs, outs)
    shutil.rmtree(work, ignore_errors=True)


def ray(args, env, fs) -> None:
    """Ray on this machine against the local pool: ``--outputs`` outputs of the ``--source`` photos, with the
    run starting and stopping its own Ray runtime, and joining a one-machine cluster already running (started
    with ``ray start --head`` on loopback before that arm and stopped after it, both untimed)."""
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    src = Path(args.source).resolve()
    images = sum(1 for p in src.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    per_image = max(0, round(args.outputs / images) - 1)
    backends = {"local pool": [], "ray, own runtime": ["--backend", "ray"],
                "ray, running cluster": ["--backend", "ray", "--address", "auto"]}  # fmt: skip
    outs = {name: str(work / f"out{i}") for i, name in enumerate(backends)}
    methods = {name: [*EXPANDER, str(src), "-o", outs[name], "--per-image", str(per_image), "-q", *flags]
               for name, flags in backends.items()}  # fmt: skip
    ray_cli = str(Path(sys.executable).parent / "ray")
    start = [ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--num-cpus", str(os.cpu_count()),
             "--include-dashboard", "false", "--disable-usage-stats"]  # fmt: skip
    cluster = (["sh", "-c", f"{shlex.join(start)} && sleep 2"], [ray_cli, "stop"])  # settled before it is timed
    print(f"{images} photos of {args.source} x {per_image + 1} outputs = {images * (per_image + 1)} outputs")
    rounds(methods, args.rounds, env, fs, outs, around={"ray, running cluster": cluster})
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("sinks", "pool-start", "ray"))
    parser.add_argument("--source", default=str(HERE.parent.parent / "shared/datasets/dogs_vs_cats/test"))
    parser.add_argument("--per-image", type=int, default=2)
    parser.add_argument("--outputs", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server, env = s3_server()
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.mkdir("bench")
    try:
        {"sinks": sinks, "pool-start": pool_start, "ray": ray}[args.what](args, env, fs)
    finally:
        server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
