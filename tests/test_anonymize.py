"""POST /anonymize through a real server on loopback with the shipped models: the plate is
covered and no longer read, nothing else changes, every mode and input form, the same JSON
errors as /recognize; the binary answer through the Lambda adapter; the S3 job's copy in
moto's S3 server."""
from __future__ import annotations

import base64
import io
import json

import cv2
import numpy as np
import pytest
import requests

from alpr.anonymize import MODES, cover, merge
from alpr.api import HIDDEN_BOXES_HEADER, HIDDEN_COUNT_HEADER, create_app
from alpr.config import Settings
from alpr.models import ModelHolder
from alpr.pipeline import Pipeline
from alpr.status import CODES, Code
from alpr.training.render import find_fonts
from conftest import LiveServer, encode, png_bomb, photo_with_plate
from lambda_events import FakeContext, multipart_event, s3_event

PLATE = "AA8809TI"
READ_S = 180  # the first request loads the models


@pytest.fixture(scope="module")
def server(shipped_settings):
    with LiveServer(create_app(shipped_settings)) as running:
        yield running


@pytest.fixture(scope="module")
def plate_photo() -> tuple[np.ndarray, list[int]]:
    """A composed 1280×960 photo of a rendered AA8809TI plate, and the plate's box."""
    if not find_fonts():
        pytest.skip("plate fonts (../shared/datasets/fonts) not available to draw the plate")
    photo, box = photo_with_plate(300, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    return photo, [int(v) for v in box]


def post(server, data: bytes, filename: str = "car.jpg", path: str = "/anonymize", **params) -> requests.Response:
    return requests.post(f"{server.url}{path}", params=params, files={"image": (filename, data)}, timeout=READ_S)


def decoded(response: requests.Response) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, response.headers
    return image


def hidden_areas(response: requests.Response) -> list[list[int]]:
    areas = json.loads(response.headers[HIDDEN_BOXES_HEADER])
    assert int(response.headers[HIDDEN_COUNT_HEADER]) == len(areas)
    return areas


def mask_of(areas: list[list[int]], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    for x1, y1, x2, y2 in areas:
        mask[y1:y2, x1:x2] = True
    return mask


def assert_error(response: requests.Response, code: Code) -> None:
    info = CODES[code]
    assert response.status_code == info.http_status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"status": "ERROR", "code": int(code), "message": info.message,
                               "plate": None, "confidence": 0.0}


@pytest.fixture(scope="module")
def read_before(server, plate_photo) -> bytes:
    """The composed photo as JPEG, which the service reads as AA8809TI before hiding."""
    data = encode(plate_photo[0], "JPEG", quality=95)
    answer = post(server, data, path="/recognize").json()
    assert answer["plate"] == PLATE, answer
    return data


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_hides_the_plate_so_it_is_not_read_back(server, plate_photo, read_before, mode):
    photo, box = plate_photo
    response = post(server, read_before, mode=mode)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    areas = hidden_areas(response)
    assert areas, "the plate was not hidden"
    x1, y1, x2, y2 = box
    assert mask_of(areas, photo.shape)[y1:y2, x1:x2].mean() >= 0.99
    hidden = decoded(response)
    assert hidden.shape == photo.shape
    # Hidden means changed: the plate's dark strokes are gone from its box.
    assert np.abs(hidden[y1:y2, x1:x2].astype(int) - photo[y1:y2, x1:x2]).mean() > 10
    again = post(server, response.content, path="/recognize").json()
    assert again["code"] in (Code.NO_PLATE, Code.RECOGNITION_FAILED), again


def test_outside_the_hidden_areas_nothing_changes(server, plate_photo, read_before):
    photo, _ = plate_photo
    # PNG in, PNG out: lossless, so every pixel outside the areas is the uploaded one.
    response = post(server, encode(photo, "PNG"), "car.png")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    outside = ~mask_of(hidden_areas(response), photo.shape)
    assert np.array_equal(decoded(response)[outside], photo[outside])
    # JPEG in, JPEG out at quality 95: outside the areas only re-encoding noise.
    sent = cv2.imdecode(np.frombuffer(read_before, np.uint8), cv2.IMREAD_COLOR)
    response = post(server, read_before)
    outside = ~mask_of(hidden_areas(response), photo.shape)
    difference = np.abs(decoded(response).astype(int) - sent)[outside]
    assert difference.mean() < 1.5 and np.percentile(difference, 99.9) < 16


def test_bmp_stays_bmp(server, plate_photo):
    response = post(server, encode(plate_photo[0], "BMP"), "car.bmp", mode="fill")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/bmp"
    assert response.content[:2] == b"BM" and len(hidden_areas(response)) >= 1


def test_base64_json_body(server, read_before):
    payload = {"image": base64.b64encode(read_before).decode(), "filename": "car.jpg"}
    response = requests.post(f"{server.url}/anonymize?mode=pixelate", json=payload, timeout=READ_S)
    multipart = post(server, read_before, mode="pixelate")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.content == multipart.content
    assert response.headers[HIDDEN_BOXES_HEADER] == multipart.headers[HIDDEN_BOXES_HEADER]


def test_a_photo_without_a_plate_comes_back_as_sent(server, photo_bytes):
    response = post(server, photo_bytes)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.headers[HIDDEN_COUNT_HEADER] == "0" and hidden_areas(response) == []
    assert response.content == photo_bytes


@pytest.mark.parametrize("upload, code", [
    ((b"", "car.jpg"), Code.NO_FILE),
    ((b"GIF89a....", "car.gif"), Code.INVALID_FORMAT),
    ((b"hello, I am a text file\n" * 20, "car.jpg"), Code.INVALID_FORMAT),
    ((b"\xff\xd8\xff\xe0" + b"\x00" * 64, "car.jpg"), Code.CORRUPTED_IMAGE),
    ((png_bomb(), "bomb.png"), Code.CORRUPTED_IMAGE),
], ids=["empty", "gif", "text-as-jpg", "truncated-jpeg", "pixel-bomb"])
def test_bad_input_answers_the_recognize_codes(server, upload, code):
    assert_error(post(server, *upload), code)


def test_no_image_part_too_large_and_bad_base64(server, photo_bytes):
    assert_error(requests.post(f"{server.url}/anonymize", files={"other": ("a.jpg", b"x")}), Code.NO_FILE)
    assert_error(post(server, photo_bytes + b"\0" * (17 * 1024 * 1024)), Code.FILE_TOO_LARGE)
    assert_error(requests.post(f"{server.url}/anonymize", json={"image": "not base64!!"}), Code.CORRUPTED_IMAGE)


def test_an_unknown_mode_is_a_json_400(server, photo_bytes):
    response = post(server, photo_bytes, mode="smudge")
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] is None and "blur" in answer["message"] and answer["status"] == "ERROR"


