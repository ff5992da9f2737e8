"""The one table of result codes, the error type that carries them, and the response body."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Code(IntEnum):
    SUCCESS = 0
    NO_FILE = 1
    INVALID_FORMAT = 2
    FILE_TOO_LARGE = 3
    NO_PLATE = 4
    DETECTION_FAILED = 5
    RECOGNITION_FAILED = 6
    CORRUPTED_IMAGE = 7
    MODEL_NOT_LOADED = 8


@dataclass(frozen=True)
class CodeInfo:
    message: str
    http_status: int
    when: str


CODES: dict[Code, CodeInfo] = {
    Code.SUCCESS: CodeInfo("Success", 200, "a plate was read"),
    Code.NO_FILE: CodeInfo("No file uploaded", 400, "no `image` part, or an empty one"),
    Code.INVALID_FORMAT: CodeInfo(
        "Invalid file format", 400,
        "extension not png/jpg/jpeg/bmp, or the bytes carry no PNG/JPEG/BMP signature",
    ),
    Code.FILE_TOO_LARGE: CodeInfo("File too large", 400, "upload over ALPR_MAX_UPLOAD_MB (16 MB)"),
    Code.NO_PLATE: CodeInfo("No plate detected in image", 400, "the detector found no plate"),
    Code.DETECTION_FAILED: CodeInfo("Plate detection failed", 500, "the detector raised"),
    Code.RECOGNITION_FAILED: CodeInfo(
        "Text recognition failed", 500, "the recognizer raised, or read nothing usable"
    ),
    Code.CORRUPTED_IMAGE: CodeInfo(
        "Invalid/corrupted image", 400,
        "allowed signature, but the image does not decode (truncated, corrupted, pixel bomb)",
    ),
    Code.MODEL_NOT_LOADED: CodeInfo(
        "Model not loaded", 500, "weights missing, corrupt or unloadable"
    ),
}


class AlprError(Exception):
    """A failure with its result code; `detail` is for logs, never for the client."""

    def __init__(self, code: Code, detail: str | None = None):
        super().__init__(detail or CODES[code].message)
        self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return CODES[self.code].http_status


def body(code: Code, plate: str | None = None, confidence: float = 0.0) -> dict[str, Any]:
    """The exact five-key answer of the API for `code`."""
    ok = code is Code.SUCCESS
    return {
        "status": "OK" if ok else "ERROR",
        "code": int(code),
        "message": CODES[code].message,
        "plate": plate if ok else None,
        "confidence": round(float(confidence), 4) if ok else 0.0,
    }


def http_error_body(message: str) -> dict[str, Any]:
    """JSON for HTTP-level failures outside the code table (404, 405, unhandled errors)."""
    return {"status": "ERROR", "code": None, "message": message, "plate": None, "confidence": 0.0}


def markdown_table() -> str:
    """The README's code table, from this module's table."""
    lines = ["| Code | Message | HTTP | When |", "|------|---------|------|------|"]
    lines += [f"| {int(c)} | {i.message} | {i.http_status} | {i.when} |" for c, i in CODES.items()]
    return "\n".join(lines)
