"""Stand-ins for a pipeline stage, where a test exercises what lies around it. Light on
imports: the Lambda subprocess tests load this before the service sets up Ultralytics."""
from __future__ import annotations

from alpr.detector import BoundingBox, Detection


class OneBoxDetector:
    """Finds one box in the middle of any image: lets the reading stage run on any photo."""

    def detect(self, image):
        h, w = image.shape[:2]
        return [Detection(BoundingBox(w * 0.3, h * 0.4, w * 0.7, h * 0.6), 0.9)]


class CountingReader:
    """A reader passed through, counting the crops it is given."""

    def __init__(self, inner):
        self.inner, self.crops = inner, 0

    def read(self, crops):
        self.crops += len(crops)
        return self.inner.read(crops)
