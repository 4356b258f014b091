"""CSV box lists, one row per object, as two tools publish them:

* the TensorFlow Object Detection API's tutorials (``xml_to_csv.py``): ``train_labels.csv`` and
  ``test_labels.csv``, header ``filename,width,height,class,xmin,ymin,xmax,ymax``;
* VoTT's CSV export: ``vott-csv-export/<project>-export.csv`` beside the images, header
  ``"image","xmin","ymin","xmax","ymax","label"`` (json2csv quotes it), no image size.

The images are named by file name and looked up in the dataset. Coordinates are pixels, as
``generate_tfrecord.py`` reads them (divided by the image size). An image without objects has no row. Columns
besides these are kept, per row, and a copy's rows follow the source's header.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from expander.labels.listed import Listed, Listing, shape

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")  # the TF OD API's, for --to
CORNERS = ("xmin", "ymin", "xmax", "ymax")
FILE_COLUMNS = ("filename", "image")
CLASS_COLUMNS = ("class", "label")


class CsvBoxes(Listed):
    name = "csv"
    description = (
        "CSV box lists, a row per box: train_labels.csv (filename,width,height,class,xmin,ymin,xmax,ymax) or "
        "VoTT's export (image,xmin,ymin,xmax,ymax,label)"
    )

    def parse(self, text: str, path: str) -> Listing:
        reader = csv.DictReader(io.StringIO(text))
        header = list(reader.fieldnames or COLUMNS)
        file, label = _column(header, FILE_COLUMNS), _column(header, CLASS_COLUMNS)
        missing = (
            [c for c in CORNERS if c not in header]
            + ["filename or image"] * (not file)
            + ["class or label"] * (not label)
        )
        if missing:
            raise ValueError(f"its header has no {', '.join(missing)} column (it needs {','.join(COLUMNS)})")
        listing = Listing(extras=header)
        by_file: dict[str, dict] = {}
        for number, row in enumerate(reader, 2):
            try:
                box = [float(row[c]) for c in CORNERS]
                width, height = (int(float(row[c])) if row.get(c) else None for c in ("width", "height"))
            except (TypeError, ValueError):
                listing.errors.append(f"{path} line {number}: {row.get(file)}: a size or a coordinate is not a number")
                continue
            if row[file] not in by_file:
                by_file[row[file]] = {"file": row[file], "width": width, "height": height, "own": {}, "objects": []}
                listing.entries.append(by_file[row[file]])
            own = {"row": {k: v for k, v in row.items() if k is not None}}
            by_file[row[file]]["objects"].append(shape(str(row[label]), "box", box, own=own))
        return listing

    def new_shape(self, kind: str, label: str) -> Any:
        return {"row": {}}

    def new_extras(self) -> Any:
        return list(COLUMNS)

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        file, label = _column(extras, FILE_COLUMNS), _column(extras, CLASS_COLUMNS)
        quoted = "image" in extras  # VoTT's json2csv quotes every text field
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=extras, lineterminator="\n",
                                quoting=csv.QUOTE_NONNUMERIC if quoted else csv.QUOTE_MINIMAL)  # fmt: skip
        writer.writeheader()
        for entry in entries:
            for s in entry["objects"]:
                if "moved" not in entry:  # an original's rows as the source wrote them
                    writer.writerow(_typed(s["own"]["row"]) if quoted else s["own"]["row"])
                    continue
                row = {**s["own"]["row"], file: entry["file"], label: s["label"]}
                row.update(zip(CORNERS, (_number(v) for v in s["box"]), strict=True))
                if "width" in extras:
                    row.update(width=entry["width"], height=entry["height"])
                writer.writerow(row)
        return buffer.getvalue().encode()


def _column(header: list[str], names: tuple[str, ...]) -> str:
    return next((n for n in names if n in header), "")


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A row's numbers as numbers, so a quoting writer leaves them bare as json2csv did."""
    typed: dict[str, Any] = {}
    for key, value in row.items():
        try:
            typed[key] = _number(float(value))
        except ValueError:
            typed[key] = value
    return typed


def _number(value: float) -> int | float:
    """A coordinate as the source wrote it: a whole number without a decimal point."""
    return int(value) if float(value).is_integer() else round(value, 2)
