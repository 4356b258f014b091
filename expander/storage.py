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
import time
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

    def head(self, rel: str, size: int) -> bytes:
        """The first ``size`` bytes of a file (a header)."""
        with open(self.root / rel, "rb") as f:
            return f.read(size)

    def write(self, rel: str, data: bytes) -> None:
        # lazy: numpy and OpenCV (~60 ms) stay out of `expander --help`, which imports this module
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


class StoreError(ExpanderError):
    """The store refuses the run: no credentials, credentials it rejects, no access, no such bucket (exit 2)."""


class StoreUnavailable(ExpanderError):
    """The store did not answer for ``STORE_PATIENCE_S``: before a run starts, exit 2; during one, the run stops
    (what was written is recorded) and ``--resume`` finishes it once the store is back."""


# Each store call times out (EXPANDER_STORE_TIMEOUT_S) and a store that cannot be reached is tried again with
# backoff for EXPANDER_STORE_PATIENCE_S, so a short outage is ridden through and a long one stops the run in
# about that long: never a worker waiting in epoll for ever (issue 30). Throttling and 5xx answers are retried
# by the client itself (botocore's standard mode).
STORE_TIMEOUT_S = 20.0
STORE_PATIENCE_S = 60.0
_patience_override: float | None = None


@contextlib.contextmanager
def impatient():
    """Store calls inside try once (a run being interrupted, or one the store has already stopped, only notes
    what it can: waiting again for a store that was just found gone helps no one)."""
    global _patience_override
    saved, _patience_override = _patience_override, 0.0
    try:
        yield
    finally:
        _patience_override = saved


def _seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise ExpanderError(f"{name} must be a number of seconds, not {os.environ[name]!r}.") from None


