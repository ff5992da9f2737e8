"""The Lambda entry point: decide what kind of event this is, then hand it on.

- API Gateway REST (v1) and HTTP API (v2), ALB, function URLs → serverless-wsgi → the same
  Flask app as `python -m alpr serve`, so answers and codes are identical.
- S3 `ObjectCreated` records, and SQS messages carrying them → `alpr.s3_job`.
- Warm-up pings (an EventBridge schedule, or `{"warmup": true}`) → load the models.
- Anything else → a 400 JSON answer, never an exception.
"""
from __future__ import annotations

import os
import tempfile

from alpr.yolo_env import prepare_ultralytics

prepare_ultralytics()  # before anything imports ultralytics: offline, settings under /tmp
# ONNX Runtime keeps a device id under the cache folder (~/.cache unless XDG_CACHE_HOME says
# otherwise) from its import on; the home directory is read-only on Lambda.
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(tempfile.gettempdir(), "alpr-cache"))

import functools
import json
from dataclasses import asdict
from typing import Any

import serverless_wsgi
from aws_lambda_powertools import Logger
from flask import Flask

from alpr.api import create_app
from alpr.s3_job import S3Job
from alpr.status import AlprError, http_error_body

# Named "alpr": the alpr.* module loggers propagate to it, so their records are JSON too.
logger = Logger(service="alpr")


@functools.cache
def get_app() -> Flask:
    """The Flask app of this warm instance, with its process-wide ModelHolder. Creating it
    loads no model. Tests that change ALPR_* variables call `reset()`."""
    return create_app()


@functools.cache
def get_job() -> S3Job:
    import boto3

    app = get_app()
    return S3Job(boto3.client("s3"), app.extensions["alpr.models"], app.extensions["alpr.settings"])


def reset() -> None:
    """Forget the app, its models and the S3 client (the next event reads the environment again)."""
    get_job.cache_clear()
    get_app.cache_clear()


def event_kind(event: Any) -> str:
    if not isinstance(event, dict):
        return "unknown"
    if event.get("warmup") is True or (
        event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"
    ):
        return "warmup"
    if "httpMethod" in event and "path" in event:  # REST API (v1) and ALB
        return "http"
    if event.get("version") == "2.0" and "rawPath" in event:  # HTTP API (v2) and function URLs
        return "http"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        return {"aws:s3": "s3", "aws:sqs": "sqs"}.get(records[0].get("eventSource"), "unknown")
    return "unknown"


def warm_up() -> dict:
    """Loads the models (once per instance); the answer mirrors `GET /health?load=1`."""
    models = get_app().extensions["alpr.models"]
    try:
        models.get()
    except AlprError as exc:
        return {"status": "ERROR", "models_loaded": False, "device": models.device,
                "message": exc.detail or str(exc)}
    return {"status": "OK", "models_loaded": True, "device": models.device}


def error_response(status: int, message: str) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(http_error_body(message)),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict:
    kind = event_kind(event)
    logger.append_keys(event_kind=kind)
    if kind == "http":
        try:
            # JSON answers come back as plain text (serverless-wsgi base64-encodes only
            # non-text mime types); request bodies flagged isBase64Encoded are decoded.
            return serverless_wsgi.handle_request(get_app(), event, context)
        except Exception:  # the Flask app answers its own errors; this is a malformed event
            logger.exception("malformed HTTP event")
            return error_response(400, "Malformed HTTP event")
    if kind == "warmup":
        answer = warm_up()
        logger.info("warm-up", extra={"models_loaded": answer["models_loaded"], "device": answer["device"]})
        return answer
    if kind == "s3":
        outcomes = get_job().process_event(event)
        return {"records": [asdict(o) for o in outcomes]}
    if kind == "sqs":
        return get_job().process_sqs_batch(event, context)
    logger.warning("unsupported event")
    return error_response(400, "Unsupported event")
