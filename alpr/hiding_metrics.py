"""How well POST /anonymize hides plates, on labelled real photos: the share of plate boxes
covered (a box counts when the hidden area covers at least 90 % of it), the share of photo
area hidden outside every plate box, and milliseconds per photo beside /recognize's. For
photos with plate text but no boxes (ua-real), whether a reader still reads the plate from
the hidden photo: ours with the thorough search, and the reference peer where it is set up.

    python -m alpr hiding-metrics                       # the three default sets
    python -m alpr hiding-metrics --every 3 --out hiding-results

Each photo's boxes are found once at the lowest score threshold listed, and the figures for
each threshold are computed from those boxes; the served threshold's photo is also written
and timed as the service makes it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import anonymize as hiding
from .config import SHARED_DATASETS, Settings
from .detector import Detection
from .images import check_upload, decode

COVERED_SHARE = 0.9
THRESHOLDS = (0.05, 0.1, 0.15, 0.25)
US = SHARED_DATASETS / "foreign-us"
VAL = SHARED_DATASETS / "plates-detection"
UA_REAL = SHARED_DATASETS / "ua-real"


@dataclass(frozen=True)
class Photo:
    path: Path
    boxes: tuple[tuple[float, float, float, float], ...]   # x1, y1, x2, y2; () where only text is known
    plates: tuple[str, ...] = ()


def us_photos(folder: Path = US) -> list[Photo]:
    boxes = json.loads((folder / "boxes.json").read_text())
    labels = json.loads((folder / "labels.json").read_text())
    out = []
    for name in sorted(boxes):
        x, y, w, h = boxes[name]
        out.append(Photo(folder / name, ((x, y, x + w, y + h),), tuple(labels.get(name, ()))))
    return out


def val_photos(root: Path = VAL) -> list[Photo]:
    from .training.plate_swap import read_yolo_boxes

    out = []
    for path in sorted((root / "images" / "val").iterdir()):
        image = cv2.imread(str(path))
        if image is None:
            continue
        height, width = image.shape[:2]
        boxes = read_yolo_boxes(root / "labels" / "val" / f"{path.stem}.txt", width, height)
        if len(boxes):
            out.append(Photo(path, tuple(tuple(map(float, b)) for b in boxes)))
    return out


def text_photos(folder: Path = UA_REAL) -> list[Photo]:
    labels = json.loads((folder / "labels.json").read_text())
    return [Photo(folder / name, (), tuple(texts)) for name, texts in sorted(labels.items())]


SETS: dict[str, Callable[[], list[Photo]]] = {"foreign-us": us_photos, "plates-detection-val": val_photos,
                                             "ua-real": text_photos}


def hidden_mask(areas: Sequence[tuple[int, int, int, int]], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in areas:
        mask[y1:y2, x1:x2] = True
    return mask


def coverage(mask: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> tuple[int, float]:
    """How many boxes the mask covers (COVERED_SHARE of their pixels), and the share of the
    photo's pixels hidden outside every box."""
    height, width = mask.shape
    inside = np.zeros_like(mask)
    covered = 0
    for x1, y1, x2, y2 in boxes:
        a, b = max(0, int(round(x1))), max(0, int(round(y1)))
        c, d = min(width, int(round(x2))), min(height, int(round(y2)))
        if c <= a or d <= b:
            covered += 1  # a box outside the photo has nothing to hide
            continue
        covered += int(mask[b:d, a:c].mean() >= COVERED_SHARE)
        inside[b:d, a:c] = True
    return covered, float((mask & ~inside).sum()) / mask.size


