"""Carries the plates read by eye in one copy of a Roboflow source photo to its other
augmented copies (turned, tilted, mirrored, noisy), by matching the photos' own pixels.

    python -m alpr carry-labels                      # labels/plates-detection-train-carried.json

Each `rf-<source>-<k>` photo of ../shared/datasets/plates-detection is one augmented copy of
a source photo; labels/plates-detection-train.json holds the plates of one copy per source.
For every other copy, ORB features of the two photos are matched and an affine map fitted
(RANSAC), once to the read copy and once to its mirror image. The copy takes the read texts
only where the map is sure (enough inliers), keeps the text upright (turned by at most
MAX_TURN degrees, not mirrored: a turned or mirrored plate is not what the reader is served)
and carries each read box onto one of the copy's own boxes (IoU ≥ MIN_IOU) that is wider
than high (the read copy may itself be turned); every other box of the copy is null. No text comes from a reader: each is a person's read of the same plate.
"""
from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import SHARED_PHOTOS
from ..metrics import box_iou
from .plate_swap import read_yolo_boxes
from .real_plates import LABELS, TRAINING_LABELS

CARRIED_LABELS = LABELS / "plates-detection-train-carried.json"
MIN_INLIERS = 25
MAX_TURN = 25.0
MIN_IOU = 0.5
_COPY = re.compile(r"^(rf-.+)-(\d+)\.jpg$")


@dataclass(frozen=True)
class CopyMap:
    """How a copy of a photo lies over the read one: a 2×3 affine map read → copy."""

    matrix: np.ndarray
    inliers: int
    mirrored: bool

    @property
    def turn_degrees(self) -> float:
        return math.degrees(math.atan2(self.matrix[1, 0], self.matrix[0, 0]))


def _features(orb: cv2.ORB, image: np.ndarray):
    return orb.detectAndCompute(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), None)


def copy_map(read: np.ndarray, copy: np.ndarray) -> CopyMap | None:
    """The affine map from `read` (or its mirror image) onto `copy` with the most RANSAC
    inliers, or None when neither has MIN_INLIERS."""
    orb = cv2.ORB_create(2000)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    copy_points, copy_descriptors = _features(orb, copy)
    if copy_descriptors is None:
        return None
    best: CopyMap | None = None
    width = read.shape[1]
    for mirrored in (False, True):
        source = read[:, ::-1] if mirrored else read
        points, descriptors = _features(orb, np.ascontiguousarray(source))
        if descriptors is None:
            continue
        matches = matcher.match(descriptors, copy_descriptors)
        if len(matches) < MIN_INLIERS:
            continue
        src = np.float32([points[m.queryIdx].pt for m in matches])
        dst = np.float32([copy_points[m.trainIdx].pt for m in matches])
        matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0)
        if matrix is None:
            continue
        count = int(inliers.sum())
        if mirrored:  # the map from the read photo itself: mirror first (x → width - 1 - x)
            matrix = matrix @ np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        if count >= MIN_INLIERS and (best is None or count > best.inliers):
            best = CopyMap(matrix, count, mirrored)
    return best


def carried_box(box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The xyxy box around `box`'s corners mapped by the 2×3 `matrix`."""
    x1, y1, x2, y2 = box
    corners = np.array([[x1, y1, 1], [x2, y1, 1], [x2, y2, 1], [x1, y2, 1]], float) @ matrix.T
    return np.concatenate([corners.min(axis=0), corners.max(axis=0)])


def carry(read_texts: list[str | None], read_boxes: np.ndarray, copy_boxes: np.ndarray,
          mapping: CopyMap) -> list[str | None]:
    """The copy's texts, one per box of its own label file, or all null where the copy is
    mirrored or turned past MAX_TURN."""
    texts: list[str | None] = [None] * len(copy_boxes)
    if mapping.mirrored or abs(mapping.turn_degrees) > MAX_TURN:
        return texts
    for text, box in zip(read_texts, read_boxes):
        if text is None:
            continue
        moved = carried_box(box, mapping.matrix)
        overlaps = [box_iou(moved, b) for b in copy_boxes]
        if overlaps and max(overlaps) >= MIN_IOU:
            best = int(np.argmax(overlaps))
            x1, y1, x2, y2 = copy_boxes[best]
            if x2 - x1 > y2 - y1:  # a plate lying on its side was read in a turned copy
                texts[best] = text
    return texts


def carry_all(labels: Path, photos_dir: Path, split: str = "train") -> dict[str, list[str | None]]:
    read = json.loads(labels.read_text())
    images = photos_dir / "images" / split
    by_source: dict[str, list[str]] = {}
    for path in sorted(images.glob("rf-*.jpg")):
        match = _COPY.match(path.name)
        if match:
            by_source.setdefault(match.group(1), []).append(path.name)
    out: dict[str, list[str | None]] = {}
    for names in by_source.values():
        read_names = [n for n in names if n in read and any(read[n])]
        if not read_names:
            continue
        read_name = read_names[0]
        read_image = cv2.imread(str(images / read_name))
        read_boxes = read_yolo_boxes(photos_dir / "labels" / split / f"{Path(read_name).stem}.txt",
                                     read_image.shape[1], read_image.shape[0])
        for name in names:
            if name in read:
                continue
            copy = cv2.imread(str(images / name))
            copy_boxes = read_yolo_boxes(photos_dir / "labels" / split / f"{Path(name).stem}.txt",
                                         copy.shape[1], copy.shape[0])
            mapping = copy_map(read_image, copy)
            if mapping is None or not len(copy_boxes):
                continue
            texts = carry(read[read_name], read_boxes, copy_boxes, mapping)
            if any(texts):
                out[name] = texts
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr carry-labels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=TRAINING_LABELS)
    parser.add_argument("--photos", type=Path, default=SHARED_PHOTOS)
    parser.add_argument("--out", type=Path, default=CARRIED_LABELS)
    args = parser.parse_args(argv)
    carried = carry_all(args.labels, args.photos)
    args.out.write_text(json.dumps(carried, indent=1, sort_keys=True) + "\n")
    plates = sum(t is not None for texts in carried.values() for t in texts)
    print(f"{plates} plates carried to {len(carried)} copies: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
