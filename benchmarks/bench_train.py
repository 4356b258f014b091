"""Training images/s: train's own loop beside Keras ``model.fit`` on the same model, data and steps; and bfloat16.

    .venv/bin/python benchmarks/bench_train.py                 # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_train.py --images 400 --rounds 2

Data: the first ``--images`` photos of ../shared/datasets/dogs_vs_cats/train at ``--size`` (random pixels when
the folder is absent). Each arm builds the model ``train`` builds (``train.fit.create_compiled``: AdamW, the
warm-up and cosine schedule, label smoothing) and trains one epoch on the same batches:

* ``train loop``: ``train.fit._train_epoch``, what every ``train`` command runs (``train_on_batch`` per batch,
  so mixing, on-the-fly augmentation and class weights stay in numpy);
* ``model.fit``: the same arrays through ``model.fit(batch_size=...)``, the ecosystem's default;
* ``train loop, bfloat16``: the first arm under Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32
  weights), a lever ``train`` does not use yet;
* ``train loop, XLA`` (and with bfloat16): the model compiled with ``jit_compile=True``.

Arms alternate within each round; a round's first epoch per arm is a warm-up (graph tracing) and is not timed.
Prints the median images/s of each arm and its ratio to ``model.fit``.

    .venv/bin/python benchmarks/bench_train.py --study --runs 4 --epochs 8    # about 8 minutes on 2 cores

times whole runs instead, as a study trains them (``train.runs.run_all``, each run from a fresh store: loading,
training with MixUp 0.2, validation every epoch, testing): ``--runs`` seeds one by one (``--parallel 1``, the
default) against two at once (``--parallel 2``), alternating in each round, and checks that both give the same
numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
PHOTOS = HERE.parent.parent / "shared" / "datasets" / "dogs_vs_cats" / "train"


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


def arm(name: str, data, classes: int, size: int, model_name: str) -> float:
    """Images/s of one timed epoch (after an untimed one) of ``name``."""
    import keras

    from train.fit import FitConfig, _train_epoch, create_compiled

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if "bfloat16" in name else "float32")
    keras.utils.set_random_seed(0)
    config = FitConfig(model=model_name, image_size=size, epochs=4, batch_size=data.batch_size)
    model = create_compiled(config, (size, size, 3), classes, data.steps)
    if "XLA" in name:  # the same model and optimiser, compiled by XLA
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
    if name == "model.fit":
        x, y = data.pixels[data.indices(data.positions(0))], data.targets[data.indices(data.positions(0))]
        model.fit(x, y, batch_size=data.batch_size, epochs=1, shuffle=False, verbose=0)  # warm-up
        began = time.perf_counter()
        model.fit(x, y, batch_size=data.batch_size, epochs=1, shuffle=False, verbose=0)
    else:
        _train_epoch(model, data, 0)  # warm-up
        began = time.perf_counter()
        _train_epoch(model, data, 1)
    seconds = time.perf_counter() - began
    keras.backend.clear_session()
    return data.epoch_images / seconds


def study_arm(parallel: int, runs: int, epochs: int, images: int, size: int, model_name: str) -> tuple[float, list]:
    """Seconds for ``runs`` whole runs through ``run_all`` with ``parallel`` at once, and their numbers."""
    import tempfile

    from train.fit import FitConfig
    from train.runs import RunSpec, run_all
    from train.store import StudyStore

    train, classes = samples(images)
    val, test = train[: images // 5], train[images // 5 : images // 5 + images // 5]
    config = FitConfig(model=model_name, image_size=size, epochs=epochs, mixup=0.2)
    specs = [RunSpec("none", 0, seed, train[images // 5 :], val, test) for seed in range(runs)]
    names = tuple(str(i) for i in range(classes))
    with tempfile.TemporaryDirectory() as store:
        began = time.perf_counter()
        records = run_all(specs, names, config, StudyStore(store), parallel=parallel)
        seconds = time.perf_counter() - began
    numbers = [[(e["loss"], e["val_loss"]) for e in r["history"]] + [r["test"]["accuracy"]] for r in records]
    return seconds, numbers


def study_main(args) -> None:
    if not PHOTOS.is_dir():
        sys.exit(f"--study trains on real photos: {PHOTOS} is missing (see ../shared/datasets/README.md).")
    print(f"{args.runs} runs of {args.epochs} epochs, {args.images} photos at {args.size}x{args.size} "
          f"(a fifth each for validation and test), model {args.model}, MixUp 0.2")  # fmt: skip
    seconds: dict[int, list[float]] = {1: [], 2: []}
    numbers: dict[int, list] = {}
    for round_number in range(args.rounds):
        for parallel in (1, 2) if round_number % 2 == 0 else (2, 1):
            took, numbers[parallel] = study_arm(parallel, args.runs, args.epochs, args.images, args.size, args.model)
            seconds[parallel].append(took)
            print(f"  round {round_number + 1}: --parallel {parallel}: {took:.1f} s", flush=True)
    alone, together = statistics.median(seconds[1]), statistics.median(seconds[2])
    print(f"one by one {alone:.1f} s, two at once {together:.1f} s (medians): {alone / together:.2f}x")
    print(f"same numbers (losses per epoch, test accuracy): {numbers[1] == numbers[2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="resnet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--study", action="store_true", help="whole runs one by one against two at once")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    from train.fit import quiet_tensorflow

    quiet_tensorflow()
    if args.study:
        study_main(args)
        return
    data, classes = batches(args.images, args.size, args.batch_size)
    arms = ["train loop", "model.fit", "train loop, bfloat16", "train loop, XLA", "train loop, bfloat16, XLA"]
    speeds: dict[str, list[float]] = {name: [] for name in arms}
    print(f"{args.images} images at {args.size}x{args.size}, model {args.model}, batch {args.batch_size}, "
          f"{'dogs-vs-cats photos' if PHOTOS.is_dir() else 'random pixels'}")  # fmt: skip
    for round_number in range(args.rounds):
        order = arms if round_number % 2 == 0 else arms[::-1]
        for name in order:
            speeds[name].append(arm(name, data, classes, args.size, args.model))
            print(f"  round {round_number + 1}: {name}: {speeds[name][-1]:.0f} images/s", flush=True)
    baseline = statistics.median(speeds["model.fit"])
    print(f"{'arm':22s} {'median images/s':>16s} {'vs model.fit':>13s}")
    for name in arms:
        median = statistics.median(speeds[name])
        print(f"{name:22s} {median:16.0f} {median / baseline:12.2f}x")


if __name__ == "__main__":
    main()
