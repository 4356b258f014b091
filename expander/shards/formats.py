"""The two shard formats, written and read without their libraries: WebDataset tars and TFRecord files.

Both are written deterministically (fixed tar headers; TFRecord framing with CRC32C), so equal samples
give equal bytes. The readers here serve ``verify``, ``--resume`` and ``train``; the tests read the
shards back with the formats' own libraries (``webdataset``, ``tf.data.TFRecordDataset``).
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

FORMATS = {"webdataset": ".tar", "tfrecord": ".tfrecord"}


@dataclass(frozen=True)
class SampleRecord:
    """One sample of a shard: its key, image bytes and extension, class index, and its manifest row."""

    key: str
    image: bytes
    ext: str  # "jpg", "png", "webp", ...
    label: int
    meta: dict  # output, source, class, split, copy, seed


class Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def write(format: str, samples: list[SampleRecord], out: Writable) -> None:
    """Write a shard's samples to ``out``, in order."""
    if format == "webdataset":
        _write_tar(samples, out)
    else:
        for s in samples:
            out.write(_tfrecord(s))


def decode(format: str, data: bytes) -> Iterator[SampleRecord]:
    return _read_tar(data) if format == "webdataset" else _read_tfrecord(data)


# WebDataset: <key>.<ext>, <key>.cls (the class index as text), <key>.json (the manifest row), in that order.


def _write_tar(samples: list[SampleRecord], out: Writable) -> None:
    """A plain USTAR archive, headers built here: tarfile's own cost ~15 us a member, 3 members a sample."""
    written = 0
    for s in samples:
        meta = json.dumps(s.meta, sort_keys=True, separators=(",", ":")).encode()
        for name, payload in ((f"{s.key}.{s.ext}", s.image), (f"{s.key}.cls", str(s.label).encode()),
                              (f"{s.key}.json", meta)):  # fmt: skip
            padding = -len(payload) % 512
            out.write(_tar_header(name, len(payload)))
            out.write(payload)
            out.write(bytes(padding))
            written += 512 + len(payload) + padding
    end = 1024 + (-(written + 1024) % 10240)  # two zero blocks, then to a whole record, as tar writes it
    out.write(bytes(end))


def _tar_header(name: str, size: int) -> bytes:
    """The 512-byte USTAR header of a regular file: mode 644, owner 0, time 0, no user names."""
    encoded = name.encode()
    if len(encoded) > 100:
        raise ValueError(f"tar member name longer than 100 bytes: {name}")
    header = bytearray(512)
    header[: len(encoded)] = encoded
    header[100:148] = b"0000644\x000000000\x000000000\x00" + b"%011o\x00" % size + b"00000000000\x00"
    header[148:156] = b"        "  # the checksum counts its own field as spaces
    header[156:157] = b"0"
    header[257:265] = b"ustar\x0000"
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def _read_tar(data: bytes) -> Iterator[SampleRecord]:
    parts: dict[str, dict[str, bytes]] = {}
    order: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            key, _, ext = member.name.partition(".")
            extracted = tar.extractfile(member)
            if extracted is None:
                continue
            if key not in parts:
                parts[key] = {}
                order.append(key)
            parts[key][ext] = extracted.read()
    for key in order:
        found = parts[key]
        image_ext = next(e for e in found if e not in ("cls", "json"))
        yield SampleRecord(key, found[image_ext], image_ext, int(found["cls"]), json.loads(found["json"]))


# TFRecord: each record is length (uint64), masked CRC32C of the length, the bytes, masked CRC32C of the bytes;
# the bytes are a tf.train.Example, encoded here as the protobuf it is.


def _tfrecord(s: SampleRecord) -> bytes:
    example = _example(
        {
            "image": s.image,
            "format": s.ext.encode(),
            "label": s.label,
            "class": str(s.meta["class"]).encode(),
            "source": str(s.meta["source"]).encode(),
            "output": str(s.meta["output"]).encode(),
            "copy": -1 if s.meta["copy"] is None else int(s.meta["copy"]),  # -1: the original
            "seed": -1 if s.meta["seed"] is None else int(s.meta["seed"]),
            "key": s.key.encode(),
        }
    )
    length = struct.pack("<Q", len(example))
    return length + struct.pack("<I", _masked_crc(length)) + example + struct.pack("<I", _masked_crc(example))


def _read_tfrecord(data: bytes) -> Iterator[SampleRecord]:
    position = 0
    while position < len(data):
        (length,) = struct.unpack_from("<Q", data, position)
        (length_crc,) = struct.unpack_from("<I", data, position + 8)
        if length_crc != _masked_crc(data[position : position + 8]):
            raise ValueError(f"TFRecord length checksum differs at byte {position}")
        body = data[position + 12 : position + 12 + length]
        (body_crc,) = struct.unpack_from("<I", data, position + 12 + length)
        if len(body) != length or body_crc != _masked_crc(body):
            raise ValueError(f"TFRecord data checksum differs at byte {position}")
        position += 16 + length
        f = _parse_example(body)
        copy = int(f["copy"])
        meta = {"output": f["output"].decode(), "source": f["source"].decode(), "class": f["class"].decode(),
                "copy": None if copy < 0 else copy, "seed": None if int(f["seed"]) < 0 else int(f["seed"])}  # fmt: skip
        yield SampleRecord(f["key"].decode(), f["image"], f["format"].decode(), int(f["label"]), meta)


def _example(features: dict[str, bytes | int]) -> bytes:
    """tf.train.Example{features: Features{feature: map<string, Feature>}}, keys in order."""
    entries = b""
    for name, value in features.items():
        if isinstance(value, bytes):
            feature = _field(1, _field(1, value))  # Feature.bytes_list = BytesList{value: [value]}
        else:
            feature = _field(3, _field(1, _varint(value & 0xFFFFFFFFFFFFFFFF)))  # Feature.int64_list, packed
        entries += _field(1, _field(1, name.encode()) + _field(2, feature))  # map entry {key, value}
    return _field(1, entries)  # Example.features


def _parse_example(data: bytes) -> dict[str, Any]:
    features = dict(_fields(data))[1]
    found: dict[str, Any] = {}
    for number, entry in _fields(features):
        if number != 1:
            continue
        parts = dict(_fields(entry))
        name, feature = parts[1].decode(), dict(_fields(parts[2]))
        if 1 in feature:
            found[name] = dict(_fields(feature[1]))[1]
        else:
            value, _ = _read_varint(dict(_fields(feature[3]))[1], 0)
            found[name] = value - (1 << 64) if value >= 1 << 63 else value
    return found


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, bytes) of every length-delimited field of a protobuf message."""
    position = 0
    while position < len(data):
        tag, position = _read_varint(data, position)
        if tag & 7 != 2:
            raise ValueError(f"unexpected protobuf wire type {tag & 7}")
        length, position = _read_varint(data, position)
        yield tag >> 3, data[position : position + length]
        position += length


def _masked_crc(data: bytes) -> int:
    import google_crc32c  # Google's CRC32C (hardware-accelerated): a pure-Python one costs ~5 ms per image

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
