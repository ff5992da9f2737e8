"""The HTTP API through a real server on loopback: every code, both encodings, the limits."""
from __future__ import annotations

import base64
import concurrent.futures
import dataclasses

import pytest
import requests
from openapi_spec_validator import validate

from alpr.api import create_app
from alpr.config import Settings
from alpr.models import ModelHolder
from alpr.pipeline import Pipeline
from alpr.recognizer import PlateRecognizer
from alpr.status import CODES, Code
from conftest import png_bomb
from doubles import OneBoxDetector

FIVE_KEYS = {"status", "code", "message", "plate", "confidence"}


def assert_error(response: requests.Response, code: Code) -> None:
    info = CODES[code]
    assert response.status_code == info.http_status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "status": "ERROR", "code": int(code), "message": info.message, "plate": None, "confidence": 0.0,
    }


@pytest.fixture
def server(live_server, untrained_settings):
    with live_server(create_app(untrained_settings)) as running:
        yield running


def post_file(server, data: bytes, filename: str = "car.jpg", **kwargs) -> requests.Response:
    return requests.post(f"{server.url}/recognize", files={"image": (filename, data)}, timeout=60, **kwargs)


def test_no_image_part_is_1(server):
    assert_error(requests.post(f"{server.url}/recognize", files={"other": ("a.jpg", b"x")}), Code.NO_FILE)
    assert_error(requests.post(f"{server.url}/recognize"), Code.NO_FILE)


def test_empty_image_part_is_1(server):
    assert_error(post_file(server, b""), Code.NO_FILE)


def test_json_without_image_is_1(server):
    assert_error(requests.post(f"{server.url}/recognize", json={"filename": "a.jpg"}), Code.NO_FILE)


def test_disallowed_extension_is_2(server, photo_bytes):
    assert_error(post_file(server, photo_bytes, "car.gif"), Code.INVALID_FORMAT)


def test_text_file_named_jpg_is_2(server):
    assert_error(post_file(server, b"hello, I am a text file\n" * 20, "car.jpg"), Code.INVALID_FORMAT)


def test_17_mb_upload_is_3_as_json(server, photo_bytes):
    body = photo_bytes + b"\0" * (17 * 1024 * 1024)
    assert_error(post_file(server, body), Code.FILE_TOO_LARGE)


