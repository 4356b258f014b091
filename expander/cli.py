"""Typer app: options -> one library call -> summary (human or --json); errors -> exit codes.

Exit status: 0 every input processed; 1 some inputs failed (the rest were written);
2 the command could not run (bad arguments, layout or output folder); 130 interrupted.
Heavy modules are imported inside commands so that ``expander --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from expander.cli_support import (
    CONTEXT_SETTINGS,
    Progress,
    Version,
    choice_enum,
    guard,
    handle_sigterm,
    make_app,
    plain_value,
    printable,
    show_progress,
    typer_option,
    with_parameters,
)
from expander.errors import ExpanderError, Terminated
from expander.options import FIELD_DEFAULTS, OPTION_NAMES, cli_of, default_workers, parse_size
from expander.pipeline import DEFAULT_PRESET, PRESETS, describe_pipeline, preset_dict, resolve_pipeline, save_pipeline

app = make_app("Grow an image dataset with augmented copies: reproducible, parallel, class-aware.")
presets_app = typer.Typer(
    help="List the built-in presets, or show one as an editable pipeline file.", context_settings=CONTEXT_SETTINGS
)
app.add_typer(presets_app, name="presets")


@app.callback()
def _options(version: Version = None) -> None:
    """Grow an image dataset with augmented copies: reproducible, parallel, class-aware.

    Example: `expander expand data/dogs_cats --per-image 20 --classes dog`
    """


def expand_options(*names: str):
    """Give a command these options of ``ExpandOptions`` (declared once, in expander.options), handed to it as
    ``options``: a dict of the values the library takes."""
    declared = {name: typer_option(name, cli_of(name), FIELD_DEFAULTS[name]) for name in names}
    return with_parameters(declared, "options", lambda got: {n: plain_value(v, cli_of(n)) for n, v in got.items()})


PresetName = choice_enum("preset", tuple(PRESETS))


_PRESETS_EPILOG = "Presets (details: expander presets):\n\n" + "\n".join(
    f"- **{p.name}**: {p.contents}. Use for {p.use}." for p in PRESETS.values()
)


@app.command(epilog=_PRESETS_EPILOG)
@expand_options("src", *OPTION_NAMES)
def expand(
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No plan table or progress bar on stderr.")] = False,
    progress: Progress = None,
    options: Any = None,  # the expand options, packed by expand_options
) -> None:
    """Write augmented copies of every image in SRC to a new folder with the same layout.

    Labelled datasets (YOLO, COCO, Pascal VOC, LabelMe, CVAT, Label Studio, CreateML, CSV box lists, KITTI,
    segmentation masks) are detected from their layout:
    each copy gets its own label file with the boxes, masks and keypoints moved with its pixels. A dataset
    holding labels that no format reads is refused (exit 2) with what was seen.

    Only the train split is augmented; val/ and test/ are copied byte for byte, images and label files, except
    the files that list a split's images, which are written anew from what was written: a COCO split's JSON
    (the same images, annotations and ids; its spacing and key order change), data.yaml and VOC's lists (a
    CreateML, CSV, CVAT or Label Studio list whose images were all copied unchanged is copied byte for byte). Every
    output is listed in DST/manifest.csv with its source, copy index, seed, size and SHA-256; DST/expander.json
    records the arguments, pipeline, versions and counts. Exit status: 0 all inputs processed, 1 some inputs failed (the
    rest were written) or the disk filled up, 2 the command could not run, 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM); finish an interrupted or stopped run with --resume.

    Example: `expander expand data/dogs_cats --per-image 20 --classes dog`
    """
    # lazy: numpy and OpenCV (~85 ms) only for the command that needs them, not for every command and --help
    from expander.api import expand as run_expand

    show_plan = not quiet and not options["dry_run"]
    try:
        result = run_expand(
            **options,
            progress=show_progress(progress, quiet),
            on_plan=(lambda rows: typer.echo(_plan_table(_escaped(rows)), err=True)) if show_plan else None,
        )
    except ExpanderError as e:
        typer.echo(f"Error: {printable(str(e), lines=True)}", err=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        what = "Terminated" if isinstance(e, Terminated) else "Interrupted"
        typer.echo(f"{what}. Run the same command with --resume to finish the job.", err=True)
        raise typer.Exit(143 if isinstance(e, Terminated) else 130) from None
    if options["dry_run"]:
        _emit(result.to_dict(), as_json, lambda summary: _plan_table(summary["plan"]))
        return
    _emit(result.to_dict(), as_json, _run_report)
    raise typer.Exit(result.exit_code)


@app.command()
@expand_options("labels", "workers", "max_pixels")
def inspect(
    src: Annotated[
        str,
        typer.Argument(
            metavar="SRC",
            help="Dataset to survey: class folders, train/val/test, or a labelled dataset; a folder or URL.",
        ),
    ],
    duplicates: Annotated[
        Optional[Path],
        typer.Option(
            help="Also write the duplicate groups and train/test leaks to this JSON file, with a keep/drop decision "
            "per file, for expand --exclude."
        ),
    ] = None,
    duplicates_sheet: Annotated[
        Optional[Path],
        typer.Option(
            help="Also draw the duplicate groups (leaks first, at most 60) side by side in this PNG, with the "
            "keep/drop decision under each file, to confirm them at a glance."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    options: Any = None,  # workers and max_pixels, as expand takes them
) -> None:
    """Survey a dataset: counts and imbalance, sizes, modes, formats, unreadable files, duplicates and leaks.

    Exact duplicates are found by content hash; near-duplicates (re-encoded, resized, brightness, contrast,
    gamma or colour changed, mirrored, cropped, shifted, turned a few degrees) by a tone-robust DCT hash, the
    nearest coarse layouts and a check of the thumbnails' structure (once aligned). A duplicate that spans
    splits is a train/test leak, listed first. Ends with a suggested command.

    Example: `expander inspect data/dogs_cats`
    """
    # lazy: numpy and OpenCV (~60 ms) only for the command that needs them, not for every command and --help
    from expander.inspection import inspect_dataset

    workers = options["workers"] or default_workers()
    report = guard(lambda: inspect_dataset(src, workers, options["max_pixels"], duplicates, options["labels"],
                                           duplicates_sheet))  # fmt: skip
    _emit(report, as_json, _inspect_report)
    if duplicates_sheet is not None and not as_json:
        typer.echo(f"Drew {report['duplicates_sheet']['groups']} duplicate group(s) in {duplicates_sheet}", err=True)
    if duplicates is not None and not as_json:
        found = report["duplicates_file"]
        typer.echo(f"Wrote {found['groups']} duplicate group(s), {found['drop']} file(s) to drop, to {duplicates}; "
                   f"apply with: expander expand {src} --exclude {duplicates}", err=True)  # fmt: skip


@app.command()
@expand_options("workers", "seed", "max_pixels")
def split(
    src: Annotated[str, typer.Argument(metavar="SRC", help="Class folders to split: a folder or URL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New folder for the split tree and split.json.")],
    val: Annotated[float, typer.Option(help="Share of each class for val (SRC without splits).", min=0, max=1)] = 0.1,
    test: Annotated[float, typer.Option(help="Share of each class for test (SRC without splits).", min=0, max=1)] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    options: Any = None,  # workers, seed and max_pixels, as expand takes them
) -> None:
    """Split class folders into train/val/test with every duplicate group in one split (no leaks).

    Duplicates (exact, and near as inspect finds them) are kept together. SRC without splits gets new ones,
    stratified by class and drawn from --seed; SRC with splits keeps them, and a duplicate group that straddles
    them moves whole to the evaluation split it touches (an evaluation image never moves into train). Writes
    `OUT/<split>/<class>/<file>` byte for byte and `OUT/split.json` with every group and move.

    Example: `expander split data/dogs_cats -o data/dogs_cats_split --val 0.1 --test 0.1`
    """
    # lazy: numpy and OpenCV (~60 ms) only for the command that needs them, not for every command and --help
    from expander.splitting import split_dataset

    workers = options["workers"] or default_workers()
    report = guard(lambda: split_dataset(src, out, val, test, options["seed"], workers, options["max_pixels"]))
    _emit(report, as_json, _split_report)


def _split_report(r: dict) -> str:
    splits = list(r["per_split"])
    classes = list(next(iter(r["per_split"].values()), {}))
    width = max([len(c) for c in classes] + [5])
    sizes = ", ".join(f"{s} {sum(r['per_split'][s].values())}" for s in splits)
    lines = [f"Split {r['images']} image(s) of {r['source']} into {r['out']}: {sizes} (seed {r['seed']})."]
    lines.append(f"Duplicate groups kept together: {r['groups_kept_together']} ({r['images_in_groups']} images).")
    lines.append(f"{'class':<{width}}  " + "  ".join(f"{s:>6}" for s in splits))
    lines += [f"{c:<{width}}  " + "  ".join(f"{r['per_split'][s][c]:>6}" for s in splits) for c in classes]
    if r["moves"]:
        lines.append(f"Moved {len(r['moves'])} file(s) so that no duplicate group straddles two splits:")
        lines += [f"  {m['file']}: {m['from']} -> {m['to']} (a duplicate of {', '.join(m['group'][:3])})"
                  for m in r["moves"]]  # fmt: skip
    lines.append(f"Wrote {r['out']}/split.json: every group, move and file.")
    return "\n".join(lines)


@app.command()
@expand_options("labels", "preset", "pipeline", "style_refs", "seed", "size", "max_pixels")
def preview(
    src: Annotated[str, typer.Argument(metavar="SRC", help="Dataset to preview: a folder or an object-store URL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("preview.png"),
    copies: Annotated[int, typer.Option("-n", help="Augmented copies per row.", min=1)] = 8,
    per_class: Annotated[int, typer.Option(help="Rows (source images) per class.", min=1)] = 2,
    cell: Annotated[int, typer.Option(help="Side of each tile in pixels (larger shows boxes better).", min=32)] = 128,
    options: Any = None,  # the pipeline, seed, size and pixel limit, as expand takes them
) -> None:
    """Write a contact sheet: per row an original, then the copies expand would make of it with this seed.

    In a labelled dataset (YOLO, COCO, VOC, masks) rows are chosen per object class, and every tile shows its
    boxes with class names and its mask outlines, moved with the pixels.

    Example: `expander preview data/dogs_cats --preset traditional -n 6 --out sheet.png`
    """
    # lazy: numpy and OpenCV (~60 ms) only for the command that needs them, not for every command and --help
    from expander.preview import preview as run_preview

    def call():
        chosen = (options["preset"], options["pipeline"], options["style_refs"])

        def skipped(path: str, reason: str) -> None:
            shown = f"{printable(path)}: {printable(reason)}"
            typer.echo(f"Skipped {shown}. (expander inspect lists every unreadable file.)", err=True)

        return run_preview(src, out, resolve_pipeline(*chosen), label=describe_pipeline(*chosen), copies=copies,
                           per_class=per_class, seed=options["seed"], size=parse_size(options["size"]), cell=cell,
                           max_pixels=options["max_pixels"], on_skip=skipped, labels=options["labels"])  # fmt: skip

    typer.echo(str(guard(call)))


@app.command()
@expand_options("workers", "max_pixels")
def verify(
    dst: Annotated[
        str, typer.Argument(metavar="DST", help="An output folder (or object-store URL) written by expander expand.")
    ],
    replay: Annotated[int, typer.Option(help="Regenerate K random outputs and compare bytes.", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="Seed for choosing which outputs to replay.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    options: Any = None,  # workers and max_pixels, as expand takes them
) -> None:
    """Check an expanded folder against its manifest.csv; exit status 1 on any mismatch.

    Every listed file must exist, match the size and SHA-256 the manifest records, and decode; no unlisted
    image may sit beside them; no manifest path may leave DST. With --replay K, K randomly chosen outputs
    regenerated from source + seed + pipeline must be byte-identical.

    Example: `expander verify data/dogs_cats_expanded --replay 20`
    """
    # lazy: numpy and OpenCV (~80 ms) only for the command that needs them, not for every command and --help
    from expander.verify import verify as run_verify

    workers = options["workers"] or default_workers()
    result = guard(lambda: run_verify(dst, replay=replay, seed=seed, workers=workers, max_pixels=options["max_pixels"]))
    _emit(result, as_json, _verify_report)
    raise typer.Exit(0 if result["ok"] else 1)


@presets_app.callback(invoke_without_command=True)
def presets_list(ctx: typer.Context) -> None:
    """List the built-in presets with their contents and intended use.

    Example: expander presets show keras --save my_pipeline.json
    """
    if ctx.invoked_subcommand is not None:
        return
    for p in PRESETS.values():
        default = " (default)" if p.name == DEFAULT_PRESET else ""
        typer.echo(f"{p.name}{default}\n  contents: {p.contents}\n  use for:  {p.use}")


@presets_app.command("show")
def presets_show(
    name: Annotated[PresetName, typer.Argument(metavar="NAME", help="Preset to show.")],  # type: ignore[valid-type]
    save: Annotated[
        Optional[Path],
        typer.Option(help="Write it to this file (.json, or .yaml/.yml) to edit and pass to --pipeline."),
    ] = None,
) -> None:
    """Print a preset as an albumentations pipeline, or save it for editing.

    Example: expander presets show traditional --save traditional.yaml
    """
    chosen = plain_value(name, cli_of("preset"))
    pipeline = preset_dict(chosen)
    if save is None:
        typer.echo(json.dumps(pipeline, indent=2))
        return
    save_pipeline(pipeline, save)
    typer.echo(f"Saved preset '{chosen}' to {save}. Edit it and pass it with --pipeline {save}.", err=True)


def _emit(summary: dict, as_json: bool, human: Callable[[dict], str]) -> None:
    """A command's result as JSON, or as the report ``human`` writes from it, every name and message in it one
    printable line (a file name with a CR or an escape sequence cannot rewrite the terminal)."""
    typer.echo(json.dumps(summary, indent=2) if as_json else human(_escaped(summary)))


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def _plan_table(rows: list[dict]) -> str:
    """The plan as a table, and the files it writes (a labelled plan's rows count objects)."""
    files = [r for r in rows if r.get("unit") == "files"]
    rows = [r for r in rows if r.get("unit") != "files"]
    has_splits = any(r["split"] for r in rows)
    objects = any(r.get("unit") == "objects" for r in rows)
    columns = ["object class", "objects", "new", "total"] if objects else ["class", "originals", "new", "total"]
    header = (["split"] if has_splits else []) + columns
    body = [
        ([r["split"] or ""] if has_splits else [])
        + [
            r["class"] + ("" if r["augmented"] else " (carried)" if r["new"] else " (copied)"),
            r["originals"],
            r["new"],
            r["total"],
        ]
        for r in rows
    ]
    totals = [sum(r[k] for r in rows) for k in ("originals", "new", "total")]
    body.append(([""] if has_splits else []) + ["total", *totals])
    counted = files[0] if files else {"originals": totals[0], "new": totals[1], "total": totals[2]}
    return (f"{_table(header, body)}\nFiles to write: {counted['total']} ({counted['originals']} originals, "
            f"{counted['new']} new images).")  # fmt: skip


def _labels_report(labels: dict, totals: dict) -> list[str]:
    lines = [
        f"Labels ({labels['format']}): {labels['objects_written']} objects written; the copies hold "
        f"{labels['objects_in_copies']} where their sources held {labels['objects_in_copies_sources']} (objects leave "
        "the image or fall below --min-visibility; a reflecting border brings in mirror images)"
        + (
            f"; {totals['empty_copies']} copies lost every object and were not written (--keep-empty)"
            if totals.get("empty_copies")
            else ""
        )
        + "."
    ]
    for target in labels.get("targets", []):
        if target["short"]:
            lines.append(f"Target not reached: {target['class']} has {target['reached']} of {target['target']} "
                         f"objects: {target['reason']}.")  # fmt: skip
    lines += [f"Note: {note}." for note in labels.get("notes", [])]
    for key, title in (("skipped", "label line(s) or entries could not be read and were left out (--skip-bad-labels)"),
                       ("problems", "problem(s) in the source labels, each with what the copies leave out"),
                       ("labels_without_images", "label file(s) or entries without an image, not used")):  # fmt: skip
        found = labels.get(key) or []
        if found:
            lines.append(f"{len(found)} {title}:")
            lines += [f"  {p}" for p in found[:20]]
            if len(found) > 20:
                lines.append(f"  ... and {len(found) - 20} more (expander.json lists them all)")
    return lines


def inventory_lines(inventory: dict) -> list[str]:
    """Where every file of the source went: the accounting line, then the ignored files by reason (the first
    three of each; expander.json lists them all)."""
    images = f"{inventory['images']} images"
    if "augmented" in inventory:
        left_out = f", {inventory['left_out']} left out" if inventory["left_out"] else ""
        images += f" ({inventory['augmented']} augmented, {inventory['copied']} copied unchanged{left_out})"
    lines = [f"Source files: {inventory['files']}: {images}, {inventory['label_files']} label and dataset files, "
             f"{inventory['ignored']} ignored."]  # fmt: skip
    by_reason: dict[str, list[dict]] = {}
    for entry in inventory["ignored_files"]:
        by_reason.setdefault(entry["reason"], []).append(entry)
    for reason, entries in by_reason.items():
        shown = ", ".join(printable(e["file"]) for e in entries[:3]) + (", ..." if len(entries) > 3 else "")
        lines.append(f"  {len(entries)} {reason}: {shown} ({entries[0]['why']})")
    return lines


def _run_report(summary: dict) -> str:
    t = summary["totals"]
    shards = summary.get("shards")
    what = f"samples in {len(shards['files'])} {shards['format']} shards" if shards else "files"
    lines = [
        f"Wrote {t['written']} of {t['planned']} {what} to {summary['out']} in {summary['duration_s']:.1f} s"
        + (f" ({summary['images_per_s']:.0f} images/s)" if summary["images_per_s"] else "")
        + (f"; {t['resumed']} were already there (resumed)" if t["resumed"] else "")
        + "."
    ]
    if summary.get("excluded"):
        lines.append(f"Left out by --exclude (duplicates and leaks): {len(summary['excluded'])} file(s).")
    if summary.get("changed_sources"):
        changed = summary["changed_sources"]
        lines.append(f"{len(changed)} source(s) changed since the interrupted run started; their outputs were written "
                     f"again (e.g. {printable(changed[0])}).")  # fmt: skip
    lines += inventory_lines(summary["inventory"])
    if summary.get("labels"):
        lines += _labels_report(summary["labels"], t)
    if summary["failures"]:
        lines.append(f"{len(summary['failures'])} input(s) failed and were skipped:")
        lines += [f"  {f['source']}: {f['error']}" for f in summary["failures"]]
    if summary.get("stopped"):
        missing = t["planned"] - t["written"] - t["failed_outputs"]
        lines.append(
            f"Stopped: {summary['stopped']}. {t['written']} written, {missing} not. "
            + (
                "Once the store answers again, run"
                if summary.get("stopped_by") == "store"
                else "Free space (or fix the disk) and run"
            )
            + " the same command with --resume."
        )
    if summary.get("manifest_error"):
        lines.append(f"The manifest could not be written ({summary['manifest_error']}); --resume rebuilds it.")
    else:
        lines.append(f"Manifest: {summary['out'].rstrip('/')}/manifest.csv")  # a folder or an object-store URL
    return "\n".join(lines)


def _labels_findings(labels: dict) -> list[str]:
    lines = []
    for key, title in (("images_without_objects", "Images without objects (background)"),
                       ("labels_without_images", "Label files without an image"),
                       ("degenerate_boxes", "Degenerate boxes (skipped)"),
                       ("unknown_classes", "Objects of unknown classes (skipped)"),
                       ("other_problems", "Other label problems")):  # fmt: skip
        found = labels[key]
        lines.append(f"{title}: {len(found)}")
        lines += [f"  {f}" for f in found[:10]] + (
            [f"  ... and {len(found) - 10} more (--json lists all)"] if len(found) > 10 else []
        )
    return lines


def _inspect_report(r: dict) -> str:
    rows = [[split, cls, n] for split, info in r["splits"].items() for cls, n in info["classes"].items()]
    labels = r.get("labels")
    lines = [f"Source: {r['source']} ({r['images']} images, {r['bytes'] / 1e6:.1f} MB)", ""]
    if labels:
        lines[0] += f", labels: {labels['format']}"
    lines += [_table(["split", "object class", "instances"] if labels else ["split", "class", "images"], rows), ""]
    lines.append(
        "Imbalance (largest / smallest class): "
        + ", ".join(f"{split} {info['imbalance_ratio']}" for split, info in r["splits"].items())
    )
    for split, info in r["splits"].items():
        if info["empty_classes"]:
            lines.append(f"Classes with no images in {split}: {', '.join(info['empty_classes'])}")
    w, h = r["sizes"]["width"], r["sizes"]["height"]
    if w["min"] is not None:
        common = ", ".join(f"{c['size']} ({c['images']})" for c in r["sizes"]["most_common"])
        lines.append(
            f"Sizes: width {w['min']}-{w['max']} (median {w['median']:g}), "
            f"height {h['min']}-{h['max']} (median {h['median']:g}); most common {common}"
        )
    lines.append("Modes: " + ", ".join(f"{k} {v}" for k, v in r["modes"].items()))
    lines.append("Formats: " + ", ".join(f"{k} {v}" for k, v in r["formats"].items()))
    lines.append(f"Unreadable: {len(r['unreadable'])}")
    lines += [f"  {u['file']}: {u['error']}" for u in r["unreadable"]]
    lines.append(f"Train/test leaks (duplicates across splits): {len(r['leaks'])}")
    lines += ["  " + " / ".join(d["files"]) + f" ({d.get('difference', 'exact')})" for d in r["leaks"]]
    lines.append(f"Exact duplicates: {len(r['exact_duplicates'])} group(s)")
    lines += ["  " + " = ".join(d["files"]) for d in r["exact_duplicates"]]
    lines.append("Near-duplicates (the same picture re-encoded, resized, toned, recoloured, overlaid, mirrored or "
                 f"moved): {len(r['near_duplicates'])} pair(s)")  # fmt: skip
    lines += [f"  {' ~ '.join(d['files'])} ({d['difference']})" for d in r["near_duplicates"]]
    lines += inventory_lines(r["inventory"])
    if labels:
        lines += _labels_findings(labels)
    lines += ["", f"Suggested: {r['suggestion']}"]
    return "\n".join(lines)


def _verify_report(r: dict) -> str:
    lines = [f"{r['dst']}: {'OK' if r['ok'] else 'MISMATCH'} ({r['checked']} files listed)"]
    lines += [f"  run: {p}" for p in r.get("run", [])]
    for key, label in (("missing", "missing"), ("extra", "not in the manifest")):
        lines += [f"  {label}: {p}" for p in r[key]]
    lines += [f"  does not decode: {u['file']} ({u['error']})" for u in r["undecodable"]]
    lines += [f"  changed: {c['file']} ({c['reason']})" for c in r["changed"]]
    lines += [f"  bad label: {c['file']} ({c['reason']})" for c in r.get("labels", [])]
    lines += [f"  unsafe path (leaves the folder; not opened): {p}" for p in r["unsafe"]]
    if not r["checksums"]:
        lines.append("  (the manifest has no checksums: written by an older expander; files were only decoded)")
    if r["replayed"]:
        identical = len(r["replayed"]) - sum(1 for c in r["changed"] if not c["reason"].startswith("cannot"))
        lines.append(f"Replayed {len(r['replayed'])} output(s): {identical} byte-identical.")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    text_columns = 2 if header[0] == "split" else 1
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    )


def main() -> None:
    # This process scans, plans, hands out jobs and writes the manifest: no linear algebra. numpy's
    # OpenBLAS would otherwise start a thread per core at import, whose spinning cost 0.14 s of CPU
    # measured, taken from the workers. (Workers run one BLAS thread each anyway: execute.Worker.)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    handle_sigterm()
    app(prog_name="expander")


if __name__ == "__main__":
    main()
