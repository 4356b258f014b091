"""TFRecord shards: each record is a ``tf.train.Example``, framed and checksummed as TensorFlow writes it.

The framing is length (uint64), masked CRC32C of the length, the bytes, masked CRC32C of the bytes; the
Example is encoded here as the protobuf it is, features in a fixed order, so equal samples give equal bytes.
Features (the types ``tf.io.parse_single_example`` needs):

* bytes: ``image``, ``format`` (``jpg``...), ``class``, ``source``, ``output``, ``split``, ``key``
* int64: ``label`` (class index, -1 in a labelled dataset), ``copy`` (0: the original), ``seed`` (-1: none)
* bytes, labelled datasets only: one per label file by role (``labels``, ``coco``, ``voc``, ``segclass``,
  ``segobject``, ``mask``) and its path as ``<role>_path``
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import google_crc32c  # Google's CRC32C (hardware-accelerated): a pure-Python one costs ~5 ms per image

from expander.shards import ShardSample, Writable

EXTENSION = ".tfrecord"


def write(samples: list[ShardSample], out: Writable, classes: list[str]) -> None:
    for s in samples:
        out.write(record(s))


def record(s: ShardSample) -> bytes:
    features: dict[str, bytes | int] = {
        "image": s.image,
        "format": s.ext.encode(),
        "label": s.label,
        "class": str(s.meta["class"]).encode(),
        "source": str(s.meta["source"]).encode(),
        "output": str(s.meta["output"]).encode(),
        "split": str(s.meta.get("split") or "").encode(),
        "copy": int(s.meta["copy"]),
        "seed": int(s.meta["seed"]),
        "key": s.key.encode(),
    }
    paths = s.meta.get("labels") or {}
    for role, data in s.labels:
        features[role] = data
        features[f"{role}_path"] = str(paths.get(role, "")).encode()
    example = _example(features)
    length = struct.pack("<Q", len(example))
    return length + struct.pack("<I", _masked_crc(length)) + example + struct.pack("<I", _masked_crc(example))


_META = ("image", "format", "label", "class", "source", "output", "split", "copy", "seed", "key")


def read(data: bytes) -> Iterator[ShardSample]:
    position = 0
    while position < len(data):
        if position + 12 > len(data):
            raise ValueError(f"TFRecord truncated at byte {position}")
        (length,) = struct.unpack_from("<Q", data, position)
        (length_crc,) = struct.unpack_from("<I", data, position + 8)
        if length_crc != _masked_crc(data[position : position + 8]):
            raise ValueError(f"TFRecord length checksum differs at byte {position}")
        body = data[position + 12 : position + 12 + length]
        if len(body) != length or position + 16 + length > len(data):
            raise ValueError(f"TFRecord truncated at byte {position}")
        (body_crc,) = struct.unpack_from("<I", data, position + 12 + length)
        if body_crc != _masked_crc(body):
            raise ValueError(f"TFRecord data checksum differs at byte {position}")
        position += 16 + length
        f = _parse_example(body)
        roles = [name for name in f if name not in _META and not name.endswith("_path")]
        meta = {"output": f["output"].decode(), "source": f["source"].decode(), "class": f["class"].decode(),
                "split": f.get("split", b"").decode() or None, "copy": int(f["copy"]),
                "seed": int(f["seed"])}  # fmt: skip
        if roles:
            meta["labels"] = {role: f[f"{role}_path"].decode() for role in roles}
        yield ShardSample(f["key"].decode(), f["image"], f["format"].decode(), int(f["label"]), meta,
                          tuple((role, f[role]) for role in roles))  # fmt: skip


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
        if position >= len(data):
            raise ValueError("truncated protobuf varint")
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
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