def test_huge_body_is_3_not_an_html_413(server):
    body = b"\xff\xd8\xff" + b"\0" * (40 * 1024 * 1024)
    response = requests.post(f"{server.url}/recognize", data=body,
                             headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert_error(response, Code.FILE_TOO_LARGE)


def test_plate_less_photo_is_4(server, photo_bytes):
    # The untrained detector scores nothing near the threshold: a real "no plate" path.
    assert_error(post_file(server, photo_bytes), Code.NO_PLATE)


def test_base64_json_body_is_accepted(server, photo_bytes):
    encoded = base64.b64encode(photo_bytes).decode()
    response = requests.post(f"{server.url}/recognize", json={"image": encoded, "filename": "a.jpg"})
    assert_error(response, Code.NO_PLATE)  # decoded and run through the detector
    response = requests.post(f"{server.url}/recognize", json={"image": "data:image/jpeg;base64," + encoded})
    assert_error(response, Code.NO_PLATE)


def test_bad_base64_is_7(server):
    assert_error(requests.post(f"{server.url}/recognize", json={"image": "not base64!!"}), Code.CORRUPTED_IMAGE)


def test_truncated_jpeg_is_7(server, photo_bytes):
    assert_error(post_file(server, photo_bytes[: len(photo_bytes) // 2]), Code.CORRUPTED_IMAGE)


def test_pixel_bomb_is_7(server):
    assert_error(post_file(server, png_bomb(40000, 40000), "bomb.png"), Code.CORRUPTED_IMAGE)


class _Raising:
    def detect(self, image):
        raise RuntimeError("detector exploded")

    def read(self, crops):
        raise RuntimeError("recognizer exploded")


class _Holder(ModelHolder):
    def __init__(self, settings, detector, recognizer):
        super().__init__(settings)
        self._parts = detector, recognizer

    def _build(self):
        self.load_count += 1
        return Pipeline(*self._parts, min_confidence=self.settings.min_read_confidence)


def test_detector_failure_is_5(live_server, untrained_settings, photo_bytes):
    holder = _Holder(untrained_settings, _Raising(), _Raising())
    with live_server(create_app(untrained_settings, holder)) as server:
        assert_error(post_file(server, photo_bytes), Code.DETECTION_FAILED)


def test_recognizer_failure_is_6(live_server, untrained_settings, photo_bytes):
    holder = _Holder(untrained_settings, OneBoxDetector(), _Raising())
    with live_server(create_app(untrained_settings, holder)) as server:
        assert_error(post_file(server, photo_bytes), Code.RECOGNITION_FAILED)


def test_unreadable_plate_is_6(live_server, untrained_settings, photo_bytes):
    # An untrained CRNN reads nothing usable from the crop: the real "read nothing" path.
    recognizer = PlateRecognizer.from_checkpoint(untrained_settings.recognizer_weights)
    settings = dataclasses.replace(untrained_settings, min_read_confidence=0.5)
    holder = _Holder(settings, OneBoxDetector(), recognizer)
    with live_server(create_app(settings, holder)) as server:
        assert_error(post_file(server, photo_bytes), Code.RECOGNITION_FAILED)


def test_missing_weights_is_8_and_the_server_keeps_serving(live_server, tmp_path, photo_bytes):
    settings = Settings(detector_weights=str(tmp_path / "none.pt"),
                        recognizer_weights=str(tmp_path / "none.pth"), device="cpu")
    with live_server(create_app(settings)) as server:
        assert_error(post_file(server, photo_bytes), Code.MODEL_NOT_LOADED)
        health = requests.get(f"{server.url}/health?load=1")
        assert health.status_code == 503
        assert health.json()["status"] == "ERROR" and "not found" in health.json()["message"]
        assert requests.get(f"{server.url}/health").json() == {
            "status": "OK", "models_loaded": False, "device": "cpu"}


def test_corrupt_weights_is_8(live_server, tmp_path, photo_bytes, untrained_weights):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    settings = Settings(detector_weights=str(untrained_weights[0]), recognizer_weights=str(broken), device="cpu")
    with live_server(create_app(settings)) as server:
        assert_error(post_file(server, photo_bytes), Code.MODEL_NOT_LOADED)


def test_health_does_not_load_and_load_1_does(server):
    assert requests.get(f"{server.url}/health").json() == {"status": "OK", "models_loaded": False, "device": "cpu"}
    loaded = requests.get(f"{server.url}/health?load=1")
    assert loaded.status_code == 200 and loaded.json()["models_loaded"] is True
    assert requests.get(f"{server.url}/health").json()["models_loaded"] is True


def test_concurrent_first_requests_load_once(live_server, untrained_settings, photo_bytes):
    holder = ModelHolder(untrained_settings)
    with live_server(create_app(untrained_settings, holder)) as server:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: post_file(server, photo_bytes), range(8)))
    assert [r.json()["code"] for r in responses] == [Code.NO_PLATE] * 8
    assert holder.load_count == 1


def test_unknown_route_and_method_answer_json(server):
    missing = requests.get(f"{server.url}/nope")
    assert missing.status_code == 404 and missing.json()["status"] == "ERROR"
    wrong = requests.get(f"{server.url}/recognize")
    assert wrong.status_code == 405 and wrong.json()["message"] == "Method Not Allowed"


def test_openapi_document_is_valid_and_lists_every_code(server):
    document = requests.get(f"{server.url}/openapi.json").json()
    validate(document)
    messages = document["components"]["schemas"]["Answer"]["properties"]["message"]["enum"]
    assert messages == [info.message for info in CODES.values()]
