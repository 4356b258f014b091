"""``train``: Typer app. Options -> one library call -> table or --json; errors -> exit status 2.

TensorFlow is imported only inside the commands that train or evaluate.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from expander.cli import guard
from train.models import MODELS

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    help="Train small Keras CNNs on original vs expanded image folders and report honestly.",
)

ModelName = enum.Enum("ModelName", {name: name for name in MODELS}, type=str)


class ClassWeight(str, enum.Enum):
    none = "none"
    balanced = "balanced"


Model = Annotated[ModelName, typer.Option(help="Architecture (see: train models).")]
ImageSize = Annotated[int, typer.Option(help="Images are resized to SIZE x SIZE.", min=8)]
Epochs = Annotated[int, typer.Option(help="Maximum epochs per run.", min=1)]
BatchSize = Annotated[int, typer.Option(help="Batch size.", min=1)]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate.", min=0.0)]
EarlyStopping = Annotated[
    Optional[int], typer.Option(help="Stop after N epochs without validation-loss improvement. [default: off]", min=1)
]
Weight = Annotated[ClassWeight, typer.Option(help="'balanced' weights the loss by inverse class frequency.")]
TestDir = Annotated[
    Optional[Path], typer.Option("--test", help="Test folder. [default: ORIGINAL's test/ or val/ split, else held out]")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]


def _config(model, image_size, epochs, batch_size, lr, early_stopping, class_weight):
    from train.fit import FitConfig

    return FitConfig(model.value, image_size, epochs, batch_size, lr, early_stopping, class_weight.value)


@app.command()
def compare(
    original: Annotated[Path, typer.Argument(help="The original dataset (class folders or train/val/test).")],
    expanded: Annotated[Path, typer.Argument(help="The expanded dataset, e.g. written by expander expand.")],
    test: TestDir = None,
    out: Annotated[Optional[Path], typer.Option(help="Report folder. [default: runs/compare-<timestamp>]")] = None,
    model: Model = ModelName.smallnet,
    image_size: ImageSize = 64,
    epochs: Epochs = 20,
    batch_size: BatchSize = 32,
    lr: LearningRate = 1e-3,
    early_stopping: EarlyStopping = None,
    class_weight: Weight = ClassWeight.none,
    seeds: Annotated[int, typer.Option(help="Repeat each arm with this many seeds (0..K-1).", min=1)] = 3,
    val_fraction: Annotated[float, typer.Option(help="Share of training originals used for validation.")] = 0.2,
    test_fraction: Annotated[float, typer.Option(help="Share of ORIGINAL held out when it has no test set.")] = 0.2,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Train the same model with the same seeds on ORIGINAL and EXPANDED; test both on the same untouched images.

    Files in EXPANDED derived from validation or test images are left out of its training set (found through
    expander's manifest.csv) and counted. Writes report.json, report.md, curves.png, metrics.png and
    confusion.png to --out.

    Example: `train compare data/pets data/pets_expanded --model smallnet --image-size 64 --seeds 3`
    """
    from train.compare import compare as run_compare
    from train.report import summary_table

    config = _config(model, image_size, epochs, batch_size, lr, early_stopping, class_weight)
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
            progress=not quiet,
        )  # fmt: skip
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for warning in report["data"]["warnings"]:
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo(summary_table(report))
    typer.echo(f"\n{report['verdict']}")
    left = report["data"]["left_out"]
    typer.echo(f"Left out of EXPANDED as copies of test/validation images: {left['test']}/{left['val']}.")
    typer.echo(f"Report: {Path(report['arguments']['out']) / 'report.md'}")


@app.command()
def fit(
    folder: Annotated[Path, typer.Argument(help="Dataset to train on (class folders or train/val/test).")],
    test: TestDir = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: runs/fit-<timestamp>]")] = None,
    model: Model = ModelName.smallnet,
    image_size: ImageSize = 64,
    epochs: Epochs = 20,
    batch_size: BatchSize = 32,
    lr: LearningRate = 1e-3,
    early_stopping: EarlyStopping = None,
    class_weight: Weight = ClassWeight.none,
    seed: Annotated[int, typer.Option(help="Seed for weights and shuffling.")] = 0,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Train one model; save model.keras, model.json, history.csv and metrics.json to --out.

    Example: `train fit sample_data/fashion_mnist --model tiny --image-size 28 --epochs 5 --out runs/fm`
    """
    from train.compare import fit_folder

    config = _config(model, image_size, epochs, batch_size, lr, early_stopping, class_weight)
    metrics = guard(lambda: fit_folder(folder, test=test, out=out, config=config, seed=seed, progress=not quiet))
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    t = metrics["test"]
    typer.echo(
        f"Test accuracy {100 * t['accuracy']:.2f}%, macro-F1 {100 * t['macro_f1']:.2f}%, loss {t['loss']:.4f} "
        f"(best epoch {metrics['best_epoch']} of {metrics['epochs_run']}, {metrics['data']['test_source']})."
    )


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="A model.keras written by train fit.")],
    folder: Annotated[Path, typer.Argument(help="Images to test on: class folders, or the test/ split of a dataset.")],
    as_json: AsJson = False,
) -> None:
    """Evaluate a saved model on a folder of images.

    Example: `train evaluate runs/fm/model.keras sample_data/fashion_mnist`
    """
    from train.compare import evaluate as run_evaluate

    metrics = guard(lambda: run_evaluate(model, folder))
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    typer.echo(
        f"{metrics['images']} images: accuracy {100 * metrics['accuracy']:.2f}%, "
        f"macro-F1 {100 * metrics['macro_f1']:.2f}%, balanced accuracy {100 * metrics['balanced_accuracy']:.2f}%, "
        f"loss {metrics['loss']:.4f}."
    )


@app.command()
def models() -> None:
    """List the registered model architectures."""
    for spec in MODELS.values():
        typer.echo(f"{spec.name}: {spec.description}")


def main() -> None:
    app(prog_name="train")


if __name__ == "__main__":
    main()