def test_missing_weights_are_8_and_health_stays_up(live_server, tmp_path, photo_bytes):
    settings = Settings(detector_weights=str(tmp_path / "missing.pt"), device="cpu")
    with live_server(create_app(settings)) as running:
        assert_error(post(running, photo_bytes), Code.MODEL_NOT_LOADED)
        assert requests.get(f"{running.url}/health", timeout=10).json()["status"] == "OK"


class _BrokenDetector:
    def with_looks(self, **_looks):
        return self

    def looks(self, image):
        raise RuntimeError("the network failed")
        yield []


class _BrokenModels(ModelHolder):
    def _build(self):
        return Pipeline(_BrokenDetector(), recognizer=None)  # type: ignore[arg-type]


def test_a_failing_detector_is_5(live_server, untrained_settings, photo_bytes):
    with live_server(create_app(untrained_settings, _BrokenModels(untrained_settings))) as running:
        assert_error(post(running, photo_bytes), Code.DETECTION_FAILED)


def test_cover_leaves_no_stroke_and_merge_joins_one_plate():
    rng = np.random.default_rng(1)
    region = rng.integers(0, 256, (60, 240, 3), dtype=np.uint8)
    for mode in MODES:
        covered = cover(region, mode)
        assert covered.shape == region.shape and covered.dtype == region.dtype
        # Neighbouring pixels barely differ where random strokes were.
        assert np.abs(np.diff(covered.astype(int), axis=1)).mean() < 3
    assert np.ptp(cover(region, "fill").reshape(-1, 3), axis=0).max() == 0
    assert merge([(0, 0, 100, 40), (5, 2, 104, 42), (300, 300, 340, 320)]) == [(0, 0, 104, 42), (300, 300, 340, 320)]


