"""YOLO plate detector: BGR image in, plate boxes in the image's own pixels out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .yolo_env import prepare_ultralytics


@dataclass(frozen=True)
class BoundingBox:
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_list(self) -> list[int]:
        return [int(round(v)) for v in (self.x1, self.y1, self.x2, self.y2)]


@dataclass(frozen=True)
class Detection:
    box: BoundingBox
    score: float


class PlateDetector:
    """Wraps an Ultralytics checkpoint with one class, plate."""

    def __init__(self, weights: str | Path, device: str = "cpu", imgsz: int = 640, conf: float = 0.25):
        prepare_ultralytics()
        from ultralytics import YOLO  # heavy import, deferred to first model load

        if not Path(weights).is_file():
            raise FileNotFoundError(f"detector weights not found: {weights}")
        self.model = YOLO(str(weights), task="detect")
        self.model.to(device)
        self.device = device
        self.imgsz = imgsz
        self.conf = conf

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Boxes sorted by score, highest first. Ultralytics letterboxes the full image
        to `imgsz` and maps boxes back to the original resolution."""
        result = self.model.predict(
            image, imgsz=self.imgsz, conf=self.conf, device=self.device, verbose=False
        )[0]
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy()
        scores = boxes.conf.cpu().numpy()
        detections = [
            Detection(BoundingBox(*map(float, xyxy[i])), float(scores[i])) for i in range(len(scores))
        ]
        return sorted(detections, key=lambda d: d.score, reverse=True)
