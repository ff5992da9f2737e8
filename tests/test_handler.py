"""handler.handler driven with real event shapes (tests/events/): the same JSON and codes
as the HTTP API behind every gateway, warm-up pings, unsupported events, a read-only disk."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpr.config import PROJECT_ROOT
from alpr.status import CODES, Code, body
from conftest import png_bomb
from lambda_events import FakeContext, lambda_handler, load_event, multipart_event, reading_handler  # noqa: F401

GATEWAYS = ["apigw-rest-v1-multipart", "apigw-http-v2-multipart", "alb-multipart", "function-url-multipart"]


def invoke(lambda_handler, event) -> dict:
    return lambda_handler.handler(event, FakeContext())


def answer_of(response: dict) -> dict:
    """The JSON body of a proxy response: always plain text, never base64."""
    assert response["isBase64Encoded"] is False
    headers = response.get("headers") or {k: v[0] for k, v in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "application/json"
    return json.loads(response["body"])


def assert_code(response: dict, code: Code) -> None:
    assert response["statusCode"] == CODES[code].http_status
    assert answer_of(response) == body(code)


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_success_through_every_gateway(reading_handler, gateway, photo_bytes):
    response = invoke(reading_handler, multipart_event(gateway, photo_bytes))
    assert response["statusCode"] == 200
    assert answer_of(response) == {
        "status": "OK", "code": 0, "message": "Success", "plate": "AI5255EI", "confidence": 0.97,
    }
    if gateway == "alb-multipart":
        assert response["statusDescription"] == "200 OK"


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_plate_less_photo_is_4_through_every_gateway(lambda_handler, gateway, photo_bytes):
    # The real untrained models run: no plate is found.
    assert_code(invoke(lambda_handler, multipart_event(gateway, photo_bytes)), Code.NO_PLATE)


def test_json_base64_body(reading_handler, photo_bytes):
    payload = json.dumps({"image": base64.b64encode(photo_bytes).decode(), "filename": "car.jpg"})
    response = invoke(reading_handler, load_event("apigw-http-v2-json", body=payload, query="",
                                                  content_length=str(len(payload))))
    assert response["statusCode"] == 200 and answer_of(response)["plate"] == "AI5255EI"

    detail = invoke(reading_handler, load_event("apigw-http-v2-json", body=payload, query="detail=1",
                                                content_length=str(len(payload))))
    answer = answer_of(detail)
    assert answer["plates"][0]["text"] == "AI5255EI" and "total" in answer["timings_ms"]


def test_no_image_part_is_1(lambda_handler, photo_bytes):
    event = multipart_event("apigw-http-v2-multipart", photo_bytes, field="other")
    assert_code(invoke(lambda_handler, event), Code.NO_FILE)


def test_wrong_format_is_2(lambda_handler, photo_bytes):
    assert_code(invoke(lambda_handler, multipart_event("apigw-rest-v1-multipart", photo_bytes, "car.gif")),
                Code.INVALID_FORMAT)
    text = b"hello, I am a text file\n" * 20
    assert_code(invoke(lambda_handler, multipart_event("apigw-rest-v1-multipart", text, "car.jpg")),
                Code.INVALID_FORMAT)


def test_too_large_is_3_under_the_lambda_payload_limit(lambda_handler, monkeypatch, photo_bytes):
    monkeypatch.setenv("ALPR_MAX_UPLOAD_MB", "0.01")  # 10 KB, so a 6 MB event can exceed it
    lambda_handler.reset()
    over_the_limit = photo_bytes + b"\0" * 20_000              # passes Flask, fails the check
    assert_code(invoke(lambda_handler, multipart_event("apigw-http-v2-multipart", over_the_limit)),
                Code.FILE_TOO_LARGE)
    far_over = photo_bytes + b"\0" * (3 * 1024 * 1024)         # Flask's own 413, still JSON
    assert_code(invoke(lambda_handler, multipart_event("apigw-rest-v1-multipart", far_over)),
                Code.FILE_TOO_LARGE)


def test_corrupted_image_is_7(lambda_handler, photo_bytes):
    truncated = photo_bytes[: len(photo_bytes) // 2]
    assert_code(invoke(lambda_handler, multipart_event("apigw-http-v2-multipart", truncated)),
                Code.CORRUPTED_IMAGE)
    assert_code(invoke(lambda_handler, multipart_event("apigw-http-v2-multipart", png_bomb(), "bomb.png")),
                Code.CORRUPTED_IMAGE)


def test_missing_weights_is_8(lambda_handler, monkeypatch, tmp_path, photo_bytes):
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", str(tmp_path / "none.pt"))
    lambda_handler.reset()
    assert_code(invoke(lambda_handler, multipart_event("apigw-http-v2-multipart", photo_bytes)),
                Code.MODEL_NOT_LOADED)
    warm = invoke(lambda_handler, {"warmup": True})
    assert warm["status"] == "ERROR" and warm["models_loaded"] is False and "not found" in warm["message"]


def _get(path: str) -> dict:
    event = load_event("apigw-http-v2-json", body=None, query="", content_length="0")
    event.update(rawPath=path, routeKey=f"GET {path}", isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


def test_health_and_unknown_routes_answer_json(lambda_handler):
    health = invoke(lambda_handler, _get("/health"))
    assert health["statusCode"] == 200
    assert answer_of(health) == {"status": "OK", "models_loaded": False, "device": "cpu"}
    missing = invoke(lambda_handler, _get("/nope"))
    assert missing["statusCode"] == 404 and answer_of(missing)["status"] == "ERROR"
    assert answer_of(invoke(lambda_handler, _get("/openapi.json")))["openapi"].startswith("3.")


def test_creating_the_app_loads_no_model(lambda_handler):
    models = lambda_handler.get_app().extensions["alpr.models"]
    assert models.state.loaded is False and models.load_count == 0


@pytest.mark.parametrize("event", [load_event("scheduled"), {"warmup": True}], ids=["schedule", "warmup"])
def test_warm_up_loads_the_models_once(lambda_handler, event):
    first = invoke(lambda_handler, event)
    assert first == {"status": "OK", "models_loaded": True, "device": "cpu"}
    assert invoke(lambda_handler, event) == first
    assert lambda_handler.get_app().extensions["alpr.models"].load_count == 1


@pytest.mark.parametrize("event", [
    {}, {"hello": "world"}, [], "text", None, {"Records": []},
    {"Records": [{"eventSource": "aws:dynamodb"}]}, {"source": "aws.events", "detail-type": "Other"},
])
def test_unsupported_events_answer_400_json(lambda_handler, event):
    response = invoke(lambda_handler, event)
    assert response["statusCode"] == 400
    assert answer_of(response)["message"] == "Unsupported event"


def test_malformed_http_event_answers_400_json(lambda_handler):
    response = invoke(lambda_handler, {"httpMethod": "POST", "path": "/recognize"})  # no headers
    assert response["statusCode"] == 400
    assert answer_of(response)["message"] == "Malformed HTTP event"


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_on_lambda_nothing_is_written_outside_tmp(tmp_path, untrained_weights, photo_bytes):
    """Read-only HOME and working directory (as /var/task and /home are on Lambda), TMPDIR
    writable: a warm-up and an API event succeed and only TMPDIR is written. Tests run as
    root, which chmod does not stop, so the read-only folders are compared before and after."""
    home, cwd, tmp = tmp_path / "home", tmp_path / "task", tmp_path / "tmp"
    for folder in (home, cwd, tmp):
        folder.mkdir()
    (tmp / "photo.jpg").write_bytes(photo_bytes)
    home.chmod(0o555)
    cwd.chmod(0o555)
    script = """
