"""The detector's serving logic around the network: a second, larger look only when the
first finds nothing (at the retry size in a photo over 1.5× the input size, at 1.5× the
input size in a smaller one), then looks at the photo turned and sheared, and tiles (large
photos) only when those find nothing either; and `detector-metrics` on photos beside a boxes.json."""
from __future__ import annotations

import concurrent.futures
import json
import shutil

import numpy as np
import pytest

from alpr.detector import TILE_OVERLAP, PlateDetector, TorchYoloNet, _spans
from alpr.metrics import box_iou
from alpr.training import detector_metrics
from alpr.training.render import find_fonts
from conftest import SHARED, SHIPPED_DETECTOR, photo_with_slanted_plate, photo_with_turned_plate


@pytest.fixture(scope="module")
def detector() -> PlateDetector:
    return PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024)


def sizes_looked_at(detector: PlateDetector, image: np.ndarray, monkeypatch) -> list[int]:
    looked: list[int] = []
    real = detector.detect_at

    def spy(img, imgsz):
        looked.append(imgsz)
        return real(img, imgsz)

    monkeypatch.setattr(detector, "detect_at", spy)
    detector.detect(image)
    return looked


def test_an_empty_large_photo_gets_a_second_larger_look(detector, monkeypatch):
    blank = np.full((1440, 1920, 3), 128, np.uint8)  # nothing to find at any size
    assert sizes_looked_at(detector, blank, monkeypatch) == [512, 1024]


def test_a_small_photo_gets_a_second_look_enlarged_no_more_than_1_5_times(detector, monkeypatch):
    blank = np.full((480, 640, 3), 128, np.uint8)  # near the input size: 768, not 1024
    assert sizes_looked_at(detector, blank, monkeypatch) == [512, 768]


def test_no_retry_unless_asked(monkeypatch):
    plain = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25)
    blank = np.full((1440, 1920, 3), 128, np.uint8)
    assert sizes_looked_at(plain, blank, monkeypatch) == [512]


@pytest.mark.parametrize("length,count", [(1440, 3), (1920, 3), (1000, 2), (4032, 4)])
def test_tiles_cover_the_photo_and_overlap(length, count):
    spans = _spans(length, count, TILE_OVERLAP)
    assert len(spans) == count and spans[0][0] == 0 and spans[-1][1] == length
    assert len({end - start for start, end in spans}) == 1  # equal tiles: one input size
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end - start >= int(TILE_OVERLAP * length)  # a plate this small lies whole in one


def test_an_empty_large_photo_gets_tiles_last(monkeypatch):
    tiled = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024, tiles=3)
    blank = np.full((1440, 1920, 3), 128, np.uint8)
    assert sizes_looked_at(tiled, blank, monkeypatch) == [512, 1024] + [1024] * 9


def test_an_empty_mid_size_photo_gets_tiles_too(monkeypatch):
    # A steep plate in a 1280-1536 px photo is found by the enlarged tiles alone.
    tiled = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024, tiles=3)
    blank = np.full((720, 1280, 3), 128, np.uint8)
    assert sizes_looked_at(tiled, blank, monkeypatch) == [512, 1024] + [1024] * 9


def test_no_tiles_for_a_photo_too_small_for_the_retry_size(monkeypatch):
    tiled = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024, tiles=3)
    blank = np.full((480, 640, 3), 128, np.uint8)  # near the input size: tiles would only enlarge
    assert sizes_looked_at(tiled, blank, monkeypatch) == [512, 768]


def test_an_empty_photo_gets_turned_and_sheared_looks_before_the_tiles(monkeypatch):
    turning = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024, tiles=3,
                            turns=(-35.0, 35.0), slants=(-30.0, 30.0))
    large = np.full((1440, 1920, 3), 128, np.uint8)
    turned, sheared = [512, 512, 1024, 1024], [1024, 1024]
    assert sizes_looked_at(turning, large, monkeypatch) == [512, 1024] + turned + sheared + [1024] * 9
    small = np.full((480, 640, 3), 128, np.uint8)  # turned looks at the input size only
    assert sizes_looked_at(turning, small, monkeypatch) == [512, 768, 512, 512] + sheared


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_a_plate_turned_40_degrees_is_found_only_by_a_turned_look():
    photo, truth = photo_with_turned_plate(40.0)
    plain = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024)
    assert all(box_iou(np.array(d.box.as_list()), truth) < 0.5 for d in plain.detect(photo))
    turning = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25, retry_imgsz=1024,
                            turns=(-35.0, 35.0))
    found = turning.detect(photo)
    # The box is drawn around the turned plate in the photo's own pixels.
    assert max(box_iou(np.array(d.box.as_list()), truth) for d in found) >= 0.7


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_a_sheared_look_boxes_a_slanted_plate_in_the_photos_own_pixels():
    photo, truth = photo_with_slanted_plate(30.0)
    detector = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25)
    found = detector.detect_sheared(photo, 30.0, 1024)
    assert max(box_iou(np.array(d.box.as_list()), truth) for d in found) >= 0.85


def test_the_torch_network_answers_threads_looking_at_different_sizes_as_it_does_one_at_a_time(
        untrained_weights):
    # The looks of concurrent requests come in different sizes (512, 768, warped canvases).
    net = TorchYoloNet(untrained_weights[0], "cpu")
    rng = np.random.default_rng(0)
    batches = [rng.random((1, 3, size, size), dtype=np.float32) for size in (256, 320, 384)]
    alone = [net(batch) for batch in batches]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda i: net(batches[i % 3]), range(240)))
    assert all(np.allclose(out, alone[i % 3], atol=1e-4) for i, out in enumerate(together))


@pytest.mark.skipif(not (SHARED / "dev-images" / "ua-old-B8233XA.jpg").is_file(), reason="dev-images not available")
def test_detector_metrics_measures_photos_beside_a_boxes_json(tmp_path, capsys):
    """`detector-metrics --boxes-json`: the shipped detector finds the plate of a real photo
    where boxes.json puts it, and is not credited where the box is elsewhere."""
    photo = tmp_path / "ua-old-B8233XA.jpg"
    shutil.copy(SHARED / "dev-images" / photo.name, photo)
    one_look = ["--weights", str(SHIPPED_DETECTOR), "--retry-imgsz", "0", "--tiles", "0",
                "--turns", "none", "--slants", "none", "--boxes-json", str(tmp_path / "boxes.json")]
    for box, recall in (([351, 649, 236, 78], 1.0), ([[40, 40, 236, 78]], 0.0)):
        (tmp_path / "boxes.json").write_text(json.dumps({photo.name: box}))
        assert detector_metrics.main(one_look) == 0
        result = json.loads(capsys.readouterr().out)
        assert (result["images"], result["plates"], result["recall"]) == (1, 1, recall)
