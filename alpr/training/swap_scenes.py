"""Detector training scenes with Ukrainian plates: each real plate box of a training photo
gets a rendered Ukrainian plate (plate swap), and some scenes get extra plates at new spots."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from ..config import PROJECT_ROOT, SHARED_PHOTOS
from ..metrics import box_iou
from .plate_swap import add_plates, read_yolo_boxes, swap_plates

# Share of the plates added to a scene that are seen steeply: real photos have them, and
# swapped boxes (a real plate's own spot) cannot.
STEEP_SHARE = 0.3


def yolo_line(box: np.ndarray, width: int, height: int) -> str:
    x1, y1, x2, y2 = box
    return (f"0 {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
            f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")


def make_scene(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
               extra_max: int = 2, steep_share: float = STEEP_SHARE) -> tuple[np.ndarray, list[np.ndarray]]:
    """The photo with its plates swapped (and maybe more added); every plate box in it."""
    scene, swapped = swap_plates(image, boxes, rng)
    new_boxes = [np.array(p.box_xyxy) for p in swapped]
    # Boxes swap_plates left alone (turned or tiny plates) are still plates.
    kept = [b for b in boxes if all(box_iou(b, n) < 0.3 for n in new_boxes)]
    extra = int(rng.integers(0, extra_max + 1))
    if extra:
        scene, added = add_plates(scene, rng, extra, existing_boxes=np.array(new_boxes + kept).reshape(-1, 4),
                                  steep_share=steep_share)
        new_boxes += [np.array(p.box_xyxy) for p in added]
    return scene, new_boxes + kept


def write_swap_scenes(source: Path, train_images: list[Path], out: Path, count: int,
                      rng: np.random.Generator, steep_share: float = STEEP_SHARE) -> int:
    """Writes `count` scenes as swap-NNNNN.jpg with YOLO labels into out/{images,labels}/train."""
    written = 0
    order = rng.permutation(len(train_images))
    for n in range(count):
        path = train_images[order[n % len(order)]]
        image = cv2.imread(str(path))
        label = source / "labels" / "train" / f"{path.stem}.txt"
        if image is None or not label.exists():
            continue
        height, width = image.shape[:2]
        scene, boxes = make_scene(image, read_yolo_boxes(label, width, height), rng, steep_share=steep_share)
        name = f"swap-{n:05d}"
        cv2.imwrite(str(out / "images" / "train" / f"{name}.jpg"), scene,
                    [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))])
        (out / "labels" / "train" / f"{name}.txt").write_text(
            "\n".join(yolo_line(b, width, height) for b in boxes) + "\n")
        written += 1
        if (n + 1) % 100 == 0:
            print(f"swap scenes: {n + 1}/{count}", flush=True)
    return written


def write_labelled_scenes(source: Path, split: str, out: Path, count: int, seed: int = 0) -> int:
    """An evaluation folder for `python -m alpr evaluate`: photos of `split` whose every plate
    was swapped for a rendered Ukrainian one, and labels.json with their texts."""
    rng = np.random.default_rng([seed, 7])
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[str]] = {}
    paths = sorted((source / "images" / split).glob("*.jpg"))
    for index in rng.permutation(len(paths)):
        path = paths[index]
        if len(labels) >= count:
            break
        image = cv2.imread(str(path))
        label = source / "labels" / split / f"{path.stem}.txt"
        if image is None or not label.exists():
            continue
        boxes = read_yolo_boxes(label, image.shape[1], image.shape[0])
        scene, swapped = swap_plates(image, boxes, rng)
        if not swapped or len(swapped) != len(boxes):
            continue  # an unswapped foreign plate would have no label
        name = f"{path.stem}-ua.jpg"
        cv2.imwrite(str(out / name), scene, [cv2.IMWRITE_JPEG_QUALITY, 90])
        labels[name] = [p.text for p in swapped]
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    return len(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr build-eval-scenes",
                                     description=write_labelled_scenes.__doc__)
    parser.add_argument("--source", type=Path, default=SHARED_PHOTOS)
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "eval-scenes")
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    written = write_labelled_scenes(args.source, args.split, args.out, args.count, args.seed)
    print(f"{args.out}: {written} scenes with labels.json")
    return 0
