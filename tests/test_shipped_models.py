"""The shipped weights, end to end: they read plates the tests render, find plates in scenes
the tests compose, and the whole service answers code 0 with the right text."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import requests

from alpr.api import create_app
from alpr.config import Settings
from alpr.detector import PlateDetector
from alpr.metrics import box_iou
from alpr.plate_formats import matching_layout
from alpr.recognizer import PlateRecognizer
from alpr.regions import region_of
from alpr.search import PLANS
from alpr.status import AlprError
from alpr.training.plate_swap import add_plates
from alpr.training.render import find_fonts, render_plate, synth_crop
from conftest import SHIPPED_DETECTOR, SHIPPED_RECOGNIZER, encode, photo_with_turned_plate
from doubles import CountingReader

pytestmark = pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")


@pytest.fixture(scope="module")
def recognizer() -> PlateRecognizer:
    return PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER)


@pytest.fixture(scope="module")
def detector() -> PlateDetector:
    settings = Settings()
    return PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=settings.detector_imgsz, conf=settings.detector_conf)


def street_scene(rng: np.random.Generator, width: int = 1280, height: int = 720) -> np.ndarray:
    """A plain, plate-free backdrop: a sky-to-road gradient, a car-coloured block, noise."""
    ys = np.linspace(0, 1, height)[:, None, None]
    scene = (np.array([200, 170, 140]) * (1 - ys) + np.array([90, 90, 95]) * ys).astype(np.float32)
    scene = np.broadcast_to(scene, (height, width, 3)).copy()
    x0, y0 = int(width * 0.25), int(height * 0.35)
    scene[y0:y0 + int(height * 0.45), x0:x0 + int(width * 0.5)] = rng.uniform(30, 200, 3)
    scene += rng.normal(0, 6, scene.shape)
    return np.clip(scene, 0, 255).astype(np.uint8)


def composed_scene(seed: int) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    return add_plates(street_scene(rng), rng, 1)


def test_reads_rendered_plates(recognizer):
    from alpr.training.served_reads import figures, served_pipeline, served_reads

    rng = np.random.default_rng(12345)
    samples = [synth_crop(rng) for _ in range(60)]
    crops, texts = [crop for crop, _ in samples], [text for _, text in samples]
    pipeline = served_pipeline(recognizer, Settings())
    alone = figures(recognizer.read(crops), texts, pipeline)
    served = figures(served_reads(pipeline, crops), texts, pipeline)
    # The renderer's hardest views (slanted ones since the last training among them) keep
    # the crop alone near 70 % on these 60; the service's leveled looks read more of them.
    assert alone["exact_accuracy"] >= 0.6 and served["exact_accuracy"] >= 0.75
    assert served["exact_accuracy"] >= alone["exact_accuracy"], (alone, served)
    # Most misreads are unsure: what the service answers is right more often than not.
    assert served["answered_share"] >= 0.8
    assert served["answered_accuracy"] > served["exact_accuracy"], served


def test_reads_a_clean_flat_plate_exactly(recognizer):
    rng = np.random.default_rng(7)
    for text in ("AI5255EI", "BC9911BK", "KA0001AA"):
        reading = recognizer.read([render_plate(text, rng)])[0]
        assert reading.text == text and reading.confidence > 0.5


def test_wrong_reads_score_lower_than_right_ones(recognizer):
    rng = np.random.default_rng(999)
    samples = [synth_crop(rng) for _ in range(150)]
    reads = recognizer.read([crop for crop, _ in samples])
    right = [r.confidence for r, (_, t) in zip(reads, samples) if r.text == t]
    wrong = [r.confidence for r, (_, t) in zip(reads, samples) if r.text != t]
    if wrong:
        assert np.median(wrong) < np.median(right)


def test_finds_the_plate_in_a_composed_scene(detector):
    found = 0
    for seed in range(6):
        scene, plates = composed_scene(seed)
        boxes = [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in detector.detect(scene)]
        found += any(box_iou(b, plates[0].box_xyxy) > 0.5 for b in boxes)
    assert found >= 4


def test_tiles_find_a_plate_in_the_photos_own_pixels(detector):
    """A tile's boxes come back in the whole photo's pixels."""
    found = 0
    for seed in range(6):
        scene, plates = composed_scene(seed)
        photo = np.full((2160, 2880, 3), 128, np.uint8)
        left, top = 1500, 1300
        photo[top:top + scene.shape[0], left:left + scene.shape[1]] = scene
        x1, y1, x2, y2 = plates[0].box_xyxy
        truth = (x1 + left, y1 + top, x2 + left, y2 + top)
        boxes = [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in detector.detect_tiled(photo, 3, 1024)]
        found += any(box_iou(b, truth) > 0.5 for b in boxes)
    assert found >= 4


def test_service_reads_a_composed_scene_over_http(live_server, shipped_settings):
    scene, plates = composed_scene(3)
    with live_server(create_app(shipped_settings)) as server:
        response = requests.post(f"{server.url}/recognize?detail=1",
                                 files={"image": ("scene.jpg", encode(scene, quality=92))}, timeout=120)
    answer = response.json()
    assert response.status_code == 200, answer
    assert answer["status"] == "OK" and answer["code"] == 0 and answer["message"] == "Success"
    assert answer["plate"] == plates[0].text
    assert 0 < answer["confidence"] <= 1
    best = answer["plates"][0]
    assert box_iou(best["box"], plates[0].box_xyxy) > 0.5
    assert len(best["char_confidences"]) == len(best["text"])
    assert set(answer["timings_ms"]) == {"decode", "detect", "read", "total"}
    assert best["layout"] == matching_layout(best["text"]) is not None
    assert best["region"] == region_of(best["text"], best["layout"])
    first, *others = best["candidates"]
    assert first == {"text": best["text"], "confidence": best["confidence"]}
    confidences = [c["confidence"] for c in best["candidates"]]
    assert confidences == sorted(confidences, reverse=True) and all(0 <= c <= 1 for c in confidences)
    assert all(matching_layout(c["text"]) is not None for c in others)  # the read's layout rule holds


def test_service_reads_a_plate_turned_40_degrees_over_http(live_server, shipped_settings):
    # Only a look at the photo turned back (the thorough search) finds it; its box's crop is
    # read leveled.
    photo, truth = photo_with_turned_plate(40.0)
    with live_server(create_app(dataclasses.replace(shipped_settings, search=PLANS["thorough"]))) as server:
        response = requests.post(f"{server.url}/recognize?detail=1",
                                 files={"image": ("turned.png", encode(photo, "PNG"))}, timeout=120)
    answer = response.json()
    assert response.status_code == 200, answer
    assert answer["plate"] == "AA8809TI"
    assert box_iou(answer["plates"][0]["box"], truth) >= 0.7  # in the photo's own pixels


def test_cli_recognize_prints_one_line_per_image(tmp_path):
    scene, plates = composed_scene(3)
    good = tmp_path / "scene.jpg"
    cv2.imwrite(str(good), scene, [cv2.IMWRITE_JPEG_QUALITY, 92])
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    run = subprocess.run([sys.executable, "-m", "alpr", "recognize", str(good), str(bad)],
                         capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["code"] for line in lines] == [0, 2]
    assert lines[0]["plate"] == plates[0].text
    assert run.returncode == 1


def test_a_tight_box_is_read_from_its_best_crop(recognizer):
    from alpr.detector import BoundingBox, Detection
    from alpr.pipeline import Pipeline, crop

    scene, plates = composed_scene(3)
    x1, y1, x2, y2 = plates[0].box_xyxy
    dx, dy = 0.08 * (x2 - x1), 0.15 * (y2 - y1)  # a box that cuts into the plate
    tight = BoundingBox(x1 + dx, y1 + dy, x2 - dx, y2 - dy)

    class TightBox:
        def detect(self, image):
            return [Detection(tight, 0.9)]

    margins = PLANS["thorough"].crop_margins
    pipeline = Pipeline(TightBox(), recognizer, crop_margins=margins)  # every margin read
    best = pipeline.read(scene).plates[0]
    each = recognizer.read([crop(scene, tight, m) for m in margins])
    assert best.confidence == max(r.confidence for r in each)
    assert best.text == plates[0].text


def test_a_sure_read_skips_the_other_margins_and_an_unsure_one_does_not(recognizer):
    from alpr.detector import BoundingBox, Detection
    from alpr.pipeline import Pipeline

    class OneBox:
        def __init__(self, box):
            self.box = box

        def detect(self, image):
            return [Detection(self.box, 0.9)]

    plan = PLANS["thorough"]
    scene, plates = composed_scene(3)
    x1, y1, x2, y2 = plates[0].box_xyxy

    def pipeline_for(box, reader):
        return Pipeline(OneBox(box), reader, crop_margins=plan.crop_margins, sure_confidence=plan.sure_read)

    reader = CountingReader(recognizer)
    read = pipeline_for(BoundingBox(x1, y1, x2, y2), reader).read(scene).plates[0]
    assert (read.text, reader.crops) == (plates[0].text, 1), read.confidence
    # A box that cuts off the plate's right third: its first crop cannot be read surely.
    reader = CountingReader(recognizer)
    try:
        pipeline_for(BoundingBox(x1, y1, x2 - 0.35 * (x2 - x1), y2), reader).read(scene)
    except AlprError:
        pass  # nothing readable: allowed, as long as every margin was tried
    assert reader.crops == len(plan.crop_margins)


def test_a_24_letter_checkpoint_still_serves(tmp_path):
    from alpr.crnn import load_checkpoint, save_checkpoint, with_alphabet
    from alpr.plate_formats import ALPHABET

    # The shipped reader cut down to the seed's 24 letters: what older weights read.
    save_checkpoint(with_alphabet(load_checkpoint(SHIPPED_RECOGNIZER), ALPHABET).eval(), tmp_path / "crnn-24.pth")
    reader = PlateRecognizer.from_checkpoint(tmp_path / "crnn-24.pth", backend="torch")
    assert reader.alphabet == ALPHABET
    assert reader.read([render_plate("AI5255EI", np.random.default_rng(7))])[0].text == "AI5255EI"
