"""Every dataset kind into every sink, locally and in an object store: {class folders, YOLO, COCO, VOC, masks} x
{files, webdataset, tfrecord, parquet} x {local, s3}. Each writes the same bytes with 1 and 2 workers and in
either place, verifies, and a labelled sample carries its label files as its format's own reader sees them."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_tree, tree_digest
from labelled_data import write_coco, write_masks, write_voc, write_yolo

from expander import expand
from expander.verify import verify

KINDS = {
    "classes": lambda root: make_tree(
        root, {"train/cat": 3, "train/dog": 2, "test/cat": 1}, ext=".jpg", shape=(33, 41, 3)
    ),
    "yolo": write_yolo,
    "coco": write_coco,
    "voc": write_voc,
    "masks": write_masks,
}
SINKS = ("files", "webdataset", "tfrecord", "parquet")


def rows(manifest: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(manifest.decode("utf-8"), newline="")))


def local_files(root: Path) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in tree_digest(root) if p not in ("expander.json", ".expander.lock")}


def store_files(fs, url: str) -> dict[str, bytes]:
    prefix = url.split("://", 1)[1]
    fs.invalidate_cache()
    return {p[len(prefix) + 1 :]: fs.cat_file(p) for p in fs.find(prefix) if not p.endswith("expander.json")}


def run(src, out, sink: str, workers: int):
    shards = {} if sink == "files" else {"shards": sink, "shard_size": "5"}
    return expand(src, out, per_image=2, workers=workers, preset="light", **shards)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, dict[str, bytes]]]:
    """Per (kind, sink): the source and what one worker writes locally."""
    found = {}
    for kind, build in KINDS.items():
        src = build(tmp_path_factory.mktemp(f"src-{kind}") / "src")
        for sink in SINKS:
            out = tmp_path_factory.mktemp(f"ref-{kind}-{sink}") / "out"
            assert run(src, out, sink, 1).exit_code == 0
            found[(kind, sink)] = (src, local_files(out))
    return found


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_local_two_workers_write_the_one_worker_bytes_and_verify(
    references, tmp_path: Path, kind: str, sink: str
) -> None:
    src, reference = references[(kind, sink)]
    out = tmp_path / "out"
    result = run(src, out, sink, 2)
    assert result.exit_code == 0 and result.to_dict()["sink"] == sink
    assert local_files(out) == reference
    written = rows(reference["manifest.csv"])
    assert len(written) == OUTPUTS[kind] and {r["status"] for r in written} == {"ok"}
    if kind != "classes":
        assert all(r["labels"] and r["labels_sha256"] for r in written if r["copy"] != "original" or kind == "coco")
    check = verify(out, replay=3)
    assert check["ok"], check


OUTPUTS = {"classes": 5 * 3 + 1, "yolo": 4 * 3, "coco": 4 * 3, "voc": 4 * 3, "masks": 4 * 3}  # test/ is copied


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_from_and_into_an_object_store_the_same_bytes(s3, references, kind: str, sink: str) -> None:
    src, reference = references[(kind, sink)]
    s3.put(str(src) + "/", f"data/matrix-src-{kind}/", recursive=True)
    url = f"s3://data/matrix-{kind}-{sink}"
    result = run(f"s3://data/matrix-src-{kind}", url, sink, 2)
    assert result.exit_code == 0, result.failures
    assert store_files(s3, url) == reference
    check = verify(url, replay=3)
    assert check["ok"], check


def test_labelled_webdataset_samples_carry_their_label_files(references, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    for kind in ("yolo", "coco", "voc", "masks"):
        _, files = references[(kind, "webdataset")]
        manifest = {r["shard"]: r for r in rows(files["manifest.csv"])}
        shards = [name for name in files if name.endswith(".tar")]
        seen = 0
        for shard in shards:
            for sample in wds.WebDataset([_file(tmp_path, files[shard], ".tar")], shardshuffle=False):
                row = manifest[f"{shard}#{sample['__key__']}"]
                labels = [k for k in sample if k.count(".") == 1 and k not in ("__key__", "__url__")]
                assert len(labels) == 1, (kind, sorted(sample))
                assert hashlib.sha256(sample[labels[0]]).hexdigest() == row["labels_sha256"]
                seen += 1
        assert seen == len(manifest), kind


def test_labelled_tfrecord_and_parquet_samples_carry_their_label_files(references, tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    pq = pytest.importorskip("pyarrow.parquet")
    roles = {"yolo": "labels", "coco": "coco", "voc": "voc", "masks": "mask"}
    for kind, role in roles.items():
        _, files = references[(kind, "tfrecord")]
        by_output = {r["output"]: r for r in rows(files["manifest.csv"])}
        spec = {"output": tf.io.FixedLenFeature([], tf.string), role: tf.io.FixedLenFeature([], tf.string),
                f"{role}_path": tf.io.FixedLenFeature([], tf.string)}  # fmt: skip
        records = [name for name in files if name.endswith(".tfrecord")]
        seen = 0
        for name in records:
            for record in tf.data.TFRecordDataset([_file(tmp_path, files[name], ".tfrecord")]):
                example = tf.io.parse_single_example(record, spec)
                row = by_output[example["output"].numpy().decode()]
                assert example[f"{role}_path"].numpy().decode() == row["labels"]
                assert hashlib.sha256(example[role].numpy()).hexdigest() == row["labels_sha256"]
                seen += 1
        assert seen == len(by_output), kind
        _, files = references[(kind, "parquet")]
        by_output = {r["output"]: r for r in rows(files["manifest.csv"])}
        for name in (n for n in files if n.endswith(".parquet")):
            for row in pq.read_table(io.BytesIO(files[name])).to_pylist():
                assert hashlib.sha256(row[role]).hexdigest() == by_output[row["output"]]["labels_sha256"]
                assert row["image"]["path"] == row["output"]


def _file(folder: Path, data: bytes, suffix: str) -> str:
    """A shard's bytes in a file of their own, for readers that take paths."""
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("sink", ["files", "webdataset", "parquet"])
def test_a_labelled_run_killed_mid_way_resumes_to_the_uninterrupted_output(tmp_path: Path, sink: str) -> None:
    scenes = {f"s{i:02d}": (320, 240, [(i % 3, 40, 30, 200, 180)]) for i in range(40)}  # slow enough to kill
    src = write_yolo(tmp_path / "src", scenes)
    shards = [] if sink == "files" else ["--shards", sink, "--shard-size", "30"]
    reference = tmp_path / "reference"
    options = {} if sink == "files" else {"shards": sink, "shard_size": "30"}
    expand(src, reference, per_image=6, workers=1, **options)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "6", "-j", "2",
               "-q", *shards]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 60
    marker, enough = (
        ("*.txt", 40) if sink == "files" else (f"shard-*{'.tar' if sink == 'webdataset' else '.parquet'}", 2)
    )
    while len(list(out.rglob(marker))) < enough and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.csv").exists()
    result = expand(src, out, per_image=6, workers=2, resume=True, **options)
    assert result.status == "complete" and result.resumed > 0
    assert local_files(out) == local_files(reference)
    assert verify(out)["ok"]
