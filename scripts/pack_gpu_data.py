"""Packs training data small enough to travel to a lent GPU machine (64 MiB in all).

    PYTHONPATH=. python scripts/pack_gpu_data.py detector data/detector .devdata/detector
    PYTHONPATH=. python scripts/pack_gpu_data.py reader ../shared/datasets/plates-detection .devdata/reader-photos

detector: every image shrunk to 512 px on its long side (the training size, so nothing the
          network sees is lost) and re-encoded; labels are normalised, so they stay as they are.
reader:   each photo cut down to the region around its plates (what a crop and the swap's
          light matching look at), with its labels moved into the cut; --limit photos a split.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from alpr.training.recognizer_data import load_photos
from alpr.training.swap_scenes import yolo_line


def pack_detector(source: Path, out: Path, side: int, quality: int) -> None:
    for split in ("train", "val"):
        for kind in ("images", "labels"):
            (out / kind / split).mkdir(parents=True, exist_ok=True)
        for image_path in sorted((source / "images" / split).iterdir()):
            image = cv2.imread(str(image_path))
            if image is None:
                continue
            scale = min(1.0, side / max(image.shape[:2]))  # shrink, never enlarge
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(out / "images" / split / f"{image_path.stem}.jpg"), small,
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
            label = source / "labels" / split / f"{image_path.stem}.txt"
            if label.exists():
                (out / "labels" / split / label.name).write_text(label.read_text())
    # The machine's own path is written in there before training.
    (out / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n  0: plate\n")


def pack_reader(source: Path, out: Path, limit: int, quality: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for kind in ("images", "labels"):
            (out / kind / split).mkdir(parents=True, exist_ok=True)
        # The reader's own loader picks the photos (and the plate boxes wide enough to swap).
        for index, photo in enumerate(load_photos(source, split, limit, rng)):
            height, width = photo.image.shape[:2]
            boxes = photo.boxes
            reach = np.maximum(0.6 * (boxes[:, 2:] - boxes[:, :2]), 24)
            x0, y0 = np.maximum(boxes[:, :2] - reach, 0).min(0).astype(int)
            x1, y1 = np.minimum(boxes[:, 2:] + reach, [width, height]).max(0).astype(int)
            name = f"{split}-{index:05d}"
            cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), photo.image[y0:y1, x0:x1],
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
            (out / "labels" / split / f"{name}.txt").write_text(
                "\n".join(yolo_line(b - np.array([x0, y0, x0, y0]), x1 - x0, y1 - y0) for b in boxes) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("detector", "reader"))
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--quality", type=int, default=72)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "detector":
        pack_detector(args.source, args.out, args.side, args.quality)
    else:
        pack_reader(args.source, args.out, args.limit, args.quality, args.seed)


if __name__ == "__main__":
    main()
