"""Hiding plates: every box the detector can find, grown by a margin and covered, and the
photo encoded back in the format it came in.

Recall comes before precision here (a plate left readable is the failure that matters), so
the boxes come from every look of the thorough search at a lower score threshold than
reading uses; a false box only blurs a patch of bumper or wall.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from .detector import BoundingBox, Detection, PlateDetector
from .metrics import box_iou
from .search import PLANS

MODES = ("blur", "pixelate", "fill")
DEFAULT_MODE = "blur"
# Boxes scoring from here up are hidden (reading starts at 0.25): see the README's figures.
HIDE_SCORE = 0.1
# The looks after the two whole-photo ones (turned, sheared, tiled) find plates the first
# ones miss, small and askew; their boxes over this share of the photo are false (the photo
# turned or sheared boxed whole): on 127 labelled photos dropping them lost no plate and cut
# the area hidden needlessly from 24.7 to 14.6 % (README, "Hiding plates").
WHOLE_PHOTO_LOOKS = 2
LATER_LOOK_MAX_SHARE = 0.1
# Each box grows by this share of its width and height on every side: a detector box is
# often a little tight, and a plate's edge characters must not peek out.
HIDE_MARGIN = 0.15
# Boxes overlapping more than this are one plate found by several looks: hidden as their union.
SAME_PLATE_IOU = 0.3
# A covered area is shrunk until its longer side has this many pixels (a plate's character
# becomes about one pixel), then blurred or blown up again: no stroke survives either way.
BLUR_CELLS = 12
PIXELATE_CELLS = 10
JPEG_QUALITY = 95
# How each input format is written back: OpenCV's extension and the answer's media type.
ENCODINGS = {"JPEG": (".jpg", "image/jpeg"), "PNG": (".png", "image/png"), "BMP": (".bmp", "image/bmp")}


def hiding_detector(detector: PlateDetector, conf: float = HIDE_SCORE) -> PlateDetector:
    """The served detector's network with the thorough plan's looks and a hiding threshold."""
    plan = PLANS["thorough"]
    return detector.with_looks(conf=conf, retry_imgsz=plan.retry_imgsz, tiles=plan.tiles,
                               turns=plan.detector_turns, slants=plan.detector_slants)


def hides(look: int, detection: Detection, width: int, height: int) -> bool:
    """Whether the box found by the look-th look (0 the first) is hidden: any but the large
    boxes of the turned, sheared and tiled looks (LATER_LOOK_MAX_SHARE)."""
    box = detection.box
    return box.width >= 1 and box.height >= 1 and (
        look < WHOLE_PHOTO_LOOKS or box.width * box.height <= LATER_LOOK_MAX_SHARE * width * height)


def find_plates(detector: PlateDetector, image: np.ndarray) -> list[Detection]:
    """Every box `hides` keeps of every look (no look is skipped: a plate any look finds is hidden)."""
    height, width = image.shape[:2]
    return [d for look, found in enumerate(detector.looks(image)) for d in found if hides(look, d, width, height)]


def grow(box: BoundingBox, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by `margin` of its size on every side, in whole pixels inside the photo."""
    dx, dy = box.width * margin, box.height * margin
    return (max(0, int(np.floor(box.x1 - dx))), max(0, int(np.floor(box.y1 - dy))),
            min(width, int(np.ceil(box.x2 + dx))), min(height, int(np.ceil(box.y2 + dy))))


def merge(boxes: Iterable[tuple[int, int, int, int]], iou: float = SAME_PLATE_IOU) -> list[tuple[int, int, int, int]]:
    """Boxes of one plate (overlapping more than `iou`) joined into their union, largest first."""
    merged: list[list[int]] = []
    for box in sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True):
        for kept in merged:
            if box_iou(list(box), kept) > iou:
                kept[:] = [min(kept[0], box[0]), min(kept[1], box[1]), max(kept[2], box[2]), max(kept[3], box[3])]
                break
        else:
            merged.append(list(box))
    return [tuple(b) for b in merged]  # type: ignore[misc]


def _shrunk_size(width: int, height: int, cells: int) -> tuple[int, int]:
    scale = cells / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def cover(region: np.ndarray, mode: str) -> np.ndarray:
    """The region hidden: blurred, pixelated or filled with its mean colour."""
    height, width = region.shape[:2]
    if mode == "fill":
        filled = np.empty_like(region)
        filled[:] = region.reshape(-1, region.shape[2]).mean(axis=0).round()
        return filled
    if mode == "pixelate":
        small = cv2.resize(region, _shrunk_size(width, height, PIXELATE_CELLS), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    if mode == "blur":
        small = cv2.resize(region, _shrunk_size(width, height, BLUR_CELLS), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def hide(image: np.ndarray, areas: Sequence[tuple[int, int, int, int]], mode: str) -> np.ndarray:
    """A copy of the photo with each area (x1, y1, x2, y2) covered; nothing else changes."""
    out = image.copy()
    for x1, y1, x2, y2 in areas:
        if x2 > x1 and y2 > y1:
            out[y1:y2, x1:x2] = cover(out[y1:y2, x1:x2], mode)
    return out


def areas_to_hide(detections: Sequence[Detection], width: int, height: int) -> list[tuple[int, int, int, int]]:
    return merge(grow(d.box, HIDE_MARGIN, width, height) for d in detections)


def encode(image: np.ndarray, fmt: str) -> tuple[bytes, str]:
    """The photo in its upload's format (JPEG at high quality); the bytes and media type."""
    extension, mimetype = ENCODINGS[fmt]
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if fmt == "JPEG" else []
    ok, buffer = cv2.imencode(extension, image, params)
    if not ok:
        raise ValueError(f"could not encode {fmt}")
    return buffer.tobytes(), mimetype
