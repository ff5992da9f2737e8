"""The detector's serving logic around the network: a second, larger look only when the
first finds nothing in a large photo."""
from __future__ import annotations

import numpy as np
import pytest

from alpr.detector import PlateDetector
from conftest import SHIPPED_DETECTOR


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


def test_a_small_photo_gets_one_look(detector, monkeypatch):
    blank = np.full((480, 640, 3), 128, np.uint8)  # already near the input size
    assert sizes_looked_at(detector, blank, monkeypatch) == [512]


def test_no_retry_unless_asked(monkeypatch):
    plain = PlateDetector(SHIPPED_DETECTOR, "cpu", imgsz=512, conf=0.25)
    blank = np.full((1440, 1920, 3), 128, np.uint8)
    assert sizes_looked_at(plain, blank, monkeypatch) == [512]
