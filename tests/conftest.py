"""Shared fixtures: real servers on loopback, weights the tests make, images they draw."""
from __future__ import annotations

import io
import os
import threading
import uuid
from pathlib import Path
from typing import Iterator

import boto3
import cv2
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from werkzeug.serving import make_server

from alpr.config import PROJECT_ROOT, Settings

os.environ.setdefault("YOLO_CONFIG_DIR", "/tmp/alpr-ultralytics-tests")

from alpr.soak import png_bomb  # noqa: E402,F401  (the soak sends the same pixel bomb)
from alpr.training.render import find_fonts  # noqa: E402

SHIPPED_DETECTOR = PROJECT_ROOT / "weights" / "car-plate-best.pt"
SHIPPED_RECOGNIZER = PROJECT_ROOT / "weights" / "crnn.pth"
SHIPPED_RECTIFIER = PROJECT_ROOT / "weights" / "rectifier.pth"
SHIPPED_LATIN_READER = PROJECT_ROOT / "weights" / "crnn-latin.pth"
SHARED = PROJECT_ROOT.parent / "shared" / "datasets"
# Rendering plates needs the fonts of ../shared/datasets/fonts (or $ALPR_FONTS_DIR).
needs_fonts = pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")


class LiveServer:
    """A Flask app served by Werkzeug's threaded server on a free loopback port."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server():
    """Factory: `with live_server(app) as server: requests.post(server.url + ...)`."""
    return LiveServer


@pytest.fixture(scope="session")
def untrained_weights(tmp_path_factory) -> tuple[Path, Path]:
    """A YOLO checkpoint and a CRNN checkpoint with untrained weights: real files that load
    through the real code, for the paths that don't need a model that reads."""
    from alpr.crnn import CRNN, save_checkpoint
    from alpr.yolo_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("weights")
    detector = folder / "untrained-yolo.pt"
    YOLO("yolo11n.yaml", task="detect").save(str(detector))
    recognizer = folder / "untrained-crnn.pth"
    save_checkpoint(CRNN(), recognizer)
    return detector, recognizer


@pytest.fixture
def untrained_settings(untrained_weights) -> Settings:
    detector, recognizer = untrained_weights
    return Settings(detector_weights=str(detector), recognizer_weights=str(recognizer), device="cpu")


@pytest.fixture(scope="session")
def shipped_settings() -> Settings:
    return Settings(
        detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(SHIPPED_RECOGNIZER), device="cpu"
    )


def encode(image_bgr: np.ndarray, fmt: str = "JPEG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image_bgr[:, :, ::-1]).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def photo_bytes() -> bytes:
    """A plain, plate-less 320×240 JPEG."""
    rng = np.random.default_rng(0)
    image = np.full((240, 320, 3), 128, np.uint8) + rng.integers(0, 20, (240, 320, 3), dtype=np.uint8)
    return encode(image)


@pytest.fixture
def bomb_bytes() -> bytes:
    return png_bomb()


def iter_dev_images() -> Iterator[Path]:
    yield from sorted((SHARED / "dev-images").glob("*.jpg"))


def photo_with_plate(length: int, warp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 1280×960 photo of blurred noise with a rendered `AA8809TI` plate `length` px long
    warped by the 2×3 affine `warp` (turned, sheared…), and the box that holds the plate."""
    from alpr.training.render import render_plate

    plate = render_plate("AA8809TI", np.random.default_rng(3))
    height = round(plate.shape[0] * length / plate.shape[1])
    plate = cv2.resize(plate, (length, height), interpolation=cv2.INTER_AREA)
    corners = np.array([[0, 0, 1], [length, 0, 1], [length, height, 1], [0, height, 1]], float) @ warp.T
    warp = warp.astype(float).copy()
    warp[:, 2] -= corners.min(axis=0)
    out_w, out_h = (int(v) for v in np.ceil(corners.max(axis=0) - corners.min(axis=0)))
    warped = cv2.warpAffine(plate, warp, (out_w, out_h))
    on_plate = cv2.warpAffine(np.full((height, length), 255, np.uint8), warp, (out_w, out_h)) > 127
    photo = cv2.GaussianBlur(np.random.default_rng(0).integers(40, 200, (960, 1280, 3), dtype=np.uint8), (0, 0), 9)
    x0, y0 = 600, 500
    photo[y0:y0 + out_h, x0:x0 + out_w][on_plate] = warped[on_plate]
    return photo, np.array([x0, y0, x0 + out_w, y0 + out_h], float)


def photo_with_turned_plate(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """A plate 160 px long turned by `degrees` (counter-clockwise): photo_with_plate."""
    return photo_with_plate(160, cv2.getRotationMatrix2D((0, 0), degrees, 1.0))


def photo_with_slanted_plate(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """A plate 90 px long whose baseline climbs by `degrees` to the right, characters
    upright (seen from the side and from above or below): photo_with_plate."""
    return photo_with_plate(90, np.array([[1.0, 0.0, 0.0], [-np.tan(np.deg2rad(degrees)), 1.0, 0.0]]))


# moto's S3 (and SQS) server over HTTP on loopback, for the S3 job's tests.
REGION = "eu-central-1"


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """A client of the moto server (boto3 finds it through AWS_ENDPOINT_URL, as the handler
    does), dummy credentials, and a fresh bucket: `(client, bucket)`."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    client = boto3.client("s3")
    bucket = f"alpr-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client, bucket
