"""YOLO plate detector: BGR image in, plate boxes in the image's own pixels out."""
from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .onnx_twins import choose_twin
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


class TorchYoloNet:
    """The checkpoint loaded by Ultralytics and run directly: NumPy batch in, raw output out.
    One call at a time: Ultralytics' detection head keeps the anchors of the last input
    size, so two threads looking at different sizes at once mix them up (a RuntimeError on
    the tensors' sizes, answered code 5)."""

    def __init__(self, weights: str | Path, device: str):
        prepare_ultralytics()
        import torch
        from ultralytics import YOLO  # heavy import, deferred to the first model load

        model = YOLO(str(weights), task="detect").model
        self._torch = torch
        self.net = model.float().fuse(verbose=False).eval().to(device)
        self.stride = int(max(model.stride))
        self.device = device
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock, self._torch.inference_mode():
            prediction = self.net(self._torch.from_numpy(batch).to(self.device))
        prediction = prediction[0] if isinstance(prediction, (list, tuple)) else prediction
        return prediction.float().cpu().numpy()


TILE_OVERLAP = 0.2  # share of the photo's side that neighbouring tiles share


def _spans(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """`count` equal spans covering 0..length, neighbours sharing `overlap` × length."""
    size = min(length, math.ceil(length * (1 + (count - 1) * overlap) / count))
    starts = np.linspace(0, length - size, count).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


# A photo more than SHRINK_FROM times a look's size is first shrunk by area averaging to
# SHRINK_TO times it: the look's own resize is linear, as in training, and aliases a photo
# many times larger. Smaller photos are left as they are (their reads are unchanged).
SHRINK_FROM, SHRINK_TO = 4, 2


class _Shrunk:
    """A photo and its copies shrunk for each look's size (SHRINK_FROM)."""

    def __init__(self, image: np.ndarray):
        self.image = image
        self.copies: dict[int, tuple[np.ndarray, float]] = {}

    def look(self, look: Callable[[np.ndarray, int], list[Detection]], imgsz: int) -> list[Detection]:
        """`look(copy, imgsz)`, its boxes in the photo's pixels."""
        if imgsz not in self.copies:
            height, width = self.image.shape[:2]
            longest = max(height, width)
            scale = SHRINK_TO * imgsz / longest if longest > SHRINK_FROM * imgsz else 1.0
            copy = self.image if scale == 1.0 else cv2.resize(
                self.image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
            self.copies[imgsz] = copy, scale
        copy, scale = self.copies[imgsz]
        found = look(copy, imgsz)
        if scale == 1.0:
            return found
        height, width = self.image.shape[:2]
        return [Detection(BoundingBox(min(width, d.box.x1 / scale), min(height, d.box.y1 / scale),
                                      min(width, d.box.x2 / scale), min(height, d.box.y2 / scale)), d.score)
                for d in found]


class PlateDetector:
    """An Ultralytics checkpoint with one class, plate, run as letterbox → network → NMS
    (no predictor set-up per call, so the first request is as fast as the rest). The network
    is the checkpoint's ONNX twin on the CPU when one matches, else the checkpoint in torch."""

    def __init__(self, weights: str | Path, device: str = "cpu", imgsz: int = 640,
                 conf: float = 0.25, iou: float = 0.5, max_det: int = 20, backend: str = "auto",
                 retry_imgsz: int = 0, tiles: int = 0, turns: tuple[float, ...] = (),
                 slants: tuple[float, ...] = (), spin: bool = True):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"detector weights not found: {weights}")
        twin = choose_twin(weights, device, backend, spin)
        if twin is not None:
            self.net, self.stride, self.backend = twin, int(float(twin.metadata.get("stride", 32))), "onnx"
        else:
            torch_net = TorchYoloNet(weights, device)
            self.net, self.stride, self.backend = torch_net, torch_net.stride, "torch"
        self.device = device
        self.imgsz, self.conf, self.iou, self.max_det = imgsz, conf, iou, max_det
        self.retry_imgsz, self.tiles = retry_imgsz, tiles
        self.turns, self.slants = tuple(turns), tuple(slants)

    def with_looks(self, *, conf: float, retry_imgsz: int, tiles: int, turns: tuple[float, ...],
                   slants: tuple[float, ...]) -> "PlateDetector":
        """The same network (shared, not loaded again) with other looks and score threshold."""
        other = copy.copy(self)
        other.conf, other.retry_imgsz, other.tiles = conf, retry_imgsz, tiles
        other.turns, other.slants = tuple(turns), tuple(slants)
        return other

    def looks(self, image: np.ndarray) -> Iterator[list[Detection]]:
        """The detector's looks at a photo, cheapest first, each one's boxes in the photo's
        pixels, highest score first: the whole photo at `imgsz`; the whole photo at
        `retry_imgsz`, or in a photo no larger than 1.5× `imgsz` at that (a small, distant
        plate is a few pixels wide at the serving size, and the network finds it enlarged);
        the photo turned by each of `turns` degrees, at `imgsz`, then (large
        photos) at `retry_imgsz`: a plate turned 25–50° in the picture, which the network
        misses, lies nearly level in one of them; the photo sheared by each of `slants`
        degrees, at `retry_imgsz` whatever the photo's size: a plate seen from the side,
        its baseline climbing, is narrow and found only enlarged and sheared level (the side
        view of `ua-AA8809TI.jpg`, by no other whole-photo look); last (large photos) `tiles`×`tiles`
        overlapping tiles, each at `retry_imgsz`: enlarged, a small plate stands out.
        Callers stop when a look gives what they need. A photo many times a whole-photo
        look's size is shrunk by area averaging first (_Shrunk): a linear resize aliases it
        into noise (a 12 MP copy of `ua-AA8809TI.jpg` read as nothing)."""
        retry = self.retry_imgsz > self.imgsz
        large = retry and max(image.shape[:2]) > self.imgsz * 1.5
        shrunk = _Shrunk(image)
        yield shrunk.look(self.detect_at, self.imgsz)
        if retry:
            # A small photo is enlarged at most 1.5 times (to a multiple of 32) for its second look.
            second = self.retry_imgsz if large else min(self.retry_imgsz, self.imgsz * 3 // 2 // 32 * 32)
            yield shrunk.look(self.detect_at, second)
        for imgsz in (self.imgsz, self.retry_imgsz) if large else (self.imgsz,):
            for degrees in self.turns:
                yield shrunk.look(lambda im, size: self.detect_turned(im, degrees, size), imgsz)
        for degrees in self.slants if retry else ():
            yield shrunk.look(lambda im, size: self.detect_sheared(im, degrees, size), self.retry_imgsz)
        if large and self.tiles > 1:
            yield self.detect_tiled(image, self.tiles, self.retry_imgsz)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The boxes of the first look that finds any (see `looks`; the later ones cost
        more, but only on photos where the earlier found nothing)."""
        for found in self.looks(image):
            if found:
                return found
        return []

    def detect_tiled(self, image: np.ndarray, grid: int, imgsz: int) -> list[Detection]:
        """Each of grid×grid tiles, overlapping by a fifth of the photo so that any plate
        smaller than that lies whole in one, looked at alone; duplicates merged by NMS."""
        height, width = image.shape[:2]
        found: list[Detection] = []
        for top, bottom in _spans(height, grid, TILE_OVERLAP):
            for left, right in _spans(width, grid, TILE_OVERLAP):
                for d in self.detect_at(image[top:bottom, left:right], imgsz):
                    b = d.box
                    found.append(Detection(BoundingBox(b.x1 + left, b.y1 + top, b.x2 + left, b.y2 + top),
                                           d.score))
        xywh = np.array([[d.box.x1, d.box.y1, d.box.width, d.box.height] for d in found]).reshape(-1, 4)
        return [found[i] for i in self._suppress(xywh, np.array([d.score for d in found]))]

    def detect_turned(self, image: np.ndarray, degrees: float, imgsz: int) -> list[Detection]:
        """The photo turned by `degrees` (counter-clockwise) looked at: a plate turned as
        much in the picture lies level in it."""
        height, width = image.shape[:2]
        return self._detect_warped(image, cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0), imgsz)

    def detect_sheared(self, image: np.ndarray, degrees: float, imgsz: int) -> list[Detection]:
        """The photo sheared so that a baseline climbing by `degrees` to the right comes
        level, columns kept upright, looked at: a plate seen from the side and from above
        or below (characters upright, baseline climbing) lies level in it."""
        width = image.shape[1]
        slope = float(np.tan(np.deg2rad(degrees)))
        return self._detect_warped(image, np.array([[1.0, 0.0, 0.0], [slope, 1.0, -slope * width / 2]]), imgsz)

    def _detect_warped(self, image: np.ndarray, warp: np.ndarray, imgsz: int) -> list[Detection]:
        """The photo warped by the 2×3 affine `warp` onto a canvas that holds it whole,
        looked at, and each box's corners warped back: the box in the photo that holds
        what the network boxed. The canvas is drawn at the size the network looks at, not
        the photo's (warping a 12 MP photo whole cost more than the look itself)."""
        height, width = image.shape[:2]
        corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], np.float64) @ warp.T
        full_w, full_h = np.ceil(corners.max(axis=0) - corners.min(axis=0))
        scale = min(1.0, imgsz / max(full_w, full_h))
        out_w, out_h = max(1, round(full_w * scale)), max(1, round(full_h * scale))
        warp = warp.astype(np.float64) * scale
        warp[:, 2] += (out_w / 2, out_h / 2) - warp @ (width / 2, height / 2, 1.0)  # centred on the canvas
        warped = cv2.warpAffine(image, warp, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(114, 114, 114))
        back = cv2.invertAffineTransform(warp)
        found = []
        for d in self.detect_at(warped, imgsz):
            b = d.box
            box_corners = np.array([[b.x1, b.y1, 1], [b.x2, b.y1, 1], [b.x2, b.y2, 1], [b.x1, b.y2, 1]]) @ back.T
            (x1, y1), (x2, y2) = box_corners.min(axis=0), box_corners.max(axis=0)
            found.append(Detection(BoundingBox(max(0.0, float(x1)), max(0.0, float(y1)),
                                               min(float(width), float(x2)), min(float(height), float(y2))),
                                   d.score))
        return found

    def _suppress(self, xywh: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Indices of the boxes NMS keeps, highest score first, at most max_det.
        (OpenCV's top_k would cut the candidates before suppression, so cut after it.)"""
        if not len(scores):
            return np.zeros(0, np.int64)
        keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), self.conf, self.iou)
        keep = np.asarray(keep, dtype=np.int64).reshape(-1)
        return keep[np.argsort(-scores[keep], kind="stable")][: self.max_det]

    def detect_at(self, image: np.ndarray, imgsz: int) -> list[Detection]:
        padded, scale, left, top = letterbox(image, imgsz, self.stride)
        batch = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))[None]
        prediction = self.net(batch.astype(np.float32) / 255.0)[0].T  # anchors × (cx, cy, w, h, score)
        scores = prediction[:, 4]
        keep = scores > self.conf
        centres, sizes, scores = prediction[keep, :2], prediction[keep, 2:4], scores[keep]
        corners = centres - sizes / 2
        order = self._suppress(np.concatenate([corners, sizes], axis=1), scores)
        boxes = np.concatenate([corners, corners + sizes], axis=1)[order]
        scores = scores[order]
        height, width = image.shape[:2]
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - left) / scale).clip(0, width)
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - top) / scale).clip(0, height)
        return [Detection(BoundingBox(*map(float, b)), float(s)) for b, s in zip(boxes, scores)]
