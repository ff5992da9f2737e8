"""The real-photo bench on photos the test composes: one with a plate, one without, through the
API's path with the shipped models; what each photo cost and read, and the side-by-side report."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from alpr import photo_bench
from alpr.config import Settings
from alpr.training.render import find_fonts
from conftest import SHIPPED_DETECTOR, SHIPPED_RECOGNIZER, photo_with_plate

pytestmark = pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    plate, _ = photo_with_plate(300, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    cv2.imwrite(str(folder / "car.jpg"), plate)
    cv2.imwrite(str(folder / "wall.jpg"), np.full((480, 640, 3), 128, np.uint8))
    labels = folder / "labels.json"
    labels.write_text(json.dumps({"car.jpg": ["AA8809TI"], "wall.jpg": [None]}))
    settings = Settings(detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(SHIPPED_RECOGNIZER),
                        device="cpu")
    photos = photo_bench.photos_in([folder])
    return photo_bench.run(settings, photos, photo_bench.read_labels([labels]), False, lambda m: None)


def test_each_photo_says_what_it_cost_and_read(result):
    rows = {r["photo"]: r for r in result["per_photo"]}
    car, wall = rows["car.jpg"], rows["wall.jpg"]
    assert (car["code"], car["plate"], car["looks"], car["crops"]) == (0, "AA8809TI", 1, 1)
    assert wall["code"] == 4 and wall["plate"] is None and wall["crops"] == 0
    assert wall["looks"] > 1  # nothing found: the larger and sheared looks of the default search
    for row in rows.values():
        assert row["ms"] > 0 and 0 < row["first_look_ms"] <= row["stages_ms"]["detect"] < row["ms"]


def test_the_report_counts_exact_reads_and_what_an_unread_photo_cost(result):
    assert result["search"] == "balanced" and result["photos"] == 2
    assert result["exact"] == {"labelled": 1, "ours": 1}  # the wall's plate is unreadable: not scored
    assert result["ours"]["answered"] == 1
    assert result["ours"]["unread_cost_in_first_looks"]["n"] == 1
    assert result["ours"]["unread_cost_in_first_looks"]["max"] > 1
    assert "peer" not in result and any("exact reads on 1 labelled photos: ours 1" in line
                                        for line in photo_bench.render(result))


def test_beside_the_peer_the_report_gives_the_ratio_of_the_means():
    ours = [photo_bench.PhotoCost(name, ms, 0, plate, 1, 1, ms / 2, {}) for name, ms, plate in
            (("a.jpg", 20.0, "B123ABC"), ("b.jpg", 40.0, "X"))]
    peer = [{"photo": "a.jpg", "plate": "B123ABC", "ms": 40.0}, {"photo": "b.jpg", "plate": "B77XYZ", "ms": 80.0}]
    report = photo_bench.report(ours, peer, {"a.jpg": ["B123ABC"], "b.jpg": ["B77XYZ"]}, "fast")
    assert report["mean_ratio"] == 0.5 and report["exact"] == {"labelled": 2, "ours": 1, "peer": 2}
    assert report["peer"]["ms"]["max"] == 80.0
