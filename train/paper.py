"""``train paper``: the Stanford paper's dogs-vs-cats table, every row under one protocol, over seeds.

Wang and Perez report one validation accuracy per row. Each row here is a ``train augnet`` run per seed
(same data split, SmallNet, Adam, epochs, batch and best-validation-epoch selection), so rows differ only
in what the classifier sees beside the originals. Finished runs (a ``report.json`` whose arguments match)
are reused, so an interrupted table resumes and a run made earlier with ``train augnet`` counts.
The paper's "GAN styles" row needs its six painting styles; it is listed, not run.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from train.augnet import AugnetConfig, train_augnet
from train.fit import quiet_tensorflow
from train.stats import describe, paired_difference
from train.tables import markdown_table, pm, signed, text_table


@dataclass(frozen=True)
class Row:
    key: str  # run folders are KEY-sSEED
    name: str  # the paper's name for the row
    paper: float  # the paper's dogs-vs-cats validation accuracy
    augment: str
    loss: str


ROWS = (
    Row("off", "None", 0.705, "off", "none"),
    Row("traditional", "Traditional", 0.775, "traditional", "none"),
    Row("none", "Neural + no loss", 0.765, "neural", "none"),
    Row("content", "Neural + content loss", 0.770, "neural", "content"),
    Row("style", "Neural + style loss", 0.740, "neural", "style"),
    Row("control", "Control", 0.710, "neural", "control"),
)
PER_RUN = ("augment", "loss", "seed")  # the config fields each row and seed sets
NOT_RUN = {
    "name": "GAN styles",
    "paper": 0.720,
    "why": "CycleGAN transfer to six painting styles: no painting references or pretrained GAN offline. "
    "Its offline counterpart is `expander expand --style-refs DIR` with reference images of your own.",
}


def paper_table(
    src: str | Path,
    *,
    out: str | Path,
    test: str | Path | None = None,
    seeds: int = 3,
    config: AugnetConfig = AugnetConfig(),
    val_fraction: float = 0.2,
    progress: bool = False,
    train=train_augnet,
) -> dict:
    """Run (or reuse) every row for seeds 0..SEEDS-1 and write ``report.json`` and ``report.md`` to OUT."""
    quiet_tensorflow()  # and says what to install if the train extra is missing
    out = Path(out)
    runs: list[dict] = []
    total = len(ROWS) * seeds
    for row in ROWS:
        for seed in range(seeds):
            row_config = replace(config, augment=row.augment, loss=row.loss, seed=seed)
            run_dir = out / f"{row.key}-s{seed}"
            expected = _arguments(src, test, val_fraction, row_config)
            report = _finished(run_dir, expected)
            reused = report is not None
            if report is None:
                _say(progress, f"[{len(runs) + 1}/{total}] training {row.name}, seed {seed} -> {run_dir}")
                report = train(src, test=test, out=run_dir, config=row_config, val_fraction=val_fraction,
                               progress=progress)  # fmt: skip
            runs.append(_run_summary(row, seed, run_dir, report, reused))
            _say(progress, f"[{len(runs)}/{total}] {row.name}, seed {seed}: best validation accuracy "
                           f"{100 * report['best_val_accuracy']:.2f}%{' (reused)' if reused else ''}")  # fmt: skip
    table = _summarise(runs)
    report = {
        "study": "paper",
        "arguments": {  # the runs' arguments, less what varies between them
            **{k: v for k, v in _arguments(src, test, val_fraction, config).items() if k not in PER_RUN},
            "out": str(out.resolve()),
            "seeds": seeds,
        },
        "rows": table,
        "not_run": NOT_RUN,
        "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


def _arguments(src, test, val_fraction: float, config: AugnetConfig) -> dict:
    return {
        "src": str(Path(src).resolve()),
        "test": str(Path(test).resolve()) if test else None,
        "val_fraction": val_fraction,
        **config.to_dict(),
    }


def _finished(run_dir: Path, expected: dict) -> dict | None:
    """The run's report if it finished with these arguments (a field it predates ran at its default)."""
    try:
        report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    arguments, defaults = report.get("arguments", {}), AugnetConfig().to_dict()
    same = all(arguments.get(key, defaults.get(key)) == value for key, value in expected.items())
    return report if same else None


