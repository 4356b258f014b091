"""expand --shards: WebDataset and TFRecord shards, read back by their own libraries, with the guarantees of files."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_tree, tree_digest

from expander import expand
from expander.errors import ExpanderError
from expander.verify import verify


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def outputs(out: Path) -> dict[str, str]:
    return {p: d for p, d in tree_digest(out).items() if p not in ("expander.json", ".expander.lock")}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "src", {"train/cat": 6, "train/dog": 5, "test/cat": 2, "test/dog": 2}, shape=(21, 17, 3)
    )


def test_webdataset_shards_read_back_by_webdataset(src: Path, tmp_path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    out = tmp_path / "out"
    result = expand(src, out, per_image=3, shards="webdataset", shard_size="10", workers=1)
    assert result.exit_code == 0
    index = json.loads((out / "shards.json").read_text())
    assert index["format"] == "webdataset" and index["classes"] == ["cat", "dog"] and index["samples"] == 48
    train = [s["file"] for s in index["splits"]["train"]]
    assert train == [f"train/shard-{n:06d}.tar" for n in range(4)]  # 44 samples: jobs of 4, until 10 or more
    manifest = {r["shard"]: r for r in rows(out)}
    samples = list(wds.WebDataset([str(out / f) for f in train], shardshuffle=False))
    assert len(samples) == 44 and len({s["__key__"] for s in samples}) == 44
    for sample in samples:
        shard = Path(sample["__url__"]).relative_to(out).as_posix()
        row = manifest[f"{shard}#{sample['__key__']}"]
        assert hashlib.sha256(sample["png"]).hexdigest() == row["sha256"]
        meta = json.loads(sample["json"])
        assert meta["output"] == row["output"] and int(sample["cls"]) == ["cat", "dog"].index(row["class"])
    first = [json.loads(s["json"])["class"] for s in samples if s["__url__"].endswith("000000.tar")]
    assert set(first) == {"cat", "dog"}  # a seeded order mixes the classes
    assert not any(p.suffix == ".png" for p in out.rglob("*"))  # no file per output


def test_shards_hold_whole_jobs_up_to_the_size(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(src, out, per_image=3, shards="webdataset", shard_size="10", workers=1)
    index = json.loads((out / "shards.json").read_text())
    assert [s["samples"] for s in index["splits"]["train"]] == [12, 12, 12, 8]
    assert [s["samples"] for s in index["splits"]["test"]] == [4]  # test is copied: one sample per image
    by_bytes = tmp_path / "bytes"
    expand(src, by_bytes, per_image=3, shards="tfrecord", shard_size="5KB", workers=1)
    sizes = [s["bytes"] for s in json.loads((by_bytes / "shards.json").read_text())["splits"]["train"]]
    assert len(sizes) > 2 and all(size >= 5000 for size in sizes[:-1])


@pytest.mark.parametrize("format", ["webdataset", "tfrecord"])
def test_shards_are_byte_identical_for_any_worker_count(src: Path, tmp_path: Path, format: str) -> None:
    expand(src, tmp_path / "one", per_image=4, shards=format, shard_size="7", workers=1, preset="strong")
    expand(src, tmp_path / "two", per_image=4, shards=format, shard_size="7", workers=2, preset="strong")
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")


def test_tfrecord_shards_read_back_by_tf_data(src: Path, tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    out = tmp_path / "out"
    expand(src, out, per_image=2, shards="tfrecord", shard_size="10", workers=1)
    files = sorted(str(p) for p in (out / "train").glob("*.tfrecord"))
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
        "output": tf.io.FixedLenFeature([], tf.string), "copy": tf.io.FixedLenFeature([], tf.int64),
        "seed": tf.io.FixedLenFeature([], tf.int64), "source": tf.io.FixedLenFeature([], tf.string),
    }  # fmt: skip
    manifest = {r["output"]: r for r in rows(out)}
    seen = 0
    for record in tf.data.TFRecordDataset(files):
        example = tf.io.parse_single_example(record, spec)
        row = manifest[example["output"].numpy().decode()]
        image = example["image"].numpy()
        assert hashlib.sha256(image).hexdigest() == row["sha256"]
        assert tf.io.decode_png(image).shape == (21, 17, 3)
        assert int(example["label"]) == ["cat", "dog"].index(row["class"])
        assert int(example["copy"]) == (0 if row["copy"] == "original" else int(row["copy"]))  # 0: the original
        assert int(example["seed"]) == (int(row["seed"]) if row["seed"] else -1)
        seen += 1
    assert seen == 33


def test_verify_checks_shards_and_replays_samples(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(src, out, per_image=2, shards="webdataset", shard_size="6", workers=1)
    result = verify(out, replay=8)
    assert result["ok"] and result["checked"] == 37 and len(result["replayed"]) == 8
    shard = out / "train/shard-000001.tar"
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF  # inside the first sample's image
    shard.write_bytes(bytes(data))
    result = verify(out)
    assert not result["ok"]
    assert {"file": "train/shard-000001.tar", "reason": "SHA-256 differs from shards.json"} in result["changed"]
    (out / "train/shard-000002.tar").unlink()
    missing = verify(out)["missing"]
    assert "train/shard-000002.tar" in missing and len(missing) > 1  # the shard, and its samples by name


def test_resume_after_a_kill_gives_the_uninterrupted_shards(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30, "b": 30}, ext=".jpg", shape=(360, 480, 3))  # slow enough to kill
    reference = tmp_path / "reference"
    expand(src, reference, per_image=8, shards="webdataset", shard_size="27", workers=1)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "8",
               "--shards", "webdataset", "--shard-size", "27", "-j", "2", "-q"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(out.glob("shard-*.tar"))) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = sorted(p.name for p in out.glob("shard-*.tar"))
    assert 3 <= len(kept) < 20 and not (out / "manifest.csv").exists()
    result = expand(src, out, per_image=8, shards="webdataset", shard_size="27", workers=2, resume=True)
    in_kept = sum(
        s["samples"] for s in json.loads((reference / "shards.json").read_text())["splits"]["all"][: len(kept)]
    )
    assert result.status == "complete" and result.resumed == in_kept
    assert outputs(out) == outputs(reference)
    assert verify(out)["ok"]


def test_overwrite_removes_the_previous_shards(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(src, out, per_image=3, shards="webdataset", shard_size="4", workers=1)
    assert len(list((out / "train").iterdir())) == 11
    expand(src, out, per_image=1, shards="webdataset", shard_size="100", workers=1, overwrite=True)
    assert sorted(p.name for p in (out / "train").iterdir()) == ["shard-000000.tar"]


def test_bad_shard_options_are_refused(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ExpanderError, match="--shards must be one of webdataset, tfrecord, parquet; got 'zip'"):
        expand(src, tmp_path / "o", shards="zip")
    with pytest.raises(ExpanderError, match=r"--shard-size must be a number of samples \(1000\) or a size"):
        expand(src, tmp_path / "o", shards="tfrecord", shard_size="lots")


def test_an_unreadable_source_is_recorded_and_the_shards_still_written(src: Path, tmp_path: Path) -> None:
    (src / "train/cat/broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = expand(src, out, per_image=2, shards="webdataset", shard_size="5", workers=2)
    assert result.exit_code == 1 and result.failures[0]["source"] == "train/cat/broken.png"
    failed = [r for r in rows(out) if r["status"] == "failed"]
    assert len(failed) == 3 and all(r["shard"] == "" for r in failed)
    assert verify(out)["ok"]
