"""Training speed: train's loop beside Keras ``model.fit``, and each lever alone (oneDNN, threads, bfloat16, XLA).

    .venv/bin/python benchmarks/bench_train.py                 # about 6 minutes on 2 cores
    .venv/bin/python benchmarks/bench_train.py --study         # whole runs, before against after: ~10 minutes

Data: the first ``--images`` photos of ../shared/datasets/dogs_vs_cats/train at ``--size`` (random pixels when
the folder is absent). Every arm runs in a fresh process, since TensorFlow reads TF_ENABLE_ONEDNN_OPTS and its
thread counts once, at start; arms alternate within each round, in the opposite order every other round.

Epoch arms: each builds the model ``train`` builds (``train.fit.create_compiled``: AdamW, the warm-up and
cosine schedule, label smoothing) and prints images/s of one epoch after an untimed one (graph tracing):

* ``train loop``: ``train.fit._train_epoch`` as every ``train`` command runs it (``train_on_batch`` per batch,
  so mixing, on-the-fly augmentation and class weights stay in numpy), oneDNN on, TensorFlow's own threads;
* ``train loop, oneDNN off``: the same with TensorFlow's Eigen kernels, what TensorFlow picks by itself on a
  CPU without AVX-512 or AMX (and what ``train`` ran before it turned oneDNN on);
* ``model.fit`` and ``model.fit, oneDNN off``: the same arrays through ``model.fit``, the ecosystem's default;
* ``two loops at once, 1 thread each``: two processes of the first arm at once, each on one thread; their
  images/s added (what a study does by default on 2 cores: one run per core);
* ``train loop, bfloat16``: Keras' ``mixed_bfloat16`` policy (skipped on a CPU without bfloat16
  instructions, where it is an order of magnitude slower, unless ``--bfloat16``);
* ``train loop, XLA``: the model compiled with ``jit_compile=True``.

``--study`` times whole runs instead, as a study trains them (``train.runs.run_all`` from a fresh store:
loading, training with MixUp 0.2, validation every epoch, testing), ``--runs`` seeds of ``--epochs`` epochs:

* ``before``: oneDNN off, one run at a time (``train`` before 2026-12-04 on this kind of CPU);
* ``oneDNN on``: the first lever alone, one run at a time;
* ``after``: oneDNN on, one run per core, the cores shared out as threads: the defaults for a study of at
  least 40,000 image-epochs (a shorter one trains one by one, since starting more processes would not pay).

It prints each arm's median seconds, its speed-up over ``before``, and its mean test accuracy (the levers change
the numbers a little: oneDNN and the thread count sum in another order).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
PHOTOS = HERE.parent.parent / "shared" / "datasets" / "dogs_vs_cats" / "train"

EPOCH_ARMS = [
    "train loop",
    "train loop, oneDNN off",
    "model.fit",
    "model.fit, oneDNN off",
    "two loops at once, 1 thread each",
    "train loop, bfloat16",
    "train loop, XLA",
]
STUDY_ARMS = ["before", "oneDNN on", "after"]


def samples(count: int):
    from train.data import Sample

    paths = sorted(PHOTOS.rglob("*.jpg"))
    classes = sorted({p.parent.name for p in paths})
    picked = [paths[i] for i in np.random.default_rng(0).permutation(len(paths))[:count]]
    return tuple(Sample(str(p), classes.index(p.parent.name), "") for p in picked), len(classes)


def batches(count: int, size: int, batch_size: int):
    from train.batches import TrainBatches
    from train.data import load_pixels

    if PHOTOS.is_dir():
        train, classes = samples(count)
        pixels, labels = load_pixels(train, (size, size), 3), np.array([s.label for s in train])
    else:
        rng = np.random.default_rng(0)
        pixels, labels, classes = (
            rng.uniform(0, 255, (count, size, size, 3)).astype(np.float32),
            rng.integers(0, 2, count),
            2,
        )
    return TrainBatches(pixels, labels, classes, seed=0, batch_size=batch_size), classes


def epoch_arm(name: str, args) -> dict:
    """In a child process: images/s of one timed epoch (after an untimed one) of ``name``."""
    import keras

    from train.fit import FitConfig, _train_epoch, create_compiled, use_threads

    if "1 thread" in name:
        use_threads(1)
    data, classes = batches(args.images, args.size, args.batch_size)
    keras.utils.set_random_seed(0)
    precision = "bfloat16" if "bfloat16" in name else "float32"
    config = FitConfig(
        model=args.model, image_size=args.size, epochs=4, batch_size=args.batch_size, precision=precision
    )
    model = create_compiled(config, (args.size, args.size, 3), classes, data.steps)
    if "XLA" in name:  # the same model and optimiser, compiled by XLA
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
    if name.startswith("model.fit"):
        x, y = data.pixels[data.indices(data.positions(0))], data.targets[data.indices(data.positions(0))]
        model.fit(x, y, batch_size=data.batch_size, epochs=1, shuffle=False, verbose=0)  # warm-up
        began = time.perf_counter()
        model.fit(x, y, batch_size=data.batch_size, epochs=1, shuffle=False, verbose=0)
    else:
        _train_epoch(model, data, 0)  # warm-up
        began = time.perf_counter()
        _train_epoch(model, data, 1)
    return {"images_per_s": data.epoch_images / (time.perf_counter() - began)}


def study_arm(name: str, args) -> dict:
    """In a child process: seconds for ``--runs`` whole runs through ``run_all``, and their test accuracies."""
    import tempfile

    from train.fit import FitConfig
    from train.runs import RunSpec, default_workers, run_all
    from train.store import StudyStore

    train, classes = samples(args.images)
    fifth = args.images // 5
    val, test = train[:fifth], train[fifth : 2 * fifth]
    config = FitConfig(model=args.model, image_size=args.size, epochs=args.epochs, mixup=0.2)
    specs = [RunSpec("none", 0, seed, train[fifth:], val, test) for seed in range(args.runs)]
    names = tuple(str(i) for i in range(classes))
    with tempfile.TemporaryDirectory() as store:
        began = time.perf_counter()
        # after: one run per core, what the default picks for a study of at least 2 x WORKER_WORK image-epochs
        records = run_all(specs, names, config, StudyStore(store), parallel=1 if name != "after" else default_workers())
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "accuracy": [r["test"]["accuracy"] for r in records]}


def child(name: str) -> subprocess.Popen:
    """A fresh process that runs arm ``name`` and prints its result as JSON."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0" if "oneDNN off" in name or name == "before" else "1")
    argv = [sys.executable, __file__, "--child", name, *sys.argv[1:]]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        sys.exit(f"an arm failed (exit {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def measure(name: str) -> dict:
    if name.startswith("two loops"):  # both at once; their images/s add up
        pair = [child(name) for _ in range(2)]
        return {"images_per_s": sum(result(p)["images_per_s"] for p in pair)}
    return result(child(name))


def run_rounds(arms: list[str], rounds: int, figure: str, unit: str) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {name: [] for name in arms}
    for round_number in range(rounds):
        for name in arms if round_number % 2 == 0 else arms[::-1]:
            results[name].append(measure(name))
            print(f"  round {round_number + 1}: {name}: {results[name][-1][figure]:.1f} {unit}", flush=True)
    return results


def epoch_main(args) -> None:
    from train.fit import native_bfloat16

    arms = [a for a in EPOCH_ARMS if args.bfloat16 or native_bfloat16() or "bfloat16" not in a]
    if len(arms) < len(EPOCH_ARMS):
        print("train loop, bfloat16: skipped, this CPU has no bfloat16 instructions (--bfloat16 runs it anyway)")
    print(f"{args.images} images at {args.size}x{args.size}, model {args.model}, batch {args.batch_size}, "
          f"{'dogs-vs-cats photos' if PHOTOS.is_dir() else 'random pixels'}, {os.cpu_count()} cores")  # fmt: skip
    speeds = run_rounds(arms, args.rounds, "images_per_s", "images/s")
    medians = {name: statistics.median(r["images_per_s"] for r in speeds[name]) for name in arms}
    print(f"{'arm':34s} {'median images/s':>16s} {'vs model.fit, oneDNN off':>25s} {'vs train loop':>14s}")
    for name in arms:
        base, ours = medians["model.fit, oneDNN off"], medians["train loop"]
        print(f"{name:34s} {medians[name]:16.0f} {medians[name] / base:24.2f}x {medians[name] / ours:13.2f}x")


def study_main(args) -> None:
    if not PHOTOS.is_dir():
        sys.exit(f"--study trains on real photos: {PHOTOS} is missing (see ../shared/datasets/README.md).")
    print(f"{args.runs} runs of {args.epochs} epochs, {args.images} photos at {args.size}x{args.size} "
          f"(a fifth each for validation and test), model {args.model}, MixUp 0.2, {os.cpu_count()} cores")  # fmt: skip
    runs = run_rounds(STUDY_ARMS, args.rounds, "seconds", "s")
    before = statistics.median(r["seconds"] for r in runs["before"])
    print(f"{'arm':12s} {'median s':>9s} {'vs before':>10s} {'test accuracy (mean of runs, %)':>32s}")
    for name in STUDY_ARMS:
        seconds = statistics.median(r["seconds"] for r in runs[name])
        accuracy = 100 * statistics.mean(runs[name][-1]["accuracy"])
        print(f"{name:12s} {seconds:9.1f} {before / seconds:9.2f}x {accuracy:32.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="resnet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bfloat16", action="store_true", help="run the bfloat16 arm on any CPU")
    parser.add_argument("--study", action="store_true", help="whole runs: before, oneDNN on, after")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # an arm, in its own process
    args = parser.parse_args()
    from train.fit import quiet_tensorflow

    if args.child:
        quiet_tensorflow()
        figures = study_arm(args.child, args) if args.study else epoch_arm(args.child, args)
        print(json.dumps(figures))
    elif args.study:
        study_main(args)
    else:
        epoch_main(args)


if __name__ == "__main__":
    main()
