"""A sharded output as class folders again, for readers that want files (``train``)."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

from expander import shards
from expander.manifest import MANIFEST_NAME
from expander.sinks.shards import INDEX_NAME


def is_sharded(folder: str | Path) -> bool:
    return (Path(folder) / INDEX_NAME).is_file()


def unpack(folder: str | Path) -> Path:
    """Write every sample of a sharded output under its manifest path in a temporary folder (removed when
    the process ends), with the manifest beside them; return that folder."""
    folder = Path(folder)
    index = json.loads((folder / INDEX_NAME).read_text(encoding="utf-8"))
    target = Path(tempfile.mkdtemp(prefix="expander-shards-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    for shard in (s for entries in index["splits"].values() for s in entries):
        for sample in shards.read(index["format"], (folder / shard["file"]).read_bytes()):
            path = target / sample.meta["output"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sample.image)
    shutil.copy(folder / MANIFEST_NAME, target / MANIFEST_NAME)
    return target
