"""The detector on a labelled split, as the service runs it: recall and precision at the
serving threshold (IoU ≥ 0.5), and Ultralytics' mAP50 / mAP50-95 over all thresholds.

    python -m alpr detector-metrics --weights weights/car-plate-best.pt --data data/detector/data.yaml
    python -m alpr detector-metrics --boxes-json ../shared/datasets/foreign-us/boxes.json

The second form measures photos that no checkpoint was chosen on (a `boxes.json` beside them:
file name → [x, y, width, height] of each plate), recall and precision only: the validation
split's mAP picked the best of a run's epochs, so it flatters the checkpoint it picked.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..config import PROJECT_ROOT, Settings, parse_angles
from ..detector import PlateDetector
from ..metrics import box_iou
from ..yolo_env import prepare_ultralytics
from .plate_swap import read_yolo_boxes


Truth = Callable[[Path, np.ndarray], np.ndarray]  # photo → its plate boxes (x1, y1, x2, y2)


def yolo_truth(labels_dir: Path) -> Truth:
    return lambda path, image: read_yolo_boxes(labels_dir / f"{path.stem}.txt", image.shape[1], image.shape[0])


def boxes_json_truth(boxes_json: Path) -> tuple[list[Path], Truth]:
    """The photos a boxes.json names (beside it) and their boxes; a photo's value is one
    [x, y, width, height] or a list of them."""
    table = json.loads(boxes_json.read_text())
    corners = {name: np.array([[x, y, x + w, y + h] for x, y, w, h in
                               (value if value and isinstance(value[0], list) else [value])], np.float64)
               for name, value in table.items()}
    return [boxes_json.parent / name for name in sorted(table)], lambda path, image: corners[path.name]


def recall_precision(detector: PlateDetector, images: list[Path], truth_of: Truth) -> dict:
    found = labelled = predicted = matched = 0
    for path in images:
        image = cv2.imread(str(path))
        truth = truth_of(path, image)
        boxes = [np.array([d.box.x1, d.box.y1, d.box.x2, d.box.y2]) for d in detector.detect(image)]
        labelled += len(truth)
        predicted += len(boxes)
        found += sum(any(box_iou(t, b) >= 0.5 for b in boxes) for t in truth)
        matched += sum(any(box_iou(t, b) >= 0.5 for t in truth) for b in boxes)
    return {"images": len(images), "plates": labelled, "recall": found / max(1, labelled),
            "precision": matched / max(1, predicted)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr detector-metrics", description=__doc__)
    parser.add_argument("--weights", type=Path, default=Path(Settings().detector_weights))
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / "data" / "detector" / "data.yaml")
    parser.add_argument("--split", default="val")
    parser.add_argument("--imgsz", type=int, default=Settings().detector_imgsz)
    parser.add_argument("--conf", type=float, default=Settings().detector_conf)
    parser.add_argument("--retry-imgsz", type=int, default=Settings().search.retry_imgsz,
                        help="second look at this size when the first finds nothing (0: off)")
    parser.add_argument("--tiles", type=int, default=Settings().search.tiles,
                        help="last look at N×N tiles when the second finds nothing (0: off)")
    parser.add_argument("--turns", default=",".join(f"{a:g}" for a in Settings().search.detector_turns) or "none",
                        help="looks at the photo turned by these degrees when the plain ones find "
                             "nothing (comma-separated; none: off)")
    parser.add_argument("--slants", default=",".join(f"{a:g}" for a in Settings().search.detector_slants) or "none",
                        help="then looks at the photo sheared by these degrees (comma-separated; none: off)")
    parser.add_argument("--no-map", action="store_true", help="recall and precision only")
    parser.add_argument("--boxes-json", type=Path, default=None,
                        help="measure the photos beside this boxes.json instead of --data (no mAP)")
    args = parser.parse_args(argv)

    if args.boxes_json:
        images, truth_of = boxes_json_truth(args.boxes_json)
    else:
        root = args.data.parent
        images, truth_of = sorted((root / "images" / args.split).glob("*.jpg")), yolo_truth(root / "labels" / args.split)
    turns, slants = parse_angles(args.turns), parse_angles(args.slants)
    detector = PlateDetector(args.weights, "cpu", imgsz=args.imgsz, conf=args.conf,
                             retry_imgsz=args.retry_imgsz, tiles=args.tiles, turns=turns,
                             slants=slants)
    result = {"conf": args.conf, "imgsz": args.imgsz, "retry_imgsz": args.retry_imgsz, "tiles": args.tiles,
              "turns": list(turns), "slants": list(slants),
              **recall_precision(detector, images, truth_of)}
    if args.no_map or args.boxes_json:
        print(json.dumps(result, indent=1))
        return 0

    prepare_ultralytics()
    from ultralytics import YOLO

    box = YOLO(str(args.weights)).val(data=str(args.data.resolve()), split=args.split, imgsz=args.imgsz,
                                      batch=8, plots=False, verbose=False).box
    result.update(mAP50=float(box.map50), mAP50_95=float(box.map))
    print(json.dumps(result, indent=1))
    return 0
