from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from expander import images


def png_bytes(array_bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array_bgr)
    assert ok
    return buf.tobytes()


def test_colour_comes_back_as_rgb() -> None:
    bgr = np.zeros((13, 17, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    rgb = images.decode(png_bytes(bgr), "a.png")
    assert rgb.shape == (13, 17, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_bgr_order_is_opencvs_and_round_trips_to_the_same_bytes(channels: int, dtype) -> None:
    native = np.random.default_rng(channels).integers(0, 255, (13, 17, channels)).astype(dtype)  # B, G, R(, A)
    data = png_bytes(native)
    bgr, rgb = images.decode(data, "a.png", order="BGR"), images.decode(data, "a.png")
    assert np.array_equal(bgr, native)
    assert np.array_equal(rgb[..., :3], native[..., 2::-1]) and np.array_equal(rgb[..., 3:], native[..., 3:])
    for fmt in ("png", "jpg", "webp"):
        assert images.encode(bgr, fmt, 90, order="BGR") == images.encode(rgb, fmt, 90), fmt


def test_grayscale_stays_one_channel() -> None:
    gray = np.arange(13 * 17, dtype=np.uint8).reshape(13, 17)
    decoded = images.decode(png_bytes(gray), "g.png")
    assert decoded.shape == (13, 17)
    assert np.array_equal(decoded, gray)


def test_rgba_keeps_alpha_in_rgba_order() -> None:
    bgra = np.zeros((13, 17, 4), np.uint8)
    bgra[..., 0] = 255  # blue
    bgra[..., 3] = 7
    rgba = images.decode(png_bytes(bgra), "a.png")
    assert rgba.shape == (13, 17, 4)
    assert rgba[0, 0].tolist() == [0, 0, 255, 7]


def test_16_bit_png_stays_16_bit() -> None:
    deep = np.full((13, 17, 3), 40000, np.uint16)
    decoded = images.decode(png_bytes(deep), "d.png")
    assert decoded.dtype == np.uint16
    assert int(decoded.max()) == 40000


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :5] = 255
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif)
    decoded = images.decode((tmp_path / "r.jpg").read_bytes(), "r.jpg")
    assert decoded.shape == (20, 10, 3)
    assert decoded[:5].mean() > 200 and decoded[-5:].mean() < 50  # the white band is now on top


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"this is not an image", "not a decodable image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "not a decodable image"),
    ],
)
def test_bad_bytes_raise_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(images.DecodeError, match=re.escape(message)):
        images.decode(data, "bad.jpg")


def test_encode_adapts_what_jpeg_cannot_store() -> None:
    rgba16 = np.full((13, 17, 4), 65535, np.uint16)
    data = images.encode(rgba16, "jpg", 95)
    back = images.decode(data, "x.jpg")
    assert back.shape == (13, 17, 3) and back.dtype == np.uint8
    assert int(back.min()) >= 250


def test_png_round_trip_is_lossless_for_every_mode() -> None:
    rng = np.random.default_rng(0)
    for array in (
        rng.integers(0, 255, (13, 17, 3), dtype=np.uint8),
        rng.integers(0, 255, (13, 17), dtype=np.uint8),
        rng.integers(0, 255, (13, 17, 4), dtype=np.uint8),
        rng.integers(0, 65535, (13, 17, 3), dtype=np.uint16),
    ):
        assert np.array_equal(images.decode(images.encode(array, "png", 95), "x.png"), array)


def test_resize_takes_width_then_height() -> None:
    assert images.resize(np.zeros((13, 17, 3), np.uint8), (8, 6)).shape == (6, 8, 3)


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.png"
    images.write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("unnamed_files", [True, False], ids=["O_TMPFILE", "temporary name"])