import json, sys
from pathlib import Path
from lambda_events import FakeContext, load_event, multipart_event
import handler
tmp = Path(sys.argv[1])
warm = handler.handler(load_event("scheduled"), FakeContext())
api = handler.handler(multipart_event("apigw-http-v2-multipart", (tmp / "photo.jpg").read_bytes()), FakeContext())
from ultralytics.utils import USER_CONFIG_DIR
(tmp / "out.json").write_text(json.dumps({"warm": warm, "api": api, "config_dir": str(USER_CONFIG_DIR)}))
"""
    detector, recognizer = untrained_weights
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "ALPR_", "MPLCONFIGDIR"))}
    env.update(
        HOME=str(home), TMPDIR=str(tmp), AWS_LAMBDA_FUNCTION_NAME="alpr-test",
        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")]),
        ALPR_DETECTOR_WEIGHTS=str(detector), ALPR_RECOGNIZER_WEIGHTS=str(recognizer), ALPR_DEVICE="cpu",
        ALPR_WEIGHTS_CACHE=str(tmp / "weights"), PYTHONDONTWRITEBYTECODE="1",
    )
    try:
        run = subprocess.run([sys.executable, "-c", script, str(tmp)], cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        assert _tree(home) == [] and _tree(cwd) == []
    finally:
        home.chmod(0o755)
        cwd.chmod(0o755)
    out = json.loads((tmp / "out.json").read_text())
    assert out["warm"] == {"status": "OK", "models_loaded": True, "device": "cpu"}
    assert out["api"]["statusCode"] == 400 and json.loads(out["api"]["body"]) == body(Code.NO_PLATE)
    assert Path(out["config_dir"]).is_relative_to(tmp)