def _run_summary(row: Row, seed: int, run_dir: Path, report: dict, reused: bool) -> dict:
    return {
        "row": row.key,
        "seed": seed,
        "dir": run_dir.name,  # inside the table's folder
        "reused": reused,
        "best_epoch": report["best_epoch"],
        "val_accuracy": report["best_val_accuracy"],
        "test_accuracy": report["test_at_best"]["accuracy"],
        "counts": report["data"]["counts"],
        "samples": f"{run_dir.name}/{report['samples']['file']}" if report.get("samples") else None,
    }


def _summarise(runs: list[dict]) -> list[dict]:
    """Per row: validation and test accuracy over seeds, and the paired test difference to 'None'."""
    by_row = {row.key: [r for r in runs if r["row"] == row.key] for row in ROWS}
    baseline = [r["test_accuracy"] for r in by_row["off"]]
    rows = []
    for row in ROWS:
        mine = by_row[row.key]
        test = [r["test_accuracy"] for r in mine]
        rows.append({
            "row": row.key,
            "name": row.name,
            "paper_val_accuracy": row.paper,
            "val_accuracy": describe([r["val_accuracy"] for r in mine]),
            "test_accuracy": describe(test),
            "best_epoch": describe([r["best_epoch"] for r in mine]),
            "test_vs_none": None if row.key == "off" else paired_difference(test, baseline),
        })  # fmt: skip
    return rows


def _cells(report: dict) -> list[tuple[str, ...]]:
    header = ("row", "paper val (%)", "val accuracy (%)", "test accuracy (%)", "test vs None [95% CI]", "best epoch")
    cells: list[tuple[str, ...]] = [header]
    for r in report["rows"]:
        epochs = ", ".join(str(int(e)) for e in r["best_epoch"]["values"])
        cells.append((r["name"], f"{100 * r['paper_val_accuracy']:.1f}", pm(r["val_accuracy"]),
                      pm(r["test_accuracy"]), signed(r["test_vs_none"]), epochs))  # fmt: skip
    n = report["not_run"]
    cells.append((n["name"], f"{100 * n['paper']:.1f}", "not run", "not run", "-", "-"))
    return cells


def paper_table_text(report: dict) -> str:
    return text_table(_cells(report))


def _markdown(report: dict) -> str:
    args = report["arguments"]
    counts = report["runs"][0]["counts"]
    lines = [
        "# The paper's table: train paper",
        "",
        f"Data: `{args['src']}`; {counts['train']} training and {counts['val']} validation originals, "
        f"{counts['test']} test images. Every row: {args['model']} at {args['image_size']}x{args['image_size']}, "
        f"Adam (learning rate {args['lr']}), batch {args['batch_size']}, {args['epochs']} epochs, the epoch with "
        f"the best validation accuracy kept (as the paper reports); seeds 0-{args['seeds'] - 1}. Mean ± sample "
        "standard deviation over seeds. Validation accuracy is the paper's figure but is also what picked the "
        "epoch, so it flatters every row; test accuracy (untouched images) is the honest one.",
        "",
        *markdown_table(_cells(report)),
        "",
        f"{report['not_run']['name']}: not run. {report['not_run']['why']}",
        "",
        "Sample sheets of the neural rows, seed 0 (each row: first image, second image, the net's output):",
        "",
    ]
    for run in report["runs"]:
        if run["samples"] and run["seed"] == 0:
            lines += [f"{run['row']}:", "", f"![{run['row']} samples]({run['samples']})", ""]
    lines += ["", "## Runs", "", "| row | seed | val (%) | test (%) | best epoch | reused | folder |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["runs"]:
        lines.append(f"| {r['row']} | {r['seed']} | {100 * r['val_accuracy']:.2f} | {100 * r['test_accuracy']:.2f} | "
                     f"{r['best_epoch']} | {'yes' if r['reused'] else 'no'} | `{r['dir']}` |")  # fmt: skip
    lines += ["", "## Arguments", "", "```json", json.dumps(args, indent=2), "```", ""]
    return "\n".join(lines)


def _say(progress: bool, line: str) -> None:
    if progress:
        print(line, file=sys.stderr, flush=True)
