"""Parquet shards: one row per sample, readable by pyarrow, pandas, DuckDB, Spark, and Hugging Face ``datasets``
as an image dataset as it stands.

Columns: ``key``, ``image`` (a struct of ``bytes`` and ``path``, Hugging Face's image storage), ``format``,
``label`` (class index, -1 in a labelled dataset), ``class``, ``source``, ``output``, ``split``, ``copy`` (0:
the original), ``seed`` (-1: none), and per label file of a labelled dataset its role (binary) and
``<role>_path``. The schema carries Hugging Face's feature metadata (``image`` an Image, ``label`` a
ClassLabel with the run's class names; in a labelled dataset, whose labels are its label files, a plain
int64, as a ClassLabel refuses -1), so ``datasets.load_dataset("parquet", ...)`` decodes images itself.

Row groups hold about ROW_GROUP_BYTES of images, so a reader streams a shard a few MB at a time. Written
with pyarrow (``pip install 'dataset-expander[parquet]'``): equal samples give equal bytes for one pyarrow
version.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from expander.errors import require
from expander.shards import ShardSample, Writable

EXTENSION = ".parquet"
ROW_GROUP_BYTES = 16 << 20
_STRINGS = ("key", "format", "class", "source", "output", "split")


def write(samples: list[ShardSample], out: Writable, classes: list[str]) -> None:
    require("--shards parquet", "parquet", "pyarrow")
    import pyarrow as pa  # lazy: pyarrow is the parquet extra and costs ~80 ms to import
    import pyarrow.parquet as pq  # lazy: pyarrow is the parquet extra and costs ~80 ms to import

    roles = sorted({role for s in samples for role, _ in s.labels})
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    columns = {
        "key": [s.key for s in samples],
        "image": pa.array([{"bytes": s.image, "path": s.meta["output"]} for s in samples], image_type),
        "format": [s.ext for s in samples],
        "label": pa.array([s.label for s in samples], pa.int64()),
        "class": [str(s.meta["class"]) for s in samples],
        "source": [str(s.meta["source"]) for s in samples],
        "output": [str(s.meta["output"]) for s in samples],
        "split": [s.meta.get("split") or "" for s in samples],
        "copy": pa.array([int(s.meta["copy"]) for s in samples], pa.int64()),
        "seed": pa.array([int(s.meta["seed"]) for s in samples], pa.int64()),
    }
    for role in roles:
        columns[role] = pa.array([dict(s.labels).get(role) for s in samples], pa.binary())
        columns[f"{role}_path"] = [str((s.meta.get("labels") or {}).get(role, "")) for s in samples]
    labelled = any(s.label < 0 for s in samples)
    features = _features(classes, roles, labelled)
    table = pa.table(columns).replace_schema_metadata({b"huggingface": json.dumps(features).encode()})
    mean = sum(len(s.image) for s in samples) / max(1, len(samples))
    buffer = io.BytesIO()
    # Images are compressed already: no codec (snappy saved 0.01% on photos); a dictionary only for the columns
    # that repeat (a class, a format, a split), not for keys and paths that never do.
    pq.write_table(table, buffer, row_group_size=max(1, int(ROW_GROUP_BYTES // max(1.0, mean))), compression="NONE",
                   use_dictionary=["format", "class", "split"])  # fmt: skip
    out.write(buffer.getvalue())


def _features(classes: list[str], roles: list[str], labelled: bool) -> dict:
    """Hugging Face ``datasets``' feature description of the columns."""
    value = lambda dtype: {"dtype": dtype, "_type": "Value"}  # noqa: E731
    features = {name: value("string") for name in _STRINGS}
    label = value("int64") if labelled else {"names": list(classes), "_type": "ClassLabel"}
    features |= {"image": {"_type": "Image"}, "label": label, "copy": value("int64"), "seed": value("int64")}
    for role in roles:
        features |= {role: value("binary"), f"{role}_path": value("string")}
    order = ["key", "image", "format", "label", "class", "source", "output", "split", "copy", "seed"]
    order += [name for role in roles for name in (role, f"{role}_path")]
    return {"info": {"features": {name: features[name] for name in order}}}


def read(data: bytes) -> Iterator[ShardSample]:
    import pyarrow.parquet as pq  # lazy: pyarrow is the parquet extra and costs ~80 ms to import

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as e:  # pyarrow.ArrowInvalid and kin: not a readable Parquet file
        raise ValueError(f"not a readable Parquet file: {e}") from None
    rows = table.to_pylist()
    roles = [name for name in table.column_names if f"{name}_path" in table.column_names]
    for row in rows:
        meta = {"output": row["output"], "source": row["source"], "class": row["class"], "split": row["split"] or None,
                "copy": row["copy"], "seed": row["seed"]}  # fmt: skip
        labels = tuple((role, row[role]) for role in roles if row[role] is not None)
        if labels:
            meta["labels"] = {role: row[f"{role}_path"] for role, _ in labels}
        yield ShardSample(row["key"], row["image"]["bytes"], row["format"], row["label"], meta, labels)
