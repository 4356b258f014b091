"""Where a dataset is read from and an output is written to: a local folder, or a URL (``s3://``, ``gs://``,
``az://``, ...) through fsspec.

Both kinds of store offer the same few operations on paths relative to their root, so workers, the
shard sink and verify do not care which they have. Credentials come the ecosystem's usual ways
(environment variables, profile files, instance roles), never from expander's own options.

Atomicity: a local file is written to an unnamed file and linked in (``images.write_atomic``); an object
is written whole with one PUT, which object stores make visible complete or not at all. A run commits by
writing its manifest last, so ``--resume`` and ``verify`` work from the store alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from expander.errors import ExpanderError, install_hint

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` names an object store (``file://`` URLs are local folders)."""
    match = _URL.match(str(location))
    return match is not None and match[1].lower() != "file"


def local_path(location: str | os.PathLike) -> Path:
    text = str(location)
    return Path(text[len("file://") :] if text.lower().startswith("file://") else text)


_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


class LocalStore:
    """A folder on this machine's filesystem."""

    remote = False

    def __init__(self, root: str | os.PathLike):
        self.root = local_path(root)
        self.location = str(self.root)

    def join(self, rel: str) -> str:
        return str(self.root / rel)

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def write(self, rel: str, data: bytes) -> None:
        from expander.images import write_atomic

        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def put_file(self, local: Path, rel: str) -> None:
        """Move a finished file into place (the caller made it in ``temp_dir()``: the same filesystem)."""
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        local.replace(self.root / rel)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def temp_dir(self) -> Path:
        """Where a file bound for this store is staged (the same filesystem, so it can be renamed in)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root


class RemoteStore:
    """A prefix in an object store (any filesystem fsspec knows: s3, gcs, az, ...)."""

    remote = True

    def __init__(self, url: str):
        import fsspec

        try:
            self.fs, path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as e:
            scheme = url.split("://", 1)[0].lower()
            extra = _EXTRAS.get(scheme)
            hint = f" Install it with: {install_hint(extra)}" if extra else ""
            raise ExpanderError(f"Cannot open '{url}': {' '.join(str(e).split())}.{hint}") from None
        self.path = path.rstrip("/")
        self.location = url.rstrip("/")

    def _full(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def join(self, rel: str) -> str:
        return f"{self.location}/{rel}"

    def read(self, rel: str) -> bytes:
        try:
            return self.fs.cat_file(self._full(rel))
        except FileNotFoundError as e:
            raise FileNotFoundError(2, "No such object", self.join(rel)) from e

    def write(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._full(rel), data)  # one PUT: the object appears whole or not at all

    def put_file(self, local: Path, rel: str) -> None:
        """Upload a finished file whole (one object), then remove the local copy."""
        self.fs.put_file(str(local), self._full(rel))
        local.unlink()

    def exists(self, rel: str) -> bool:
        return self.fs.isfile(self._full(rel))

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._full(rel))

    def files(self) -> list[str]:
        self.fs.invalidate_cache(self.path)
        try:
            found = self.fs.find(self.path)
        except FileNotFoundError:
            return []
        prefix = self.path + "/"
        return sorted(f[len(prefix) :] for f in found if f.startswith(prefix))

    def temp_dir(self) -> Path:
        return Path(tempfile.gettempdir())


def safe_relative(rel_path: str) -> bool:
    """A manifest path that stays inside the output: relative, without ``..``, empty or odd parts."""
    if not rel_path or rel_path.startswith("/") or "\\" in rel_path or "\x00" in rel_path:
        return False
    return not any(part in ("", ".", "..") for part in rel_path.split("/"))


Store = LocalStore | RemoteStore


def open_store(location: str | os.PathLike) -> Store:
    return RemoteStore(str(location)) if is_url(location) else LocalStore(location)


def as_store(location: str | os.PathLike | Store) -> Store:
    """A store for a location, or the store itself."""
    return location if isinstance(location, (LocalStore, RemoteStore)) else open_store(location)
