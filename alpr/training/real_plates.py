"""Real plates read by eye (labels/), cut from their photos as the detector would cut them:
a training source of real plates, foreign ones included, and a real validation set."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import PROJECT_ROOT
from ..recognizer import preprocess
from .plate_swap import detector_like_crop, read_yolo_boxes

LABELS = PROJECT_ROOT / "labels"
VALIDATION_LABELS = LABELS / "plates-detection-val.json"
TRAINING_LABELS = LABELS / "plates-detection-train.json"
# Room kept around each box, as a share of its size: more than the detector-like jitter takes.
ROOM = 0.6


@dataclass(frozen=True)
class RealPlate:
    region: np.ndarray  # the photo around the plate (BGR)
    box: np.ndarray     # the plate's box in `region`, xyxy
    text: str


def load_real_plates(labels: Path, photos_dir: Path, split: str, alphabet: str | None = None,
                     exclude: frozenset[str] = frozenset()) -> list[RealPlate]:
    """Every plate of `labels` read by a person (not null) whose characters the alphabet
    holds (None: any) and whose text is not in `exclude`, from the photos of `split`."""
    plates: list[RealPlate] = []
    for photo, texts in sorted(json.loads(labels.read_text()).items()):
        image_path = photos_dir / "images" / split / photo
        label_path = photos_dir / "labels" / split / f"{Path(photo).stem}.txt"
        wanted = [t for t in texts if t and t not in exclude and (alphabet is None or set(t) <= set(alphabet[:-1]))]
        if not wanted or not image_path.is_file() or not label_path.is_file():
            continue
        image = cv2.imread(str(image_path))
        boxes = read_yolo_boxes(label_path, image.shape[1], image.shape[0])
        for box, text in zip(boxes, texts):
            # A plate lying on its side (a turned copy of a photo) is not what the reader is
            # served: the service reads boxes as they lie, and it has no such view to learn.
            if text in wanted and (split != "train" or box[2] - box[0] >= box[3] - box[1]):
                plates.append(_around(image, box, text))
    return plates


def _around(image: np.ndarray, box: np.ndarray, text: str) -> RealPlate:
    x1, y1, x2, y2 = box
    dx, dy = ROOM * (x2 - x1), ROOM * (y2 - y1)
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(image.shape[1], int(np.ceil(x2 + dx))), min(image.shape[0], int(np.ceil(y2 + dy)))
    region = image[top:bottom, left:right].copy()
    return RealPlate(region, np.array([x1 - left, y1 - top, x2 - left, y2 - top], float), text)


def real_sample(plates: list[RealPlate], rng: np.random.Generator, input_size: int,
                augment: float = 0.0) -> tuple[np.ndarray, str]:
    """One of `plates`, cut with a detector's jitter (and, with probability `augment`, seen
    otherwise: camera_variant), preprocessed as served."""
    plate = plates[int(rng.integers(len(plates)))]
    crop = detector_like_crop(plate.region, plate.box, rng)
    if augment and rng.random() < augment:
        crop = camera_variant(crop, rng)
    return preprocess(crop, input_size), plate.text


def camera_variant(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop as another camera, distance or light would give it: fewer pixels, a little
    turned, blurred, lit and coloured otherwise, noisy, JPEG-compressed. The reader learns
    from a few hundred real plates, which it otherwise learns by heart."""
    h, w = crop.shape[:2]
    out = crop
    if rng.random() < 0.5:  # farther away: fewer pixels, enlarged again by the service's resize
        scale = rng.uniform(0.3, 0.9)
        small = cv2.resize(out, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-5, 5), 1.0)
        out = cv2.warpAffine(out, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.2:  # a plate of another colour
        out = out[:, :, rng.permutation(3)]
    light = out.astype(np.float32) * rng.uniform(0.5, 1.4) + rng.uniform(-40, 40)
    if rng.random() < 0.3:
        light += rng.normal(0, rng.uniform(3, 12), light.shape)
    out = np.clip(light, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 70))])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out
    return np.ascontiguousarray(out)


def texts_of(labels: Path) -> frozenset[str]:
    return frozenset(t for texts in json.loads(labels.read_text()).values() for t in texts if t)


def real_validation_set(labels: Path, photos_dir: Path, input_size: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Every read plate of the validation photos, cut once (a fixed jitter per seed)."""
    plates = load_real_plates(labels, photos_dir, "val")
    rng = np.random.default_rng([seed, 77])
    images = [preprocess(detector_like_crop(p.region, p.box, rng), input_size) for p in plates]
    return np.stack(images), [p.text for p in plates]