class RemoteStore:
    """A prefix in an object store (any filesystem fsspec knows: s3, gcs, az, ...)."""

    remote = True

    def __init__(self, url: str):
        import fsspec  # lazy: fsspec costs ~50 ms to import; a run on local folders never needs it

        scheme = url.split("://", 1)[0].lower()
        try:
            self.fs, path = fsspec.core.url_to_fs(url, **_options(scheme))
        except (ImportError, ValueError) as e:
            extra = _EXTRAS.get(scheme)
            hint = f" Install it with: {install_hint(extra)}" if extra else ""
            raise ExpanderError(f"Cannot open '{url}': {' '.join(str(e).split())}.{hint}") from None
        if hasattr(self.fs, "retries"):
            self.fs.retries = 1  # s3fs's own retries would multiply the timeouts; _call retries with a deadline
        self.path = path.rstrip("/")
        self.location = url.rstrip("/")

    def _full(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def join(self, rel: str) -> str:
        return f"{self.location}/{rel}"

    def read(self, rel: str) -> bytes:
        try:
            return self._call(self.fs.cat_file, self._full(rel))
        except FileNotFoundError as e:
            raise FileNotFoundError(2, "No such object", self.join(rel)) from e

    def head(self, rel: str, size: int) -> bytes:
        """The first ``size`` bytes of an object (one ranged GET)."""
        try:
            return self._call(self.fs.cat_file, self._full(rel), 0, size)
        except FileNotFoundError as e:
            raise FileNotFoundError(2, "No such object", self.join(rel)) from e

    def write(self, rel: str, data: bytes) -> None:
        # one PUT: the object appears whole or not at all
        self._call(self.fs.pipe_file, self._full(rel), data, **self._upload_deadline(len(data)))

    def put_file(self, local: Path, rel: str) -> None:
        """Upload a finished file whole (one object), then remove the local copy."""
        deadline = self._upload_deadline(local.stat().st_size)
        self._call(self.fs.put_file, str(local), self._full(rel), **deadline)
        local.unlink()

    def _upload_deadline(self, size: int) -> dict[str, float]:
        """A whole-call timeout for an upload: the client's read timeout starts only once the body is sent, and
        a PUT waits for the store's '100 Continue' without one, so a store that accepts connections and then
        hangs would hold the upload for ever. Generous: the timeout three times over, plus 1 MB/s."""
        if not getattr(self.fs, "async_impl", False):
            return {}  # a synchronous filesystem takes no timeout argument
        return {"timeout": 3 * _seconds("EXPANDER_STORE_TIMEOUT_S", STORE_TIMEOUT_S) + size / 1e6}

    def exists(self, rel: str) -> bool:
        return self._call(self.fs.isfile, self._full(rel))

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm_file, self._full(rel))

    def files(self) -> list[str]:
        self.fs.invalidate_cache(self.path)
        try:
            found = self._call(self.fs.find, self.path)
        except FileNotFoundError:
            self._call(self.fs.ls, self.path.split("/", 1)[0])  # a missing bucket is an error, an empty prefix not
            return []
        prefix = self.path + "/"
        return sorted(f[len(prefix) :] for f in found if f.startswith(prefix))

    def temp_dir(self) -> Path:
        return Path(tempfile.gettempdir())

    def _call(self, function, *args, **kwargs):
        """A store call, its failures as what they mean for a run: StoreError (the fix is the user's), or
        StoreUnavailable once the store has not answered for the patience; a missing object stays
        FileNotFoundError."""
        patience = _seconds("EXPANDER_STORE_PATIENCE_S", STORE_PATIENCE_S)
        deadline = time.monotonic() + (patience if _patience_override is None else _patience_override)
        if _patience_override == 0 and getattr(self.fs, "async_impl", False):
            # tried once: the whole call, the client's own retries included, within one timeout (an upload
            # keeps its time for the bytes)
            timeout = _seconds("EXPANDER_STORE_TIMEOUT_S", STORE_TIMEOUT_S)
            kwargs["timeout"] = kwargs.get("timeout", 3 * timeout) - 2 * timeout
        wait = 0.5
        while True:
            try:
                return self._call_once(function, *args, **kwargs)
            except StoreUnavailable:
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(wait)
                wait = min(wait * 2, 8.0)

    def _call_once(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except FileNotFoundError as e:
            code = _error_code(e)  # S3's, from the ClientError s3fs raises it from
            if code == "NoSuchBucket" or (not code and "bucket" in str(e).lower()):  # gcsfs and adlfs carry no code
                bucket = self.location.split("://", 1)[1].split("/", 1)[0]
                what = f"Bucket '{bucket}' does not exist ({self.location})"
                raise StoreError(f"{what}. Create it, or fix the URL.") from e
            raise
        except Exception as e:  # each store raises its own types; _translate knows the ones a user can fix
            translated = _translate(e, self.location)
            if translated is None:
                raise
            raise translated from e


def _options(scheme: str) -> dict:
    """The filesystem's options: no listings cache (a run writes and then reads the same prefixes, and a
    listing cached before the writes would hide them), and for S3 the timeouts and retries (the other stores
    keep fsspec's own)."""
    options: dict = {"use_listings_cache": False}
    if scheme in ("s3", "s3a"):
        timeout = _seconds("EXPANDER_STORE_TIMEOUT_S", STORE_TIMEOUT_S)
        retries = {"max_attempts": 3, "mode": "standard"}
        options["config_kwargs"] = {"connect_timeout": timeout, "read_timeout": timeout, "retries": retries}
    return options


_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}


def _translate(error: Exception, location: str) -> Exception | None:
    """A client library's exception as StoreError or StoreUnavailable; None for anything else."""
    name = type(error).__name__
    code = _error_code(error)
    message = " ".join(str(error).split()).rstrip(".") or f"{name}: no answer in time"
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return StoreError(
            f"No credentials for {location}: {message}. Set them the usual way for the store (for S3: "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or an instance role)."
        )
    if code in _CREDENTIALS:
        return StoreError(f"{location} refused the credentials ({code}: {message}). Check the access key and "
                          "secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE).")  # fmt: skip
    if isinstance(error, PermissionError) or code in ("AccessDenied", "AllAccessDisabled"):
        return StoreError(f"Access denied to {location}: {message}. Give these credentials read access to the "
                          "source and write access to the output (for S3: s3:ListBucket, s3:GetObject, "
                          "s3:PutObject).")  # fmt: skip
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                "ClientConnectorError", "ServerDisconnectedError", "TimeoutError") or isinstance(
                    error, (ConnectionError, TimeoutError)):  # fmt: skip
        return StoreUnavailable(
            f"Cannot reach the store for {location} ({message[:200]}). Check the endpoint "
            "(AWS_ENDPOINT_URL for S3) and the network, then run the command again (a stopped run: with --resume)."
        )
    return None


def _error_code(error: BaseException | None) -> str:
    """The store's error code (botocore's ``response``), on the error or the one it was raised from (s3fs raises
    PermissionError from botocore's ClientError)."""
    for _ in range(3):
        if error is None:
            return ""
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        error = error.__cause__ or error.__context__
    return ""


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
