"""CSV box lists, the TensorFlow Object Detection API's layout (``xml_to_csv.py`` of its tutorials writes them):
``train_labels.csv`` and ``test_labels.csv``, one row per object, header
``filename,width,height,class,xmin,ymin,xmax,ymax``; the images are named by file name and looked up in the
dataset. Coordinates are pixels as ``generate_tfrecord.py`` reads them (divided by the image size). An image
without objects has no row. Columns besides these are kept, per row.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from expander.labels.listed import Listed, Listing, shape

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


class CsvBoxes(Listed):
    name = "csv"
    description = "CSV box lists (train_labels.csv: filename,width,height,class,xmin,ymin,xmax,ymax; a row per box)"

    def parse(self, text: str, path: str) -> Listing:
        rows = list(csv.DictReader(io.StringIO(text)))
        header = list(rows[0]) if rows else list(COLUMNS)
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ValueError(f"its header has no {', '.join(missing)} column (it needs {','.join(COLUMNS)})")
        listing = Listing(extras=header)
        by_file: dict[str, dict] = {}
        for number, row in enumerate(rows, 2):
            try:
                box = [float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax")]
                width, height = int(float(row["width"])), int(float(row["height"]))
            except (TypeError, ValueError):
                listing.errors.append(f"{path} line {number}: {row.get('filename')}: width, height or a coordinate "
                                      "is not a number")  # fmt: skip
                continue
            if row["filename"] not in by_file:
                by_file[row["filename"]] = {"file": row["filename"], "width": width, "height": height, "own": {},
                                            "objects": []}  # fmt: skip
                listing.entries.append(by_file[row["filename"]])
            own = {"row": {k: v for k, v in row.items() if k is not None}}
            by_file[row["filename"]]["objects"].append(shape(str(row["class"]), "box", box, own=own))
        return listing

    def new_shape(self, kind: str, label: str) -> Any:
        return {"row": {}}

    def new_extras(self) -> Any:
        return list(COLUMNS)

    def write(self, extras: Any, entries: list[dict]) -> bytes:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=extras, lineterminator="\n")
        writer.writeheader()
        for entry in entries:
            for s in entry["objects"]:
                if "moved" not in entry:  # an original's rows as the source wrote them
                    writer.writerow(s["own"]["row"])
                    continue
                x0, y0, x1, y1 = (_number(v) for v in s["box"])
                writer.writerow({**s["own"]["row"], "filename": entry["file"], "width": entry["width"],
                                 "height": entry["height"], "class": s["label"], "xmin": x0, "ymin": y0, "xmax": x1,
                                 "ymax": y1})  # fmt: skip
        return buffer.getvalue().encode()


def _number(value: float) -> int | float:
    """A coordinate as the source wrote it: a whole number without a decimal point."""
    return int(value) if float(value).is_integer() else round(value, 2)
