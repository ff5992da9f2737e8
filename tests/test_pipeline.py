"""Which reads the pipeline reports: Ukrainian-layout reads from the general threshold up,
reads that fit no layout (foreign plates) only when sure."""
from __future__ import annotations

import numpy as np
import pytest

from alpr.detector import BoundingBox, Detection
from alpr.pipeline import Pipeline
from alpr.plate_formats import matching_layout
from alpr.recognizer import Reading
from alpr.status import AlprError, Code
from doubles import CountingReader, OneBoxDetector


class _FixedReader:
    """Reads every crop as the same text at the same confidence."""

    def __init__(self, text: str, confidence: float):
        self.text, self.confidence = text, confidence

    def read(self, crops):
        return [Reading(self.text, self.confidence, (self.confidence,) * len(self.text), self.text,
                        matching_layout(self.text)) for _ in crops]


def _read(text: str, confidence: float) -> list[str]:
    pipeline = Pipeline(OneBoxDetector(), _FixedReader(text, confidence), min_confidence=0.2,
                        min_foreign_confidence=0.5)
    return [p.text for p in pipeline.read(np.zeros((120, 200, 3), np.uint8)).plates]


def test_an_unsure_ukrainian_read_is_reported():
    assert _read("AA8809TI", 0.28) == ["AA8809TI"]


def test_an_unsure_read_outside_every_layout_is_unreadable():
    with pytest.raises(AlprError) as raised:
        _read("0O964EC", 0.29)
    assert raised.value.code == Code.RECOGNITION_FAILED


def test_a_sure_foreign_read_is_reported():
    assert _read("JJF509", 0.8) == ["JJF509"]


def test_below_the_general_threshold_nothing_is_reported():
    with pytest.raises(AlprError):
        _read("AA8809TI", 0.1)


class _ScriptedReader:
    """Gives the reads it was given, in order, one per crop, across calls."""

    def __init__(self, reads: list[tuple[str, float]]):
        self.reads = list(reads)

    def read(self, crops):
        out = []
        for _ in crops:
            text, confidence = self.reads.pop(0)
            out.append(Reading(text, confidence, (confidence,) * len(text), text, matching_layout(text)))
        return out


def _best_read(reads: list[tuple[str, float]], margins: int) -> str:
    pipeline = Pipeline(OneBoxDetector(), _ScriptedReader(reads), min_confidence=0.2,
                        crop_margins=(0.08,) + (0.0,) * (margins - 1), sure_confidence=0.95)
    return pipeline.read(np.zeros((120, 200, 3), np.uint8)).plates[0].text


def test_the_surest_crop_wins_but_never_by_leaving_every_layout():
    # A surer read in a layout wins; a surer one outside every layout does not replace it.
    assert _best_read([("AA1234BB", 0.4), ("AA1234BC", 0.6)], 2) == "AA1234BC"
    assert _best_read([("AA1234BB", 0.4), ("AA124BB", 0.6), ("AA1234BE", 0.5)], 3) == "AA1234BE"
    # A read outside every layout is replaced by any surer read.
    assert _best_read([("WX1234", 0.4), ("WX1234Y", 0.6)], 2) == "WX1234Y"


def test_the_text_most_crops_agree_on_beats_one_surer_crop():
    # One margin's crop takes a dot before the first letter for an I; four others read right.
    reads = [("IB8233XA", 0.68), ("B8233XA", 0.33), ("EB8233XA", 0.3), ("B8233XA", 0.51),
             ("EB8233XA", 0.46), ("B8233XA", 0.51)]
    assert _best_read(reads, 6) == "B8233XA"
    # Agreement is weighed by confidence: two unsure reads do not outvote one sure read.
    assert _best_read([("AA1234BB", 0.2), ("AA1234BC", 0.7), ("AA1234BB", 0.2)], 3) == "AA1234BC"


class _LookingDetector:
    """A junk box in the first look, the plate's box (and the junk again) in the second."""

    junk, plate = BoundingBox(10, 10, 60, 30), BoundingBox(100, 60, 180, 80)

    def __init__(self):
        self.looks_taken = 0

    def looks(self, image):
        for found in ([self.junk], [self.plate, self.junk]):
            self.looks_taken += 1
            yield [Detection(box, 0.5) for box in found]


class _BrightReader:
    """Reads a bright crop as a plate, a dark one as nothing; counts the crops."""

    def __init__(self):
        self.crops = 0

    def read(self, crops):
        self.crops += len(crops)
        return [Reading("AA1234BB", 0.9, (0.9,) * 8, "AA1234BB", "ua") if c.mean() > 128
                else Reading("", 0.0, (), "", None) for c in crops]


