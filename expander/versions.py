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
    return _installed(_normalised(distribution))


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


@functools.cache
def _installed(name: str) -> str | None:
    for entry in sys.path:  # the first one found, as importlib.metadata and imports do
        try:
            folders = [p.name for p in Path(entry or ".").iterdir() if p.name.endswith(".dist-info")]
        except OSError:
            continue
        for folder in folders:
            found, _, number = folder[: -len(".dist-info")].rpartition("-")
            if number and _normalised(found) == name:
                return number
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
