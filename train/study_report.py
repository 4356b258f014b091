"""Study reports: the ranked ablation table, the learning curve, their verdicts, Markdown and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from train.report import ARM_COLOURS, pyplot
from train.stats import BASELINE
from train.tables import markdown_table, pm, signed, text_table


def _diff(difference: dict | None, metric: str = "accuracy") -> str:
    return signed(None if difference is None else difference[metric])


# --- ablate ---------------------------------------------------------------------------------


def ablation_rows(report: dict) -> list[tuple[str, ...]]:
    classes = report["data"]["classes"]
    header: tuple[str, ...] = ("rank", "arm", "train images", "accuracy (%)", "vs baseline [95% CI]",
                               "at last epoch (%)", "ECE (%)")  # fmt: skip
    header += ("macro-F1 (%)", *tuple(f"recall {c} (%)" for c in classes), "train s/run")
    rows: list[tuple[str, ...]] = [header]
    for arm in report["arms"]:
        rows.append(
            (
                str(arm["rank"]),
                arm["arm"],
                str(arm["train_images"]),
                pm(arm["accuracy"]),
                _diff(arm["difference"]),
                pm(arm["last"]["accuracy"]) if "last" in arm else "-",
                pm(arm["ece"]) if "ece" in arm else "-",
                pm(arm["macro_f1"]),
                *(pm(arm["recall"][c]) for c in classes),
                f"{arm['train_seconds']['mean']:.0f}",
            )
        )
    return rows


def ablation_table(report: dict) -> str:
    return text_table(ablation_rows(report))


def write_ablation_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_ablation(out / "ablation.png", report)
    _plot_validation(out / "curves.png", report, key="arm")
    args, data = report["arguments"], report["data"]
    subset = data["subsets"][0]
    lines = [
        "# train ablate",
        "",
        f"**Verdict.** {report['verdict']}",
        "",
        *markdown_table(ablation_rows(report)),
        "",
        f"Mean ± standard deviation over {len(args['seeds'])} seed(s) ({', '.join(map(str, args['seeds']))}). "
        "Differences are paired by seed (the same seed draws the same initial weights, shuffling and "
        "augmented copies), with a 95% t interval; they cover seed-to-seed variation, not the sampling error "
        "of a finite test set. `train s/run` is the wall time of one run, evaluation included.",
        "",
        *_data_lines(report),
        f"- Each preset arm trains on the {sum(subset['train'].values())} training originals plus "
        f"{args['per_image']} new image(s) of each made with that preset (expander, seed = run seed).",
        "",
        "## Plots",
        "",
        "![test accuracy per arm](ablation.png)",
        "",
        "![validation accuracy per epoch](curves.png)",
        "",
        *_run_lines(report),
        *_argument_lines(report),
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _plot_ablation(path: Path, report: dict) -> None:
    plt = pyplot()
    arms = report["arms"]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(arms)))
    for i, arm in enumerate(arms):
        values = [100 * v for v in arm["accuracy"]["values"]]
        colour = ARM_COLOURS["original"] if arm["arm"] == BASELINE else ARM_COLOURS["expanded"]
        ax.barh(i, 100 * arm["accuracy"]["mean"], xerr=100 * arm["accuracy"]["std"], color=colour, capsize=4)
        ax.plot(values, [i] * len(values), "k.", ms=4)
    baseline = next(a for a in arms if a["arm"] == BASELINE)
    ax.axvline(100 * baseline["accuracy"]["mean"], color="grey", ls="--", lw=1)
    ax.set_yticks(range(len(arms)), [a["arm"] for a in arms])
    ax.invert_yaxis()
    high = max(max(a["accuracy"]["values"]) + a["accuracy"]["std"] for a in arms) * 100
    ax.set_xlim(0, min(100, high + 5))  # bars start at zero: their lengths compare honestly
    ax.set_xlabel("test accuracy (%): mean ± std, dots = seeds; dashed = baseline")
    ax.set_title("Test accuracy per augmentation")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- curve ----------------------------------------------------------------------------------


def curve_rows(report: dict) -> list[tuple[str, ...]]:
    unit = "per class" if report["points"][0]["per_class_equal"] else "images"
    rows: list[tuple[str, ...]] = [(unit, "train originals", "baseline (%)", "expanded (%)",
                                    "expanded - baseline [95% CI]", "effect")]  # fmt: skip
    for p in report["points"]:
        rows.append(
            (
                str(p["size"]) + (f" ({p['fraction']:g})" if p["fraction"] else ""),
                str(p["train_originals"]),
                pm(p["baseline"]["accuracy"]),
                pm(p["expanded"]["accuracy"]),
                _diff(p["difference"]),
                p["effect"],
            )
        )
    return rows


def curve_table(report: dict) -> str:
    return text_table(curve_rows(report))


def write_curve_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_curve(out / "curve.png", report)
    args = report["arguments"]
    lines = [
        "# train curve",
        "",
        f"**Verdict.** {report['verdict']}",
        "",
        "Test accuracy by training-set size (original images, before validation is held out of each subset; "
        "the fraction of each class in brackets when sizes were given as fractions):",
        "",
        *markdown_table(curve_rows(report)),
        "",
        f"Mean ± standard deviation over {len(args['seeds'])} seed(s); the difference is paired by seed, "
        f"with a 95% t interval. The expanded arm adds {args['per_image']} '{args['preset']}' copies of each "
        "training original. Subsets are nested: each size keeps the previous size's images and adds more.",
        "",
        *_data_lines(report),
        "",
        "![test accuracy against training-set size](curve.png)",
        "",
        *_run_lines(report),
        *_argument_lines(report),
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _plot_curve(path: Path, report: dict) -> None:
    plt = pyplot()
    points = report["points"]
    sizes = [p["size"] for p in points]
    unit = "per class" if points[0]["per_class_equal"] else "in all classes"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, label in (("baseline", "originals only"), ("expanded", f"+ {report['arguments']['preset']}")):
        colour = ARM_COLOURS["original" if arm == "baseline" else "expanded"]
        means = [100 * p[arm]["accuracy"]["mean"] for p in points]
        stds = [100 * p[arm]["accuracy"]["std"] for p in points]
        left.errorbar(sizes, means, yerr=stds, marker="o", capsize=4, color=colour, label=label)
    left.set_xscale("log")
    left.minorticks_off()
    left.set_xticks(sizes, [str(s) for s in sizes])
    left.set_xlabel(f"original images {unit}, validation included (log scale)")
    left.set_ylabel("test accuracy (%), mean ± std over seeds")
    left.legend()
    diffs = [100 * p["difference"]["accuracy"]["mean"] for p in points]
    errors = [
        [d - 100 * p["difference"]["accuracy"]["ci95"][0], 100 * p["difference"]["accuracy"]["ci95"][1] - d]
        if p["difference"]["accuracy"]["ci95"]
        else [0, 0]
        for d, p in zip(diffs, points, strict=True)
    ]
    right.errorbar(sizes, diffs, yerr=list(zip(*errors, strict=True)), marker="o", capsize=4,
                   color=ARM_COLOURS["expanded"])  # fmt: skip
    right.axhline(0, color="grey", ls="--", lw=1)
    right.set_xscale("log")
    right.minorticks_off()
    right.set_xticks(sizes, [str(s) for s in sizes])
    right.set_xlabel(f"original images {unit}, validation included (log scale)")
    right.set_ylabel("expanded - baseline (points), 95% CI")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- shared ---------------------------------------------------------------------------------


def _plot_validation(path: Path, report: dict, key: str) -> None:
    """Validation accuracy per epoch, mean over seeds, one line per arm."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm in dict.fromkeys(r[key] for r in report["runs"]):
        histories = [[e["val_accuracy"] for e in r["history"]] for r in report["runs"] if r[key] == arm]
        length = min(len(h) for h in histories)
        mean = 100 * np.mean([h[:length] for h in histories], axis=0)
        ax.plot(range(1, length + 1), mean, marker=".", label=arm, ls="--" if arm == BASELINE else "-")
    ax.set_xlabel("epoch (up to the shortest run)")
    ax.set_ylabel("validation accuracy (%), mean over seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _data_lines(report: dict) -> list[str]:
    data = report["data"]
    sizes = "; ".join(
        f"{', '.join(f'{c} {n}' for c, n in s['train'].items())} train + {sum(s['val'].values())} validation"
        for s in data["subsets"]
    )
    return [
        "## Data",
        "",
        f"- Classes: {', '.join(data['classes'])}; training originals available: "
        f"{', '.join(f'{c} {n}' for c, n in data['available_per_class'].items())}.",
        f"- Test images: {sum(data['test'].values())} from the {data['test_source']}, never augmented or trained on.",
        f"- Subsets (originals): {sizes}. Validation images: the "
        f"{data.get('val_source', 'held-out share of each subset')}, set apart before expansion, so no augmented "
        "copy of a validation or test image exists.",
        *(f"- Left out because it does not decode: `{u['file']}`: {u['error']}" for u in data.get("unreadable", [])),
    ]


def _run_lines(report: dict) -> list[str]:
    lines = ["## Runs", "", "| arm | subset | seed | train images | best epoch | test accuracy | s | reused |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in report["runs"]:
        lines.append(
            f"| {r['arm']} | {r['subset']} | {r['seed']} | {r['train_images']} | {r['best_epoch']}/{r['epochs_run']} "
            f"| {100 * r['test']['accuracy']:.2f}% | {r['train_seconds']:.0f} | {'yes' if r['reused'] else 'no'} |"
        )
    return [*lines, ""]


def _argument_lines(report: dict) -> list[str]:
    return ["## Arguments", "", "```json", json.dumps(report["arguments"], indent=2), "```", ""]


# --- verdicts -----------------------------------------------------------------------------


def ablation_verdict(rows: list[dict], seeds: int) -> str:
    """Which presets beat the baseline with a 95% interval that excludes zero, which hurt, which are unclear."""
    best = rows[0]
    if best["arm"] == BASELINE:
        lead = f"No preset beat training on the originals alone ({100 * best['accuracy']['mean']:.1f}% accuracy)."
    else:
        d = best["difference"]["accuracy"]
        ci = f", 95% CI {100 * d['ci95'][0]:+.1f} to {100 * d['ci95'][1]:+.1f}" if d["ci95"] else ""
        lead = (
            f"Best: {best['arm']}, {100 * best['accuracy']['mean']:.1f}% test accuracy "
            f"({100 * d['mean']:+.1f} points over no augmentation{ci}, {seeds} seed(s))."
        )
    groups: dict[str, list[str]] = {}
    for row in rows:
        if row["arm"] != BASELINE:
            groups.setdefault(row["effect"], []).append(row["arm"])
    parts = [
        f"{label}: {', '.join(groups[key])}"
        for key, label in (
            ("helped", "Helped (interval above zero)"),
            ("unclear", "Unclear (interval includes zero)"),
            ("hurt", "Hurt (interval below zero)"),
            ("single seed", "One seed only, no interval"),
        )
        if key in groups
    ]
    return lead + " " + "; ".join(parts) + "."


def curve_verdict(points: list[dict], preset: str, seeds: int) -> str:
    """Where along the curve the preset helped, and where it stopped paying."""
    unit = "images per class" if points[0]["per_class_equal"] else "images in all classes"
    words: dict[str, list[str]] = {}
    for p in points:
        d = p["difference"]["accuracy"]
        ci = f" [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]" if d["ci95"] else ""
        words.setdefault(p["effect"], []).append(f"{p['size']} ({100 * d['mean']:+.1f}{ci})")
    labels = {"helped": "helped at", "unclear": "made no clear difference at", "hurt": "hurt at",
              "single seed": "was measured with one seed only at"}  # fmt: skip
    parts = [f"{labels[key]} {' and '.join(words[key])}" for key in labels if key in words]
    return (
        f"Expanding with '{preset}' {'; '.join(parts)} {unit} "
        f"(gain in test accuracy points, [95% CI] over {seeds} seed(s))."
    )


# --- search ---------------------------------------------------------------------------------


def search_rows(report: dict) -> list[tuple[str, ...]]:
    """Every candidate of every rung of the halving, best first: the ranking the search decided by (validation
    only)."""
    rows: list[tuple[str, ...]] = [
        ("rung", "epochs", "place", "candidate", "train images", "val accuracy (%)", "val loss", "goes on")
    ]
    for rung in report["rungs"]:
        for place, r in enumerate(rung["results"], 1):
            figures = (f"{100 * r['val_accuracy']:.2f}", f"{r['val_loss']:.4f}", "yes" if r["kept"] else "")
            rows.append((str(rung["rung"]), str(rung["epochs"]), str(place), r["candidate"], str(r["train_images"]),
                         *figures))  # fmt: skip
    return rows


def pilot_rows(report: dict) -> list[tuple[str, ...]]:
    """The pilot's candidates: validation accuracy at each length it tried and at the full length."""
    pilot = report["pilot"]
    lengths = [*pilot["lengths"], {"epochs": pilot["epochs"], "results": pilot["finals"]}]
    rows: list[tuple[str, ...]] = [("candidate", *(f"val accuracy, {t['epochs']}-epoch run (%)" for t in lengths))]
    for place, name in enumerate(pilot["candidates"]):
        rows.append((name, *(f"{100 * t['results'][place]['val_accuracy']:.2f}" for t in lengths)))
    return rows


def finalist_rows(report: dict) -> list[tuple[str, ...]]:
    """Every candidate that trained the full length (the pilot's and the last rung's), best first."""
    rows: list[tuple[str, ...]] = [("place", "candidate", "train images", "val accuracy (%)", "val loss")]
    for place, r in enumerate(report["finalists"], 1):
        rows.append((str(place), r["candidate"], str(r["train_images"]), f"{100 * r['val_accuracy']:.2f}",
                     f"{r['val_loss']:.4f}"))  # fmt: skip
    return rows


def pilot_line(report: dict) -> str:
    """How far each length the pilot tried ranks its candidates as the full length does, and what it chose."""
    pilot = report["pilot"]
    size = len(pilot["candidates"])
    if not pilot["lengths"]:
        return (
            f"Pilot: {size} candidate(s) at {pilot['epochs']} epochs; no shorter rung to try, so every rung "
            "trains the full length."
        )
    tried = ", ".join(
        f"{t['epochs']}-epoch runs {t['spearman']:+.2f}"
        if t["spearman"] is not None
        else f"{t['epochs']}-epoch runs: too few to rank"
        for t in pilot["lengths"]
    )
    first = f"{pilot['first_rung']} epoch{'s' if pilot['first_rung'] != 1 else ''}"
    outcome = (
        f"the first rung trains at least {first}"
        if pilot["agreed"]
        else f"none reached {pilot['bar']:+.2f}, so the first rung trains at least {first}, the longest tried"
    )
    return (
        f"Pilot: {size} candidates at {pilot['epochs']} epochs; Spearman's rank correlation of shorter runs' "
        f"ranking with theirs: {tried}; {outcome}."
    )


def search_final_rows(report: dict) -> list[tuple[str, ...]]:
    """The final compare on the test images: no augmentation vs the winner."""
    final = report["final"]
    rows: list[tuple[str, ...]] = [("metric", "no augmentation", "winner", "winner - none [95% CI]")]
    for metric, scale, name in (("accuracy", 100, "test accuracy (%)"), ("macro_f1", 100, "macro-F1 (%)"),
                                ("ece", 100, "calibration error ECE (%)"), ("loss", 1, "loss")):  # fmt: skip
        rows.append((name, pm(final["baseline"][metric], scale), pm(final["winner"][metric], scale),
                     signed(final["difference"][metric], scale)))  # fmt: skip
    rows.append(("accuracy at last epoch (%)", pm(final["baseline"]["last"]["accuracy"]),
                 pm(final["winner"]["last"]["accuracy"]), ""))  # fmt: skip
    return rows


def search_verdict(report: dict) -> str:
    final, winner = report["final"], report["winner"]
    d = final["difference"]["accuracy"]
    seeds = len(report["arguments"]["seeds"])
    interval = f" (95% CI {100 * d['ci95'][0]:+.1f} to {100 * d['ci95'][1]:+.1f})" if d["ci95"] else ""
    outcome = {"helped": "helped", "hurt": "hurt", "unclear": "made no clear difference to",
               "single seed": "changed (one seed, so by how much is not known)"}[final["effect"]]  # fmt: skip
    use = (
        f"Use it on the fly: the pipeline {winner['pipeline']} applied to every training image at every step "
        "(expander.augment.Augmenter)"
        if winner["per_image"] == 0
        else f"Use it: expander expand SRC --pipeline {winner['pipeline']} --per-image {winner['per_image']}"
    )
    return (
        f"Winner on validation: {winner['name']}. Against no augmentation on the test images it {outcome} "
        f"accuracy: {100 * d['mean']:+.1f} points{interval}, {seeds} seed(s). {use}"
    )


def search_table(report: dict) -> str:
    return text_table(search_final_rows(report))


def write_search_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report["verdict"] = search_verdict(report)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args, pilot = report["arguments"], report["pilot"]
    plan = ", ".join(f"{p['candidates']} x {p['epochs']} epochs" for p in report["plan"]) or "none"
    sized = (
        f"Sized for {args['minutes']:g} minute(s) from the pilot's full-length runs: "
        f"{pilot['run_seconds']:.0f} s per run besides its epochs, {pilot['epoch_seconds']:.1f} s per epoch; "
        f"the pilot took {pilot['seconds'] / 60:.1f} minutes."
        if args["minutes"] is not None
        else f"{report['epochs_spent']} epochs of the budget's {args['budget']}, the pilot's "
        f"{pilot['epochs_spent']} included."
    )
    agreement = [
        f"- rung {a['rungs'][0]} -> {a['rungs'][1]}: Spearman {a['spearman']:+.2f} over {a['candidates']} candidates"
        if a["spearman"] is not None
        else f"- rung {a['rungs'][0]} -> {a['rungs'][1]}: {a['candidates']} candidate(s), too few to rank"
        for a in report["rank_agreement"]
    ]
    lines = [
        "# train search",
        "",
        f"**Verdict.** {report['verdict']}",
        "",
        "## Final compare (the only runs that saw the test images)",
        "",
        *markdown_table(search_final_rows(report)),
        "",
        f"Mean ± standard deviation over {len(args['seeds'])} seed(s), {report['final']['epochs']} epochs each; "
        "differences paired by seed. Test figures at the validation-selected epoch unless marked.",
        "",
        "## Finalists (validation accuracy at the full length)",
        "",
        *markdown_table(finalist_rows(report)),
        "",
        "## The pilot: how short a rung still ranks",
        "",
        pilot_line(report),
        "",
        *markdown_table(pilot_rows(report)),
        "",
        f"{sized} An epoch is {args['epoch_images']} images (a pass over the training originals) for every candidate.",
        "",
        f"## Successive halving of the other candidates (validation accuracy only; eta {args['eta']})",
        "",
        f"Rungs: {plan}. Each rung keeps the best of each kind (offline, on the fly) on its own; the kinds meet "
        "among the finalists.",
        "",
        *(markdown_table(search_rows(report)) if report["rungs"] else ["No candidate was left for it."]),
        "",
        "How far each rung's ranking agrees with the next rung's, over the candidates that trained in both "
        "(1 is the same order):",
        "",
        *agreement,
        "",
        *_data_lines(report),
        "",
        *_argument_lines(report),
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


# --- copies -------------------------------------------------------------------------------


def copies_rows(report: dict) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("arm", "train images", "accuracy (%)", "vs on the fly [95% CI]",
                                    "s/epoch", "augmentation CPU s: once", "per run")]  # fmt: skip
    for arm in report["arms"]:
        once = arm["augment_cpu_seconds"]["once"]
        rows.append((
            arm["arm"],
            str(arm["train_images"]),
            pm(arm["accuracy"]),
            _diff(arm["vs_on_the_fly"]) if arm["vs_on_the_fly"] else "-",
            f"{arm['seconds_per_epoch']['mean']:.1f}",
            "-" if once is None else f"{once:.1f}",
            f"{arm['augment_cpu_seconds']['per_run']:.1f}",
        ))  # fmt: skip
    return rows


def copies_table(report: dict) -> str:
    return text_table(copies_rows(report))


def copies_verdict(report: dict, seeds: int) -> str:
    """Which offline arm first matches on the fly, and what on the fly costs per run."""
    rows = {a["arm"]: a for a in report["arms"]}
    fly = rows["on the fly"]
    lead = f"On the fly: {100 * fly['accuracy']['mean']:.1f}% test accuracy ({seeds} seed(s))."
    match = report["matches_on_the_fly"]
    if match is None:
        offline = [a for a in report["arms"] if a["arm"].startswith("offline")]
        found = (
            f"No offline arm matched it (within {report['match_points']:g} point(s), its 95% interval reaching zero)"
            if offline
            else "No offline arm was trained"
        )
    else:
        d = rows[match]["vs_on_the_fly"]["accuracy"]
        found = (f"The fewest copies that match it (within {report['match_points']:g} point(s), the 95% interval "
                 f"reaching zero): {match}, "
                 f"{100 * rows[match]['accuracy']['mean']:.1f}% ({100 * d['mean']:+.1f} points, "
                 f"[{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}])")  # fmt: skip
    cycled = [a for a in report["arms"] if a["arm"].startswith("cycle")]
    cycle = ""
    if cycled and cycled[0]["vs_on_the_fly"]:
        d = cycled[0]["vs_on_the_fly"]["accuracy"]
        ci = f" [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]" if d["ci95"] else ""
        cycle = f" {cycled[0]['arm']}: {100 * d['mean']:+.1f} points against on the fly{ci}."
    cost = f" On the fly spent {fly['augment_cpu_seconds']['per_run']:.1f} CPU s augmenting in every run."
    return f"{lead} {found}.{cycle}{cost}"


def write_copies_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_copies(out / "copies.png", report)
    _plot_validation(out / "curves.png", report, key="arm")
    args = report["arguments"]
    lines = [
        "# train copies",
        "",
        f"**Verdict.** {report['verdict']}",
        "",
        *markdown_table(copies_rows(report)),
        "",
        f"Mean ± standard deviation over {len(args['seeds'])} seed(s); differences against on the fly are paired "
        f"by seed, with a 95% t interval. Every arm trains {args['epochs']} epochs of {args['epoch_images']} "
        f"images (equal optimiser steps) with '{args['preset']}': offline xK on the originals plus K copies of "
        "each, cycle xK on copy e mod K of every image in epoch e, on the fly on a new copy of every image at "
        "every step. `s/epoch` is training wall time per epoch. Augmentation CPU: `once` is expander's "
        "expansion (decode, augment, encode, write; measured on the largest expansion, per copy, times K), "
        "paid once and reusable by every run; `per run` is what on the fly spends augmenting in each run.",
        "",
        *_data_lines(report),
        "",
        "![test accuracy against copies per image](copies.png)",
        "",
        "![validation accuracy per epoch](curves.png)",
        "",
        *_run_lines(report),
        *_argument_lines(report),
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _plot_copies(path: Path, report: dict) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    rows = {a["arm"]: a for a in report["arms"]}
    fly = rows["on the fly"]["accuracy"]
    mean, std = 100 * fly["mean"], 100 * fly["std"]
    ax.axhspan(mean - std, mean + std, color=ARM_COLOURS["online"], alpha=0.2)
    ax.axhline(mean, color=ARM_COLOURS["online"], label="on the fly (mean ± std)")
    offline = [a for a in report["arms"] if a["arm"].startswith("offline")]
    if offline:
        ax.errorbar([a["copies"] for a in offline], [100 * a["accuracy"]["mean"] for a in offline],
                    yerr=[100 * a["accuracy"]["std"] for a in offline], marker="o", capsize=4,
                    color=ARM_COLOURS["expanded"], label="offline: originals + K copies")  # fmt: skip
    for arm in (a for a in report["arms"] if a["arm"].startswith("cycle")):
        ax.errorbar([arm["copies"]], [100 * arm["accuracy"]["mean"]], yerr=[100 * arm["accuracy"]["std"]],
                    marker="s", capsize=4, color="black", ls="none", label=f"{arm['arm']} (copy e mod K)")  # fmt: skip
    ks = sorted({a["copies"] for a in report["arms"] if a["copies"]})
    if ks:
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("copies per training image, K (log scale)")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