def test_a_box_that_reads_as_nothing_does_not_hide_a_plate_a_later_look_finds():
    image = np.zeros((120, 200, 3), np.uint8)
    image[60:80, 100:180] = 255
    detector, reader = _LookingDetector(), _BrightReader()
    plates = Pipeline(detector, reader, min_confidence=0.3).read(image).plates
    assert [(p.text, p.box) for p in plates] == [("AA1234BB", _LookingDetector.plate)]
    assert detector.looks_taken == 2 and reader.crops == 2  # the junk box is read once


def test_no_later_look_once_a_box_reads():
    image = np.full((120, 200, 3), 255, np.uint8)
    detector = _LookingDetector()
    assert Pipeline(detector, _BrightReader(), min_confidence=0.3).read(image).plates
    assert detector.looks_taken == 1


class _RefindingDetector:
    """A box at 0.45, the same box again at 0.8 (a larger look), then a look elsewhere."""

    box = BoundingBox(10, 10, 60, 30)

    def __init__(self):
        self.looks_taken = 0

    def looks(self, image):
        for found in ([Detection(self.box, 0.45)], [Detection(self.box, 0.8)],
                      [Detection(BoundingBox(100, 60, 180, 80), 0.3)]):
            self.looks_taken += 1
            yield found


def test_a_box_found_again_more_surely_is_not_read_again_and_the_looks_go_on():
    image = np.zeros((120, 200, 3), np.uint8)
    image[60:80, 100:180] = 255  # only the last look's box reads
    detector, reader = _RefindingDetector(), _BrightReader()
    plates = Pipeline(detector, reader, min_confidence=0.3, found_box=0.5).read(image).plates
    assert [p.box for p in plates] == [BoundingBox(100, 60, 180, 80)]
    assert detector.looks_taken == 3 and reader.crops == 2  # the first box is read once


def test_a_sure_read_of_any_layout_ends_the_search_for_its_box():
    # A sure foreign read costs one crop, as a sure Ukrainian one does; an unsure one reads on.
    for text, confidence, crops in (("WX12345", 0.97, 1), ("AA1234BB", 0.97, 1), ("WX12345", 0.8, 3)):
        reader = CountingReader(_FixedReader(text, confidence))
        pipeline = Pipeline(OneBoxDetector(), reader, min_confidence=0.2, min_foreign_confidence=0.5,
                            crop_margins=(0.08, 0.0, 0.16), sure_confidence=0.95)
        assert pipeline.read(np.zeros((120, 200, 3), np.uint8)).plates[0].text == text
        assert reader.crops == crops, (text, confidence)


class _LineReader(_FixedReader):
    """Reads a whole crop as `text`, and a crop cut into lines as `lines` (its layout given)."""

    def __init__(self, text: str, confidence: float, lines: Reading, reads_lines: bool = True):
        super().__init__(text, confidence)
        self.lines, self.reads_lines, self.line_calls = lines, reads_lines, 0

    def read_two_lines(self, crops):
        self.line_calls += 1
        return [self.lines for _ in crops]


SQUARE = Reading("AP7007ET", 0.4, (0.4,) * 8, "APET/7007", "ua-two-line")


def _lines_pipeline(reader: _LineReader, box_width: float) -> Pipeline:
    class Box:
        def detect(self, image):
            return [Detection(BoundingBox(10, 10, 10 + box_width, 60), 0.9)]

    return Pipeline(Box(), reader, min_confidence=0.2, min_foreign_confidence=0.5, sure_confidence=0.95)


def test_a_squarish_box_read_as_two_ukrainian_lines_answers_them_with_their_layout():
    reader = _LineReader("AOG7", 0.6, SQUARE)
    plate = _lines_pipeline(reader, 100).read(np.zeros((120, 200, 3), np.uint8)).plates[0]
    assert (plate.text, plate.layout, plate.confidence) == ("AP7007ET", "ua-two-line", 0.4)


def test_lines_are_read_only_by_a_reader_trained_on_them_and_only_in_squarish_boxes():
    for reader, width in ((_LineReader("AOG7", 0.6, SQUARE, reads_lines=False), 100),
                          (_LineReader("AOG7", 0.6, SQUARE), 180)):  # a one-line plate's box
        plate = _lines_pipeline(reader, width).read(np.zeros((120, 200, 3), np.uint8)).plates[0]
        assert plate.text == "AOG7" and reader.line_calls == 0


