"""Which reads the pipeline reports: Ukrainian-layout reads from the general threshold up,
reads that fit no layout (foreign plates) only when sure."""
from __future__ import annotations

import numpy as np
import pytest

from alpr.pipeline import Pipeline
from alpr.plate_formats import matching_layout
from alpr.recognizer import Reading
from alpr.status import AlprError, Code
from doubles import OneBoxDetector


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
