"""Installed package versions, read from the names of the ``dist-info`` folders on ``sys.path``.

Every run needs a few (is ``presets.json`` from the installed albumentations? which versions wrote
``expander.json``?) before its first job starts. ``importlib.metadata`` takes about 30 ms to import
and 5 ms more to answer; a wheel's ``<name>-<version>.dist-info`` folder says the same in about 1 ms.
Anything installed another way (egg-info, zip imports) is still looked up by ``importlib.metadata``.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (PyPI name), or None when it is not installed."""
    name = _normalised(distribution)
    found = _on_path().get(name)
    if found is not None:
        return found
    # lazy: importlib.metadata costs ~16 ms to import; only the manifest and --version need it
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


@functools.cache
def _on_path() -> dict[str, str]:
    """{normalised name: version} of every dist-info folder on sys.path, read once; the first one found wins,
    as with importlib.metadata and imports."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            folders = [p.name for p in Path(entry or ".").iterdir() if p.name.endswith(".dist-info")]
        except OSError:
            continue
        for folder in folders:
            name, _, number = folder[: -len(".dist-info")].rpartition("-")
            if number:
                found.setdefault(_normalised(name), number)
    return found
