"""Synthetic plates and plate swaps: deterministic per seed, true to the layouts, local edits."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from alpr.plate_formats import LAYOUTS, matching_layout
from alpr.training.plate_swap import (
    SwappedPlate,
    add_plates,
    detector_like_crop,
    read_yolo_boxes,
    swap_plates,
)
from alpr.training.render import (
    detector_box_jitter,
    find_fonts,
    fonts_dir_or_default,
    random_plate_text,
    render_plate,
    synth_crop,
)


@pytest.fixture(scope="module")
def fonts() -> list[Path]:
    found = find_fonts()
    if not found:
        pytest.skip(f"no plate fonts in {fonts_dir_or_default()} (set ALPR_FONTS_DIR)")
    return found


def scene(seed: int = 0, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A textured stand-in photo: smooth colour blobs plus fine noise."""
    rng = np.random.default_rng(seed)
    import cv2

    coarse = rng.integers(0, 255, (size[0] // 16, size[1] // 16, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_texts_fit_their_layout(layout):
    rng = np.random.default_rng(1)
    assert all(matching_layout(random_plate_text(rng, layout)) == layout for _ in range(300))


def test_random_layout_is_mostly_current():
    rng = np.random.default_rng(2)
    layouts = [matching_layout(random_plate_text(rng)) for _ in range(1000)]
    assert None not in layouts
    assert 0.65 < layouts.count("ua") / len(layouts) < 0.85
    assert {"ua-1995", "ua-1977"} <= set(layouts)


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError):
        random_plate_text(np.random.default_rng(0), "square")


def test_render_is_deterministic(fonts):
    a = render_plate("AI5255EI", np.random.default_rng(7))
    b = render_plate("AI5255EI", np.random.default_rng(7))
    c = render_plate("AI5255EI", np.random.default_rng(8))
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert a.tobytes() == b.tobytes()
    assert a.shape != c.shape or a.tobytes() != c.tobytes()


def test_a_lead_dot_is_a_round_ink_blob_before_the_first_character(fonts, monkeypatch):
    from alpr.training import render

    for seed in range(6):
        monkeypatch.setitem(render.LEAD_DOT_P, "ua-1977", 0.0)
        bare = render_plate("B8233XA", np.random.default_rng(seed))
        monkeypatch.setitem(render.LEAD_DOT_P, "ua-1977", 1.0)
        dotted = render_plate("B8233XA", np.random.default_rng(seed))
        assert bare.shape == dotted.shape  # the choice alone changes the plate
        changed = np.abs(bare.astype(int) - dotted.astype(int)).max(axis=2) > 40
        ys, xs = np.nonzero(changed)
        assert len(xs) > 0
        h, w = changed.shape
        # left of the characters, roughly as tall as wide, and a small part of the plate
        assert xs.max() < 0.35 * w
        assert 0.5 < (np.ptp(ys) + 1) / (np.ptp(xs) + 1) < 2.0
        assert len(xs) < 0.02 * h * w


@pytest.mark.parametrize("text", ["AI5255EI", "12345KB", "B8233XA"])
def test_render_has_plate_proportions(fonts, text):
    rng = np.random.default_rng(3)
    for _ in range(10):
        plate = render_plate(text, rng)
        # 520×112 mm, or a little squarer when a holder frame surrounds it.
        assert 3.6 < plate.shape[1] / plate.shape[0] < 4.8


def test_synth_crop_is_deterministic_and_labelled(fonts):
    background = scene(1)
    crop_a, text_a = synth_crop(np.random.default_rng(11), background=background)
    crop_b, text_b = synth_crop(np.random.default_rng(11), background=background)
    crop_c, text_c = synth_crop(np.random.default_rng(12), background=background)
    assert text_a == text_b and crop_a.tobytes() == crop_b.tobytes()
    assert text_a != text_c or crop_a.tobytes() != crop_c.tobytes()
    assert crop_a.dtype == np.uint8 and crop_a.ndim == 3 and crop_a.shape[2] == 3
    assert matching_layout(text_a) is not None


def test_synth_crop_keeps_a_given_text(fonts):
    rng = np.random.default_rng(4)
    wide = 0
    for _ in range(20):
        crop, text = synth_crop(rng, text="KA1234XX")
        assert text == "KA1234XX"
        height, width = crop.shape[:2]
        assert height >= 8 and width >= 8
        wide += width > height
    # A wide plate, cut snug or loose; only the hard-turned steep views may stand taller.
    assert wide >= 15


def test_missing_fonts_dir_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_FONTS_DIR", str(tmp_path))
    assert find_fonts() == []
    with pytest.raises(FileNotFoundError):
        synth_crop(np.random.default_rng(0))


def test_read_yolo_boxes(tmp_path):
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.25 0.1\n\n0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.4\n")
    boxes = read_yolo_boxes(label, 200, 100)
    assert boxes.shape == (2, 4)
    np.testing.assert_allclose(boxes[0], [75, 45, 125, 55])
    np.testing.assert_allclose(boxes[1], [20, 20, 60, 40])
    assert read_yolo_boxes(tmp_path / "missing.txt", 200, 100).shape == (0, 4)


def test_crop_jitter_stays_near_the_box():
    rng = np.random.default_rng(5)
    box = (100.0, 50.0, 300.0, 100.0)
    for _ in range(200):
        x0, y0, x1, y1 = detector_box_jitter(box, rng, 640, 480)
        assert 100 - 0.25 * 200 - 1 <= x0 <= 100 + 0.03 * 200 + 1
        assert 300 - 0.03 * 200 - 1 <= x1 <= 300 + 0.25 * 200 + 1
        assert 50 - 0.25 * 50 - 1 <= y0 <= 50 + 0.03 * 50 + 1
        assert 100 - 0.03 * 50 - 1 <= y1 <= 100 + 0.25 * 50 + 1
    crop = detector_like_crop(scene(), (630.0, 470.0, 700.0, 500.0), rng)  # clipped, not empty
    assert crop.size > 0


def test_swap_changes_the_box_and_little_else(fonts):
    image = scene(2)
    boxes = np.array([
        [200, 200, 360, 240],  # a plate: swapped
        [40, 40, 60, 100],  # turned 90 degrees: left alone
        [500, 400, 540, 408],  # too small: left alone
    ], float)
    out, plates = swap_plates(image, boxes, np.random.default_rng(6), texts=["AA8809TI", "", ""])
    assert out.shape == image.shape and out.dtype == image.dtype
    assert plates == [SwappedPlate(plates[0].box_xyxy, "AA8809TI")]
    x0, y0, x1, y1 = plates[0].box_xyxy
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480
    assert abs(x0 - 200) < 16 and abs(x1 - 360) < 16 and abs(y0 - 200) < 6 and abs(y1 - 240) < 6

    diff = np.abs(out.astype(int) - image.astype(int)).max(axis=2)
    assert diff[205:235, 210:350].mean() > 20
    far = np.ones(diff.shape, bool)
    far[200 - 30:240 + 30, 200 - 30:360 + 30] = False  # box plus room for a holder frame
    assert diff[far].max() == 0
    assert diff[40:100, 40:60].max() == 0 and diff[400:408, 500:540].max() == 0
    assert not np.shares_memory(out, image)


def test_swap_is_deterministic(fonts):
    image, boxes = scene(3), np.array([[100, 300, 260, 340]], float)
    out_a, plates_a = swap_plates(image, boxes, np.random.default_rng(9))
    out_b, plates_b = swap_plates(image, boxes, np.random.default_rng(9))
    assert plates_a == plates_b and out_a.tobytes() == out_b.tobytes()


def test_added_plates_avoid_existing_ones(fonts):
    image = scene(4)
    existing = np.array([[200, 200, 360, 240]], float)
    out, added = add_plates(image, np.random.default_rng(10), 4, existing)
    assert 1 <= len(added) <= 4
    for plate in added:
        x0, y0, x1, y1 = plate.box_xyxy
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480
        assert 0.03 * 640 * 0.8 <= x1 - x0 <= 0.25 * 640 * 1.2
        assert x1 <= 200 or x0 >= 360 or y1 <= 200 or y0 >= 240
        assert matching_layout(plate.text) is not None
    assert (out[200:240, 200:360] == image[200:240, 200:360]).all()


def test_a_slanted_plate_keeps_its_sides_upright_and_its_baseline_climbs():
    from alpr.training.render import random_plate_quad

    tl, tr, br, bl = random_plate_quad(np.random.default_rng(0), 200, 40, strength=0.0, slant_deg=30)
    assert tl[0] == pytest.approx(bl[0]) and tr[0] == pytest.approx(br[0])
    assert (tl[1] - tr[1]) / (tr[0] - tl[0]) == pytest.approx(np.tan(np.radians(30)), rel=1e-4)


def test_steep_views_turn_a_quarter_and_slant_a_quarter():
    from alpr.training.render import steep_view

    rng = np.random.default_rng(3)
    views = [steep_view(rng) for _ in range(4000)]
    turned = [v for v in views if v[2] != 0]
    slanted = [v for v in views if v[3] != 0]
    assert 0.22 < len(turned) / 4000 < 0.28 and 0.22 < len(slanted) / 4000 < 0.28
    assert not any(v[2] and v[3] for v in views)
    assert all(25 <= abs(v[2]) <= 50 for v in turned) and all(15 <= abs(v[3]) <= 40 for v in slanted)


def test_a_named_view_is_the_one_drawn(fonts):
    from alpr.training.render import VIEWS, steep_view

    rng = np.random.default_rng(5)
    for _ in range(50):
        assert steep_view(rng, "steep")[2:] == (0.0, 0.0)
        _, _, turn, slant = steep_view(rng, "turned")
        assert 25 <= abs(turn) <= 50 and slant == 0.0
        _, _, turn, slant = steep_view(rng, "slanted")
        assert turn == 0.0 and 15 <= abs(slant) <= 40
    # A level view is a wide crop; a turned one stands taller than a level one of the same plate.
    shapes = {view: synth_crop(np.random.default_rng(8), text="KA1234XX", view=view, capture_height=30)[0].shape
              for view in VIEWS}
    assert shapes["level"][1] > 2 * shapes["level"][0]
    assert shapes["turned"][0] / shapes["turned"][1] > shapes["level"][0] / shapes["level"][1]


def test_a_leveled_steep_view_is_the_seen_crop_turned_or_sheared_back(fonts, monkeypatch):
    from alpr.training import render

    assert 0 < render.LEVELING_ERROR <= 10
    # Level views are never leveled: the same draws give the same crop.
    plain = synth_crop(np.random.default_rng(4), text="KA1234XX", view="level", capture_height=30)[0]
    asked = synth_crop(np.random.default_rng(4), text="KA1234XX", view="level", capture_height=30, leveled=True)[0]
    assert np.array_equal(plain, asked)
    # Leveling comes last: the crop as seen, undone by the transform of its kind of view.
    calls = []
    for name in ("unturn", "unslant"):
        real = getattr(render, name)
        monkeypatch.setattr(render, name, lambda crop, angle, real=real, name=name: (
            calls.append((name, crop.copy(), angle)) or real(crop, angle)))
    for view, undo in (("turned", "unturn"), ("slanted", "unslant"), ("steep", "unturn")):
        for seed in range(3):
            calls.clear()
            seen = synth_crop(np.random.default_rng(seed), text="KA1234XX", view=view, capture_height=30)[0]
            assert not calls
            level = synth_crop(np.random.default_rng(seed), text="KA1234XX", view=view, capture_height=30,
                               leveled=True)[0]
            [(name, given, angle)] = calls
            assert name == undo and np.array_equal(given, seen) and abs(angle) < 90
            assert np.array_equal(level, getattr(render, name)(seen, angle))


def test_a_leveled_crop_is_off_its_climb_by_at_most_the_leveling_error(fonts, monkeypatch):
    from alpr.training import recognizer_data, render

    angles = []
    for name in ("unturn", "unslant"):
        real = getattr(render, name)
        monkeypatch.setattr(render, name, lambda crop, angle, real=real: angles.append(angle) or real(crop, angle))

    def offsets(error: float) -> list[float]:
        out = []
        for seed in range(16):
            angles.clear()
            made = render.synth_viewed_crop(np.random.default_rng(seed), text="KA1234XX", view="turned",
                                            capture_height=20, leveled=True, leveling_error=error)
            out.append(abs(angles[0] - made.climb))
        return out

    assert max(offsets(0.0)) < 1e-9
    assert max(offsets(2.5)) <= 2.5
    assert max(offsets(render.LEVELING_ERROR)) > 2.5  # the default: the service's grid of angles
    # Training samples take the error they are given.
    given = []
    real_synth_crop = recognizer_data.synth_crop
    monkeypatch.setattr(recognizer_data, "synth_crop", lambda *a, **k: given.append(k["leveling_error"])
                        or real_synth_crop(*a, **k))
    recognizer_data.sample(np.random.default_rng(0), [], 0.0, validation=False, input_size=32,
                           leveled_share=1.0, leveling_error=1.5)
    assert given == [1.5]


def _white_plate_tilt(crop: np.ndarray) -> float | None:
    """Degrees (0..90) the largest white, unsaturated region's long side leans from level;
    None when the lighting left no white region (a plate in deep shadow)."""
    hls = cv2.cvtColor(crop, cv2.COLOR_BGR2HLS)
    white = ((hls[..., 1] > 150) & (hls[..., 2] < 80)).astype(np.uint8)
    contours, _ = cv2.findContours(white, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    (_, _), (w, h), angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    lean = abs(angle if w > h else angle - 90) % 180
    return min(lean, 180 - lean)


def test_leveling_brings_turned_and_slanted_plates_level(fonts):
    for view in ("turned", "slanted"):
        seen, level = [], []
        for seed in range(12):
            crop = synth_crop(np.random.default_rng(seed), text="KA1234XX", view=view, capture_height=60)[0]
            before = _white_plate_tilt(crop)
            crop = synth_crop(np.random.default_rng(seed), text="KA1234XX", view=view, capture_height=60,
                              leveled=True)[0]
            after = _white_plate_tilt(crop)
            if before is not None and after is not None:
                seen.append(before)
                level.append(after)
        assert len(seen) >= 8 and np.median(seen) > 20 and np.median(level) < 10, (view, seen, level)


def test_the_leveled_share_is_the_share_of_steep_views_given_leveled(fonts, monkeypatch):
    from alpr.training import render
    from alpr.training.recognizer_data import sample

    leveled = []
    for name in ("unturn", "unslant"):
        real = getattr(render, name)
        monkeypatch.setattr(render, name, lambda crop, angle, real=real: leveled.append(angle) or real(crop, angle))

    def leveled_count(share: float, n: int = 300) -> int:
        leveled.clear()
        rng = np.random.default_rng(11)
        for _ in range(n):
            sample(rng, [], 0.0, validation=False, input_size=32, leveled_share=share)
        return len(leveled)

    assert leveled_count(0.0) == 0
    # Steep views are 30 % of the rendered crops; all of them, then about half, are leveled.
    assert 60 <= leveled_count(1.0) <= 120
    assert 25 <= leveled_count(0.5) <= 65


def test_a_plate_is_captured_at_its_own_height_not_its_box_height(fonts, monkeypatch):
    from alpr.training import render

    quads, heights = [], []
    warp, degrade = render.warp_plate, render.degrade
    monkeypatch.setattr(render, "warp_plate", lambda plate, quad, *a: quads.append(quad) or warp(plate, quad, *a))
    monkeypatch.setattr(render, "degrade", lambda img, rng, plate_h, *a: heights.append(plate_h) or degrade(
        img, rng, plate_h, *a))
    for view in ("turned", "slanted"):
        for seed in range(4):
            quads.clear()
            synth_crop(np.random.default_rng(seed), text="KA1234XX", view=view, capture_height=20)
            tl, tr, br, bl = quads[-1]
            sides = 0.5 * (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr))
            # Characters as sharp as a level plate 20 px high: the side edges set the capture,
            # not the box, which a turned or slanted plate fills up to four times over.
            assert heights[-1] == pytest.approx(sides, rel=1e-4)
            assert np.ptp(quads[-1][:, 1]) > 1.1 * sides


def test_the_small_share_draws_that_many_more_crops_from_the_small_capture_range(fonts, monkeypatch):
    from alpr.training import render
    from alpr.training.recognizer_data import sample

    captured = []
    degrade = render.degrade
    monkeypatch.setattr(render, "degrade", lambda img, rng, plate_h, low_res: captured.append(low_res) or degrade(
        img, rng, plate_h, low_res))

    def small_count(share: float, n: int = 200) -> int:
        captured.clear()
        rng = np.random.default_rng(5)
        for _ in range(n):
            sample(rng, [], 0.0, validation=False, input_size=32, small_share=share)
        assert len(captured) == n
        return sum(low_res == render.SMALL_CAPTURE_RANGE for low_res in captured)

    assert small_count(0.0) == 0
    assert small_count(1.0) == 200
    assert 75 <= small_count(0.5) <= 125
    # A fixed capture height (validation by height) is never overridden.
    rng = np.random.default_rng(5)
    captured.clear()
    sample(rng, [], 0.0, validation=False, input_size=32, capture_height=40.0, small_share=1.0)
    assert captured == [(40.0, 40.0)]


@pytest.mark.parametrize("family", ["ua-two-line", "foreign"])
def test_designs_render_deterministically_per_family(fonts, family):
    from alpr.training.plate_designs import random_design, render_design
    from alpr.training.render import _font_paths

    def draw(seed: int):
        rng = np.random.default_rng(seed)
        design = random_design(rng, family)
        return design, render_design(design, rng, _font_paths(None), 112).image

    for seed in range(8):
        (d1, a), (d2, b) = draw(seed), draw(seed)
        assert d1 == d2 and a.tobytes() == b.tobytes()
    assert draw(0)[0].text != draw(1)[0].text


def test_each_country_draws_its_own_formats_as_written():
    import re

    from alpr.training.plate_designs import COUNTRIES, random_design

    rng = np.random.default_rng(3)
    seen: dict[str | None, set[str]] = {}
    for _ in range(3000):
        design = random_design(rng, "foreign")
        assert re.fullmatch("[0-9A-Z]{4,9}", design.text)  # no spaces, dashes or marks
        assert design.text == "".join(design.line_texts)
        seen.setdefault(design.band, set()).add(design.text)
    named = {band for band, _, _ in COUNTRIES.values() if band}
    assert named <= set(seen)  # every country's band is drawn


def test_a_ukrainian_square_plate_is_written_region_digits_series(fonts):
    from alpr.plate_formats import LETTERS
    from alpr.training.plate_designs import random_design

    rng = np.random.default_rng(5)
    squares = [d for d in (random_design(rng, "ua-two-line") for _ in range(200)) if len(d.lines[0]) == 2]
    assert squares
    for d in squares:
        top, bottom = d.line_texts
        assert d.text == top[:2] + bottom + top[2:]
        assert set(top) <= set(LETTERS) and bottom.isdigit()