def test_a_whole_read_that_fits_a_layout_keeps_its_place_over_surer_foreign_lines():
    lines = Reading("ABC123", 0.9, (0.9,) * 6, "ABC/123", None)
    plate = _lines_pipeline(_LineReader("AA8809TI", 0.5, lines), 100).read(np.zeros((120, 200, 3), np.uint8)).plates[0]
    assert plate.text == "AA8809TI"


class _ScoredBox:
    """Finds one box, scored `score`."""

    def __init__(self, score: float):
        self.score = score

    def detect(self, image):
        return [Detection(BoundingBox(60, 48, 140, 72), self.score)]


def _foreign_read(first: tuple[str, float], views: list[tuple[str, float]],
                  box_score: float = 0.9) -> tuple[str, float, int]:
    """The answer of a box (scored `box_score`) the reader reads as `first`, and the foreign
    reader's views of it read as `views`; with how many crops the foreign reader read."""
    foreign = CountingReader(_ScriptedReader(views))
    pipeline = Pipeline(_ScoredBox(box_score), _ScriptedReader([first]), min_confidence=0.2, min_foreign_confidence=0.3,
                        sure_confidence=0.95, foreign_reader=foreign, foreign_margins=(0.0, 0.16))
    plate = pipeline.read(np.zeros((120, 200, 3), np.uint8)).plates[0]
    return plate.text, round(plate.confidence, 4), foreign.crops


def test_a_foreign_read_is_as_sure_as_its_views_agree():
    # Three views that agree: their mean confidence.
    assert _foreign_read(("WX12345", 0.93), [("WX12345", 0.9), ("WX12345", 0.96)]) == ("WX12345", 0.93, 2)
    # One sure view outvoted by two that agree: their text, at their support over three views.
    assert _foreign_read(("WX1Z345", 0.94), [("WX12345", 0.6), ("WX12345", 0.7)]) == ("WX12345", 0.4333, 2)
    # A sure single view the others do not confirm is no longer sure.
    text, confidence, _ = _foreign_read(("LHJ663", 0.94), [("LWJ663", 0.5), ("LHJ6G3", 0.4)])
    assert text == "LHJ663" and confidence < 0.9


def test_a_sure_single_foreign_read_is_checked_too_and_a_ukrainian_read_is_not():
    assert _foreign_read(("RDN464", 0.97), [("RON464", 0.9), ("RDN464", 0.96)]) == ("RDN464", 0.6433, 2)
    assert _foreign_read(("AA1234BB", 0.6), [])[2] == 0


def test_a_foreign_read_from_a_box_the_detector_doubts_is_as_sure_as_the_box():
    # Under FOUND_BOX (0.5) the box's score scales the views' agreement: a sign's word read
    # the same from every margin is not a sure plate. A Ukrainian layout needs no such help.
    views = [("ONLY", 0.95), ("ONLY", 0.95)]
    assert _foreign_read(("ONLY", 0.95), views, box_score=0.35) == ("ONLY", 0.665, 2)
    assert _foreign_read(("ONLY", 0.95), views, box_score=0.5) == ("ONLY", 0.95, 2)
    assert _foreign_read(("AA1234BB", 0.95), [], box_score=0.35)[:2] == ("AA1234BB", 0.95)


class _TwoLineForeignReader(_ScriptedReader):
    """Reads whole crops as scripted, and every crop as the two lines `lines`."""

    reads_lines = True

    def __init__(self, reads, lines: Reading):
        super().__init__(reads)
        self.lines, self.line_crops = lines, 0

    def read_two_lines(self, crops):
        self.line_crops += len(crops)
        return [self.lines for _ in crops]


def test_a_plate_answered_by_its_lines_is_checked_by_its_lines_at_the_other_margins():
    lines = Reading("MDA934", 0.9, (0.9,) * 6, "MDA/934", None)
    reader = _TwoLineForeignReader([("634", 0.5)], lines)
    foreign = _TwoLineForeignReader([], lines)
    pipeline = Pipeline(_lines_pipeline(reader, 100).detector, reader, min_confidence=0.2, min_foreign_confidence=0.3,
                        sure_confidence=0.95, foreign_reader=foreign, foreign_margins=(0.0, 0.16))
    plate = pipeline.read(np.zeros((120, 200, 3), np.uint8)).plates[0]
    assert (plate.text, round(plate.confidence, 4)) == ("MDA934", 0.9)
    assert foreign.line_crops == 2 and foreign.reads == []
