"""The Ukrainian and Latin readers composed by rules (alpr.reader_pair): the rules one by one,
then the shipped readers on plates the tests render, alone and through the API."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from alpr.api import create_app
from alpr.config import Settings
from alpr.detector import BoundingBox, Detection
from alpr.models import ModelHolder
from alpr.pipeline import PlateResult, without_parts
from alpr.plate_formats import LATIN_ALPHABET, matching_layout
from alpr.reader_pair import UKRAINIAN_UNCHECKED, ReaderPair, checked, choose
from alpr.recognizer import PlateRecognizer, Reading, agreed_views
from alpr.training.plate_designs import COUNTRIES, Design, render_design
from alpr.training.render import find_fonts, render_plate
from conftest import SHARED, SHIPPED_DETECTOR, SHIPPED_LATIN_READER, SHIPPED_RECOGNIZER, LiveServer, encode, needs_fonts
from doubles import CountingReader
from test_shipped_models import street_scene


def reading(text: str, confidence: float) -> Reading:
    return Reading(text, confidence, (confidence,) * len(text), text, matching_layout(text))


@pytest.mark.parametrize("ukrainian, latin, kept", [
    (("AA1234BB", 0.6), ("AA1234BB", 0.8), ("AA1234BB", 0.8)),   # the same text: the surer read
    (("AA1234BB", 0.3), ("WGM1234", 0.5), ("AA1234BB", 0.3)),    # a foreign read under the floor
    (("AA1234BB", 0.56), ("EE7425", 0.8), ("AA1234BB", 0.56)),   # not twice as sure: the current layout stands
    (("AA1234BB", 0.4), ("WGM1234", 0.85), ("WGM1234", 0.85)),   # twice as sure: the foreign read
    (("B0894IA", 0.75), ("B089414", 0.8), ("B089414", 0.8)),     # an old layout: the surer read
    (("B0894IA", 0.85), ("B089414", 0.8), ("B0894IA", 0.85)),
    (("B8233XA", 0.6), ("88233XA", 0.9), ("B8233XA", 0.6)),      # both fit a layout: the Ukrainian one
    (("BE7425CB", 0.2), ("BE7425", 0.9), ("BE7425CB", 0.2)),     # the Latin read lost the ends
    (("BX0578C", 0.5), ("BX057", 0.9), ("BX0578C", 0.5)),
    (("B144MOC", 0.9), ("B144MOS", 0.4), ("B144MOS", 0.4)),      # no Ukrainian layout: the Latin read
    (("A1234", 0.9), ("AB1234CE", 0.5), ("AB1234CE", 0.5)),
])
def test_choose_keeps_the_read_its_rule_names(ukrainian, latin, kept):
    chosen = choose(reading(*ukrainian), reading(*latin))
    assert (chosen.text, chosen.confidence) == kept


def test_a_foreign_read_under_the_floor_keeps_out_only_a_ukrainian_read_that_would_be_answered():
    ukrainian, latin = reading("B0894IA", 0.5), reading("B089414", 0.75)
    assert choose(ukrainian, latin, min_foreign_confidence=0.7).text == "B089414"
    assert choose(ukrainian, latin, min_foreign_confidence=0.8).text == "B0894IA"
    # A Ukrainian read the pipeline would not answer does not keep a surer foreign read out.
    unanswered, foreign = reading("KM0510IC", 0.01), reading("NOSMUG", 0.59)
    assert choose(unanswered, foreign, min_ukrainian_confidence=0.3).text == "NOSMUG"
    assert choose(unanswered, foreign, min_ukrainian_confidence=0.0).text == "KM0510IC"


@pytest.mark.parametrize("latin, confidence", [
    (("AM5696CK", 0.9), 0.95 * 0.95 / 1.85),   # another Ukrainian number: its share of the two
    (("AH5696CK", 0.9), 0.95),                 # the same read
    (("H5696CK", 0.9), 0.95),                  # part of it: the Latin reader dropped an end
    (("AH5696", 0.9), 0.95),
    (("RH5696CX", 0.9), 0.95),                 # a foreign read: no Ukrainian number against it
])
def test_a_standing_ukrainian_read_is_as_sure_as_the_latin_reader_lets_it_be(latin, confidence):
    kept = checked(reading("AH5696CK", 0.95), reading(*latin))
    assert (kept.text, kept.confidence) == ("AH5696CK", pytest.approx(confidence))


@pytest.fixture(scope="module")
def pair() -> tuple[ReaderPair, CountingReader]:
    latin = CountingReader(PlateRecognizer.from_checkpoint(SHIPPED_LATIN_READER))
    return ReaderPair(PlateRecognizer.from_checkpoint(SHIPPED_RECOGNIZER), latin), latin


def test_the_shipped_latin_reader_reads_all_26_letters(pair):
    assert pair[0].latin.inner.alphabet == LATIN_ALPHABET


@needs_fonts
def test_a_very_sure_ukrainian_read_stands_without_the_latin_reader(pair):
    reader, latin = pair
    before = latin.crops
    read = reader.read([render_plate("AI5255EI", np.random.default_rng(7))])[0]
    assert (read.text, read.layout) == ("AI5255EI", "ua") and read.confidence >= UKRAINIAN_UNCHECKED
    assert latin.crops == before


def foreign_plate(country: str, text_lines: tuple[str, ...], seed: int) -> tuple[np.ndarray, str]:
    """A rendered one-line plate of `country`'s design (alpr.training.plate_designs)."""
    band = COUNTRIES[country][0]
    design = Design("foreign", (text_lines,), ((" ",) * (len(text_lines) - 1),), band, (500.0, 112.0))
    return render_design(design, np.random.default_rng(seed), tuple(str(f) for f in find_fonts()), 60).image, "".join(text_lines)


