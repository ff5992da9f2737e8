"""Plates askew in the picture: `unturn` levels a turned crop, `unslant` a slanted one, and
the pipeline reads such plates through them when every margin's read is unsure."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from alpr.config import SHARED_DATASETS, Settings
from alpr.detector import BoundingBox, Detection
from alpr.pipeline import Pipeline
from alpr.recognizer import PlateRecognizer
from alpr.status import AlprError, Code
from alpr.training.render import find_fonts, render_plate
from dataclasses import replace

from alpr.leveling import leveled_views, unslant, unturn
from alpr.search import PLANS
from alpr.models import ModelHolder
from conftest import SHIPPED_RECOGNIZER
from doubles import CountingReader

PLATE_W, PLATE_H = 300, 64
SHARED_DEV_IMAGES = SHARED_DATASETS / "dev-images"


def flat_plate() -> np.ndarray:
    """A white plate with dark bars for characters (no fonts needed)."""
    plate = np.full((PLATE_H, PLATE_W, 3), 245, np.uint8)
    for x in range(20, PLATE_W - 20, 32):
        plate[12:PLATE_H - 12, x:x + 14] = 20
    return plate


def turned(image: np.ndarray, degrees: float, background: int = 90) -> np.ndarray:
    """`image` turned by `degrees` counter-clockwise, on a canvas that just holds it: what a
    detector's box around a turned plate looks like."""
    h, w = image.shape[:2]
    theta = np.deg2rad(abs(degrees))
    out_w = int(np.ceil(w * np.cos(theta) + h * np.sin(theta)))
    out_h = int(np.ceil(w * np.sin(theta) + h * np.cos(theta)))
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    turn[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    return cv2.warpAffine(image, turn, (out_w, out_h), borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(background,) * 3)


def slanted(image: np.ndarray, degrees: float, background: int = 90) -> np.ndarray:
    """`image` with its rows climbing by `degrees` to the right, columns kept upright: a
    plate seen from the side and from above."""
    h, w = image.shape[:2]
    slope = np.tan(np.deg2rad(degrees))
    rise = w * abs(slope)
    shear = np.float32([[1, 0, 0], [-slope, 1, rise if slope > 0 else 0]])
    return cv2.warpAffine(image, shear, (w, int(np.ceil(h + rise))), borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(background,) * 3)


def climb_of_top_edge(image: np.ndarray) -> float:
    """How steeply the bright region's top edge climbs to the right, in degrees."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    w = grey.shape[1]
    tops = []
    for x in (int(0.15 * w), int(0.85 * w)):
        rows = np.flatnonzero(grey[:, x] > 170)
        tops.append(rows[0])
    return float(np.degrees(np.arctan2(tops[0] - tops[1], 0.7 * w)))


def tilt_of_white(image: np.ndarray) -> float:
    """How far from level the largest bright region lies, in degrees (0 = level)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    mask = cv2.morphologyEx((grey > 170).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (w, h), angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    if w < h:
        angle -= 90
    return abs((angle + 90) % 180 - 90)


@pytest.mark.parametrize("degrees", [15, -25, 35])
def test_unturn_levels_a_turned_plate_and_cuts_it_to_the_plate(degrees):
    crop = turned(flat_plate(), degrees)
    assert tilt_of_white(crop) > abs(degrees) - 3
    level = unturn(crop, degrees)
    assert tilt_of_white(level) < 2
    # The plate with a tenth of its length and half its height to spare, as the reader's
    # training crops have.
    height, width = level.shape[:2]
    assert width == pytest.approx(1.1 * PLATE_W, rel=0.06)
    assert height == pytest.approx(1.5 * PLATE_H, rel=0.12)
    # Turned the wrong way, it is twice as askew.
    assert tilt_of_white(unturn(crop, -degrees)) > 1.5 * abs(degrees)


@pytest.mark.parametrize("degrees", [15, -30])
def test_unslant_levels_a_slanted_plate_and_cuts_it_to_its_band(degrees):
    crop = slanted(flat_plate(), degrees)
    assert climb_of_top_edge(crop) == pytest.approx(degrees, abs=2)
    level = unslant(crop, degrees)
    assert abs(climb_of_top_edge(level)) < 2
    assert level.shape[1] == PLATE_W
    assert level.shape[0] == pytest.approx(1.5 * PLATE_H, rel=0.1)
    # Sheared the wrong way, the plate climbs twice as steeply and runs out of the band.
    bright = lambda image: int((cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 170).sum())
    assert bright(unslant(crop, -degrees)) < 0.8 * bright(level)


def test_leveled_views_come_turns_first_then_slants():
    crop = slanted(flat_plate(), 20)
    views = leveled_views(crop, (10.0, -10.0), (20.0,))
    assert len(views) == 3
    assert np.array_equal(views[0], unturn(crop, 10.0)) and np.array_equal(views[2], unslant(crop, 20.0))


class _OneBox:
    def __init__(self, box: BoundingBox):
        self.box = box

    def detect(self, image):
        return [Detection(self.box, 0.9)]


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_a_turned_plate_is_read_once_turned_back():
    recognizer = PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER)
    text = "AA8809TI"
    plate = render_plate(text, np.random.default_rng(7), height=56)
    scene = np.full((400, 600, 3), 90, np.uint8)
    # Turned further than the shipped reader reads surely alone (stage 20 reads this plate
    # turned 40° at 0.90, 46° at 0.66).
    patch = turned(plate, 46)
    h, w = patch.shape[:2]
    scene[100:100 + h, 150:150 + w] = patch
    box = BoundingBox(150, 100, 150 + w, 100 + h)
    settings, plan = Settings(), PLANS["thorough"]

    def pipeline(reader, turn_angles, slant_angles):
        return Pipeline(_OneBox(box), reader, min_confidence=settings.min_read_confidence,
                        crop_margins=plan.crop_margins, sure_confidence=plan.sure_read,
                        turn_angles=turn_angles, slant_angles=slant_angles)

    try:
        without = pipeline(recognizer, (), ()).read(scene).plates[0]
        assert without.text != text or without.confidence < 0.9, "now read surely without leveling"
    except AlprError as exc:  # nothing readable without the turns
        assert exc.code == Code.RECOGNITION_FAILED
    reader = CountingReader(recognizer)
    read = pipeline(reader, plan.turn_angles, plan.slant_angles).read(scene).plates[0]
    assert (read.text, read.confidence > 0.9) == (text, True)
    assert reader.crops == (1 + (len(plan.crop_margins) - 1) + len(plan.turn_angles)
                            + len(plan.slant_angles))


SIDE_VIEW = SHARED_DEV_IMAGES / "ua-AA8809TI.jpg"


@pytest.mark.skipif(not SIDE_VIEW.is_file(), reason=f"{SIDE_VIEW} not available")
def test_a_real_side_view_reads_surely_once_its_slant_is_undone():
    # The plate's baseline climbs about 30° while its characters stay upright: as served
    # before leveling, it read right but at 0.28.
    pipeline = ModelHolder(Settings()).get()
    plates = pipeline.read(cv2.imread(str(SIDE_VIEW))).plates
    assert plates[0].text == "AA8809TI" and plates[0].confidence > 0.6, plates


@pytest.mark.skipif(not SIDE_VIEW.is_file(), reason=f"{SIDE_VIEW} not available")
@pytest.mark.parametrize("scale", [0.7, 0.5, 0.35])
def test_the_real_side_view_reads_in_a_smaller_copy_of_the_photo(scale):
    # No plain or turned look finds this plate; the thorough search's sheared looks do, at
    # every size here.
    photo = cv2.imread(str(SIDE_VIEW))
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    plates = ModelHolder(Settings(search=PLANS["thorough"])).get().read(photo).plates
    assert plates[0].text == "AA8809TI", plates


@pytest.mark.skipif(not SIDE_VIEW.is_file(), reason=f"{SIDE_VIEW} not available")
def test_without_sheared_looks_the_smallest_side_view_shows_no_plate():
    # At 35 % (672 px wide) the photo is too small for tiles: only a sheared look finds it.
    photo = cv2.imread(str(SIDE_VIEW))
    photo = cv2.resize(photo, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
    with pytest.raises(AlprError) as error:
        ModelHolder(Settings(search=replace(PLANS["thorough"], detector_slants=()))).get().read(photo)
    assert error.value.code == Code.NO_PLATE


@pytest.mark.skipif(not SIDE_VIEW.is_file(), reason=f"{SIDE_VIEW} not available")
def test_a_12_megapixel_copy_of_the_side_view_reads_as_the_photo_does():
    # Resized linearly from 4000 px, as a look's own resize does, the photo aliases into
    # noise and no look finds the plate; shrunk by area averaging first, the sheared look does.
    photo = cv2.resize(cv2.imread(str(SIDE_VIEW)), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    plates = ModelHolder(Settings()).get().read(photo).plates
    assert plates[0].text == "AA8809TI", plates
    x1, y1, x2, y2 = plates[0].box.as_list()
    assert 3400 < (x1 + x2) / 2 < 3800 and 1900 < (y1 + y2) / 2 < 2200  # in the 12 MP photo's pixels
