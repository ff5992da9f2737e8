"""The Flask application factory and its routes: the exact seed API, JSON for everything."""
from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .anonymize import DEFAULT_MODE, MODES
from .config import Settings
from .models import ModelHolder
from .openapi import build_openapi
from .service import Answer, anonymize, recognize
from .status import AlprError, Code, body, http_error_body

log = logging.getLogger(__name__)

# The answer headers of POST /anonymize: how many areas were covered, and where (JSON).
HIDDEN_COUNT_HEADER = "X-Plates-Hidden"
HIDDEN_BOXES_HEADER = "X-Plates-Hidden-Boxes"

# The try-it page: one self-contained HTML file that posts to /recognize?detail=1.
TRY_IT_PAGE = Path(__file__).with_name("static") / "index.html"

# A body over the request limit is read and dropped (up to this many times the limit) before
# code 3 is answered: gunicorn closes a connection whose unread body is over 64 KiB, and a
# client still sending it (requests, http.client) then sees a reset instead of the answer.
DISCARD_FACTOR = 4


def discard_body(environ: dict, limit: int) -> None:
    """Reads the rest of the request body and drops it, unless it is over `limit` bytes."""
    stream = environ.get("wsgi.input")
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if stream is None or left > limit:
        return
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)


class InMemoryRequest(Request):
    """Uploads stay in memory: Werkzeug would spool large file parts to a temporary file."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def _upload_from_request() -> tuple[bytes | None, str | None]:
    """The image bytes and file name, from multipart `image` or a JSON `{"image": base64}`."""
    if request.mimetype == "application/json":
        payload = request.get_json(silent=True)
        encoded = payload.get("image") if isinstance(payload, dict) else None
        if not encoded or not isinstance(encoded, str):
            return None, None
        filename = payload.get("filename")
        if encoded.startswith("data:") and "," in encoded:  # a data: URL from a browser
            encoded = encoded.split(",", 1)[1]
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AlprError(Code.CORRUPTED_IMAGE, "image is not valid base64") from exc
        return data, filename if isinstance(filename, str) and filename else None
    upload = request.files.get("image")
    if upload is None:
        return None, None
    return upload.read(), upload.filename or None


def create_app(settings: Settings | None = None, models: ModelHolder | None = None) -> Flask:
    settings = settings or Settings.from_env()
    models = models or ModelHolder(settings)

    app = Flask(__name__)
    app.request_class = InMemoryRequest
    # A JSON body carries the image in base64 (4/3 larger): let it through to the decoded-size
    # check, which answers code 3 as JSON; Flask's own 413 covers anything larger still.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 4 // 3 + (1 << 20)
    app.json.sort_keys = False
    app.extensions["alpr.settings"] = settings
    app.extensions["alpr.models"] = models

    @app.post("/recognize")
    def recognize_route():
        detail = request.args.get("detail", "0").lower() in ("1", "true", "yes")
        try:
            data, filename = _upload_from_request()
        except AlprError as exc:
            return jsonify(body(exc.code)), exc.http_status
        answer = recognize(data, filename, models, settings, detail=detail)
        return jsonify(answer.body), answer.http_status

    @app.post("/anonymize")
    def anonymize_route():
        mode = request.args.get("mode", DEFAULT_MODE).lower()
        if mode not in MODES:
            return jsonify(http_error_body(f"mode must be one of {', '.join(MODES)}")), 400
        try:
            data, filename = _upload_from_request()
        except AlprError as exc:
            return jsonify(body(exc.code)), exc.http_status
        hidden = anonymize(data, filename, models, settings, mode)
        if isinstance(hidden, Answer):
            return jsonify(hidden.body), hidden.http_status
        response = Response(hidden.data, mimetype=hidden.mimetype)
        response.headers[HIDDEN_COUNT_HEADER] = str(len(hidden.areas))
        response.headers[HIDDEN_BOXES_HEADER] = json.dumps([list(a) for a in hidden.areas], separators=(",", ":"))
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/health")
    def health():
        load = request.args.get("load", "0").lower() in ("1", "true", "yes")
        answer: dict[str, Any] = {"status": "OK", "models_loaded": models.state.loaded, "device": models.device}
        if load:
            try:
                models.get()
            except AlprError as exc:
                answer.update(status="ERROR", models_loaded=False, message=exc.detail or str(exc))
                return jsonify(answer), 503
            answer["models_loaded"] = True
        return jsonify(answer), 200

    @app.get("/")
    def try_it():
        return send_file(TRY_IT_PAGE, mimetype="text/html", max_age=0)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(build_openapi())

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        discard_body(request.environ, app.config["MAX_CONTENT_LENGTH"] * DISCARD_FACTOR)
        return jsonify(body(Code.FILE_TOO_LARGE)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(http_error_body(exc.name)), exc.code or 500

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        log.exception("unhandled error")
        return jsonify(http_error_body("Internal server error")), 500

    return app
