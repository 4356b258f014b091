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
import io
import itertools
import os
from typing import Literal

import cv2
import numpy as np
import simplejpeg

from expander.limits import DEFAULT_MAX_PIXELS

TEMP_SUFFIX = ".expander-tmp"

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
_JPEG_SIGNATURE = b"\xff\xd8"


class DecodeError(Exception):
    """A file could not be read as an image. The message is meant for the run report."""


def format_of(path: str) -> str:
    """Format name (jpg, png, webp, bmp, tiff) of a file, from its extension.

    Raises:
        DecodeError: the name has no image extension.
    """
    try:
        return _EXT_TO_FORMAT[os.path.splitext(path)[1].lower()]
    except KeyError:
        raise DecodeError(f"'{path}' has no image extension ({', '.join(sorted(_EXT_TO_FORMAT))})") from None


def decode(
    data: bytes,
    name: str,
    order: str = "RGB",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode image bytes to an array (see module docstring for the convention; ``order``: RGB or BGR).

    The size in the file's header is checked against ``max_pixels`` before anything is decoded, so a
    decompression bomb costs microseconds. JPEGs are decoded strictly: corrupt entropy-coded data,
    which libjpeg would otherwise "recover" into grey noise, is an error. EXIF orientation is applied
    except for images decoded with an alpha channel (PNG with transparency, WebP, TIFF), which
    OpenCV's "unchanged" mode reads as stored.

    With ``min_size`` (width, height), a JPEG is decoded at the smallest of libjpeg's reduced scales
    (1/8, 2/8, ... of its size, computed in the DCT domain) that still covers it: a 12 MP photo bound
    for 224x224 costs a 1/64 of the pixels. Other formats decode at full size.

    Raises:
        DecodeError: empty, truncated, corrupt, too large, or an unsupported pixel type; never any
            other exception, whatever the bytes.
    """
    if not data:
        raise DecodeError("empty file (0 bytes)")
    try:
        check_pixels(header_size(data, name), max_pixels)
        image = _decode_jpeg(data, min_size) if data.startswith(_JPEG_SIGNATURE) else None
        if image is None:
            image = _decode_opencv(data, name)
    except DecodeError:
        raise
    except MemoryError:
        raise DecodeError("not enough memory to decode it; lower --workers or --max-pixels") from None
    except Exception as e:  # cv2.error, ValueError from a decoder: the file, not the run, is at fault
        raise DecodeError(_decoder_message(e)) from None
    if max_pixels is not None and image.shape[0] * image.shape[1] > max_pixels:  # a header that lied
        check_pixels((image.shape[1], image.shape[0]), max_pixels)
    if image.ndim == 3 and order == "RGB":
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return image


_UNDECODABLE = "not a decodable image (corrupt, truncated, or not the format its extension says)"


def _decoder_message(error: Exception) -> str:
    """A decoder's complaint as a run-report line: libjpeg's own words when they say something."""
    said = " ".join(str(error).split())
    if isinstance(error, ValueError) and said and not said.startswith("tj") and not said.lstrip("-").isdigit():
        return f"corrupt JPEG data (libjpeg: {said}); the file is damaged: re-export or remove it"
    return _UNDECODABLE


def check_pixels(size: tuple[int, int] | None, max_pixels: int | None) -> None:
    """Raise DecodeError when a (width, height) exceeds ``max_pixels`` (None: no limit)."""
    if size is None or max_pixels is None:
        return
    width, height = size
    if width * height > max_pixels:
        raise DecodeError(
            f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(a decompression bomb, or a photo larger than expected); raise --max-pixels if it is real"
        )


def header_size(data: bytes, name: str = "") -> tuple[int, int] | None:
    """(width, height) read from the file's header without decoding; None if the header is not understood.

    PNG and JPEG are read here (a few microseconds); other formats through Pillow, which reads only
    their headers.
    """
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(_JPEG_SIGNATURE):
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data, strict=False)
        except ValueError:
            return None  # no frame header: decoding says why
        return width, height
    return _pillow_size(data)


def _pillow_size(data: bytes) -> tuple[int, int] | None:
    """WebP, BMP or TIFF size from Pillow's header parser for that format.

    The format's plugin class reads the header when it is made; ``Image.open`` would also apply Pillow's own
    bomb check (a process-wide setting we would have to change, under every thread of a library caller).
    """
    # lazy: Pillow costs ~19 ms to import; only WebP, BMP and TIFF headers need it
    from PIL import BmpImagePlugin, ImageFile, TiffImagePlugin, WebPImagePlugin

    plugin: type[ImageFile.ImageFile]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        plugin = WebPImagePlugin.WebPImageFile
    elif data[:2] == b"BM":
        plugin = BmpImagePlugin.BmpImageFile
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        plugin = TiffImagePlugin.TiffImageFile
    else:
        return None
    try:
        return plugin(io.BytesIO(data)).size
    except Exception:  # a broken header: decoding says why
        return None


def _decode_jpeg(data: bytes, min_size: tuple[int, int] | None = None) -> np.ndarray | None:
    """A JPEG, decoded strictly in BGR (2-D for grayscale) with EXIF orientation applied, as OpenCV would.

    libjpeg-turbo through simplejpeg, which reports libjpeg's "corrupt data" warnings as errors (OpenCV
    prints them and returns the damaged pixels). It decodes the same pixels as OpenCV's libjpeg-turbo,
    about 20% faster. CMYK and YCCK files are only checked here and decoded by OpenCV (None).
    """
    colorspace = simplejpeg.decode_jpeg_header(data, strict=True)[2]
    if colorspace not in ("YCbCr", "Gray", "RGB"):
        simplejpeg.decode_jpeg(data, "CMYK", strict=True)  # only to check the entropy-coded data
        return None
    gray, orientation = colorspace == "Gray", _exif_orientation(data)
    min_width, min_height = min_size or (0, 0)
    if orientation in (5, 6, 7, 8):  # stored transposed: the target's width is the stored height
        min_width, min_height = min_height, min_width
    image = simplejpeg.decode_jpeg(data, "GRAY" if gray else "BGR", min_height=min_height, min_width=min_width,
                                   strict=True)  # fmt: skip
    return _orient(image[:, :, 0] if gray else image, orientation)


def _decode_opencv(data: bytes, name: str) -> np.ndarray:
    flags = cv2.IMREAD_UNCHANGED if _may_have_alpha(data, name) else cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise DecodeError(_UNDECODABLE)
    if image.dtype not in (np.uint8, np.uint16):
        raise DecodeError(f"unsupported pixel type {image.dtype}; expected 8- or 16-bit integer pixels")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def _exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1-8) of a JPEG, 1 when there is none or it cannot be read."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xDA, 0xD9):  # start of scan: no more metadata
            return 1
        if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[pos + 10 : pos + 2 + length])
        pos += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    order: Literal["little", "big"]
    if tiff[:2] == b"II":
        order = "little"
    elif tiff[:2] == b"MM":
        order = "big"
    else:
        return 1
    if len(tiff) < 8:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd : ifd + 2], order) if ifd + 2 <= len(tiff) else 0
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry : entry + 2], order) == 0x0112:
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation the way OpenCV's imdecode does (same operations, same pixels)."""
    if orientation in (5, 6, 7, 8):
        image = cv2.transpose(image)
    flip = {2: 1, 3: -1, 4: 0, 6: 1, 7: -1, 8: 0}.get(orientation)
    return image if flip is None else cv2.flip(image, flip)


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


