"""Bytes → a validated BGR image. Every check of the client's input lives here.

Codes: 1 nothing uploaded, 2 wrong extension or signature, 3 too large, 7 does not decode.
The bytes are decoded in memory; nothing is written to disk.
"""
from __future__ import annotations

import io
import sys
import warnings

import cv2
import numpy as np
from PIL import Image

from .status import AlprError, Code

ALLOWED_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "bmp"})

# Leading bytes of each allowed format, and the name Pillow gives it.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
)


def extension_allowed(filename: str) -> bool:
    _, dot, ext = filename.rpartition(".")
    return bool(dot) and ext.lower() in ALLOWED_EXTENSIONS


def sniff_format(data: bytes) -> str | None:
    """'PNG', 'JPEG' or 'BMP' from the leading bytes, else None."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    return None


def check_upload(data: bytes | None, filename: str | None, max_bytes: int) -> str:
    """Checks what can be checked without decoding; returns the sniffed format."""
    if not data:
        raise AlprError(Code.NO_FILE)
    if filename is not None and not extension_allowed(filename):
        raise AlprError(Code.INVALID_FORMAT, f"extension of {filename!r} not allowed")
    if len(data) > max_bytes:
        raise AlprError(Code.FILE_TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise AlprError(Code.INVALID_FORMAT, "no PNG/JPEG/BMP signature")
    return fmt


def _pillow_open():
    """Pillow's own Image.open. Ultralytics replaces it process-wide with a wrapper that, on
    a file Pillow can't identify, tries to install and import HEIF support instead of raising."""
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open) if patches else Image.open


def decode(data: bytes, fmt: str, max_pixels: int) -> np.ndarray:
    """Decodes to a BGR uint8 array with EXIF orientation applied; code 7 if it can't.

    Pillow reads only the header (format and size, to refuse a pixel bomb before a single
    pixel is allocated); OpenCV decodes, several times faster than Pillow here, returns
    None for truncated or corrupt data, and applies the EXIF orientation itself."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below 2× its limit; ours is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = _pillow_open()(io.BytesIO(data), formats=[fmt]).size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AlprError(Code.CORRUPTED_IMAGE, f"{type(exc).__name__}: {exc}") from exc
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise AlprError(Code.CORRUPTED_IMAGE, f"{width}x{height} exceeds {max_pixels} px")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise AlprError(Code.CORRUPTED_IMAGE, f"{fmt} data does not decode")
    return image


def load_image(data: bytes | None, filename: str | None, max_bytes: int, max_pixels: int) -> np.ndarray:
    """The whole input path: checks, then decode."""
    fmt = check_upload(data, filename, max_bytes)
    assert data is not None
    return decode(data, fmt, max_pixels)
