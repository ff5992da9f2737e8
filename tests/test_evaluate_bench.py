"""`python -m alpr evaluate` and `python -m alpr bench`: the metrics on hand-made inputs, the
report on a folder the tests draw, and a quick bench run through gunicorn. No timing is
checked against a threshold: only that the figures exist and are sane."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from alpr import bench, evaluate, metrics
from alpr.config import PROJECT_ROOT
from alpr.detector import BoundingBox, Detection
from alpr.models import ModelHolder
from alpr.pipeline import Pipeline
from alpr.recognizer import Reading
from conftest import encode

# --------------------------------------------------------------------------- pure metrics


def test_edit_distance():
    assert metrics.edit_distance("", "") == 0
    assert metrics.edit_distance("AI5255EI", "AI5255EI") == 0
    assert metrics.edit_distance("AI5255EI", "AI5256EI") == 1   # substitution
    assert metrics.edit_distance("AI5255E", "AI5255EI") == 1    # deletion
    assert metrics.edit_distance("AI52555EI", "AI5255EI") == 1  # insertion
    assert metrics.edit_distance("", "ABC") == metrics.edit_distance("ABC", "") == 3
    assert metrics.edit_distance("kitten", "sitting") == 3


def test_char_accuracy():
    assert metrics.char_accuracy("AI5255EI", "AI5255EI") == 1.0
    assert metrics.char_accuracy("AI5256EI", "AI5255EI") == pytest.approx(7 / 8)
    assert metrics.char_accuracy(None, "AI5255EI") == 0.0
    assert metrics.char_accuracy("", "AI5255EI") == 0.0
    assert metrics.char_accuracy("XXXXXXXXXXXXXXXXXX", "AI5255EI") == 0.0  # floored, never negative
    # The closest label counts; no labels at all scores 0.
    assert metrics.best_char_accuracy("BC9911BK", ["AI5255EI", "BC9911BA"]) == pytest.approx(7 / 8)
    assert metrics.best_char_accuracy("BC9911BK", []) == 0.0


def test_roc_auc():
    assert metrics.roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False]) == pytest.approx(0.75)
    assert metrics.roc_auc([0.9, 0.8], [True, False]) == 1.0
    assert metrics.roc_auc([0.2, 0.8], [True, False]) == 0.0
    assert metrics.roc_auc([0.5, 0.5], [True, False]) == 0.5      # a tie counts half
    assert metrics.roc_auc([0.9, 0.8], [True, True]) is None      # no wrong read
    assert metrics.roc_auc([], []) is None


def test_small_statistics():
    assert metrics.share(1, 4) == 0.25 and metrics.share(0, 0) is None
    assert metrics.mean([1.0, 2.0, 6.0]) == 3.0 and metrics.mean([]) is None
    assert metrics.median([1.0, 2.0, 6.0]) == 2.0 and metrics.median([]) is None
    found = metrics.percentiles(list(range(1, 101)))
    assert found == {"p50": pytest.approx(50.5), "p90": pytest.approx(90.1), "p99": pytest.approx(99.01)}
    assert metrics.percentiles([]) is None


def test_is_correct_and_labels_read():
    assert evaluate.is_correct("AI5255EI", ("AI5255EI",))
    assert evaluate.is_correct("BC9911BK", ("AI5255EI", "BC9911BK"))
    assert not evaluate.is_correct("AI5255EX", ("AI5255EI",))
    assert not evaluate.is_correct(None, ("AI5255EI",))
    assert evaluate.is_correct(None, ())                 # no plate, nothing read: right
    assert not evaluate.is_correct("AI5255EI", ())       # a false read
    assert evaluate.count_labels_read(["AA", "BB", "CC"], ["AA", "BB", "DD"]) == 2
    assert evaluate.count_labels_read(["AA"], ["AA", "AA"]) == 1       # one read, one plate
    assert evaluate.count_labels_read(["AA", "AA"], ["AA", "AA"]) == 2
    assert evaluate.plate_found(0) and evaluate.plate_found(6)
    assert not evaluate.plate_found(4) and not evaluate.plate_found(7)


def _answer(plates: list[tuple[str, float]], code: int | None = None) -> dict:
    """A detailed API answer with these (text, confidence) plates, best first."""
    if not plates:
        return {"status": "ERROR", "code": code or 4, "message": "", "plate": None, "confidence": 0.0}
    return {
        "status": "OK", "code": 0, "message": "Success", "plate": plates[0][0], "confidence": plates[0][1],
        "plates": [{"box": [0, 0, 10, 5], "detection_score": 0.8, "text": t, "confidence": c,
                    "char_confidences": [c] * len(t)} for t, c in plates],
    }


def test_summarize_hand_made_rows():
    rows = [
        evaluate.image_result("right.jpg", ["AA1234BB"], _answer([("AA1234BB", 0.9)]), 10.0),
        evaluate.image_result("wrong.jpg", ["BC9911BA"], _answer([("BC9911BK", 0.6)]), 20.0),
        evaluate.image_result("two.jpg", ["AA1234BB", "BC9911BK"],
                              _answer([("AA1234BB", 0.9), ("BC9911BK", 0.6)]), 30.0),
        evaluate.image_result("missed.jpg", ["KA0001AA"], _answer([]), 40.0),
        evaluate.image_result("unread.jpg", ["KA0002AA"], _answer([], code=6), 50.0),
        evaluate.image_result("false.jpg", [], _answer([("XX0000XX", 0.3)]), 60.0),
        evaluate.image_result("nothing.jpg", [], _answer([]), 70.0),
    ]
    s = evaluate.summarize(rows)
    assert (s.images, s.labelled_images, s.unlabelled_images, s.labelled_plates) == (7, 5, 2, 6)
    assert s.exact_accuracy == pytest.approx(2 / 5)
    assert s.plate_recall == pytest.approx(3 / 6)
    assert s.char_accuracy == pytest.approx((1 + 7 / 8 + 1 + 0 + 0) / 5)
    assert s.detection_rate == pytest.approx(4 / 5)      # code 6 had boxes, code 4 had none
    assert (s.false_reads, s.false_read_rate) == (1, 0.5)
    assert (s.reads, s.right_reads, s.wrong_reads) == (4, 2, 2)
    assert s.confidence_right_mean == pytest.approx(0.9)
    assert s.confidence_wrong_mean == pytest.approx(0.45) and s.confidence_wrong_median == pytest.approx(0.45)
    assert s.confidence_auc == 1.0
    assert s.codes == {"0": 4, "4": 2, "6": 1}
    assert s.total_ms_median == 40.0


def test_summarize_nothing():
    s = evaluate.summarize([])
    assert s.images == 0 and s.exact_accuracy is None and s.confidence_auc is None


# --------------------------------------------------------------------------- evaluate on a folder

# Each test image is two halves of flat grey; the stub detector boxes each half, and the stub
# reader reads a crop by its shade. An all-200 image has no plate at all.
SHADE_READS = {50: ("AA1234BB", 0.9), 100: ("BC9911BK", 0.6), 150: ("XX0000XX", 0.3), 255: ("", 0.0)}
EMPTY = 200


class _HalvesDetector:
    def detect(self, image):
        h, w = image.shape[:2]
        if abs(int(image[h // 2, w // 4, 0]) - EMPTY) < 8:
            return []
        return [Detection(BoundingBox(w * 0.1, h * 0.3, w * 0.4, h * 0.7), 0.8),
                Detection(BoundingBox(w * 0.6, h * 0.3, w * 0.9, h * 0.7), 0.7)]


class _ShadeReader:
    def read(self, crops):
        readings = []
        for crop in crops:
            shade = min(SHADE_READS, key=lambda s: abs(s - float(crop.mean())))
            text, confidence = SHADE_READS[shade]
            readings.append(Reading(text, confidence, (confidence,) * len(text), text, None))
        return readings


class _StubHolder(ModelHolder):
    def _build(self):
        self.load_count += 1
        return Pipeline(_HalvesDetector(), _ShadeReader())


def _halves(left: int, right: int) -> np.ndarray:
    image = np.full((200, 400, 3), left, np.uint8)
    image[:, 200:] = right
    return image


@pytest.fixture
def labelled_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    files = {
        "right.png": (_halves(50, 255), ["AA1234BB"]),
        "wrong.jpg": (_halves(100, 255), ["BC9911BA"]),
        "two.png": (_halves(50, 100), ["AA1234BB", "BC9911BK"]),
        "false.png": (_halves(150, 255), []),
        "no-plate.png": (_halves(EMPTY, EMPTY), ["KA0001AA"]),
        "blank.png": (_halves(EMPTY, EMPTY), []),
    }
    labels = {}
    for name, (image, texts) in files.items():
        jpeg = name.endswith(".jpg")
        (folder / name).write_bytes(encode(image, "JPEG", quality=95) if jpeg else encode(image, "PNG"))
        labels[name] = texts
    labels["missing.jpg"] = ["AA0000AA"]
    (folder / "stray.png").write_bytes(encode(_halves(50, 50), "PNG"))
    (folder / "labels.json").write_text(json.dumps(labels))
    return folder


def test_evaluate_folder_with_stub_models(labelled_folder, untrained_settings, tmp_path):
    labels = evaluate.load_labels(labelled_folder / "labels.json")
    report = evaluate.evaluate_folder(labelled_folder, labels, _StubHolder(untrained_settings), untrained_settings)
    rows = {r.file: r for r in report.images}
    assert set(rows) == {"right.png", "wrong.jpg", "two.png", "false.png", "no-plate.png", "blank.png"}
    assert report.missing == ("missing.jpg",) and report.unlabelled_files == ("stray.png",)
    assert rows["right.png"].plate == "AA1234BB" and rows["right.png"].correct
    assert rows["wrong.jpg"].plate == "BC9911BK" and not rows["wrong.jpg"].correct
    assert rows["wrong.jpg"].char_accuracy == pytest.approx(7 / 8)
    assert [p.text for p in rows["two.png"].plates] == ["AA1234BB", "BC9911BK"]
    assert rows["two.png"].labels_read == 2
    assert rows["no-plate.png"].code == 4 and rows["blank.png"].correct and not rows["false.png"].correct

    s = report.summary
    assert s.exact_accuracy == pytest.approx(2 / 4)
    assert s.plate_recall == pytest.approx(3 / 5)
    assert s.char_accuracy == pytest.approx((1 + 7 / 8 + 1 + 0) / 4)
    assert s.detection_rate == pytest.approx(3 / 4)
    assert (s.false_reads, s.false_read_rate) == (1, 0.5)
    assert s.confidence_auc == 1.0

    out = tmp_path / "report"
    evaluate.write_report(report, out, labelled_folder, untrained_settings)
    saved = json.loads((out / "report.json").read_text())
    assert saved["summary"]["plate_recall"] == pytest.approx(0.6)
    assert {"file", "labels", "code", "plate", "confidence", "plates", "correct"} <= saved["images"][0].keys()
    summary = (out / "summary.md").read_text()
    assert "| exact-plate accuracy (top read is a label) | 50.0 % |" in summary
    assert "| two.png | AA1234BB, BC9911BK | 0 | AA1234BB |" in summary
    assert sorted(p.name for p in (out / "annotated").iterdir()) == sorted(
        f"{name.rsplit('.', 1)[0]}.jpg" for name in rows)

    def share_of(colour, name):
        image = cv2.imread(str(out / "annotated" / f"{name}.jpg")).astype(int)
        return (np.abs(image - np.array(colour)).sum(axis=2) < 60).mean()

    assert share_of(evaluate.GREEN, "right") > 0.001 and share_of(evaluate.GREEN, "wrong") == 0
    assert share_of(evaluate.RED, "wrong") > 0.001 and share_of(evaluate.RED, "false") > 0.001


def test_load_labels_rejects_bad_files(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"a.jpg": "AA1234BB"}))
    with pytest.raises(ValueError):
        evaluate.load_labels(bad)
    bad.write_text(json.dumps(["a.jpg"]))
    with pytest.raises(ValueError):
        evaluate.load_labels(bad)
    bad.write_text(json.dumps({"a.jpg": [1]}))
    with pytest.raises(ValueError):
        evaluate.load_labels(bad)


def test_an_unreadable_plate_is_not_scored(tmp_path):
    # null: a plate no one could read for sure. Beside a read one it drops out; alone, the
    # photo drops out (neither right nor a false read); [] still means no plate at all.
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"a.jpg": ["b123abc", None], "b.jpg": [None], "c.jpg": []}))
    assert evaluate.load_labels(labels) == {"a.jpg": ("B123ABC",), "c.jpg": ()}


def test_evaluate_cli_through_the_real_models(labelled_folder, untrained_weights, tmp_path, monkeypatch, capsys):
    """The CLI with real (untrained) weights: the whole path runs; untrained models find nothing."""
    detector, recognizer = untrained_weights
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", str(detector))
    monkeypatch.setenv("ALPR_RECOGNIZER_WEIGHTS", str(recognizer))
    monkeypatch.setenv("ALPR_DEVICE", "cpu")
    out = tmp_path / "cli-report"
    assert evaluate.main([str(labelled_folder), "--out", str(out), "--detail"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= {"created", "directory", "detector_weights", "recognizer_weights", "device",
                           "summary", "images", "missing", "unlabelled_files"}
    assert report["summary"]["images"] == 6 and report["summary"]["labelled_images"] == 4
    assert all(row["total_ms"] > 0 for row in report["images"])
    assert (out / "summary.md").is_file() and len(list((out / "annotated").iterdir())) == 6
    assert "exact-plate accuracy" in capsys.readouterr().out


def test_evaluate_cli_without_models_is_1(labelled_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", str(tmp_path / "nope.pt"))
    assert evaluate.main([str(labelled_folder), "--out", str(tmp_path / "r")]) == 1


# --------------------------------------------------------------------------- bench


def test_bench_helpers():
    data, made = bench.synthetic_image()
    assert made in ("rendered", "drawn") and bench.image_size(data) == (1920, 1440)
    assert data[:3] == b"\xff\xd8\xff"
    assert bench.stats([]) is None
    assert bench.stats([1.0, 2.0, 3.0])["p50"] == 2.0
    assert bench.peak_rss_mb() > 0
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in bench.child_pids(os.getpid())
        assert bench.peak_rss_mb(child.pid) > 0
    finally:
        child.kill()
        child.wait()
    body, ctype = bench.multipart("a.jpg", b"\xff\xd8\xffdata")
    assert ctype.startswith("multipart/form-data; boundary=") and b"\xff\xd8\xffdata" in body


def test_bench_quick_through_gunicorn(untrained_weights, tmp_path, photo_bytes):
    detector, recognizer = untrained_weights
    images = tmp_path / "images"
    images.mkdir()
    (images / "small.jpg").write_bytes(photo_bytes)
    out = tmp_path / "bench"
    env = {**os.environ, "ALPR_DETECTOR_WEIGHTS": str(detector), "ALPR_RECOGNIZER_WEIGHTS": str(recognizer),
           "ALPR_DEVICE": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "alpr", "bench", "--quick", "--requests", "2", "--images", str(images),
         "--out", str(out)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "target" in done.stdout
    result = json.loads((out / "bench.json").read_text())

    assert set(result) >= {"machine", "weights", "images", "in_process", "http", "targets", "quick", "requests"}
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch_threads"] >= 1 and machine["date"] and machine["platform"]
    assert [i["name"] for i in result["images"]] == [bench.SYNTHETIC_NAME, "small.jpg"]
    assert result["images"][0]["size"] == [1920, 1440]

    in_process = result["in_process"]
    assert in_process["model_load_ms"] > 0 and in_process["first_request_ms"] > 0
    assert in_process["peak_rss_mb"] > 0
    for name in (bench.SYNTHETIC_NAME, "small.jpg"):
        stages = in_process["images"][name]["stages_ms"]
        assert set(stages) == {"decode", "detect", "read", "json", "total"}
        for stage in ("decode", "detect", "json", "total"):
            assert stages[stage]["n"] == 2 and stages[stage]["p50"] >= 0
        assert stages["total"]["p50"] > 0 and stages["total"]["p99"] >= stages["total"]["p50"]
    for batch in ("batch_1", "batch_8"):
        assert in_process["crnn_read"][batch]["per_crop_ms"]["p50"] > 0
    # Untrained weights have no ONNX twin: torch serves them, and the side-by-side says why not
    # ONNX; the shipped rectifier's and Latin reader's twins level and read their crops.
    assert in_process["backends"] == {"detector": "torch", "rectifier": "onnx",
                                      "recognizer": "torch, latin onnx-int8", "onnx_spin": True}
    assert in_process["detect_by_backend"]["torch"]["ms"]["n"] == 2
    assert "export-onnx" in in_process["detect_by_backend"]["onnx"]["error"]

    http = result["http"]
    assert "error" not in http
    assert http["cold_start_s"] > 0 and http["cold_start_code"] == 4   # untrained: no plate found
    assert http["health_load_warm_ms"] > 0
    assert set(http["latency_ms"]) == {bench.SYNTHETIC_NAME, "small.jpg"}
    assert [level["clients"] for level in http["throughput"]] == [1]
    assert http["throughput"][0]["requests_per_s"] > 0
    assert http["peak_rss_mb"]["worker"] > 0 and http["peak_rss_mb"]["total"] > 0
    assert [t["unit"] for t in result["targets"]] == ["ms", "s", "MB"]
    assert all(t["value"] > 0 and t["met"] in (True, False) for t in result["targets"])
