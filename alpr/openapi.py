"""The OpenAPI 3 document of the API, generated from the code table."""
from __future__ import annotations

from typing import Any

from . import __version__
from .anonymize import DEFAULT_MODE, MODES
from .images import ALLOWED_EXTENSIONS
from .plate_formats import LAYOUT_NAMES
from .regions import REGIONS
from .status import CODES, Code

UNHANDLED = "an unhandled error: code null, the HTTP reason as message"


def _answer_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "code", "message", "plate", "confidence"],
        "properties": {
            "status": {"type": "string", "enum": ["OK", "ERROR"]},
            "code": {"type": "integer", "enum": [int(c) for c in Code]},
            "message": {"type": "string", "enum": [info.message for info in CODES.values()]},
            "plate": {"type": ["string", "null"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "plates": {"type": "array", "items": {"$ref": "#/components/schemas/Plate"}},
            "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    }


# The codes POST /anonymize can answer: the input's and the models' (no plate is not an error,
# and nothing is read).
ANONYMIZE_CODES = (Code.NO_FILE, Code.INVALID_FORMAT, Code.FILE_TOO_LARGE, Code.DETECTION_FAILED,
                   Code.CORRUPTED_IMAGE, Code.MODEL_NOT_LOADED)
HIDDEN_MEDIA_TYPES = ("image/jpeg", "image/png", "image/bmp")


def _upload_body(extensions: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {"image": {
                        "type": "string", "format": "binary",
                        "description": f"the photo ({extensions})",
                    }},
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "contentEncoding": "base64"},
                        "filename": {"type": "string"},
                    },
                },
            },
        },
    }


def _anonymize_responses() -> dict[str, Any]:
    answer_or_error = {"oneOf": [{"$ref": "#/components/schemas/Answer"}, {"$ref": "#/components/schemas/HttpError"}]}
    errors: dict[int, list[str]] = {}
    for code in ANONYMIZE_CODES:
        errors.setdefault(CODES[code].http_status, []).append(f"{int(code)} {CODES[code].message}")
    errors[400].append("an unknown mode: code null (HttpError)")
    errors[500].append(UNHANDLED)
    responses: dict[str, Any] = {
        "200": {
            "description": "the photo in the format it was sent (JPEG at quality 95, PNG, BMP), every plate "
                           "found covered; a photo with no plate comes back as it was sent",
            "headers": {
                "X-Plates-Hidden": {"description": "how many areas were covered",
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"}},
                "X-Plates-Hidden-Boxes": {"description": "the covered areas as JSON: [[x1, y1, x2, y2], ...] "
                                                         "in pixels of the photo",
                                          "schema": {"type": "string"}},
            },
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in HIDDEN_MEDIA_TYPES},
        },
    }
    for status, lines in sorted(errors.items()):
        responses[str(status)] = {"description": "; ".join(lines),
                                  "content": {"application/json": {"schema": answer_or_error}}}
    return responses


def build_openapi() -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code, info in CODES.items():
        by_status.setdefault(info.http_status, []).append(f"{int(code)} {info.message}")
    answer_ref = {"$ref": "#/components/schemas/Answer"}
    http_error_ref = {"$ref": "#/components/schemas/HttpError"}
    # An unhandled error answers 500 outside the code table (see `unhandled` in alpr.api).
    by_status.setdefault(500, []).append(UNHANDLED)
    responses = {
        str(status): {
            "description": "; ".join(lines),
            "content": {"application/json": {
                "schema": {"oneOf": [answer_ref, http_error_ref]} if status == 500 else answer_ref,
            }},
        }
        for status, lines in sorted(by_status.items())
    }
    extensions = ", ".join(sorted(ALLOWED_EXTENSIONS))
    return {
        "openapi": "3.1.0",
        "info": {"title": "ALPR: Ukrainian licence-plate recognition", "version": __version__},
        "paths": {
            "/recognize": {
                "post": {
                    "summary": "Find and read the licence plate in a photo",
                    "parameters": [{
                        "name": "detail", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["0", "1"]},
                        "description": "1 adds every plate found and per-stage timings",
                    }],
                    "requestBody": _upload_body(extensions),
                    "responses": responses,
                }
            },
            "/anonymize": {
                "post": {
                    "summary": "The photo back with every plate found hidden",
                    "parameters": [{
                        "name": "mode", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
                        "description": "how plates are covered: blurred, pixelated or filled with one colour",
                    }],
                    "requestBody": _upload_body(extensions),
                    "responses": _anonymize_responses(),
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness; with load=1, loads the models first (readiness)",
                    "parameters": [{
                        "name": "load", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["0", "1"]},
                    }],
                    "responses": {
                        "200": {"description": "serving",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                        "500": {"description": UNHANDLED,
                                "content": {"application/json": {"schema": http_error_ref}}},
                        "503": {"description": "the models could not be loaded",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Answer": _answer_schema(),
                "HttpError": {
                    "description": "an answer outside the code table (unknown path, wrong method, "
                                   "unhandled error): the five keys, code null",
                    "type": "object",
                    "required": ["status", "code", "message", "plate", "confidence"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ERROR"]},
                        "code": {"type": "null"},
                        "message": {"type": "string"},
                        "plate": {"type": "null"},
                        "confidence": {"type": "number", "const": 0},
                    },
                },
                "Plate": {
                    "type": "object",
                    "required": ["box", "detection_score", "text", "confidence", "char_confidences",
                                 "layout", "region", "candidates"],
                    "properties": {
                        "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
                                "description": "x1, y1, x2, y2 in pixels of the uploaded image"},
                        "detection_score": {"type": "number"},
                        "text": {"type": "string"},
                        "confidence": {"type": "number"},
                        "char_confidences": {"type": "array", "items": {"type": "number"}},
                        "layout": {"type": "string", "enum": list(LAYOUT_NAMES),
                                   "description": "the plate layout the read fits"},
                        "region": {"type": ["string", "null"], "enum": [*sorted(set(REGIONS.values())), None],
                                   "description": "the oblast or city of a Ukrainian plate's region letters"},
                        "candidates": {
                            "type": "array", "minItems": 1, "maxItems": 3,
                            "description": "readings, most likely first; the first is `text`",
                            "items": {"type": "object", "required": ["text", "confidence"], "properties": {
                                "text": {"type": "string"},
                                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                            }},
                        },
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "models_loaded", "device"],
                    "properties": {
                        "status": {"type": "string", "enum": ["OK", "ERROR"]},
                        "models_loaded": {"type": "boolean"},
                        "device": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    }
