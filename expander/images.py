"""The only module that decodes and encodes image files.

Arrays handed to the rest of the package follow one convention:

* channel order RGB (or RGBA), or OpenCV's own BGR (BGRA) where the caller asks for it with
  ``order="BGR"`` (a pipeline that ignores channel order then saves two conversions per image);
  grayscale stays 2-D (H, W), one channel;
* dtype uint8, or uint16 for 16-bit sources;
* EXIF orientation already applied (see ``decode`` for the one exception).

Writes are atomic (``write_atomic``): an interrupted run never leaves a half-written image
under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import os

import cv2
import numpy as np

TEMP_SUFFIX = ".expander-tmp"
OUTPUT_FORMATS = ("jpg", "png", "webp")

_EXT_TO_FORMAT = {
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".png": "png",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DecodeError(Exception):
    """A file could not be read as an image. The message is meant for the run report."""


def format_of(path: str) -> str:
    """Format name (jpg, png, webp, bmp, tiff) of a file, from its extension."""
    return _EXT_TO_FORMAT[os.path.splitext(path)[1].lower()]


def decode(data: bytes, name: str, order: str = "RGB") -> np.ndarray:
    """Decode image bytes to an array (see module docstring for the convention; ``order``: RGB or BGR).

    EXIF orientation is applied by OpenCV except for images decoded with an alpha channel
    (PNG with transparency, WebP, TIFF), where OpenCV's "unchanged" mode skips it.

    Raises:
        DecodeError: empty, truncated, corrupt, or an unsupported pixel type.
    """
    if not data:
        raise DecodeError("empty file (0 bytes)")
    flags = cv2.IMREAD_UNCHANGED if _may_have_alpha(data, name) else cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise DecodeError("not a decodable image (corrupt, truncated, or not the format its extension says)")
    if image.dtype not in (np.uint8, np.uint16):
        raise DecodeError(f"unsupported pixel type {image.dtype}; expected 8- or 16-bit integer pixels")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and order == "RGB":
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return image


def encode(image: np.ndarray, fmt: str, quality: int, order: str = "RGB") -> bytes:
    """Encode an array (channels in ``order``) to bytes in ``fmt``, adapting what the format cannot store.

    JPEG stores neither alpha nor 16 bits: alpha is dropped and 16-bit values are scaled
    to 8 bits. WebP also has no 16-bit mode. PNG and TIFF keep both.
    """
    if fmt in ("jpg", "webp", "bmp") and image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    rgb = order == "RGB"
    if image.ndim == 3 and image.shape[2] == 4:
        if fmt in ("jpg", "bmp"):
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if rgb else cv2.COLOR_BGRA2BGR)
        elif rgb:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 3 and rgb:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params: list[int] = []
    if fmt == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif fmt == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    ok, buffer = cv2.imencode("." + fmt, image, params)
    if not ok:  # pragma: no cover - OpenCV reports encoder failures this way
        raise DecodeError(f"OpenCV could not encode a {image.shape} {image.dtype} image as {fmt}")
    return buffer.tobytes()


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height): area averaging when shrinking, bilinear when enlarging."""
    width, height = size
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it appears there complete or not at all.

    On Linux the bytes go to an unnamed file (O_TMPFILE) that is then linked in under ``path``:
    nothing is ever visible under another name, a crash leaves nothing behind, and it costs one
    directory entry instead of a temporary one plus a rename. Where that is not supported, and to
    replace a file that exists, through a hidden temporary file and a rename.
    """
    global _unnamed_files
    if _unnamed_files:
        try:
            fd = os.open(os.path.dirname(path) or ".", os.O_TMPFILE | os.O_WRONLY, 0o666)
        except OSError as e:
            _unnamed_files = e.errno not in _NO_TMPFILE  # a missing folder is not a missing feature
        else:
            try:
                _write_all(fd, data)
                # src_dir_fd makes os.link call linkat(AT_SYMLINK_FOLLOW), which links the open file itself.
                os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)
                return
            except FileExistsError:
                pass  # replaced below
            except FileNotFoundError:
                _unnamed_files = os.path.isdir("/proc/self/fd")  # no /proc: stop trying
            finally:
                os.close(fd)
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}{TEMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_unnamed_files = hasattr(os, "O_TMPFILE")
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}  # filesystem or kernel without O_TMPFILE


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def remove_temp_files(root: str | os.PathLike) -> int:
    """Delete temporary files an interrupted run left under ``root``; return how many.

    Streams the folder tree (``os.scandir``) rather than listing it, so a folder of a million
    outputs costs no memory to check.
    """
    removed = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                removed += remove_temp_files(entry.path)
            elif entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _may_have_alpha(data: bytes, name: str) -> bool:
    """Whether the file may carry alpha, which only OpenCV's "unchanged" mode keeps."""
    fmt = _EXT_TO_FORMAT.get(os.path.splitext(name)[1].lower())
    if fmt in ("webp", "tiff"):
        return True
    if data.startswith(_PNG_SIGNATURE) and len(data) > 25:
        color_type = data[25]  # IHDR: 4 = gray + alpha, 6 = RGBA
        idat = data.find(b"IDAT")
        return color_type in (4, 6) or b"tRNS" in data[: idat if idat > 0 else None]
    return False
