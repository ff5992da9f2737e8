"""Schema fuzzing: schemathesis reads the served /openapi.json over HTTP, generates requests
from it (schema-valid and schema-violating ones, JSON and multipart bodies) and checks every
answer of a real server on loopback against that same document."""
from __future__ import annotations

import base64

import hypothesis
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alpr.api import create_app
from doubles import OneBoxDetector
from alpr.models import ModelHolder
from alpr.pipeline import Pipeline
from alpr.recognizer import Reading

# What every answer must satisfy: no 5xx, a status code and a content type the operation
# documents, a body valid against the documented schema, documented headers. Left out on
# purpose: positive_data_acceptance (a schema-valid upload of bytes that are no photo is
# answered 400 with its code, by design) and negative_data_rejection (the `detail` and `load`
# flags are read leniently: any value but 1/true/yes means off, it is not refused).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Bounded for two slow cores: each operation and mode sends at most 40 requests. No deadline
# (a first request loads the models); no example database: a failure prints its seed.
FUZZ = hypothesis.settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

OPERATIONS = [("POST", "/recognize"), ("POST", "/anonymize"), ("GET", "/health")]


@pytest.fixture
def server(live_server, untrained_settings):
    with live_server(create_app(untrained_settings)) as running:
        yield running


def load_schema(server) -> schemathesis.schemas.BaseSchema:
    """The document as the server serves it, fetched over HTTP; requests go to that server."""
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=30)


def fuzz(strategy) -> list[tuple[str | None, int, dict]]:
    """Sends every generated case and validates its answer: (media type, status, body) each."""
    answered = []

    @FUZZ
    @hypothesis.given(case=strategy)
    def run(case):
        response = case.call_and_validate(checks=CHECKS, timeout=60)
        # JSON answers as their object; a hidden photo (POST /anonymize) as its bytes.
        try:
            answer = response.json()
        except ValueError:
            answer = response.content
        answered.append((case.media_type, response.status_code, answer))

    run()
    return answered


def test_the_fuzzed_operations_are_all_the_documented_ones(server):
    schema = load_schema(server)
    documented = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=lambda v: v.strip("/") if v[0] == "/" else v)
def test_generated_requests_get_documented_answers(server, method, path, mode):
    answered = fuzz(load_schema(server)[path][method].as_strategy(mode))
    assert answered
    if path in ("/recognize", "/anonymize"):
        # Both documented bodies were sent: the multipart upload and the base64 JSON.
        assert {media for media, _, _ in answered} == {"multipart/form-data", "application/json"}


def fuzz_with_photo(live_server, app, path: str, photo: bytes, media_type: str) -> list[tuple[str | None, int, dict]]:
    """fuzz() of POST `path` on `app`, its body fixed to the photo in `media_type`."""
    if media_type == "application/json":
        body = {"image": base64.b64encode(photo).decode(), "filename": "car.jpg"}
    else:
        body = {"image": photo}
    with live_server(app) as server:
        return fuzz(load_schema(server)[path]["POST"].as_strategy(body=body, media_type=media_type))


class _ReadsOnePlate(ModelHolder):
    """A pipeline that finds one box in any photo and reads it: answers 200 with a plate."""

    class _Recognizer:
        def read(self, crops):
            return [Reading("AA1234BB", 0.93, (0.9,) * 8, "AA1234BB", "ua") for _ in crops]

    def _build(self):
        return Pipeline(OneBoxDetector(), self._Recognizer())


@pytest.mark.parametrize("media_type", ["multipart/form-data", "application/json"])
def test_answers_with_a_plate_match_the_schema(live_server, untrained_settings, photo_bytes, media_type):
    # Random bytes never decode to a photo in which a plate is read: fix the body to a real
    # JPEG and let schemathesis generate the rest (`detail`), so the 200 answers, with and
    # without `plates` and `timings_ms`, are checked against the schema too.
    app = create_app(untrained_settings, _ReadsOnePlate(untrained_settings))
    answered = fuzz_with_photo(live_server, app, "/recognize", photo_bytes, media_type)
    assert {(media, status, answer["code"]) for media, status, answer in answered} == {(media_type, 200, 0)}
    assert {answer["plate"] for _, _, answer in answered} == {"AA1234BB"}
    assert {"plates" in answer for _, _, answer in answered} == {True, False}  # detail=1 and without


class _Unexpected(ModelHolder):
    """A holder that fails in a way no handler expects: the unhandled-error path."""

    def get(self):
        raise RuntimeError("not an AlprError")


def test_an_unhandled_error_is_a_documented_500(live_server, untrained_settings, photo_bytes):
    with live_server(create_app(untrained_settings, _Unexpected(untrained_settings))) as server:
        schema = load_schema(server)
        cases = [
            schema["/recognize"]["POST"].Case(body={"image": photo_bytes}, media_type="multipart/form-data"),
            schema["/anonymize"]["POST"].Case(body={"image": photo_bytes}, media_type="multipart/form-data"),
            schema["/health"]["GET"].Case(query={"load": "1"}),
        ]
        for case in cases:
            # Every check but "no 5xx": this 500 must be documented, and its body match.
            response = case.call_and_validate(checks=[c for c in CHECKS if c is not not_a_server_error],
                                              timeout=60)
            assert response.status_code == 500
            assert response.json() == {"status": "ERROR", "code": None, "message": "Internal server error",
                                       "plate": None, "confidence": 0.0}


def test_unknown_paths_and_methods_answer_the_documented_http_error(server):
    document = requests.get(f"{server.url}/openapi.json", timeout=30).json()
    http_error = document["components"]["schemas"]["HttpError"]
    for response in (requests.get(f"{server.url}/nope", timeout=30),
                     requests.delete(f"{server.url}/recognize", timeout=30),
                     requests.get(f"{server.url}/anonymize", timeout=30),
                     requests.post(f"{server.url}/health", timeout=30)):
        assert response.status_code in (404, 405)
        assert response.headers["Content-Type"].startswith("application/json")
        jsonschema.validate(response.json(), http_error)


class _FindsOneBox(ModelHolder):
    """A pipeline whose detector finds one box in any photo, in every look."""

    class _Detector(OneBoxDetector):
        def with_looks(self, **_looks):
            return self

        def looks(self, image):
            yield self.detect(image)

    def _build(self):
        return Pipeline(self._Detector(), recognizer=None)


@pytest.mark.parametrize("media_type", ["multipart/form-data", "application/json"])
def test_hidden_photos_match_the_schema(live_server, untrained_settings, photo_bytes, media_type):
    # As above for /recognize: a real JPEG, so that the 200 answers (the photo with a box
    # hidden, in every generated mode) are checked against the document too.
    app = create_app(untrained_settings, _FindsOneBox(untrained_settings))
    answered = fuzz_with_photo(live_server, app, "/anonymize", photo_bytes, media_type)
    assert {(media, status) for media, status, _ in answered} == {(media_type, 200)}
    assert all(isinstance(content, bytes) and content[:3] == b"\xff\xd8\xff" for _, _, content in answered)
