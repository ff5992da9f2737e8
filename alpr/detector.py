"""YOLO plate detector: BGR image in, plate boxes in the image's own pixels out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision

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


def letterbox(image: np.ndarray, size: int, stride: int = 32) -> tuple[np.ndarray, float, int, int]:
    """Scales the longer side to `size` and pads the shorter one up to a multiple of `stride`
    (rectangular inference: a 4:3 photo costs 640×480, not 640×640). Returns the padded
    image, the scale and the left/top padding, to map boxes back to the original."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_w, pad_h = (-new_w) % stride, (-new_h) % stride
    left, top = pad_w // 2, pad_h // 2
    padded = cv2.copyMakeBorder(image, top, pad_h - top, left, pad_w - left,
                                cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return padded, scale, left, top


class PlateDetector:
    """An Ultralytics checkpoint with one class, plate. Ultralytics loads it; inference runs
    the network directly (letterbox → forward → NMS), which skips the predictor's per-call
    set-up and keeps the first request as fast as the rest."""

    def __init__(self, weights: str | Path, device: str = "cpu", imgsz: int = 640,
                 conf: float = 0.25, iou: float = 0.5, max_det: int = 20):
        prepare_ultralytics()
        from ultralytics import YOLO  # heavy import, deferred to first model load

        if not Path(weights).is_file():
            raise FileNotFoundError(f"detector weights not found: {weights}")
        model = YOLO(str(weights), task="detect").model
        self.net = model.float().fuse(verbose=False).eval().to(device)
        self.stride = int(max(model.stride))
        self.device = device
        self.imgsz, self.conf, self.iou, self.max_det = imgsz, conf, iou, max_det

    @torch.inference_mode()
    def detect(self, image: np.ndarray) -> list[Detection]:
        """Boxes in the original image's pixels, highest score first."""
        padded, scale, left, top = letterbox(image, self.imgsz, self.stride)
        tensor = torch.from_numpy(np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1)))
        tensor = tensor.to(self.device).float().div_(255.0)[None]
        prediction = self.net(tensor)
        prediction = prediction[0] if isinstance(prediction, (list, tuple)) else prediction
        prediction = prediction[0].T  # anchors × (cx, cy, w, h, score)
        scores = prediction[:, 4]
        keep = scores > self.conf
        centres, sizes, scores = prediction[keep, :2], prediction[keep, 2:4], scores[keep]
        boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=1)
        order = torchvision.ops.nms(boxes, scores, self.iou)[: self.max_det]
        boxes = boxes[order].cpu().numpy()
        scores = scores[order].cpu().numpy()
        height, width = image.shape[:2]
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - left) / scale).clip(0, width)
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - top) / scale).clip(0, height)
        return [Detection(BoundingBox(*map(float, b)), float(s)) for b, s in zip(boxes, scores)]