# Plates as Ukrainian roads see them: Polish, Moldovan, Romanian, Lithuanian, Georgian, German.
FOREIGN_PLATES = [("PL", ("WGM", "1234F")), ("MD", ("KGA", "731")), ("RO", ("B", "144", "MOS")),
                  ("LT", ("JJF", "509")), ("GE", ("OO", "964", "GG")), ("DE", ("MQR", "4571"))]


@needs_fonts
@pytest.mark.parametrize("country, text_lines", FOREIGN_PLATES, ids=[c for c, _ in FOREIGN_PLATES])
def test_a_rendered_foreign_plate_is_read_as_written_and_not_as_a_ukrainian_number(pair, country, text_lines):
    plate, text = foreign_plate(country, text_lines, seed=3)
    read = pair[0].read([plate])[0]
    assert read.text == text
    assert read.layout is None  # answered as foreign


@needs_fonts
def test_the_api_answers_a_foreign_plate_as_foreign_and_a_ukrainian_one_as_ukrainian(live_server):
    rng = np.random.default_rng(11)
    settings = Settings(detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(SHIPPED_RECOGNIZER),
                        latin_reader_weights=str(SHIPPED_LATIN_READER), device="cpu")
    answers = {}
    with live_server(create_app(settings)) as server:
        for name, (plate, text) in {"foreign": foreign_plate("PL", ("WGM", "1234F"), 5),
                                    "ua": (render_plate("AI5255EI", rng), "AI5255EI")}.items():
            scene = street_scene(rng)
            h, w = plate.shape[:2]
            small = cv2.resize(plate, (260, round(h * 260 / w)), interpolation=cv2.INTER_AREA)
            scene[420:420 + small.shape[0], 500:760] = small
            response = requests.post(f"{server.url}/recognize?detail=1",
                                     files={"image": ("scene.png", encode(scene, "PNG"))}, timeout=120)
            answers[name] = (response.status_code, response.json(), text)
    for layout, (status, answer, text) in answers.items():
        assert status == 200 and answer["code"] == 0, answer
        assert answer["plate"] == text
        assert answer["plates"][0]["layout"] == layout
    assert answers["foreign"][1]["plates"][0]["region"] is None


def test_without_the_latin_reader_the_ukrainian_reader_serves_alone():
    settings = Settings.from_env({"ALPR_LATIN_READER_WEIGHTS": "none"})
    assert settings.latin_reader_weights is None
    assert isinstance(ModelHolder(dataclasses.replace(settings, device="cpu")).get().recognizer, PlateRecognizer)


def test_a_missing_latin_reader_answers_code_8_and_health_stays_up(live_server, tmp_path, photo_bytes):
    settings = Settings(detector_weights=str(SHIPPED_DETECTOR), recognizer_weights=str(SHIPPED_RECOGNIZER),
                        latin_reader_weights=str(tmp_path / "gone.pth"), device="cpu")
    with live_server(create_app(settings)) as server:
        answer = requests.post(f"{server.url}/recognize", files={"image": ("p.jpg", photo_bytes)}, timeout=60).json()
        health = requests.get(f"{server.url}/health", timeout=10)
    assert answer["code"] == 8
    assert health.status_code == 200


