"""Expansion speed and memory, side by side with the alternatives, in one run.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python benchmarks/bench_expand.py            # about 10 minutes on 2 cores

Builds a corpus of the first 100 images per class of --source, has every method in
methods.py write 10 copies of each (2,000 outputs), at least 3 times each in rounds (every
method once per round, so the VM's drift hits all alike), and prints the median whole-process
wall time, outputs/s, CPU time (user + system, workers included: the work done), peak RSS
(largest single process) and each method's time relative to expander, with the ratio per round.
Then scaling (1 vs 2 workers, beside the hand-written pool at 1 and 2; 2,000 vs 20,000 outputs)
and training input throughput (tf.data from files vs in-memory numpy, SmallNet at 64x64).
``--ray`` (with the ray extra) adds --backend ray at both sizes, starting Ray per run and joining
a running one-machine cluster, each against the local pool.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "datasets" / "dogs_vs_cats" / "train"
DEFAULT_LARGE = HERE.parent.parent / "shared" / "datasets" / "large_photos"
METHOD_ORDER = [
    "keras-idg", "augmentor", "albumentations-loop", "albumentations-pool", "opencv-pool", "least", "floor", "expander",
]  # fmt: skip


def build_corpus(source: Path, per_class: int, target: Path) -> Path:
    from expander.scan import scan

    dataset = scan(source)
    for class_name in dataset.classes:
        (target / class_name).mkdir(parents=True)
        chosen = [i for i in dataset.items if i.class_name == class_name][:per_class]
        for item in chosen:
            shutil.copy(dataset.root / item.rel_path, target / class_name / Path(item.rel_path).name)
    return target


def compile_package() -> None:
    """expander's bytecode, as ``pip install`` writes it. Where PYTHONDONTWRITEBYTECODE is set (as on the
    development machines), an editable checkout would otherwise compile its modules from source in every
    timed process: about 70 ms of start-up that no installed copy pays."""
    import compileall

    import expander

    compileall.compile_dir(str(Path(expander.__file__).parent), quiet=1)


def run_once(method: str, corpus: Path, out: Path, copies: int, workers: int, env: dict | None = None) -> dict:
    """One whole process: wall seconds, peak RSS of its largest process (MB), outputs written."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.sync()  # the previous run's files reach the disk now, not while this one is timed
    command = [sys.executable, str(HERE / "methods.py"), method, str(corpus), str(out), str(copies), str(workers)]
    log = out.with_name(f"{out.name}.log")
    with open(log, "wb") as stderr:  # a file, not a pipe: a chatty method would block on a full pipe
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{method} failed:\n{log.read_text(errors='replace')[-2000:]}")
    outputs = sum(1 for p in out.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg"))
    cpu = usage.ru_utime + usage.ru_stime  # with the workers it waited for: the work done, whatever the VM's steal
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": usage.ru_maxrss / 1024, "outputs": outputs}


def measure(
    method: str, corpus: Path, work: Path, copies: int, workers: int, repeats: int, label: str | None = None, env=None
) -> dict:
    return measure_rounds([(method, copies, workers, label, env)], corpus, work, repeats)[0]


def measure_rounds(configs: list[tuple], corpus: Path, work: Path, repeats: int) -> list[dict]:
    """Run every (method, copies, workers, label, env) once per round, ``repeats`` rounds.

    Round-robin, not one method's repeats back to back: this VM drifts by 15-30% over minutes, and
    a drift then slows every method's runs alike instead of one method's block.
    """
    runs: list[list[dict]] = [[] for _ in configs]
    for _ in range(repeats):
        for i, (method, copies, workers, _label, env) in enumerate(configs):
            runs[i].append(run_once(method, corpus, work / method, copies, workers, env))
            run = runs[i][-1]
            print(f"  {method} ({copies} copies, {workers} workers): {run['wall_s']:.2f} s, CPU {run['cpu_s']:.2f} s",
                  file=sys.stderr)  # fmt: skip
    results = []
    for (method, copies, workers, label, _env), these in zip(configs, runs, strict=True):
        wall = statistics.median(r["wall_s"] for r in these)
        outputs = these[0]["outputs"]
        results.append({
            "method": label or method,
            "workers": workers,
            "copies": copies,
            "runs": these,
            "wall_s": wall,
            "cpu_s": statistics.median(r["cpu_s"] for r in these),
            "outputs": outputs,
            "outputs_per_s": outputs / wall,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in these),
        })  # fmt: skip
    return results


