"""detect → crop → read → rank: the one recognition path behind every entry point."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Protocol, Sequence

import numpy as np

from .ctc import Candidate
from .detector import BoundingBox, Detection
from .leveling import leveled_views
from .metrics import box_intersection, box_iou
from .plate_formats import FOREIGN
from .recognizer import Reading, agreed_read, agreed_views
from .regions import region_of
from .search import FOUND_BOX
from .status import AlprError, Code
from .two_line import may_hold_two_lines

# Margin added around each box before cropping, as a share of the box's size: detector
# boxes are often a little tight, and the reader is trained on crops like these.
CROP_MARGIN = 0.06
# No plate layout the reader knows has fewer characters; shorter reads are fragments.
MIN_PLATE_CHARS = 4


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Detection]: ...


def _looks(detector: Detector, image: np.ndarray) -> Iterator[list[Detection]]:
    """The detector's looks, cheapest first; a detector without `looks` has one."""
    looks = getattr(detector, "looks", None)
    if looks is not None:
        yield from looks(image)
    else:
        yield detector.detect(image)


class Recognizer(Protocol):
    def read(self, crops: Sequence[np.ndarray]) -> list[Reading]: ...


@dataclass(frozen=True)
class PlateResult:
    box: BoundingBox
    detection_score: float
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    layout: str                # plate_formats.LAYOUT_NAMES
    region: str | None         # what a Ukrainian plate's region letters stand for
    reading: Reading = field(repr=False, compare=False)

    @classmethod
    def of(cls, detection: Detection, reading: Reading) -> "PlateResult":
        layout = reading.layout or FOREIGN
        return cls(detection.box, detection.score, reading.text, reading.confidence,
                   reading.char_confidences, layout, region_of(reading.text, layout), reading)

    @cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        """Up to three readings, most likely first, the first `text`: searched only when
        asked for (the detail answer), as it costs about as much as a read."""
        return self.reading.candidates()

    def as_dict(self) -> dict:
        return {
            "box": self.box.as_list(),
            "detection_score": round(self.detection_score, 4),
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "char_confidences": list(self.char_confidences),
            "layout": self.layout,
            "region": self.region,
            "candidates": [c.as_dict() for c in self.candidates],
        }


@dataclass
class PipelineOutput:
    plates: list[PlateResult]                      # best first
    timings_ms: dict[str, float] = field(default_factory=dict)


def crop(image: np.ndarray, box: BoundingBox, margin: float = CROP_MARGIN) -> np.ndarray:
    height, width = image.shape[:2]
    dx, dy = box.width * margin, box.height * margin
    x1, y1 = max(0, int(box.x1 - dx)), max(0, int(box.y1 - dy))
    x2, y2 = min(width, int(np.ceil(box.x2 + dx))), min(height, int(np.ceil(box.y2 + dy)))
    return image[y1:y2, x1:x2]