def test_a_plate_boxed_in_part_is_answered_once_as_the_whole_plate():
    whole = PlateResult.of(Detection(BoundingBox(100, 100, 300, 150), 0.8), reading("BC9911BK", 0.99))
    part = PlateResult.of(Detection(BoundingBox(180, 102, 300, 148), 0.4), reading("9911BK", 0.999))
    elsewhere = PlateResult.of(Detection(BoundingBox(500, 100, 620, 150), 0.7), reading("9911BK", 0.95))
    assert without_parts([part, whole, elsewhere]) == [whole, elsewhere]
    other_text = PlateResult.of(Detection(BoundingBox(180, 102, 300, 148), 0.4), reading("KGA731", 0.9))
    assert without_parts([whole, other_text]) == [whole, other_text]


def shipped_answer(photo: Path) -> dict:
    """The service's answer to a real photo, through a real HTTP server on loopback."""
    with LiveServer(create_app(dataclasses.replace(Settings.from_env({}), device="cpu"))) as server:
        response = requests.post(f"{server.url}/recognize?detail=1",
                                 files={"image": (photo.name, photo.read_bytes())}, timeout=120)
    assert response.status_code == 200
    return response.json()


@pytest.mark.skipif(not (SHARED / "ua-real").is_dir(), reason="../shared/datasets/ua-real not available")
@pytest.mark.parametrize("name, text", [("foreign-two-line-MDA934.jpg", "MDA934"),
                                        ("foreign-moto-BRAT31.jpg", "BRAT31")])
def test_a_real_two_line_foreign_plate_is_read_line_by_line_as_written(name, text):
    answer = shipped_answer(SHARED / "ua-real" / name)
    assert answer["code"] == 0 and answer["plate"] == text
    assert answer["plates"][0]["layout"] == "foreign"


@pytest.mark.skipif(not (SHARED / "ua-real").is_dir(), reason="../shared/datasets/ua-real not available")
def test_a_real_ukrainian_plate_the_readers_read_differently_is_not_answered_sure():
    # The Ukrainian reader reads `AM5696CK` as `AH5696CK` at 0.96; the Latin reader reads
    # `AM5696CK`: the two disagree, so no sure answer is wrong.
    answer = shipped_answer(SHARED / "ua-real" / "ua-24-AM5696CK.jpg")
    assert answer["code"] == 0 and answer["plates"][0]["layout"] == "ua"
    assert answer["plate"] == "AM5696CK" or answer["confidence"] < 0.9


@pytest.mark.skipif(not (SHARED / "dev-images").is_dir(), reason="../shared/datasets/dev-images not available")
def test_the_real_georgian_lithuanian_and_polish_plates_are_read_as_written():
    answer = shipped_answer(SHARED / "dev-images" / "georgia-OO964GG.jpg")
    assert answer["code"] == 0 and answer["plate"] == "OO964GG"
    assert answer["plates"][0]["layout"] == "foreign" and answer["plates"][0]["region"] is None
    candidates = answer["plates"][0]["candidates"]  # the read first, the others less likely
    assert candidates[0] == {"text": "OO964GG", "confidence": answer["plates"][0]["confidence"]}
    assert [c["confidence"] for c in candidates] == sorted((c["confidence"] for c in candidates), reverse=True)
    answer = shipped_answer(SHARED / "dev-images" / "two-plates-JJF509-RP70012.jpg")
    assert {p["text"] for p in answer["plates"]} == {"JJF509", "RP70012"}
    assert {p["layout"] for p in answer["plates"]} == {"foreign"}


@needs_fonts
def test_a_foreign_read_checked_by_its_views_keeps_its_candidates_in_the_same_measure(pair):
    plate, text = foreign_plate("LT", ("JJF", "509"), seed=4)
    view = pair[0].latin.inner.read([plate])[0]
    agreed = agreed_views([view, reading("JJF5O9", 0.4), reading("JJE509", 0.3)])
    assert (agreed.text, agreed.confidence) == (text, pytest.approx(view.confidence / 3))
    alone, checked = view.candidates(), agreed.candidates()
    assert checked[0].confidence == agreed.confidence
    assert [c.text for c in checked] == [c.text for c in alone] and len(alone) > 1
    for a, c in zip(alone[1:], checked[1:]):
        assert c.confidence == pytest.approx(a.confidence / 3)
