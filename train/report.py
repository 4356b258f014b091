"""Comparison results -> report.json, report.md and PNG plots; and the terminal table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from train.stats import HEADLINE_METRICS
from train.tables import markdown_table, pm, signed, text_table

ARM_COLOURS = {"original": "#4c72b0", "expanded": "#dd8452", "online": "#55a868"}
DIFFERENCE_OF = {"expanded": "difference", "online": "online_difference"}  # report key of (arm - original)


def verdict(difference: dict, seeds: int, arm: str = "expanded dataset") -> str:
    """One sentence on test accuracy, with its uncertainty."""
    d = difference["accuracy"]
    points = 100 * d["mean"]
    if d["ci95"] is None:
        return (
            f"The {arm} minus original test accuracy: {points:+.1f} points from a single seed; "
            "run with --seeds 3 or more to know whether that is more than chance."
        )
    low, high = (100 * v for v in d["ci95"])
    interval = f"{points:+.1f} points (95% CI {low:+.1f} to {high:+.1f}, {seeds} seeds)"
    if low > 0:
        return f"The {arm} improved test accuracy by {interval}; the interval excludes zero."
    if high < 0:
        return f"The {arm} lowered test accuracy by {interval}; the interval excludes zero."
    return f"No clear difference for the {arm}: test accuracy changed by {interval}, and the interval includes zero."


def arms_of(report: dict) -> list[str]:
    """The arms a compare report holds: original and expanded, and online when it was asked for."""
    return [arm for arm in ARM_COLOURS if arm in report]


# Rows beside the headline metrics: the last epoch's accuracy and the train/validation gap (percent points).
_EXTRA_ROWS = (
    ("accuracy at last epoch (%)", lambda s: s["last"]["accuracy"]),
    ("train - val gap (points)", lambda s: s["gap"]),
)


def summary_rows(report: dict) -> list[tuple[str, ...]]:
    """Metric, one column per arm, then each arm minus original: the rows of the terminal table and report.md.

    Test figures are at the validation-selected epoch; the last epoch's accuracy and the train/validation
    gap (accuracy on unaugmented training images minus validation accuracy, at the selected epoch) follow.
    """
    arms = arms_of(report)
    rows = [("metric", *arms, *(f"{arm} - original [95% CI]" for arm in arms[1:]))]
    for metric in HEADLINE_METRICS:
        scale = 1 if metric in ("loss",) else 100
        name = {"loss": "loss", "ece": "calibration error ECE (%)"}.get(metric, f"{metric} (%)")
        cells = [pm(report[arm][metric], scale) for arm in arms]
        rows.append((name, *cells, *(signed(report[DIFFERENCE_OF[arm]][metric], scale) for arm in arms[1:])))
    for name, figure in _EXTRA_ROWS:
        if all("last" in report[arm] and "gap" in report[arm] for arm in arms):
            rows.append((name, *(pm(figure(report[arm])) for arm in arms), *("" for _ in arms[1:])))
    return rows


def summary_table(report: dict) -> str:
    """The plain-text table on the terminal."""
    return text_table(summary_rows(report))


def write_reports(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_curves(out / "curves.png", report)
    _plot_metrics(out / "metrics.png", report)
    _plot_confusion(out / "confusion.png", report)
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")


def _markdown(report: dict) -> str:
    data, args = report["data"], report["arguments"]
    lines = [
        "# train compare",
        "",
        f"**Verdict.** {report['verdict']}",
        "",
        *markdown_table(summary_rows(report)),
    ]
    lines += [
        "",
        f"Mean ± standard deviation over {len(args['seeds'])} seeds ({', '.join(map(str, args['seeds']))}); "
        "the difference is paired by seed, with a t interval.",
        "",
        "## Data",
        "",
        f"- Classes: {', '.join(data['classes'])}",
        f"- Test images: {data['counts']['test']} from the {data['test_source']}, never augmented or trained on.",
        f"- Validation (best epoch): {data['counts']['val']} images from the "
        f"{data.get('val_source') or 'training originals'}, the same for every arm.",
        f"- Training images: original {data['counts']['train_original']}, expanded {data['counts']['train_expanded']}"
        + (
            f", online: the original {data['counts']['train_original']} with `{args['online']}` applied on the fly "
            "(a new copy of each image every epoch)."
            if args.get("online")
            else "."
        ),
        f"- Steps: {args['epoch_images'] or 'every training image'} images per epoch, {args['epochs']} epochs; "
        f"test figures at the epoch selected by {args['monitor']} unless marked as last epoch.",
        f"- Left out of the expanded arm as derived from test images: {data['left_out'].get('test', 0)}; "
        f"from validation images: {data['left_out'].get('val', 0)} (checked by {data['leakage_check']}).",
    ]
    lines += [f"- **Warning:** {w}" for w in data["warnings"]]
    unreadable = data.get("unreadable", [])
    if unreadable:
        lines.append(f"- Left out because they do not decode: {len(unreadable)} file(s)")
        lines += [f"  - `{u['file']}`: {u['error']}" for u in unreadable]
    lines += [
        "",
        "## Per class (recall, mean over seeds)",
        "",
        "| class | " + " | ".join(arms_of(report)) + " |",
        "|---|" + "---|" * len(arms_of(report)),
    ]
    for i, name in enumerate(data["classes"]):
        recalls = [
            _mean([r["test"]["recall"][i] for r in report["runs"] if r["arm"] == arm]) for arm in arms_of(report)
        ]
        lines.append(f"| {name} | " + " | ".join(f"{100 * r:.1f}%" for r in recalls) + " |")
    lines += ["", "## Runs", "", "Test figures at the validation-selected epoch, and at the last epoch.", ""]
    lines += ["| arm | seed | selected epoch | test accuracy | at last epoch | ECE | train - val gap | s/epoch |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in report["runs"]:
        last = f"{100 * r['test_last']['accuracy']:.2f}%" if "test_last" in r else "-"
        ece = f"{100 * r['test']['ece']:.1f}%" if "ece" in r["test"] else "-"
        gap = f"{100 * r['gap']:+.1f}" if "gap" in r else "-"
        lines.append(
            f"| {r['arm']} | {r['seed']} | {r['best_epoch']}/{r['epochs_run']} | {100 * r['test']['accuracy']:.2f}% | "
            f"{last} | {ece} | {gap} | {r['seconds_per_epoch']:.2f} |"
        )
    lines += [
        "",
        "## Plots",
        "",
        "![training curves](curves.png)",
        "",
        "![test metrics](metrics.png)",
        "",
        "![confusion matrices](confusion.png)",
        "",
        "## Arguments",
        "",
        "```json",
        json.dumps(args, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def pyplot():
    """matplotlib.pyplot on the Agg backend: plots go to files, no display needed."""
    import matplotlib  # lazy: matplotlib costs ~0.25 s to import; only the plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib costs ~0.25 s to import; only the plots need it

    return plt


METRIC_LABELS = {"accuracy": "accuracy", "macro_f1": "macro-F1", "balanced_accuracy": "balanced accuracy",
                 "loss": "loss"}  # fmt: skip
SEED_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _plot_curves(path: Path, report: dict) -> None:
    """Loss and accuracy per epoch: colour = arm, dashed = train, solid = validation, marker = seed.

    The legends sit below the plots, where they cover no curve.
    """
    from matplotlib.lines import Line2D  # lazy: matplotlib costs ~0.25 s to import; only the plots need it

    plt = pyplot()
    seeds = report["arguments"]["seeds"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for run in report["runs"]:
            epochs = [e["epoch"] for e in run["history"]]
            style = {"color": ARM_COLOURS[run["arm"]], "marker": SEED_MARKERS[seeds.index(run["seed"]) % 8], "ms": 4}
            ax.plot(epochs, [e[metric] for e in run["history"]], ls="--", alpha=0.5, **style)
            ax.plot(epochs, [e[f"val_{metric}"] for e in run["history"]], alpha=0.9, **style)
        ax.set_xlabel("epoch")
        ax.set_ylabel(METRIC_LABELS[metric])
        ax.set_title(f"{METRIC_LABELS[metric].capitalize()} per epoch")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=ARM_COLOURS[arm], lw=2, label=arm) for arm in arms_of(report)]
    handles += [
        Line2D([], [], color="black", ls="--", label="train"),
        Line2D([], [], color="black", label="validation"),
    ]
    handles += [Line2D([], [], color="grey", marker=SEED_MARKERS[i % 8], ls="", label=f"seed {s}")
                for i, s in enumerate(seeds)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_metrics(path: Path, report: dict) -> None:
    plt = pyplot()
    metrics = ("accuracy", "macro_f1", "balanced_accuracy")
    seeds = len(report["arguments"]["seeds"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    arms = arms_of(report)
    width = 0.8 / len(arms)
    for index, arm in enumerate(arms):
        offset = (index - (len(arms) - 1) / 2) * width
        means = [100 * report[arm][m]["mean"] for m in metrics]
        stds = [100 * report[arm][m]["std"] for m in metrics]
        bars = ax.bar([i + offset for i in range(len(metrics))], means, width=width, yerr=stds, capsize=4,
                      color=ARM_COLOURS[arm], label=arm)  # fmt: skip
        ax.bar_label(bars, [f"{m:.1f}" for m in means], padding=3, fontsize=8)
    ax.set_xticks(range(len(metrics)), [METRIC_LABELS[m] for m in metrics])
    ax.set_ylabel("test score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Test metrics, mean ± std over {seeds} seed{'s' if seeds > 1 else ''}")
    ax.legend(loc="upper center", ncol=len(arms), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_confusion(path: Path, report: dict) -> None:
    """Confusion matrices summed over seeds, counts in white on dark cells and black on light ones."""
    plt = pyplot()
    classes = report["data"]["classes"]
    arms = arms_of(report)
    fig, axes = plt.subplots(1, len(arms), figsize=(2.5 * len(arms) + 1.2 * len(classes), 3 + 0.6 * len(classes)))
    for ax, arm in zip(axes, arms, strict=True):
        total = np.sum([r["test"]["confusion"] for r in report["runs"] if r["arm"] == arm], axis=0)
        ax.imshow(total, cmap="Blues", vmin=0)
        dark = total.max() / 2
        for (i, j), v in np.ndenumerate(total):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9, color="white" if v > dark else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(arm)
    fig.suptitle("Test confusion matrices, summed over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
