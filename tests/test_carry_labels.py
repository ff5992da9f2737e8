"""Plates read by eye carried to other augmented copies of their photo (alpr.training.carry_labels):
real photo pixels, copies the test makes by turning and mirroring them."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from alpr.training.carry_labels import MAX_TURN, carry, carry_all, carried_box, copy_map
from conftest import SHARED

PHOTO = SHARED / "dev-images" / "ua-AA8809TI.jpg"
pytestmark = pytest.mark.skipif(not PHOTO.is_file(), reason="../shared/datasets/dev-images not available")


def photo() -> np.ndarray:
    image = cv2.imread(str(PHOTO))
    return cv2.resize(image, (640, 640 * image.shape[0] // image.shape[1]), interpolation=cv2.INTER_AREA)


def turned(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h)), matrix


@pytest.mark.parametrize("degrees", [0.0, 8.0, -15.0])
def test_a_turned_copy_is_mapped_onto_its_photo(degrees):
    image = photo()
    copy, truth = turned(image, degrees)
    mapping = copy_map(image, copy)
    assert mapping is not None and not mapping.mirrored
    # cv2's angle turns counter-clockwise on screen (y down): atan2 gives its negative.
    assert abs(mapping.turn_degrees + degrees) < 1.0
    box = np.array([200.0, 200.0, 300.0, 240.0])
    assert np.abs(carried_box(box, mapping.matrix) - carried_box(box, truth)).max() < 4.0


def test_a_mirrored_copy_is_known_as_mirrored_and_takes_no_text():
    image = photo()
    mirror = np.ascontiguousarray(image[:, ::-1])
    mapping = copy_map(image, mirror)
    assert mapping is not None and mapping.mirrored
    assert carry(["AA8809TI"], np.array([[200.0, 200.0, 300.0, 240.0]]),
                 np.array([[340.0, 200.0, 440.0, 240.0]]), mapping) == [None]


def test_texts_go_to_the_copy_box_they_land_on_and_not_past_the_turn_limit():
    image = photo()
    read_boxes = np.array([[100.0, 100.0, 200.0, 130.0], [400.0, 300.0, 500.0, 330.0]])
    copy, truth = turned(image, 5.0)
    mapping = copy_map(image, copy)
    landed = np.array([carried_box(b, truth) for b in read_boxes])
    # The copy's label file lists the boxes in another order, and one box more.
    copy_boxes = np.array([landed[1], [10.0, 10.0, 60.0, 30.0], landed[0]])
    assert carry(["B123SLR", "KGA731"], read_boxes, copy_boxes, mapping) == ["KGA731", None, "B123SLR"]
    assert carry(["B123SLR", None], read_boxes, copy_boxes, mapping) == [None, None, "B123SLR"]
    far, _ = turned(image, MAX_TURN + 20)
    assert carry(["B123SLR", "KGA731"], read_boxes, copy_boxes, copy_map(image, far)) == [None, None, None]


def test_carry_all_labels_the_unread_copies_of_a_source(tmp_path):
    image = photo()
    h, w = image.shape[:2]
    for kind in ("images", "labels"):
        (tmp_path / kind / "train").mkdir(parents=True)
    box = (250, 300, 370, 330)  # a wide plate box
    copies = {"rf-src-0.jpg": (image, np.eye(2, 3)), "rf-src-1.jpg": turned(image, 6.0),
              "rf-src-2.jpg": (np.ascontiguousarray(image[:, ::-1]), None)}
    for name, (pixels, matrix) in copies.items():
        cv2.imwrite(str(tmp_path / "images" / "train" / name), pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if matrix is None:
            x1, y1, x2, y2 = w - box[2], box[1], w - box[0], box[3]
        else:
            x1, y1, x2, y2 = carried_box(np.array(box, float), matrix)
        (tmp_path / "labels" / "train" / f"{name[:-4]}.txt").write_text(
            f"0 {(x1 + x2) / 2 / w} {(y1 + y2) / 2 / h} {(x2 - x1) / w} {(y2 - y1) / h}\n")
    labels = tmp_path / "read.json"
    labels.write_text(json.dumps({"rf-src-0.jpg": ["WGM1234F"]}))
    assert carry_all(labels, tmp_path) == {"rf-src-1.jpg": ["WGM1234F"]}  # the mirrored copy takes none
