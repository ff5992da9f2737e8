import io
import time

import numpy as np
import pytest
from PIL import Image

from alpr.images import check_upload, decode, extension_allowed, load_image, sniff_format
from alpr.status import AlprError, Code
from conftest import encode, png_bomb

MAX_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 50_000_000


def code_of(fn, *args) -> Code:
    with pytest.raises(AlprError) as info:
        fn(*args)
    return info.value.code


@pytest.mark.parametrize("name,ok", [
    ("a.jpg", True), ("a.JPG", True), ("a.JpEg", True), ("a.png", True), ("b.bmp", True),
    ("a.gif", False), ("jpg", False), ("a.jpg.exe", False), ("", False), ("a.", False),
])
def test_extension_rules(name, ok):
    assert extension_allowed(name) is ok


def test_signatures(photo_bytes):
    image = np.zeros((8, 8, 3), np.uint8)
    assert sniff_format(encode(image, "PNG")) == "PNG"
    assert sniff_format(encode(image, "BMP")) == "BMP"
    assert sniff_format(photo_bytes) == "JPEG"
    assert sniff_format(b"hello, I am text") is None


def test_no_file_is_code_1():
    assert code_of(check_upload, b"", "a.jpg", MAX_BYTES) is Code.NO_FILE
    assert code_of(check_upload, None, None, MAX_BYTES) is Code.NO_FILE


def test_text_named_jpg_is_code_2():
    assert code_of(check_upload, b"just some text\n" * 10, "plate.jpg", MAX_BYTES) is Code.INVALID_FORMAT


def test_bad_extension_is_code_2(photo_bytes):
    assert code_of(check_upload, photo_bytes, "plate.gif", MAX_BYTES) is Code.INVALID_FORMAT


def test_too_large_is_code_3(photo_bytes):
    assert code_of(check_upload, photo_bytes, "a.jpg", len(photo_bytes) - 1) is Code.FILE_TOO_LARGE


def test_truncated_jpeg_is_code_7(photo_bytes):
    truncated = photo_bytes[: len(photo_bytes) // 2]
    assert code_of(load_image, truncated, "a.jpg", MAX_BYTES, MAX_PIXELS) is Code.CORRUPTED_IMAGE


def test_garbage_after_signature_is_code_7():
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert code_of(load_image, data, "a.png", MAX_BYTES, MAX_PIXELS) is Code.CORRUPTED_IMAGE


def test_garbage_is_code_7_after_ultralytics_patched_pillow():
    from alpr.yolo_env import prepare_ultralytics

    prepare_ultralytics()
    import ultralytics.utils.patches  # noqa: F401  (replaces PIL.Image.open)

    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert code_of(load_image, data, "a.png", MAX_BYTES, MAX_PIXELS) is Code.CORRUPTED_IMAGE


def test_pixel_bomb_is_code_7_fast_and_small():
    bomb = png_bomb(40000, 40000)
    assert len(bomb) < 100_000
    start = time.perf_counter()
    assert code_of(decode, bomb, "PNG", MAX_PIXELS) is Code.CORRUPTED_IMAGE
    assert time.perf_counter() - start < 1.0  # refused from the header, nothing inflated


def test_decodes_to_bgr(photo_bytes):
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, :, 2] = 255  # red in BGR
    for fmt in ("PNG", "BMP"):
        out = load_image(encode(image, fmt), f"x.{fmt.lower()}", MAX_BYTES, MAX_PIXELS)
        assert out.shape == (10, 20, 3) and out.dtype == np.uint8
        assert out[0, 0].tolist() == [0, 0, 255]


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (10, 200, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    out = load_image(buffer.getvalue(), "r.jpg", MAX_BYTES, MAX_PIXELS)
    assert out.shape[:2] == (40, 20)


def test_grayscale_and_alpha_become_three_channels():
    for mode in ("L", "RGBA", "P"):
        buffer = io.BytesIO()
        Image.new(mode, (16, 12)).save(buffer, format="PNG")
        assert load_image(buffer.getvalue(), "g.png", MAX_BYTES, MAX_PIXELS).shape == (12, 16, 3)
