"""How the served pipeline does on real photos beyond the sets it was tuned on: the
Ukrainian dev photos at smaller sizes and lower JPEG qualities, validation photos with one
steep plate pasted in and their own plates painted out, and the same photos with no plate.

    PYTHONPATH=. python scripts/photo_checks.py dev      # 2 photos × 5 sizes × 2 qualities
    PYTHONPATH=. python scripts/photo_checks.py steep    # one steep plate a photo
    PYTHONPATH=. python scripts/photo_checks.py empty    # plates painted out: nothing to read
    PYTHONPATH=. python scripts/photo_checks.py steep --answers   # and each scene's answer
    PYTHONPATH=. python scripts/photo_checks.py ua --answers      # ua-real and its degraded copies

Two readers are compared answer by answer by running a check once with each
(`ALPR_RECOGNIZER_WEIGHTS=candidate.pth`) with `--answers`, and diffing the two outputs;
two search plans the same way (`ALPR_SEARCH=thorough`).

`ua`: the 31 real photos of ../shared/datasets/ua-real and their 279 degraded copies
(alpr.degrade, written into --copies), each answered once, tallied per set: right (the
answer's plate is one of the photo's labels), wrong, or the error code.

Photos are validation photos of ../shared/datasets/plates-detection: the 1280×720 dashcam
frames as they are, the 640×640 Roboflow photos enlarged to 1280×960, as phones send them.
Every answer is tallied: right, wrong (a reported text that is not the plate's) or the
error code; `found` counts pasted plates the detector boxed at IoU ≥ 0.5, and `ms` is the
mean time of one photo (detector and reader).
"""
from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import cv2
import numpy as np

from alpr.config import SHARED_DATASETS, SHARED_PHOTOS, Settings
from alpr.metrics import box_iou
from alpr.models import ModelHolder
from alpr.pipeline import Pipeline
from alpr.status import AlprError
from alpr.training.plate_swap import add_plates, read_yolo_boxes

DEV_PHOTOS = {"ua-AA8809TI.jpg": "AA8809TI", "ua-old-B8233XA.jpg": "B8233XA"}
SIZES = (1.0, 0.7, 0.5, 0.35, 0.25)
QUALITIES = (95, 40)


def answer(pipeline: Pipeline, photo: np.ndarray) -> list[str] | int:
    """The texts reported, or the error code."""
    try:
        return [p.text for p in pipeline.read(photo).plates]
    except AlprError as exc:
        return int(exc.code)


def tally(texts: list[str] | int, truth: str, counts: collections.Counter) -> None:
    if isinstance(texts, int):
        counts[f"code {texts}"] += 1
    else:
        counts["right"] += truth in texts
        counts["wrong"] += sum(t != truth for t in texts)


def check_dev(pipeline: Pipeline) -> dict:
    counts: collections.Counter = collections.Counter()
    rows = []
    for name, truth in DEV_PHOTOS.items():
        photo = cv2.imread(str(SHARED_DATASETS / "dev-images" / name))
        for size in SIZES:
            for quality in QUALITIES:
                small = cv2.resize(photo, None, fx=size, fy=size, interpolation=cv2.INTER_AREA)
                _, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
                texts = answer(pipeline, cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
                tally(texts, truth, counts)
                rows.append(f"{name} size {size} quality {quality}: {texts}")
    return {"counts": dict(counts), "answers": rows}


def plate_free_photos(limit: int) -> list[np.ndarray]:
    """Validation photos with every labelled plate (and a margin) painted out."""
    photos = []
    for path in sorted((SHARED_PHOTOS / "images" / "val").glob("*.jpg"))[:limit]:
        photo = cv2.imread(str(path))
        if photo.shape[1] == 640:
            photo = cv2.resize(photo, (1280, 960))
        height, width = photo.shape[:2]
        mask = np.zeros((height, width), np.uint8)
        for x1, y1, x2, y2 in read_yolo_boxes(SHARED_PHOTOS / "labels" / "val" / f"{path.stem}.txt", width, height):
            dx, dy = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
            mask[max(0, int(y1 - dy)):int(y2 + dy) + 1, max(0, int(x1 - dx)):int(x2 + dx) + 1] = 255
        photos.append(cv2.inpaint(photo, mask, 5, cv2.INPAINT_TELEA))
    return photos


def check_steep(pipeline: Pipeline, limit: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts: collections.Counter = collections.Counter()
    rows = []
    seconds, n = 0.0, 0
    for index, photo in enumerate(plate_free_photos(limit)):
        scene, added = add_plates(photo, rng, 1, steep_share=1.0)
        if not added:
            continue
        n += 1
        plate = added[0]
        boxes = [d.box.as_list() for d in pipeline.detector.detect(scene)]
        counts["found"] += any(box_iou(np.array(b), np.array(plate.box_xyxy)) >= 0.5 for b in boxes)
        start = time.perf_counter()
        texts = answer(pipeline, scene)
        seconds += time.perf_counter() - start
        tally(texts, plate.text, counts)
        rows.append(f"photo {index} plate {plate.text}: {texts}")
    return {"scenes": n, "counts": dict(counts), "ms": round(seconds * 1000 / max(1, n)),
            "answers": rows}


def check_empty(pipeline: Pipeline, limit: int) -> dict:
    counts: collections.Counter = collections.Counter()
    photos = plate_free_photos(limit)
    start = time.perf_counter()
    for photo in photos:
        tally(answer(pipeline, photo), "", counts)
    return {"photos": len(photos), "counts": dict(counts),
            "ms": round((time.perf_counter() - start) * 1000 / max(1, len(photos)))}


def check_ua(pipeline: Pipeline, copies: Path, limit: int) -> dict:
    from alpr.degrade import write_copies

    ua_real = SHARED_DATASETS / "ua-real"
    if not (copies / "labels.json").is_file():
        write_copies(ua_real, copies)
    result: dict = {"sets": {}, "answers": []}
    for folder, name in ((ua_real, "ua-real"), (copies, "degraded")):
        labels = json.loads((folder / "labels.json").read_text())
        counts: collections.Counter = collections.Counter()
        for photo in sorted(labels)[:limit]:
            texts = answer(pipeline, cv2.imread(str(folder / photo)))
            best = texts if isinstance(texts, int) else texts[:1]
            if isinstance(best, int):
                counts[f"code {best}"] += 1
            else:
                counts["right" if best[0] in labels[photo] else "wrong"] += 1
            result["answers"].append(f"{photo}: {best if isinstance(best, int) else best[0]}")
        result["sets"][name] = {"photos": sum(counts.values()), "counts": dict(counts)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=("dev", "steep", "empty", "ua"))
    parser.add_argument("--copies", type=Path, default=Path("bench-results") / "ua-real-degraded",
                        help="ua: the folder of ua-real's degraded copies (written when it has none)")
    parser.add_argument("--limit", type=int, default=284, help="validation photos to use (of 284); ua: photos per set")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--answers", action="store_true", help="list every answer, not only the tallies")
    args = parser.parse_args()
    pipeline = ModelHolder(Settings.from_env()).get()
    if args.check == "dev":
        result = check_dev(pipeline)
    elif args.check == "ua":
        result = check_ua(pipeline, args.copies, args.limit)
    elif args.check == "steep":
        result = check_steep(pipeline, args.limit, args.seed)
    else:
        result = check_empty(pipeline, args.limit)
    if not args.answers:
        result.pop("answers", None)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
