"""Real plates read by eye as a training source: which plates are taken, and their crops."""
from __future__ import annotations

import json

import cv2
import numpy as np

from alpr.plate_formats import ALPHABET, LATIN_ALPHABET
from alpr.recognizer import PlateRecognizer
from alpr.training.real_plates import VALIDATION_LABELS, camera_variant, load_real_plates, real_sample, texts_of
from alpr.training.render import render_plate
from conftest import SHIPPED_RECOGNIZER, needs_fonts


def photos_with_labels(tmp_path):
    """A photo with three boxes (YOLO file) read as a Romanian plate, nothing, a Ukrainian plate."""
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    image = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    boxes = [(100, 100, 220, 130), (300, 50, 380, 70), (350, 300, 500, 340)]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        image[y1:y2, x1:x2] = 40 * (i + 1)  # each plate its own grey
    cv2.imwrite(str(tmp_path / "images" / "train" / "car.jpg"), image)
    (tmp_path / "labels" / "train" / "car.txt").write_text("\n".join(
        f"0 {(x1 + x2) / 1200} {(y1 + y2) / 800} {(x2 - x1) / 600} {(y2 - y1) / 400}"
        for x1, y1, x2, y2 in boxes))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"car.jpg": ["B123SLR", None, "AA1234BB"], "gone.jpg": ["B1XYZ"]}))
    return labels


def test_only_plates_read_in_the_alphabet_and_outside_the_exclusions_are_taken(tmp_path):
    labels = photos_with_labels(tmp_path)
    latin = load_real_plates(labels, tmp_path, "train", LATIN_ALPHABET)
    assert [p.text for p in latin] == ["B123SLR", "AA1234BB"]  # the null box and the missing photo skipped
    assert [p.text for p in load_real_plates(labels, tmp_path, "train", ALPHABET)] == ["AA1234BB"]  # no S, L, R
    assert load_real_plates(labels, tmp_path, "train", LATIN_ALPHABET, exclude=frozenset({"B123SLR"}))[0].text == "AA1234BB"
    # Each plate keeps room around its box, and its box inside it holds the plate's pixels.
    for plate, grey in zip(latin, (40, 120)):
        x1, y1, x2, y2 = plate.box.astype(int)
        assert plate.region.shape[0] > y2 - y1 and plate.region.shape[1] > x2 - x1
        assert abs(float(plate.region[y1 + 3:y2 - 3, x1 + 3:x2 - 3].mean()) - grey) < 6


def test_a_real_sample_is_a_preprocessed_crop_of_a_plate(tmp_path):
    plates = load_real_plates(photos_with_labels(tmp_path), tmp_path, "train", LATIN_ALPHABET)
    image, text = real_sample(plates, np.random.default_rng(1), 128)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8 and text in {"B123SLR", "AA1234BB"}


def test_the_validation_labels_are_texts_of_the_validation_photos():
    texts = texts_of(VALIDATION_LABELS)
    assert len(texts) > 150 and all(t.isalnum() and t.isupper() or t.isdigit() for t in texts)


def test_a_plate_lying_on_its_side_is_not_trained_on_but_still_scored(tmp_path):
    labels = photos_with_labels(tmp_path)
    (tmp_path / "labels" / "train" / "car.txt").write_text(  # the first box stood on its side
        "0 0.25 0.3 0.05 0.3\n0 0.56 0.15 0.13 0.05\n0 0.71 0.8 0.25 0.1")
    assert [p.text for p in load_real_plates(labels, tmp_path, "train", LATIN_ALPHABET)] == ["AA1234BB"]
    (tmp_path / "images" / "val").mkdir()
    (tmp_path / "labels" / "val").mkdir()
    for kind in ("images", "labels"):
        for f in (tmp_path / kind / "train").iterdir():
            (tmp_path / kind / "val" / f.name).write_bytes(f.read_bytes())
    assert [p.text for p in load_real_plates(labels, tmp_path, "val", LATIN_ALPHABET)] == ["B123SLR", "AA1234BB"]


@needs_fonts
def test_a_camera_variant_changes_how_a_plate_looks_not_what_it_reads():
    plate = render_plate("AI5255EI", np.random.default_rng(7))
    variants = [camera_variant(plate, np.random.default_rng(seed)) for seed in range(12)]
    assert all(v.shape == plate.shape and v.dtype == np.uint8 and not np.array_equal(v, plate) for v in variants)
    assert np.array_equal(camera_variant(plate, np.random.default_rng(3)), variants[3])  # a seed reproduces it
    reads = PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER).read(variants)
    assert sum(r.text == "AI5255EI" for r in reads) >= 9, [r.text for r in reads]


def test_real_crops_are_seen_as_other_cameras_would_only_when_asked(tmp_path):
    plates = load_real_plates(photos_with_labels(tmp_path), tmp_path, "train", LATIN_ALPHABET)
    plain = [real_sample(plates, np.random.default_rng(s), 128)[0] for s in range(4)]
    assert all(np.array_equal(a, real_sample(plates, np.random.default_rng(s), 128, augment=0.0)[0])
               for s, a in enumerate(plain))
    varied = [real_sample(plates, np.random.default_rng(s), 128, augment=1.0)[0] for s in range(4)]
    assert not any(np.array_equal(a, b) for a, b in zip(plain, varied))