def encode_jpeg_planes(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray, quality: int) -> bytes:
    """A JPEG from YCbCr planes (chroma at half size: 4:2:0), with no colour conversion or subsampling.

    libjpeg-turbo reads a 4:2:0 luma plane rounded up to even sizes, through its row stride. An odd-sized
    ``luma`` should therefore be a view into a plane one row and column larger (as fastpath makes them);
    any other is copied into one here, so the encoder never reads past the array.
    """
    height, width = luma.shape
    if (height % 2 or width % 2) and not _backed_to_even(luma):
        padded = cv2.copyMakeBorder(luma, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        luma = padded[:height, :width]
    return simplejpeg.encode_jpeg_yuv_planes(luma, cb, cr, quality)


def _backed_to_even(luma: np.ndarray) -> bool:
    """Whether ``luma`` is the top-left corner of a contiguous plane rounded up to even sizes."""
    base, (height, width) = luma.base, luma.shape
    return (isinstance(base, np.ndarray) and base.flags.c_contiguous and base.ndim == 2
            and base.shape == (height + height % 2, width + width % 2) and luma.strides == base.strides
            and luma.__array_interface__["data"][0] == base.__array_interface__["data"][0])  # fmt: skip


def to_8bit(image: np.ndarray, channels: int | None = None) -> np.ndarray:
    """An image for consumers that take 8-bit pixels (models, contact sheets, thumbnails, style references).

    16-bit values keep their top 8 bits, alpha is dropped, and with ``channels`` the result has 1
    (grey) or 3 (RGB) channels; 1 channel stays 2-D.
    """
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if channels == 1 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif channels == 3 and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def decode_resized(
    data: bytes,
    name: str,
    size: tuple[int, int] | None,
    order: str = "RGB",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """``decode``, then ``resize`` to ``size`` (width, height) if given; JPEGs decode at reduced scale first.

    Every consumer of a resized source goes through here (expand's workers, verify's replays, preview),
    so they all see the same pixels. Against a full decode followed by the same resize: 50.0 dB PSNR / 0.9988
    SSIM (medians over 23 photos of 8-15 MP at 224x224; see docs/performance.md).
    """
    if size is None:
        return decode(data, name, order, max_pixels)
    # At least twice the target: the area-averaging shrink then has pixels to average. Decoding just above the
    # target lost up to 10 dB on photos a few times the target's size, and saved no time on large ones.
    image = decode(data, name, order, max_pixels, min_size=(2 * size[0], 2 * size[1]))
    return resize(image, size)


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
    # Unique per process and call: two writers never share a temporary file (each run also holds the
    # output folder's lock, so this only matters for callers outside a run).
    token = f"{os.getpid()}.{next(_counter)}"
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{token}{TEMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_unnamed_files = hasattr(os, "O_TMPFILE")
_counter = itertools.count()
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
    with os.scandir(os.fspath(root)) as entries:
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
