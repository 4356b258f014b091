"""Reading the small text files a run parses (pipeline files, data.yaml, COCO JSON, VOC XML, split lists)
with bounds a hostile file cannot get past: a size read at most (a device like /dev/zero has no size to
stat), YAML without anchors and aliases (a "billion laughs" of a few hundred bytes), XML without a
DOCTYPE (entity expansion). Every error names the file and says what to fix."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from typing import Any, BinaryIO

KB, MB = 1 << 10, 1 << 20


class TextFileError(ValueError):
    """A file cannot be read as the text it should be; the message names the reason (the caller names the file)."""


def read_limited(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; TextFileError when there are more (it is never read further)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TextFileError(f"larger than {_size(limit)}")
    return data


def read_text_file(path: str | os.PathLike, limit: int) -> str:
    """A local file's UTF-8 text (a BOM is dropped), read at most ``limit`` bytes.

    Raises:
        OSError: it cannot be opened or read.
        TextFileError: too large, or not UTF-8.
    """
    with open(path, "rb") as f:
        return decode_text(read_limited(f, limit))


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TextFileError(f"not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x})") from None


def load_yaml(text: str) -> Any:
    """YAML without anchors and aliases: no dataset or pipeline file needs them, and nested aliases expand a few
    hundred bytes into gigabytes once the document is walked.

    Raises:
        TextFileError: not valid YAML, or it uses an alias (the message says where).
    """
    import yaml  # lazy: PyYAML costs ~10 ms to import; only YAML label files need it

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"aliases (*{event.anchor}) are not allowed", event.start_mark
                )
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliasLoader)  # a SafeLoader, less aliases
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise TextFileError(f"{e.problem or e.context}{where}") from None
    except yaml.YAMLError as e:
        raise TextFileError(" ".join(str(e).split())) from None


def load_json(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise TextFileError(" ".join(str(e).split())[:300]) from None


def parse_xml(text: str):
    """An XML document's root element; a DOCTYPE (and with it entity expansion) is refused.

    Raises:
        TextFileError: not well-formed XML, or it has a DOCTYPE.
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise TextFileError("it declares a DOCTYPE or entities, which annotation files never need")
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise TextFileError(f"not well-formed XML ({e})") from None


def _size(limit: int) -> str:
    return f"{limit // MB} MB" if limit >= MB else f"{limit // KB} KB"
