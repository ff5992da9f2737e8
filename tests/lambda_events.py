"""Lambda test helpers: the committed event fixtures in tests/events/ filled in per test, and
fixtures for the handler (import them into a test module to use them)."""
from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from urllib3 import encode_multipart_formdata

from doubles import OneBoxDetector
from alpr.pipeline import Pipeline
from alpr.recognizer import Reading

EVENTS = Path(__file__).parent / "events"


def load_event(name: str, **values: Any) -> dict:
    """The fixture `tests/events/<name>.json` with every `"{{placeholder}}"` string replaced
    by `values[placeholder]` (any JSON value)."""

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str) and node.startswith("{{") and node.endswith("}}"):
            return values[node[2:-2]]
        if isinstance(node, str) and "{{" in node:  # e.g. an ARN around a bucket name
            for name_, value in values.items():
                node = node.replace("{{%s}}" % name_, str(value))
        return node

    return fill(json.loads((EVENTS / f"{name}.json").read_text()))


def multipart_event(name: str, data: bytes, filename: str = "car.jpg", field: str = "image") -> dict:
    """An HTTP event whose body is a multipart upload, base64-encoded as API Gateway sends it."""
    body, content_type = encode_multipart_formdata({field: (filename, data, "image/jpeg")})
    return load_event(name, body=base64.b64encode(body).decode(), content_type=content_type,
                      content_length=str(len(body)))


def s3_event(bucket: str, key: str, size: int = 0, etag: str = "") -> dict:
    """An S3 ObjectCreated notification; the key URL-encoded as S3 sends it (+ for spaces)."""
    from urllib.parse import quote_plus

    return load_event("s3-object-created", bucket=bucket, key=quote_plus(key), size=size, etag=etag)


def sqs_event(*bodies: dict | str) -> dict:
    """An SQS batch with one message per body; message ids msg-0, msg-1, ..."""
    template = load_event("sqs-s3", body="")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"msg-{i}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


@dataclass
class FakeContext:
    """The attributes of the Lambda context object that Powertools' Logger reads."""

    function_name: str = "alpr-ci-alpr"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:alpr-ci-alpr"
    aws_request_id: str = "6f1c2a3b-0d4e-4f5a-9b8c-7d6e5f4a3b2c"


@pytest.fixture
def lambda_handler(monkeypatch, untrained_weights):
    """handler.py configured from the environment, as on Lambda, with a fresh app per test."""
    detector, recognizer = untrained_weights
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", str(detector))
    monkeypatch.setenv("ALPR_RECOGNIZER_WEIGHTS", str(recognizer))
    monkeypatch.setenv("ALPR_DEVICE", "cpu")
    import handler

    handler.reset()
    yield handler
    handler.reset()


class _Reads:
    def read(self, crops):
        return [Reading("AI5255EI", 0.97, (0.97,) * 8, "AI5255EI", "ua") for _ in crops]


@pytest.fixture
def reading_handler(lambda_handler, monkeypatch):
    """The handler whose models read AI5255EI from any image: the success path end to end."""
    models = lambda_handler.get_app().extensions["alpr.models"]
    monkeypatch.setattr(models, "_build", lambda: Pipeline(OneBoxDetector(), _Reads()))
    return lambda_handler
