"""``verify`` for a sharded output: every shard as indexed, every sample as the manifest lists it."""

from __future__ import annotations

import hashlib
import json

from expander import images
from expander.output import safe_relative
from expander.shards.formats import SampleRecord, decode
from expander.shards.sink import INDEX_NAME
from expander.storage import Store


def verify_shards(dst: Store, rows: list[dict], max_pixels: int | None) -> dict:
    """{"checked", "missing", "extra", "undecodable", "changed", "samples"}: shards against ``shards.json``
    (present, SHA-256, sample count), samples against the manifest (listed, size and SHA-256, decode)."""
    found: dict = {"missing": [], "extra": [], "undecodable": [], "changed": [], "samples": {}}
    try:
        index = json.loads(dst.read(INDEX_NAME).decode("utf-8"))
    except (OSError, ValueError):
        found["missing"].append(INDEX_NAME)
        return found | {"checked": len(rows)}
    by_member = {r.get("shard") or "": r for r in rows}
    present = set(dst.files())
    for shard in (s for entries in index["splits"].values() for s in entries):
        if not safe_relative(shard["file"]) or shard["file"] not in present:
            found["missing"].append(shard["file"])
            continue
        data = dst.read(shard["file"])
        if hashlib.sha256(data).hexdigest() != shard["sha256"]:
            found["changed"].append({"file": shard["file"], "reason": "SHA-256 differs from shards.json"})
        try:
            samples = list(decode(index["format"], data))
        except (ValueError, KeyError, OSError) as e:
            found["undecodable"].append({"file": shard["file"], "error": f"not a readable shard: {e}"})
            continue
        if len(samples) != shard["samples"]:
            reason = f"{len(samples)} samples; shards.json says {shard['samples']}"
            found["changed"].append({"file": shard["file"], "reason": reason})
        for sample in samples:
            _check_sample(f"{shard['file']}#{sample.key}.{sample.ext}", sample, by_member, found, max_pixels)
    found["missing"] += sorted(r["output"] for member, r in by_member.items() if member not in found["samples"])
    return found | {"checked": len(rows)}


def _check_sample(member: str, sample: SampleRecord, by_member: dict, found: dict, max_pixels: int | None) -> None:
    row = by_member.get(member)
    if row is None:
        found["extra"].append(member)
        return
    found["samples"][member] = sample.image
    if hashlib.sha256(sample.image).hexdigest() != row.get("sha256") or str(len(sample.image)) != row.get("bytes"):
        reason = f"{member} differs from the manifest's size and SHA-256"
        found["changed"].append({"file": row["output"], "reason": reason})
    try:
        images.decode(sample.image, row["output"], max_pixels=max_pixels)
    except images.DecodeError as e:
        found["undecodable"].append({"file": row["output"], "error": str(e)})


def sample_bytes(found: dict, row: dict) -> bytes | None:
    """A sample's bytes as read by ``verify_shards`` (for replays)."""
    return found["samples"].get(row.get("shard") or "")
