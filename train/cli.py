"""``train``: Typer app. Options -> one library call -> table or --json; errors -> exit status 2.

TensorFlow is imported only inside the commands that train or evaluate.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from expander.cli_support import Progress, Version, guard, handle_sigterm, make_app, show_progress
from train.errors import TrainError
from train.models import MODELS, parameter_count

app = make_app("Train small Keras CNNs on original vs expanded image folders and report honestly.")


@app.callback()
def _options(
    version: Version = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show TensorFlow's start-up log on stderr.")] = False,
) -> None:
    """Train small Keras CNNs on original vs expanded image folders and report honestly.

    Example: `train compare data/pets data/pets_expanded --seeds 3`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train import fit

    fit.TENSORFLOW_LOG = verbose


# The models are a registry (train.models.MODELS), so the choice is built from it: mypy cannot see its members.
ModelName = enum.Enum("ModelName", {name: name for name in MODELS}, type=str)  # type: ignore[misc]


class ClassWeight(str, enum.Enum):
    none = "none"
    balanced = "balanced"


Model = Annotated[ModelName, typer.Option(help="Architecture (see: train models).")]
ImageSize = Annotated[int, typer.Option(help="Images are resized to SIZE x SIZE.", min=8)]
Epochs = Annotated[int, typer.Option(help="Maximum epochs per run.", min=1)]
BatchSize = Annotated[int, typer.Option(help="Batch size.", min=1)]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate.", min=0.0)]
EarlyStopping = Annotated[
    Optional[int], typer.Option(help="Stop after N epochs without improvement in --monitor. [default: off]", min=1)
]


class Schedule(str, enum.Enum):
    cosine = "cosine"
    constant = "constant"


ScheduleOption = Annotated[Schedule, typer.Option(help="Learning rate: cosine decay after --warmup, or constant.")]
Warmup = Annotated[int, typer.Option(help="Epochs of linear learning-rate warm-up (cosine schedule).", min=0)]
WeightDecay = Annotated[float, typer.Option(help="AdamW's decoupled weight decay (0: plain Adam).", min=0.0)]
LabelSmoothing = Annotated[float, typer.Option(help="Share of each target spread over all classes.", min=0.0, max=0.5)]
MixUp = Annotated[
    float, typer.Option("--mixup", help="MixUp: blend image pairs, Beta(A, A) weights; 0 is off.", min=0.0)
]
EpochImages = Annotated[
    Optional[int],
    typer.Option(
        help="Images per epoch, for equal steps across arms of different sizes. [default: the training set]", min=1
    ),
]
CutMix = Annotated[
    float, typer.Option("--cutmix", help="CutMix: paste boxes between images, Beta(A, A); 0 is off.", min=0.0)
]