class Pipeline:
    def __init__(self, detector: Detector, recognizer: Recognizer, min_confidence: float = 0.0,
                 crop_margins: Sequence[float] = (CROP_MARGIN,),
                 sure_confidence: float = float("inf"), min_foreign_confidence: float = 0.0,
                 turn_angles: Sequence[float] = (), slant_angles: Sequence[float] = (),
                 found_box: float = float("inf"), foreign_reader: Recognizer | None = None,
                 foreign_margins: Sequence[float] = ()):
        self.detector = detector
        self.recognizer = recognizer
        self.min_confidence = min_confidence
        # A read that fits no Ukrainian layout passes only this sure: format-aware decoding
        # already turned unsure reads into layouts, so an unsure one left outside them is
        # mostly a foreign plate with letters the alphabet lacks, read wrong.
        self.min_foreign_confidence = max(min_foreign_confidence, min_confidence)
        # Each box is read from a crop per margin and its most confident read kept: a box a
        # little off cuts or pads the plate, and one of the crops usually fits. The first
        # margin is read first; a read at least `sure_confidence` sure, of any layout, stands
        # without the others (most plates: one crop instead of six); by default every
        # margin is read.
        self.crop_margins = tuple(crop_margins) or (CROP_MARGIN,)
        self.sure_confidence = sure_confidence
        # A box still unsure after every margin is read once more from its first crop turned
        # back by each turn angle and sheared back by each slant angle (a plate turned in the
        # picture, or seen from the side: alpr.leveling).
        self.turn_angles, self.slant_angles = tuple(turn_angles), tuple(slant_angles)
        # The detector's later looks are for plates the earlier ones missed: once a box this
        # confident was found, they stop even when its read failed.
        self.found_box = found_box
        # A box read as no Ukrainian layout is read again by `foreign_reader` from each of
        # `foreign_margins`, and answered as those views agree (agreed_views): a foreign
        # plate's single read is often sure and wrong.
        self.foreign_reader = foreign_reader
        self.foreign_margins = tuple(foreign_margins) if foreign_reader is not None else ()

    def read(self, image: np.ndarray) -> PipelineOutput:
        """Raises AlprError 4 (no plate), 5 (detector failed) or 6 (nothing readable).
        The detector's looks (PlateDetector.looks) are taken one by one until a box reads
        as a plate: a box on something else that reads as nothing must not hide a plate
        that only a later look finds (`ua-AA8809TI.jpg` saved at JPEG quality 40: the first
        look boxes a patch of leaves, and only the tiles find the plate)."""
        timings = {"detect": 0.0, "read": 0.0}
        detections: list[Detection] = []
        readings: list[Reading] = []
        looks = _looks(self.detector, image)
        # Only the score a box had when it was first read counts towards found_box: a box a
        # later look finds again more surely does not end the search, because the sheared
        # looks box a steep plate otherwise and read it (scripts/photo_checks.py steep: 209
        # right of 284 this way, 205 when a box found again ends it).
        while not any(self.reports(r) for r in readings) and not any(
                d.score >= self.found_box for d in detections):
            start = time.perf_counter()
            try:
                found = next(looks, None)
            except Exception as exc:
                raise AlprError(Code.DETECTION_FAILED, f"{type(exc).__name__}: {exc}") from exc
            timings["detect"] += (time.perf_counter() - start) * 1000
            if found is None:
                break
            new = [d for d in found if d.box.width >= 2 and d.box.height >= 2
                   and not any(box_iou(d.box.as_list(), seen.box.as_list()) > 0.5 for seen in detections)]
            if not new:
                continue
            start = time.perf_counter()
            try:
                readings += self.read_boxes(image, new)
            except Exception as exc:
                raise AlprError(Code.RECOGNITION_FAILED, f"{type(exc).__name__}: {exc}") from exc
            timings["read"] += (time.perf_counter() - start) * 1000
            detections += new
        if not detections:
            raise AlprError(Code.NO_PLATE)

        plates = without_parts([PlateResult.of(d, r) for d, r in zip(detections, readings) if self.reports(r)])
        if not plates:
            raise AlprError(Code.RECOGNITION_FAILED, "no usable read")
        plates.sort(key=lambda p: p.confidence, reverse=True)
        return PipelineOutput(plates, timings)

    def reports(self, reading: Reading) -> bool:
        """Whether a read is answered as a plate (else it counts as unreadable)."""
        floor = self.min_confidence if reading.layout else self.min_foreign_confidence
        return len(reading.text) >= MIN_PLATE_CHARS and reading.confidence >= floor

    def read_boxes(self, image: np.ndarray, detections: list[Detection]) -> list[Reading]:
        """Each box's agreed read (agreed_read) over the crop margins, then over the leveled
        views of its first crop (four batches at most; a sure read stops at the first). With
        a reader trained on lines, an unsure box shaped like a two-line plate is also read
        line by line, and that read stands when it fits a Ukrainian layout and the whole read
        does not, or else when it is surer."""
        first, *others = self.crop_margins
        firsts = [crop(image, d.box, first) for d in detections]
        pools = [[r] for r in self.recognizer.read(firsts)]
        unsure = self._unsure(pools)
        squarish = [i for i in unsure if may_hold_two_lines(detections[i].box.width, detections[i].box.height)]
        lined: set[int] = set()  # boxes answered by their lines
        if squarish and getattr(self.recognizer, "reads_lines", False):
            for i, lines in zip(squarish, self.recognizer.read_two_lines([firsts[i] for i in squarish])):
                whole = pools[i][0]
                # As in agreed_read, a read that fits a Ukrainian layout outvotes one that does not.
                if len(lines.text) >= MIN_PLATE_CHARS and (
                        (lines.layout is not None, lines.confidence) > (whole.layout is not None, whole.confidence)):
                    pools[i] = [lines]
                    lined.add(i)
            unsure = self._unsure(pools)
        foreign = [i for i, pool in enumerate(pools) if agreed_read(pool).layout is None] if self.foreign_margins else []
        if foreign:
            self._foreign_views(image, detections, pools, foreign, lined)
            unsure = self._unsure(pools)
        if unsure and others:
            more = self.recognizer.read([crop(image, detections[i].box, m) for i in unsure for m in others])
            _pool(pools, unsure, more)
            unsure = self._unsure(pools)
        if unsure and (self.turn_angles or self.slant_angles):
            more = self.recognizer.read([view for i in unsure for view in leveled_views(
                firsts[i], self.turn_angles, self.slant_angles)])
            _pool(pools, unsure, more)
        return [agreed_read(pool) for pool in pools]

    def _foreign_views(self, image: np.ndarray, detections: list[Detection], pools: list[list[Reading]],
                       foreign: list[int], lined: set[int]) -> None:
        """Each box of `foreign` read again by the foreign reader from each foreign margin, as
        its first read was (whole, or as two lines), and its pool replaced by the read those
        views agree on (agreed_views), times the box's detector score over FOUND_BOX where it
        is lower: a Ukrainian read shows by its layout that its box holds a plate, a foreign
        read has only the detector to say so (real photos: 2 of 6 foreign reads right from
        boxes scored under FOUND_BOX, 219 of 280 from boxes scored 0.7 and up; a sign's
        `ONLY` at 0.95 above the plate)."""
        for as_lines in (False, True):
            these = [i for i in foreign if (i in lined) == as_lines]
            if not these:
                continue
            read = self.foreign_reader.read_two_lines if as_lines else self.foreign_reader.read
            _pool(pools, these, read([crop(image, detections[i].box, m) for i in these for m in self.foreign_margins]))
            for i in these:
                pools[i] = [agreed_views(pools[i]).scaled(min(1.0, detections[i].score / FOUND_BOX))]

    def _unsure(self, pools: list[list[Reading]]) -> list[int]:
        readings = [agreed_read(pool) for pool in pools]
        return [i for i, r in enumerate(readings) if r.confidence < self.sure_confidence]


def without_parts(plates: list[PlateResult]) -> list[PlateResult]:
    """The plates but those that are part of another: a box mostly inside another plate's box
    whose read is part of that plate's read is the same plate boxed in part (a copy of
    `ua-19-BC9911BK` tilted: `9911BK` at 0.999 from a box on its right end, above the whole
    plate's `BC9911BK`)."""
    def part_of(p: PlateResult, whole: PlateResult) -> bool:
        inside = box_intersection(p.box.as_list(), whole.box.as_list())
        return len(p.text) < len(whole.text) and p.text in whole.text and inside >= 0.5 * p.box.width * p.box.height > 0

    return [p for p in plates if not any(part_of(p, q) for q in plates if q is not p)]


def _pool(pools: list[list[Reading]], indices: list[int], more: list[Reading]) -> None:
    """Add `more` (the same number of reads per index, in order) to the pools of `indices`."""
    n = len(more) // len(indices)
    for k, i in enumerate(indices):
        pools[i].extend(more[k * n:(k + 1) * n])