def test_write_atomic_replaces_and_keeps_the_usual_permissions(tmp_path: Path, monkeypatch, unnamed_files) -> None:
    monkeypatch.setattr(images, "_unnamed_files", unnamed_files and images._unnamed_files)
    target = tmp_path / "a.png"
    images.write_atomic(target, b"first")
    images.write_atomic(str(target), b"second" * 100_000)  # replaces; str paths too
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert target.read_bytes() == b"second" * 100_000
    assert target.stat().st_mode == plain.stat().st_mode  # 0o666 less the umask, like open()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "plain"]


def test_write_atomic_into_a_missing_folder_says_so(tmp_path: Path) -> None:
    before = images._unnamed_files
    with pytest.raises(FileNotFoundError):
        images.write_atomic(tmp_path / "missing" / "a.png", b"abc")
    assert images._unnamed_files == before  # a missing folder is not taken for a filesystem without O_TMPFILE


def test_write_atomic_failure_leaves_nothing(tmp_path: Path) -> None:

    target = tmp_path / "a.png"
    with pytest.raises(TypeError):
        images.write_atomic(target, object())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_remove_temp_files_counts_what_it_deletes(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / f".a.png{images.TEMP_SUFFIX}").write_bytes(b"half")
    (tmp_path / "cat" / "b.png").write_bytes(b"whole")
    assert images.remove_temp_files(tmp_path) == 1
    assert [p.name for p in (tmp_path / "cat").iterdir()] == ["b.png"]


def _photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth colour content, as in a photo (random noise would make any downscale look bad)."""
    small = np.random.default_rng(seed).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def test_a_jpeg_for_a_small_size_is_decoded_at_the_smallest_scale_that_covers_it() -> None:
    data = cv2.imencode(".jpg", _photo(1600, 1200))[1].tobytes()
    assert images.decode(data, "x.jpg", min_size=(224, 224)).shape == (300, 400, 3)  # 2/8: 1/8 would be 150 high
    assert images.decode(data, "x.jpg", min_size=(100, 100)).shape == (150, 200, 3)  # 1/8
    assert images.decode(data, "x.jpg", min_size=(1600, 1200)).shape == (1200, 1600, 3)
    assert images.decode(data, "x.jpg").shape == (1200, 1600, 3)


def test_reduced_scale_decoding_respects_exif_orientation(tmp_path: Path) -> None:
    im = Image.fromarray(_photo(1600, 800))
    exif = im.getexif()
    exif[0x0112] = 6  # displayed rotated: 800 wide, 1600 high
    im.save(tmp_path / "r.jpg", exif=exif)
    decoded = images.decode((tmp_path / "r.jpg").read_bytes(), "r.jpg", min_size=(150, 300))
    assert decoded.shape == (400, 200, 3)  # 1/8 would be 100x200, narrower than 150


def test_decode_resized_is_close_to_a_full_decode_then_resize() -> None:
    data = cv2.imencode(".jpg", _photo(2400, 1800), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    reference = images.resize(images.decode(data, "x.jpg"), (224, 224))
    fast = images.decode_resized(data, "x.jpg", (224, 224))
    assert fast.shape == reference.shape == (224, 224, 3)
    mse = np.mean((fast.astype(np.float64) - reference) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 40  # dB


def test_header_sizes_of_other_formats_leave_pillows_own_settings_alone() -> None:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    bmp = bytearray(cv2.imencode(".bmp", np.zeros((13, 17, 3), np.uint8))[1].tobytes())
    bmp[18:26] = (30000).to_bytes(4, "little") + (30000).to_bytes(4, "little")  # a header claiming 30000x30000
    assert images.header_size(bytes(bmp), "b.bmp") == (30000, 30000)
    with pytest.raises(images.DecodeError, match=r"^30000x30000 is 900,000,000 pixels, over the limit"):
        images.decode(bytes(bmp), "b.bmp")
    for ext in (".webp", ".tif"):
        assert images.header_size(cv2.imencode(ext, np.zeros((13, 17, 3), np.uint8))[1].tobytes()) == (17, 13)
    assert pillow_limit == Image.MAX_IMAGE_PIXELS