class Precision(str, enum.Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"


PrecisionOption = Annotated[
    Precision,
    typer.Option(
        help="bfloat16: compute in bfloat16, weights in float32. Faster only where the CPU has bfloat16 "
        "instructions (AVX-512 BF16, AMX); 11x slower on an AVX2 CPU."
    ),
]


class Monitor(str, enum.Enum):
    val_loss = "val_loss"
    val_accuracy = "val_accuracy"


MonitorOption = Annotated[Monitor, typer.Option(help="Validation metric that picks the best epoch (and stops early).")]
Weight = Annotated[ClassWeight, typer.Option(help="'balanced' weights the loss by inverse class frequency.")]
TestDir = Annotated[
    Optional[Path], typer.Option("--test", help="Test folder. [default: ORIGINAL's test/ or val/ split, else held out]")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
AllowLeaks = Annotated[
    bool,
    typer.Option(
        help="Train even when a training image is the same picture as a validation or test image (said in the "
        "report); by default that stops the run with exit 2 and the commands that fix it."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
Store = Annotated[
    Optional[Path],
    typer.Option(
        help="Where expansions and finished runs are kept; share it between studies to reuse them. "
        "[default: OUT/store, or runs/store without --out]"
    ),
]
PerImage = Annotated[int, typer.Option(help="New images per training original in each expanded arm.", min=1)]
Seeds = Annotated[
    int, typer.Option(help="Repeat every arm with this many seeds (0..K-1); a search, its final compare.", min=1)
]
Workers = Annotated[Optional[int], typer.Option(help="Expansion processes. [default: all cores]", min=1)]
Parallel = Annotated[
    Optional[int],
    typer.Option(
        help="Training runs at once, each in its own process on cores/N TensorFlow threads (1: one by one, "
        "on all cores). A run's numbers depend on its threads: the same command on the same machine gives "
        "the same numbers. [default: one per core; fewer for few or short runs, or under 2 GiB of memory each]",
        min=1,
    ),
]
ValFraction = Annotated[float, typer.Option(help="Share of each subset's originals used for validation.")]
TestFraction = Annotated[float, typer.Option(help="Share of SRC held out for testing when it has no test set.")]
StudyOut = Annotated[Optional[Path], typer.Option(help="Report folder. [default: `runs/<command>-<timestamp>`]")]


RUNS_KEPT = "The finished runs are kept: the same command trains only the missing ones."


def run_progress(progress: bool | None, quiet: bool) -> bool:
    """Progress for the commands that train through train.runs: a bar on a terminal, and into a log file a
    line per finished run and every 10 epochs (runs.run_all decides which), unless --quiet or --no-progress."""
    return not quiet if progress is None else progress


# The training options compare, fit, ablate, curve and search share, declared once (see with_fit_options);
# their defaults are FitConfig's, chosen by the measurements in docs/train.md.
_FIT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "model": (Model, ModelName("resnet")),
    "image_size": (ImageSize, 64),
    "epochs": (Epochs, 20),
    "batch_size": (BatchSize, 32),
    "lr": (LearningRate, 1e-3),
    "schedule": (ScheduleOption, Schedule.cosine),
    "warmup": (Warmup, 2),
    "weight_decay": (WeightDecay, 0.05),
    "label_smoothing": (LabelSmoothing, 0.1),
    "mixup": (MixUp, 0.0),
    "cutmix": (CutMix, 0.0),
    "epoch_images": (EpochImages, None),
    "early_stopping": (EarlyStopping, None),
    "class_weight": (Weight, ClassWeight.none),
    "monitor": (MonitorOption, Monitor.val_loss),
    "precision": (PrecisionOption, Precision.float32),
}


def _with_options(command: Callable[..., None], table: dict[str, tuple[Any, Any]], name: str, pack, after: str):
    """``command`` with the options of ``table`` in its signature, handed to it packed as one ``name`` argument.

    Typer reads a command's signature; this one is the command's own parameters, less ``name``, with the
    table's options inserted after its arguments (``after="arguments"``) or after its own options (``"own"``).
    """
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != name]
    keyword = inspect.Parameter.KEYWORD_ONLY
    inserted = [inspect.Parameter(n, keyword, default=d, annotation=a) for n, (a, d) in table.items()]
    arguments = [p for p in own if p.default is inspect.Parameter.empty]
    rest = [p.replace(kind=keyword) for p in own if p.default is not inspect.Parameter.empty]
    order = [*arguments, *inserted, *rest] if after == "arguments" else [*arguments, *rest, *inserted]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        command(**{name: pack({n: values.pop(n) for n in table})}, **values)

    wrapper.__signature__ = inspect.Signature(order)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in order}
    return wrapper


def _fit_config(chosen: dict[str, Any]):
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.fit import FitConfig, native_bfloat16

    plain = {n: v.value if isinstance(v, enum.Enum) else v for n, v in chosen.items()}
    if plain["precision"] == "bfloat16" and native_bfloat16() is False:
        typer.echo("Warning: this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX), so --precision bfloat16 "
                   "trains slower here, not faster (11x slower measured on an AVX2 CPU); leave it at float32.",
                   err=True)  # fmt: skip
    return FitConfig(**plain)


def with_fit_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the training options (model, image size, epochs, ...), handed to it as ``config``."""
    return _with_options(command, _FIT_OPTIONS, "config", _fit_config, after="arguments")


@dataclass(frozen=True)
class StudyOptions:
    """What every study command (ablate, curve, copies, search) takes besides its own choices."""

    test: Path | None
    out: Path | None
    store: Path | None
    seeds: int
    val_fraction: float
    test_fraction: float
    workers: int | None
    parallel: int | None
    as_json: bool
    quiet: bool
    progress: bool | None
    allow_leaks: bool

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the study functions (train.study, train.search) share."""
        return {"test": self.test, "out": self.out, "store": self.store, "seeds": self.seeds,
                "val_fraction": self.val_fraction, "test_fraction": self.test_fraction, "workers": self.workers,
                "parallel": self.parallel, "progress": run_progress(self.progress, self.quiet),
                "allow_leaks": self.allow_leaks}  # fmt: skip


# The options every study shares, declared once (see with_study_options).
_STUDY_OPTIONS: dict[str, tuple[Any, Any]] = {
    "test": (TestDir, None),
    "out": (StudyOut, None),
    "store": (Store, None),
    "seeds": (Seeds, 3),
    "val_fraction": (ValFraction, 0.2),
    "test_fraction": (TestFraction, 0.2),
    "workers": (Workers, None),
    "parallel": (Parallel, None),
    "as_json": (AsJson, False),
    "quiet": (Quiet, False),
    "progress": (Progress, None),
    "allow_leaks": (AllowLeaks, False),
}


def with_study_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a study command the options every study shares (--test, --out, --store, --seeds, ...), handed to
    it as ``study`` (a StudyOptions)."""
    return _with_options(command, _STUDY_OPTIONS, "study", lambda chosen: StudyOptions(**chosen), after="own")


@app.command()
@with_fit_options
def compare(
    original: Annotated[
        Path, typer.Argument(metavar="ORIGINAL", help="The original dataset (class folders or train/val/test).")
    ],
    expanded: Annotated[
        Path, typer.Argument(metavar="EXPANDED", help="The expanded dataset, e.g. written by expander expand.")
    ],
    test: TestDir = None,
    out: Annotated[Optional[Path], typer.Option(help="Report folder. [default: `runs/compare-<timestamp>`]")] = None,
    seeds: Annotated[int, typer.Option(help="Repeat each arm with this many seeds (0..K-1).", min=1)] = 3,
    val_fraction: Annotated[float, typer.Option(help="Share of training originals used for validation.")] = 0.2,
    test_fraction: Annotated[float, typer.Option(help="Share of ORIGINAL held out when it has no test set.")] = 0.2,
    online: Annotated[
        Optional[str],
        typer.Option(
            metavar="PRESET",
            help="Add a third arm: ORIGINAL's training images with PRESET applied on the fly, every epoch.",
        ),
    ] = None,
    allow_leaks: AllowLeaks = False,
    store: Store = None,
    parallel: Parallel = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
    progress: Progress = None,
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Train the same model with the same seeds on ORIGINAL and EXPANDED; test both on the same untouched images.

    With --online PRESET a third arm trains on the originals with PRESET applied on the fly, so one command
    answers "offline copies vs on-the-fly vs none" with the same model, seeds and test images.

    Files in EXPANDED derived from validation or test images are left out of its training set (found through
    expander's manifest.csv) and counted. Writes report.json, report.md, curves.png, metrics.png and
    confusion.png to --out.

    Example: `train compare data/pets data/pets_expanded --model smallnet --image-size 64 --seeds 3`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.compare import compare as run_compare
    from train.report import summary_table

    report = guard(
        lambda: run_compare(
            original,
            expanded,
            test=test,
            out=out,
            config=config,
            seeds=seeds,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            online=online,
            allow_leaks=allow_leaks,
            store=store,
            parallel=parallel,
            progress=run_progress(progress, quiet),
        ),
        RUNS_KEPT,
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for warning in report["data"]["warnings"]:
        typer.echo(f"Warning: {warning}", err=True)
    _say_left_out(report["data"]["unreadable"], "report.md")
    typer.echo(summary_table(report))
    typer.echo(f"\n{report['verdict']}")
    left = report["data"]["left_out"]
    typer.echo(f"Left out of EXPANDED as copies of test/validation images: {left['test']}/{left['val']}.")
    typer.echo(f"Validation: {report['data']['val_source']}; test: {report['data']['test_source']}.")
    typer.echo(f"Report: {Path(report['arguments']['out']) / 'report.md'}")


@app.command()
@with_fit_options
def fit(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="Dataset to train on (class folders or train/val/test).")
    ],
    test: TestDir = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: `runs/fit-<timestamp>`]")] = None,
    seed: Annotated[int, typer.Option(help="Seed for weights and shuffling.")] = 0,
    allow_leaks: AllowLeaks = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    progress: Progress = None,
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Train one model; save model.keras, model.json, history.csv and metrics.json to --out.

    Example: `train fit sample_data/fashion_mnist --model tiny --image-size 28 --epochs 5 --out runs/fm`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.compare import fit_folder

    metrics = guard(
        lambda: fit_folder(
            folder,
            test=test,
            out=out,
            config=config,
            seed=seed,
            progress=show_progress(progress, quiet),
            allow_leaks=allow_leaks,
        )
    )
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    for warning in metrics["data"]["warnings"]:
        typer.echo(f"Warning: {warning}", err=True)
    _say_left_out(metrics["data"]["unreadable"], "metrics.json")
    t = metrics["test"]
    typer.echo(
        f"Test accuracy {100 * t['accuracy']:.2f}%, macro-F1 {100 * t['macro_f1']:.2f}%, loss {t['loss']:.4f}, "
        f"ECE {100 * t['ece']:.1f}% at epoch {metrics['best_epoch']} (selected by validation); "
        f"{100 * metrics['test_last']['accuracy']:.2f}% at the last, epoch {metrics['epochs_run']} "
        f"({metrics['data']['test_source']})."
    )


def _say_left_out(unreadable: list[dict], listed_in: str, shown: int = 5) -> None:
    """On stderr: the images left out because they do not decode, the first few by name."""
    if not unreadable:
        return
    typer.echo(f"Left out {len(unreadable)} image(s) that do not decode:", err=True)
    for u in unreadable[:shown]:
        typer.echo(f"  {u['file']}: {u['error']}", err=True)
    if len(unreadable) > shown:
        typer.echo(f"  and {len(unreadable) - shown} more, listed in {listed_in}", err=True)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="A model.keras written by train fit.")],
    folder: Annotated[
        Path,
        typer.Argument(metavar="FOLDER", help="Images to test on: class folders, or the test/ split of a dataset."),
    ],
    as_json: AsJson = False,
) -> None:
    """Evaluate a saved model on a folder of images.

    Example: `train evaluate runs/fm/model.keras sample_data/fashion_mnist`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.compare import evaluate as run_evaluate

    metrics = guard(lambda: run_evaluate(model, folder))
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    _say_left_out(metrics["unreadable"], "the --json output")
    typer.echo(
        f"{metrics['images']} images: accuracy {100 * metrics['accuracy']:.2f}%, "
        f"macro-F1 {100 * metrics['macro_f1']:.2f}%, balanced accuracy {100 * metrics['balanced_accuracy']:.2f}%, "
        f"loss {metrics['loss']:.4f}."
    )


def _split_list(text: str, kind: type, option: str) -> list:
    """Split "a,b" into [a, b], each converted with ``kind``."""
    try:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TrainError(f"{option} expects a comma-separated list of {kind.__name__}s; got {text!r}.") from None


@app.command()
@with_fit_options
@with_study_options
def ablate(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    presets: Annotated[str, typer.Option(help="Comma-separated presets, one arm each (see: expander presets).")] = (
        "keras,traditional,noise,trivial"
    ),
    per_image: PerImage = 5,
    per_class: Annotated[
        Optional[int],
        typer.Option(help="Use this many originals per class (validation included). [default: all]", min=2),
    ] = None,
    fraction: Annotated[Optional[float], typer.Option(help="Or this share of each class's originals.")] = None,
    study: Any = None,  # the options every study shares, packed by with_study_options
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Which augmentation helps? Train the no-augmentation baseline and one arm per preset; rank them.

    Every arm uses the same training originals, model and seeds; each preset arm adds --per-image copies of
    every training original made with that preset (expander's library, cached). All arms are tested on the
    same untouched images. Finished runs are reused when the command is run again, so an interrupted study
    resumes. Writes report.json, report.md, ablation.png and curves.png to --out.

    Example: `train ablate data/pets --presets keras,traditional,noise --per-image 5 --seeds 3`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.study import ablate as run_ablate
    from train.study_report import ablation_table

    report = guard(
        lambda: run_ablate(
            src,
            presets=_split_list(presets, str, "--presets"),
            per_image=per_image,
            per_class=per_class,
            fraction=fraction,
            config=config,
            **study.arguments(),
        ),
        RUNS_KEPT,
    )
    _print_study(report, ablation_table, study.as_json)


@app.command()
@with_fit_options
@with_study_options
def curve(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    fractions: Annotated[
        Optional[str], typer.Option(help="Comma-separated shares of each class. [default: 0.1,0.25,0.5,1.0]")
    ] = None,
    per_class: Annotated[
        Optional[str], typer.Option(help="Or comma-separated images per class, e.g. 50,100,250,500.")
    ] = None,
    preset: Annotated[str, typer.Option(help="Preset of the expanded arm (see: expander presets).")] = "keras",
    per_image: PerImage = 5,
    study: Any = None,  # the options every study shares, packed by with_study_options
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Where does augmentation stop paying? Baseline vs expanded at growing training-set sizes.

    Subsets of the training originals are nested and stratified (each size keeps the previous one's images).
    At each size the baseline and the --preset arm train with the same seeds and are tested on the same
    untouched images. Finished runs are reused when the command is run again. Writes report.json, report.md
    and curve.png (accuracy against size with error bars, and the gain with its 95% interval) to --out.

    Example: `train curve data/pets --per-class 50,100,250 --preset keras --per-image 5`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.study import curve as run_curve
    from train.study_report import curve_table

    report = guard(
        lambda: run_curve(
            src,
            fractions=_split_list(fractions, float, "--fractions") if fractions is not None else None,
            per_class=_split_list(per_class, int, "--per-class") if per_class is not None else None,
            preset=preset,
            per_image=per_image,
            config=config,
            **study.arguments(),
        ),
        RUNS_KEPT,
    )
    _print_study(report, curve_table, study.as_json)


@app.command()
@with_fit_options
@with_study_options
def copies(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    copies: Annotated[
        str, typer.Option("--copies", help="Comma-separated copies per image, one offline arm each.")
    ] = "1,2,5,10,20",
    cycle: Annotated[
        Optional[int],
        typer.Option(
            help="Copies the cycling arm cycles through (epoch e: copy e mod K); 0 for none. "
            "[default: the largest of --copies]",
            min=0,
        ),
    ] = None,
    preset: Annotated[str, typer.Option(help="Preset of every arm (see: expander presets).")] = "traditional",
    study: Any = None,  # the options every study shares, packed by with_study_options
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Offline or on the fly? Offline copies per image against a new copy at every step, at equal steps.

    Arms: on the fly (--preset applied to every image every epoch); offline xK for each K of --copies (the
    originals plus K copies each, made once by expander and kept in the store); cycle xK (epoch e trains on
    copy e mod K of every image: the on-the-fly schedule replayed from disk). Every epoch is as long as the
    training originals (--epoch-images overrides), so every arm gets the same optimiser steps; --online is
    ignored. Reports accuracy with 95% intervals against on the fly, seconds per epoch, and augmentation CPU
    time (once for offline, every run for on the fly); finished runs are reused when run again. Writes
    report.json, report.md, copies.png and curves.png to --out.

    Example: `train copies data/pets --copies 1,2,5,10,20 --preset traditional --epochs 60 --seeds 3`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.study import copies as run_copies
    from train.study_report import copies_table

    report = guard(
        lambda: run_copies(
            src,
            copies=_split_list(copies, int, "--copies"),
            cycle=cycle,
            preset=preset,
            config=config,
            **study.arguments(),
        ),
        RUNS_KEPT,
    )
    _print_study(report, copies_table, study.as_json)


@app.command()
@with_fit_options
@with_study_options
def search(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    presets: Annotated[str, typer.Option(help="Comma-separated presets to try (see: expander presets).")] = (
        "keras,traditional,light,strong,trivial"
    ),
    magnitudes: Annotated[
        str, typer.Option(help="Comma-separated strengths: each preset's ranges scaled by each (1 = as defined).")
    ] = "0.5,1,1.5",
    per_image: Annotated[
        str, typer.Option(help="Comma-separated copies per training original to try; 0 tries it on the fly.")
    ] = "0,2,5",
    budget: Annotated[
        int, typer.Option(help="Training epochs the search may spend over all its runs, the pilot's included.", min=1)
    ] = 1000,
    minutes: Annotated[
        Optional[float],
        typer.Option(
            help="Or a time budget: the runs sized from what the pilot's runs cost here to fit it (the final "
            "compare not included)."
        ),
    ] = None,
    eta: Annotated[int, typer.Option(help="Successive halving: keep 1/ETA of the candidates per rung.", min=2)] = 3,
    study: Any = None,  # the options every study shares, packed by with_study_options
    config: Any = None,  # the training options, packed by with_fit_options
) -> None:
    """Find the augmentation for your data: a pilot, successive halving on validation accuracy, then one test
    compare.

    Candidates are (preset, magnitude, copies per image; 0 copies: on the fly). A pilot trains four of them,
    both kinds, for --epochs and for shorter lengths until one ranks them as the full length does: the first
    rung is no shorter. The others train briefly; the best 1/ETA of each kind train again with ETA times the
    epochs, up to --epochs. The best of all full-length runs wins. Test images are used only by the final
    compare: the winner against no augmentation, --seeds seeds, --epochs epochs. Runs are kept in the store, so
    an interrupted search resumes without retraining. Writes pipeline.json (the winner, for `expander expand
    --pipeline`), report.json and report.md to --out.

    Example: `train search data/pets --minutes 30 --epochs 60 --out runs/search`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.search import search as run_search
    from train.study_report import pilot_line, search_table

    report = guard(
        lambda: run_search(
            src,
            presets=_split_list(presets, str, "--presets"),
            magnitudes=_split_list(magnitudes, float, "--magnitudes"),
            per_image=_split_list(per_image, int, "--per-image"),
            budget=budget,
            minutes=minutes,
            eta=eta,
            config=config,
            **study.arguments(),
        ),
        RUNS_KEPT,
    )
    if study.as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(search_table(report))
    typer.echo(f"\n{report['verdict']}")
    typer.echo(pilot_line(report))
    pilot = report["pilot"]
    runs = [*pilot["finals"], *(r for t in pilot["lengths"] for r in t["results"])]
    runs += [r for rung in report["rungs"] for r in rung["results"]]
    typer.echo(f"Search runs: {len(runs)} ({sum(r['reused'] for r in runs)} reused).")
    typer.echo(f"Pipeline: {report['winner']['pipeline']}")
    typer.echo(f"Report: {Path(report['arguments']['out']) / 'report.md'}")


def _print_study(report: dict, table, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for warning in report["data"].get("warnings", []):
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo(table(report))
    typer.echo(f"\n{report['verdict']}")
    reused = sum(r["reused"] for r in report["runs"])
    typer.echo(f"Runs: {len(report['runs'])} ({reused} reused from {report['arguments']['store']}).")
    typer.echo(f"Report: {Path(report['arguments']['out']) / 'report.md'}")


class AugnetLoss(str, enum.Enum):
    content = "content"
    style = "style"
    none = "none"
    control = "control"


@app.command()
def augnet(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    loss: Annotated[AugnetLoss, typer.Option(help="Augmentation loss: content, style, none, or control.")] = (
        AugnetLoss.content
    ),
    test: TestDir = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: `runs/augnet-<timestamp>`]")] = None,
    model: Model = ModelName("smallnet"),
    image_size: ImageSize = 64,
    epochs: Epochs = 40,
    batch_size: BatchSize = 16,
    lr: LearningRate = 1e-4,
    alpha: Annotated[float, typer.Option(help="Weight of the classification loss.")] = 0.75,
    beta: Annotated[float, typer.Option(help="Weight of the augmentation loss.")] = 0.25,
    seed: Annotated[int, typer.Option(help="Seed for weights, pairs and shuffling.")] = 0,
    val_fraction: ValFraction = 0.2,
    allow_leaks: AllowLeaks = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
    progress: Progress = None,
) -> None:
    """Train the Stanford paper's augmentation net jointly with the classifier; save it as a generator.

    The net merges two images of one class into a new training image. --loss content pulls its output toward a
    third image of the class, style toward that image's Gram matrices, none adds no loss, control feeds the same
    image twice. Writes augnet.keras (best validation epoch), report.json, report.md, history.png and
    samples.png. Then: `expander expand SRC --generator RUN/augnet.keras --per-image N`.

    Example: `train augnet data/pets --loss content --epochs 40 --out runs/augnet-content`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.augnet import AugnetConfig, train_augnet

    config = AugnetConfig(loss.value, model.value, image_size, epochs, batch_size, lr, alpha, beta, seed)
    report = guard(
        lambda: train_augnet(
            src,
            test=test,
            out=out,
            config=config,
            val_fraction=val_fraction,
            progress=show_progress(progress, quiet),
            allow_leaks=allow_leaks,
        )
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(
        f"Best validation accuracy {100 * report['best_val_accuracy']:.2f}% at epoch {report['best_epoch']}; "
        f"test accuracy there {100 * report['test_at_best']['accuracy']:.2f}%."
    )
    typer.echo(f"Generator: {Path(report['arguments']['out']) / 'augnet.keras'}")
    typer.echo(f"Report: {Path(report['arguments']['out']) / 'report.md'}")


@app.command()
def paper(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The original dataset (class folders or train/val/test).")],
    out: Annotated[Path, typer.Option(help="Folder for the runs (ROW-sSEED/) and report.json / report.md.")],
    test: TestDir = None,
    seeds: Seeds = 3,
    model: Model = ModelName("smallnet"),
    image_size: ImageSize = 64,
    epochs: Epochs = 40,
    batch_size: BatchSize = 16,
    lr: LearningRate = 1e-4,
    val_fraction: ValFraction = 0.2,
    as_json: AsJson = False,
    quiet: Quiet = False,
    progress: Progress = None,
) -> None:
    """Reproduce the Stanford paper's table: no augmentation, traditional, the augmentation net with each loss, control.

    Every row is a `train augnet` run per seed under one protocol (same split, model, optimiser, epochs,
    best-validation-epoch selection); the rows differ only in what the classifier sees beside the originals.
    Finished runs in --out are reused, so the table resumes. Prints validation and test accuracy per row
    (mean ± std over seeds) next to the paper's figure.

    Example: `train paper data/dogs_vs_cats --seeds 3 --out runs/paper`
    """
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.augnet import AugnetConfig
    from train.paper import paper_table, paper_table_text

    config = AugnetConfig(model=model.value, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr)
    report = guard(
        lambda: paper_table(
            src,
            out=out,
            test=test,
            seeds=seeds,
            config=config,
            val_fraction=val_fraction,
            progress=show_progress(progress, quiet),
        )
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(paper_table_text(report))
    reused = sum(r["reused"] for r in report["runs"])
    typer.echo(f"\nRuns: {len(report['runs'])} ({reused} reused). Report: {out / 'report.md'}")


@app.command()
def models(
    image_size: Annotated[int, typer.Option(help="Count parameters for SIZE x SIZE RGB input.", min=8)] = 64,
) -> None:
    """List the registered model architectures with their parameter counts (2 classes)."""
    # lazy: the training code, numpy and OpenCV (~40-140 ms) only for the command that runs, not for --help
    from train.fit import quiet_tensorflow

    guard(quiet_tensorflow)  # the light core install: exit 2 with what to install

    for spec in MODELS.values():
        count = parameter_count(spec.name, (image_size, image_size, 3), 2)
        typer.echo(f"{spec.name} ({count:,} parameters): {spec.description}")


def main() -> None:
    handle_sigterm()
    app(prog_name="train")


if __name__ == "__main__":
    main()