def table(rows: list[dict], reference: dict) -> str:
    lines = [
        "| method | workers | outputs | median wall s | outputs/s | median CPU s | peak RSS MB | wall / expander |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['workers']} | {r['outputs']} | {r['wall_s']:.2f} | {r['outputs_per_s']:.0f} | "
            f"{r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['wall_s'] / reference['wall_s']:.2f}x |"
        )
    return "\n".join(lines)


def per_round(row: dict, reference: dict, key: str) -> str:
    return ", ".join(f"{a[key] / b[key]:.2f}" for a, b in zip(row["runs"], reference["runs"], strict=True))


def training_throughput(corpus: Path, epochs_warm: int = 1) -> dict:
    """One epoch of SmallNet at 64x64: tf.data from files (the project's pipeline) vs numpy arrays in memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from expander import expand
    from train.data import Sample, make_dataset, read_pixels
    from train.models import create_model

    data = corpus.parent / "train-throughput"
    shutil.rmtree(data, ignore_errors=True)
    expand(corpus, data, per_image=9, workers=2)  # 2,000 images
    classes = sorted(p.name for p in data.iterdir() if p.is_dir())
    samples = tuple(Sample(str(p), classes.index(p.parent.name), "") for p in sorted(data.glob("*/*.jpg")))

    def fit_epoch(model, *args, **kwargs) -> float:
        start = time.perf_counter()
        model.fit(*args, epochs=1, verbose=0, **kwargs)
        return time.perf_counter() - start

    def fresh_model():
        keras.utils.set_random_seed(0)
        model = create_model("smallnet", (64, 64, 3), len(classes))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    ds = make_dataset(samples, (64, 64), 3, 32, shuffle_seed=0)
    tfdata_model = fresh_model()
    tfdata_cold = fit_epoch(tfdata_model, ds)  # decodes and fills the cache

    start = time.perf_counter()
    x = np.stack([read_pixels(s.path, (64, 64), 3) for s in samples])
    y = np.array([s.label for s in samples])
    load_s = time.perf_counter() - start
    numpy_model = fresh_model()
    fit_epoch(numpy_model, x, y, batch_size=32, shuffle=True)  # first epoch traces the graph

    tfdata_epochs, numpy_epochs = [], []
    for _ in range(5):  # alternating, so the VM's drift slows both alike
        tfdata_epochs.append(fit_epoch(tfdata_model, ds))
        numpy_epochs.append(fit_epoch(numpy_model, x, y, batch_size=32, shuffle=True))
    tfdata_warm, numpy_warm = statistics.median(tfdata_epochs), statistics.median(numpy_epochs)
    return {
        "images": len(samples),
        "tfdata_first_epoch_s": tfdata_cold,
        "tfdata_epoch_s": tfdata_warm,
        "numpy_load_s": load_s,
        "numpy_epoch_s": numpy_warm,
        "tfdata_epochs_s": tfdata_epochs,
        "numpy_epochs_s": numpy_epochs,
        "ratio": tfdata_warm / numpy_warm,
    }


def ray_rows(corpus: Path, work: Path, args, reference: dict, big_local: dict | None) -> list[dict]:
    """--backend ray on this machine: a runtime started per run, and a running cluster joined by address."""
    big_local = big_local or measure("expander", corpus, work, args.copies * 10, args.workers, args.repeats)
    rows = [reference, big_local]
    rows.append(measure("expander-ray", corpus, work, args.copies, args.workers, args.repeats,
                        label="expander --backend ray (starts Ray)"))  # fmt: skip
    rows.append(measure("expander-ray", corpus, work, args.copies * 10, args.workers, args.repeats,
                        label="expander --backend ray (starts Ray)"))  # fmt: skip
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(32).hex()}
    port = 6399
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen([ray, "start", "--block", "--head", f"--port={port}", f"--num-cpus={args.workers}",
                             "--include-dashboard=false", "--disable-usage-stats"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        env["RAY_BENCH_ADDRESS"] = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while subprocess.run([ray, "status", f"--address=127.0.0.1:{port}"], env=env, capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("the Ray head node did not start")
            time.sleep(1)
        for copies in (args.copies, args.copies * 10):
            rows.append(measure("expander-ray", corpus, work, copies, args.workers, args.repeats, env=env,
                                label="expander --backend ray --address (running cluster)"))  # fmt: skip
    finally:
        os.killpg(head.pid, 15)
        head.wait(timeout=60)
    print("\nRay backend, one machine:\n")
    print(table(rows, reference))
    for copies in (args.copies, args.copies * 10):
        local = next(r for r in rows if r["copies"] == copies and r["method"] == "expander")
        for r in rows:
            if r["copies"] == copies and r is not local:
                print(f"{r['outputs']} outputs, {r['method']}: {r['wall_s'] / local['wall_s']:.2f}x the local pool")
    return rows


def large_rows(photos: Path, work: Path, args) -> dict:
    """Large photos shrunk to 224x224: expander --size against the careful hand-written loop, and the quality cost.

    The loop decodes every photo in full, shrinks it (INTER_AREA), then augments; expander decodes JPEGs at
    libjpeg's smallest reduced scale that covers 224x224, then does the same. The quality row compares
    the two paths' 224x224 pixels before augmentation (what follows is the same for both).
    """
    from methods import SIZE

    corpus = work / "large-corpus"
    (corpus / "photos").mkdir(parents=True)
    for path in sorted(photos.glob("*.jpg")):
        shutil.copy(path, corpus / "photos" / path.name)
    count = len(list((corpus / "photos").iterdir()))
    hand, ours, least = measure_rounds(
        [(m, args.copies, args.workers, None, None) for m in ("opencv-sized", "expander-sized", "least-sized")],
        corpus, work, args.repeats,
    )  # fmt: skip
    print(f"\nLarge photos: {count} photos of {photos}, {args.copies} copies each at {SIZE[0]}x{SIZE[1]}, "
          f"median of {args.repeats} rounds:\n")  # fmt: skip
    print(table([hand, ours, least], ours))
    spread = [o["wall_s"] / h["wall_s"] for h, o in zip(hand["runs"], ours["runs"], strict=True)]
    quality = reduced_scale_quality(corpus / "photos", SIZE)
    print(f"\nexpander / hand-written loop: {ours['wall_s'] / hand['wall_s']:.2f}x (per round: "
          f"{', '.join(f'{r:.2f}' for r in spread)}); the least-work loop (smallest reduced scale, no "
          f"bookkeeping): {least['wall_s'] / hand['wall_s']:.2f}x (per round: {per_round(least, hand, 'wall_s')}). "
          f"Reduced-scale decoding against a full decode, at "
          f"{SIZE[0]}x{SIZE[1]} before augmenting: PSNR median {quality['psnr_median']:.1f} dB (worst "
          f"{quality['psnr_min']:.1f}), SSIM median {quality['ssim_median']:.4f} "
          f"(worst {quality['ssim_min']:.4f}).")  # fmt: skip
    return {"hand": hand, "expander": ours, "least": least, "ratio_per_round": spread, "quality": quality}


def reduced_scale_quality(photos: Path, size: tuple[int, int]) -> dict:
    import numpy as np

    from expander import images

    psnrs, ssims = [], []
    for path in sorted(photos.glob("*.jpg")):
        data = path.read_bytes()
        reference = images.resize(images.decode(data, path.name), size).astype(np.float64)
        fast = images.decode_resized(data, path.name, size).astype(np.float64)
        psnrs.append(psnr(fast, reference))
        ssims.append(ssim(fast, reference))
    return {"psnr_median": float(np.median(psnrs)), "psnr_min": float(np.min(psnrs)),
            "ssim_median": float(np.median(ssims)), "ssim_min": float(np.min(ssims)), "photos": len(psnrs)}  # fmt: skip


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio of two 8-bit images, in dB."""
    import numpy as np

    return float(10 * np.log10(255**2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def ssim(a, b) -> float:
    """Mean structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5), over all channels."""
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mean_a, mean_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mean_a**2, blur(b * b) - mean_b**2
    covariance = blur(a * b) - mean_a * mean_b
    numerator = (2 * mean_a * mean_b + c1) * (2 * covariance + c2)
    return float((numerator / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of class folders")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default=",".join(METHOD_ORDER), help="comma-separated subset")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--ray", action="store_true", help="also measure --backend ray (needs the ray extra)")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--large", type=Path, default=DEFAULT_LARGE, help="large photos for the --size 224x224 rows")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    if not args.source.is_dir():
        sys.exit(f"No corpus source at {args.source}; pass --source DIR (a folder of class folders).")

    compile_package()
    work = Path(tempfile.mkdtemp(prefix="expander-bench-"))
    try:
        corpus = build_corpus(args.source, args.per_class, work / "corpus")
        import cv2

        print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"OpenCV {cv2.__version__}; corpus: {args.per_class} images per class of {args.source}, "
              f"{args.copies} copies each, median of {args.repeats} rounds (every method once a round); expander's "
              "bytecode compiled first, as an install does.\n")  # fmt: skip
        methods = [m for m in METHOD_ORDER if m in args.methods.split(",")]
        rows = measure_rounds([(m, args.copies, args.workers, None, None) for m in methods], corpus, work, args.repeats)
        reference = next((r for r in rows if r["method"] == "expander"), rows[-1])
        print(table(rows, reference))
        for row in rows:
            if row is not reference:
                print(f"{row['method']} / expander per round: wall {per_round(row, reference, 'wall_s')}; "
                      f"CPU {per_round(row, reference, 'cpu_s')}")  # fmt: skip
        hand = next((r for r in rows if r["method"] == "opencv-pool"), None)
        for row in [r for r in rows if hand and r["method"] in ("expander", "least")]:
            print(f"{row['method']} / opencv-pool: wall {row['wall_s'] / hand['wall_s']:.2f}x (per round: "
                  f"{per_round(row, hand, 'wall_s')}), CPU {row['cpu_s'] / hand['cpu_s']:.2f}x")  # fmt: skip
        result = {"methods": rows}

        if not args.skip_scaling:
            # The hand-written pool at 1 and 2 workers in the same rounds: what this machine's cores allow.
            one, same, big, hand_one, hand = measure_rounds(
                [("expander", args.copies, w, None, None) for w in (1, args.workers)]
                + [("expander", args.copies * 10, args.workers, None, None)]
                + [("opencv-pool", args.copies, w, None, None) for w in (1, args.workers)],
                corpus, work, args.repeats,
            )  # fmt: skip
            print("\nScaling (expander, measured again in rounds of its own):\n")
            print(table([one, same, big, hand_one, hand], same))
            print(f"\n{args.workers} workers vs 1: {one['wall_s'] / same['wall_s']:.2f}x the throughput (per round: "
                  f"{per_round(one, same, 'wall_s')}); the hand-written pool in the same rounds: "
                  f"{hand_one['wall_s'] / hand['wall_s']:.2f}x (per round: {per_round(hand_one, hand, 'wall_s')}). "
                  f"{big['outputs']} vs {same['outputs']} outputs: {big['wall_s'] / same['wall_s']:.2f}x "
                  f"the time, peak RSS {big['peak_rss_mb']:.0f} vs {same['peak_rss_mb']:.0f} MB.")  # fmt: skip
            result["scaling"] = {"one_worker": one, "twenty_thousand": big, "hand_one": hand_one, "hand": hand}

        if args.ray:
            result["ray"] = ray_rows(corpus, work, args, reference, result.get("scaling", {}).get("twenty_thousand"))

        if not args.skip_large and args.large.is_dir():
            result["large"] = large_rows(args.large, work, args)

        if not args.skip_training:
            t = training_throughput(corpus)
            print(f"\nTraining input (SmallNet 64x64, {t['images']} images, one epoch): tf.data from files "
                  f"{t['tfdata_epoch_s']:.2f} s (first epoch, filling the cache: {t['tfdata_first_epoch_s']:.2f} s) "
                  f"vs in-memory numpy {t['numpy_epoch_s']:.2f} s (plus {t['numpy_load_s']:.2f} s to load): "
                  f"{t['ratio']:.2f}x.")  # fmt: skip
            result["training"] = t
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
