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


def test_ua_real_is_a_default_set_with_its_labels():
    assert photo_bench.UA_REAL in photo_bench.DEFAULT_FOLDERS
    assert photo_bench.UA_REAL / "labels.json" in photo_bench.DEFAULT_LABELS
    assert photo_bench.set_name(photo_bench.UA_REAL) == "ua-real"
    assert photo_bench.set_name(photo_bench.DEFAULT_FOLDERS[0]) == "plates-detection/val"


@pytest.fixture(scope="module")
def sets_result(tmp_path_factory):
    """The default folders as the bench takes them, on composed photos: a folder of other photos,
    a small `ua-real` (one plate, with labels and layouts) and the copies alpr.degrade makes of it."""
    root = tmp_path_factory.mktemp("sets")
    others, ua_real = root / "others", root / "ua-real"
    others.mkdir()
    ua_real.mkdir()
    plate, _ = photo_with_plate(300, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    cv2.imwrite(str(ua_real / "ua-1-AA8809TI.jpg"), plate)
    (ua_real / "labels.json").write_text(json.dumps({"ua-1-AA8809TI.jpg": ["AA8809TI"]}))
    (ua_real / "layouts.json").write_text(json.dumps({"ua-1-AA8809TI.jpg": "ua"}))
    cv2.imwrite(str(others / "wall.jpg"), np.full((480, 640, 3), 128, np.uint8))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(photo_bench, "UA_REAL", ua_real)
        patch.setattr(photo_bench, "DEFAULT_FOLDERS", (others, ua_real))
        folders = photo_bench.default_folders(root / "bench-out")
    settings = Settings(detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(SHIPPED_RECOGNIZER),
                        device="cpu")
    labels = photo_bench.read_labels([f / "labels.json" for f in folders])
    return folders, photo_bench.run(settings, photo_bench.photos_in(folders), labels, False, lambda m: None)


def test_the_bench_writes_ua_reals_degraded_copies_as_a_set_of_their_own(sets_result):
    folders, result = sets_result
    assert [f.name for f in folders] == ["others", "ua-real", photo_bench.DEGRADED_FOLDER]
    copies = sorted(p.name for p in photo_bench.photos_in(folders[2:]))
    assert len(copies) == 9 and all(name.startswith("ua-1-AA8809TI--") for name in copies)
    assert result["photos"] == 11


def test_each_set_has_its_own_line_with_its_exact_reads_per_layout(sets_result):
    _, result = sets_result
    rows = {s["set"]: s for s in result["sets"]}
    assert list(rows) == ["others", "ua-real", "ua-real-degraded"]
    assert rows["others"]["labelled"] == 0 and rows["others"]["photos"] == 1 and "layouts" not in rows["others"]
    assert rows["ua-real"]["exact"] == {"ours": 1} and rows["ua-real"]["labelled"] == 1
    assert rows["ua-real"]["layouts"] == {"ua": {"labelled": 1, "ours": 1}}
    degraded = rows["ua-real-degraded"]
    assert degraded["photos"] == degraded["labelled"] == degraded["layouts"]["ua"]["labelled"] == 9
    assert 1 <= degraded["exact"]["ours"] <= 9  # the half-size copy at least reads as its source
    lines = photo_bench.render(result)
    assert any(line.split()[:4] == ["ua-real", "1", "1", "of"] for line in lines)
    assert any(line.split()[:2] == ["ua-real-degraded", "9"] for line in lines)


def test_per_set_figures_put_ours_beside_the_peers():
    ours = [photo_bench.PhotoCost(name, ms, 0, plate, 1, 1, ms / 2, {}) for name, ms, plate in
            (("ua-1.jpg", 20.0, "AA1234BB"), ("kz.jpg", 40.0, "X"), ("val.jpg", 30.0, None))]
    peer = [{"photo": "ua-1.jpg", "plate": "AA1234BB", "ms": 60.0}, {"photo": "kz.jpg", "plate": "241VBZ10", "ms": 80.0},
            {"photo": "val.jpg", "plate": "B77XYZ", "ms": 40.0}]
    labels = {"ua-1.jpg": ["AA1234BB"], "kz.jpg": ["241VBZ10", "24110VBZ"], "val.jpg": ["B77XYZ"]}
    sets = {"ua-1.jpg": "ua-real", "kz.jpg": "ua-real", "val.jpg": "plates-detection/val"}
    report = photo_bench.report(ours, peer, labels, "balanced", sets, {"ua-1.jpg": "ua", "kz.jpg": "foreign"})
    ua_real, val = report["sets"]
    assert ua_real == {"set": "ua-real", "photos": 2, "labelled": 2, "ms_mean": {"ours": 30.0, "peer": 70.0},
                       "exact": {"ours": 1, "peer": 2},
                       "layouts": {"ua": {"labelled": 1, "ours": 1, "peer": 1},
                                   "foreign": {"labelled": 1, "ours": 0, "peer": 1}}}
    assert val["exact"] == {"ours": 0, "peer": 1} and "layouts" not in val
    assert "  ua-real                           2  1 / 2 of 2          30.0 / 70.0" in photo_bench.render(report)