# --- Lambda: the photo's bytes through serverless-wsgi and back -----------------------------

@pytest.fixture
def shipped_handler(monkeypatch):
    """handler.py on the shipped weights, configured from the environment as on Lambda."""
    for name in ("ALPR_DETECTOR_WEIGHTS", "ALPR_RECOGNIZER_WEIGHTS", "ALPR_RECTIFIER_WEIGHTS", "ALPR_SEARCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALPR_DEVICE", "cpu")
    import handler

    handler.reset()
    yield handler
    handler.reset()


@pytest.mark.parametrize("gateway", ["apigw-rest-v1-multipart", "apigw-http-v2-multipart"])
def test_the_hidden_photo_survives_the_lambda_adapter(shipped_handler, read_before, gateway):
    event = multipart_event(gateway, read_before)
    for key in ("path", "rawPath", "resource"):
        if key in event:
            event[key] = "/anonymize"
    if "routeKey" in event:
        event["routeKey"] = event["requestContext"]["routeKey"] = "POST /anonymize"
        event["requestContext"]["http"]["path"] = "/anonymize"
    else:
        event["requestContext"]["resourcePath"] = "/anonymize"
        event["requestContext"]["path"] = "/prod/anonymize"
    response = shipped_handler.handler(event, FakeContext())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    headers = response.get("headers") or {k: v[0] for k, v in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "image/jpeg" and int(headers[HIDDEN_COUNT_HEADER]) >= 1
    # The same bytes as the Flask app answers directly.
    direct = shipped_handler.get_app().test_client().post(
        "/anonymize", data={"image": (io.BytesIO(read_before), "car.jpg")})
    assert base64.b64decode(response["body"]) == direct.data
    assert headers[HIDDEN_BOXES_HEADER] == direct.headers[HIDDEN_BOXES_HEADER]


# --- S3: the job writes the hidden copy beside the result -------------------------------------

def test_the_s3_job_writes_a_hidden_copy_beside_the_result(shipped_handler, s3, monkeypatch, read_before):
    client, bucket = s3
    monkeypatch.setenv("ALPR_ANONYMIZED_COPY", "blur")
    shipped_handler.reset()
    client.put_object(Bucket=bucket, Key="incoming/car one.jpg", Body=read_before)
    outcome = shipped_handler.handler(s3_event(bucket, "incoming/car one.jpg"), FakeContext())
    assert outcome["records"][0]["status"] == "done", outcome
    result = json.loads(client.get_object(Bucket=bucket, Key="results/incoming/car one.jpg.json")["Body"].read())
    assert result["plate"] == PLATE
    copy = result["anonymized"]
    assert copy["key"] == "results/incoming/car one.anonymized.jpg" and copy["plates_hidden"] >= 1
    hidden = client.get_object(Bucket=bucket, Key=copy["key"])
    assert hidden["ContentType"] == "image/jpeg"
    data = hidden["Body"].read()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (960, 1280)
    # The copy is what POST /anonymize answers for the same photo.
    direct = shipped_handler.get_app().test_client().post(
        "/anonymize", data={"image": (io.BytesIO(read_before), "car.jpg")})
    assert data == direct.data



def test_hiding_metrics_counts_a_box_covered_from_90_percent():
    from alpr.hiding_metrics import coverage, hidden_mask

    mask = hidden_mask([(0, 0, 100, 50)], 100, 200)
    # Covered whole; 91 % covered (50 of its 55 rows); 20 % covered: two of three count.
    covered, needless = coverage(mask, [(10, 10, 50, 40), (60, 0, 100, 55), (95, 30, 120, 40)])
    assert covered == 2
    # Hidden outside every box: the 100×50 hidden area less the 40×30 and 40×50 inside boxes.
    assert needless == pytest.approx((5000 - 1200 - 2000) / 20000)