def measure_set(name: str, photos: Sequence[Photo], settings: Settings, thresholds: Sequence[float],
                mode: str, out_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from .models import ModelHolder
    from .service import recognize

    models = ModelHolder(settings)
    pipeline = models.get()
    finder = hiding.hiding_detector(pipeline.detector, conf=min(thresholds))
    hidden_dir = out_dir / name
    hidden_dir.mkdir(parents=True, exist_ok=True)
    per_threshold = {t: {"covered": 0, "needless": []} for t in thresholds}
    boxes_total = 0
    hide_ms: list[float] = []
    recognize_ms: list[float] = []
    rows = []
    for k, photo in enumerate(photos):
        data = photo.path.read_bytes()
        start = time.perf_counter()
        recognize(data, photo.path.name, models, settings)
        recognize_ms.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        fmt = check_upload(data, photo.path.name, settings.max_upload_bytes)
        image = decode(data, fmt, settings.max_pixels)
        height, width = image.shape[:2]
        by_look: list[list[Detection]] = []
        look_ms: list[float] = []
        looks = finder.looks(image)
        while True:
            look_start = time.perf_counter()
            boxes = next(looks, None)
            if boxes is None:
                break
            look_ms.append((time.perf_counter() - look_start) * 1000)
            by_look.append([d for d in boxes if hiding.hides(len(by_look), d, width, height)])
        found: list[Detection] = [d for boxes in by_look for d in boxes]
        served = hiding.areas_to_hide([d for d in found if d.score >= hiding.HIDE_SCORE], width, height)
        written, _ = hiding.encode(hiding.hide(image, served, mode), fmt) if served else (data, None)
        hide_ms.append((time.perf_counter() - start) * 1000)
        (hidden_dir / photo.path.name).write_bytes(written)

        boxes_total += len(photo.boxes)
        row: dict[str, Any] = {"photo": photo.path.name, "boxes": len(photo.boxes), "areas": len(served),
                               "look_ms": [round(v, 1) for v in look_ms]}
        # The served threshold with only the first k looks: what each later look adds.
        for n in range(1, len(by_look) + 1):
            first = [d for boxes in by_look[:n] for d in boxes if d.score >= hiding.HIDE_SCORE]
            row[f"covered_first_{n}_looks"] = coverage(
                hidden_mask(hiding.areas_to_hide(first, width, height), height, width), photo.boxes)[0]
        for t in thresholds:
            mask = hidden_mask(hiding.areas_to_hide([d for d in found if d.score >= t], width, height), height, width)
            covered, needless = coverage(mask, photo.boxes)
            per_threshold[t]["covered"] += covered
            per_threshold[t]["needless"].append(needless)
            row[f"covered@{t}"] = covered
        rows.append(row)
        if (k + 1) % 10 == 0:
            log(f"{name}: {k + 1}/{len(photos)}")
    result: dict[str, Any] = {
        "photos": len(photos), "boxes": boxes_total, "mode": mode, "served_threshold": hiding.HIDE_SCORE,
        "thresholds": {str(t): {"covered": v["covered"],
                                "covered_share": round(v["covered"] / boxes_total, 4) if boxes_total else None,
                                "needless_area_mean": round(float(np.mean(v["needless"])), 4)}
                       for t, v in per_threshold.items()},
        "ms": {"anonymize": _stats(hide_ms), "recognize": _stats(recognize_ms)},
        "per_photo": rows,
    }
    if any(p.plates for p in photos) and not boxes_total:
        result["read_back"] = read_back(photos, hidden_dir, settings, log)
    return result


def read_back(photos: Sequence[Photo], hidden_dir: Path, settings: Settings,
              log: Callable[[str], None]) -> dict[str, Any]:
    """Plates read right before hiding and still read right after: ours (thorough) and the peer's."""
    import dataclasses

    from .models import ModelHolder
    from .search import PLANS
    from .service import recognize

    thorough = dataclasses.replace(settings, search=PLANS["thorough"])
    models = ModelHolder(thorough)
    out: dict[str, Any] = {}

    def right(plate: str | None, photo: Photo) -> bool:
        return plate is not None and plate in photo.plates

    ours_before = [right(recognize(p.path.read_bytes(), p.path.name, models, thorough).body["plate"], p)
                   for p in photos]
    after = [recognize((hidden_dir / p.path.name).read_bytes(), p.path.name, models, thorough).body
             for p in photos]
    ours_after = [right(a["plate"], p) for a, p in zip(after, photos)]
    answered_after = [a["code"] == 0 for a in after]
    out["ours_thorough"] = {"read_before": sum(ours_before), "read_after": sum(ours_after),
                            "any_plate_answered_after": sum(answered_after)}
    from .photo_bench import bench_peer, peer_python

    python = peer_python()
    if python is None:
        log("the peer is not available: read-back by ours only")
        return out
    before = bench_peer(python, [p.path for p in photos])
    peer_after = bench_peer(python, [hidden_dir / p.path.name for p in photos])
    by_name = {p.path.name: p for p in photos}
    out["peer"] = {"read_before": sum(right(r["plate"], by_name[Path(r["photo"]).name]) for r in before),
                   "read_after": sum(right(r["plate"], by_name[Path(r["photo"]).name]) for r in peer_after),
                   "any_plate_answered_after": sum(bool(r["plate"]) for r in peer_after)}
    return out


def _stats(values: Sequence[float]) -> dict[str, float]:
    from .photo_bench import summary

    return summary(values) if values else {}


def render(report: dict[str, Any]) -> list[str]:
    lines = ["| set | photos | boxes | " + " | ".join(f"covered at {t}" for t in report["thresholds"])
             + f" | hidden needlessly at {hiding.HIDE_SCORE} | ms anonymize mean / p90 | ms recognize mean / p90 |",
             "|---" * (6 + len(report["thresholds"])) + "|"]
    for name, r in report["sets"].items():
        cells = []
        for t in report["thresholds"]:
            v = r["thresholds"][str(t)]
            cells.append(f"{v['covered']} ({100 * v['covered_share']:.1f} %)" if r["boxes"] else "—")
        needless = r["thresholds"][str(hiding.HIDE_SCORE)]["needless_area_mean"] if r["boxes"] else None
        ms = r["ms"]
        lines.append(f"| {name} | {r['photos']} | {r['boxes']} | " + " | ".join(cells)
                     + (f" | {100 * needless:.2f} % |" if needless is not None else " | — |")
                     + f" {ms['anonymize']['mean']:.0f} / {ms['anonymize']['p90']:.0f}"
                     + f" | {ms['recognize']['mean']:.0f} / {ms['recognize']['p90']:.0f} |")
        if "read_back" in r:
            lines.append(f"  {name} read back after hiding: {json.dumps(r['read_back'])}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr hiding-metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--every", type=int, default=1, help="every k-th photo of each set (default all)")
    parser.add_argument("--mode", choices=hiding.MODES, default=hiding.DEFAULT_MODE)
    parser.add_argument("--out", type=Path, default=Path("hiding-results"))
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[hiding-metrics] {message}", file=sys.stderr, flush=True)

    settings = Settings.from_env()
    thresholds = sorted({*THRESHOLDS, hiding.HIDE_SCORE})
    report: dict[str, Any] = {"thresholds": thresholds, "sets": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        try:
            photos = SETS[name]()[:: max(1, args.every)]
        except FileNotFoundError as exc:
            log(f"{name}: not available ({exc})")
            continue
        log(f"{name}: {len(photos)} photos")
        report["sets"][name] = measure_set(name, photos, settings, thresholds, args.mode, args.out / "hidden", log)
        (args.out / "hiding.json").write_text(json.dumps(report, indent=1) + "\n")
    table = "\n".join(render(report))
    (args.out / "hiding.txt").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0
