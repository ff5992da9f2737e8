"""Training and validation samples for the CRNN: rendered plates, and plates swapped into
real photos and cropped as the detector would crop them.

Training and validation never share a plate string: a string belongs to validation when
its CRC32 is divisible by 10, and each side draws only its own strings.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..crnn import to_tensor
from ..recognizer import preprocess
from ..two_line import split_lines
from .plate_designs import FAMILIES, Design, random_design
from .render import LEVELING_ERROR, SMALL_CAPTURE_RANGE, random_plate_text, synth_crop, synth_viewed_crop
from .plate_swap import detector_like_crop, read_yolo_boxes, swap_plates
from .real_plates import VALIDATION_LABELS, RealPlate, load_real_plates, real_sample, texts_of


def is_validation_text(text: str) -> bool:
    return zlib.crc32(text.encode()) % 10 == 0


def draw_text(rng: np.random.Generator, validation: bool) -> str:
    while True:
        text = random_plate_text(rng)
        if is_validation_text(text) == validation:
            return text


@dataclass(frozen=True)
class Photo:
    image: np.ndarray
    boxes: np.ndarray  # N×4 xyxy


def load_photos(photos_dir: Path, split: str, limit: int, rng: np.random.Generator) -> list[Photo]:
    """Real photos with plate boxes wide enough to hold a swapped plate."""
    images = sorted((photos_dir / "images" / split).glob("*.jpg"))
    photos: list[Photo] = []
    for index in rng.permutation(len(images)):
        path = images[index]
        label = photos_dir / "labels" / split / f"{path.stem}.txt"
        image = cv2.imread(str(path))
        if image is None or not label.exists():
            continue
        boxes = read_yolo_boxes(label, image.shape[1], image.shape[0])
        wide = boxes[(boxes[:, 2] - boxes[:, 0]) >= 1.3 * (boxes[:, 3] - boxes[:, 1])] if len(boxes) else boxes
        if len(wide):
            photos.append(Photo(image, wide))
        if len(photos) >= limit:
            break
    return photos


def swap_sample(photo: Photo, rng: np.random.Generator, validation: bool) -> tuple[np.ndarray, str] | None:
    texts = [draw_text(rng, validation) for _ in range(len(photo.boxes))]
    scene, plates = swap_plates(photo.image, photo.boxes, rng, texts=texts)
    if not plates:
        return None
    plate = plates[int(rng.integers(len(plates)))]
    return detector_like_crop(scene, plate.box_xyxy, rng), plate.text


def design_crop(rng: np.random.Generator, family: str, validation: bool,
                background: np.ndarray | None = None,
                capture_height: float | tuple[float, float] | None = None) -> tuple[np.ndarray, Design]:
    """A detector-like crop (BGR) of a rendered plate of `family` (plate_designs.FAMILIES)
    and its design; a two-line plate mostly seen from the front, as the service cuts into
    lines only such views (a turned one it does not)."""
    while True:
        design = random_design(rng, family)
        if is_validation_text(design.text) == validation:
            break
    view = ("level" if rng.random() < 0.75 else "steep") if len(design.lines) == 2 else None
    made = synth_viewed_crop(rng, design=design, background=background, capture_height=capture_height, view=view)
    return made.image, design


def design_sample(rng: np.random.Generator, family: str, validation: bool, input_size: int,
                  background: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """A design_crop preprocessed as served; a two-line plate gives one of its lines, cut
    as the service cuts them (alpr.two_line)."""
    image, design = design_crop(rng, family, validation, background)
    if len(design.lines) == 1:
        return preprocess(image, input_size), design.text
    line = int(rng.integers(2))
    return preprocess(split_lines(image)[line], input_size), design.line_texts[line]


def sample(rng: np.random.Generator, photos: list[Photo], swap_share: float, validation: bool,
           input_size: int, capture_height: float | tuple[float, float] | None = None,
           view: str | None = None, leveled_share: float = 0.0,
           small_share: float = 0.0,
           leveling_error: float = LEVELING_ERROR, real: list[RealPlate] = (),
           real_share: float = 0.0, foreign_share: float = 0.0, two_line_share: float = 0.0,
           half_share: float = 0.0, real_augment: float = 0.0) -> tuple[np.ndarray, str]:
    """One preprocessed (HLS, input_size²) sample and its text (`capture_height`, `view`:
    for rendered samples, see synth_crop; `leveled_share`: the share of rendered steep
    views given leveled, as the service reads unsure plates, off by up to `leveling_error`
    degrees; `small_share`: the share of rendered crops, beyond the renderer's own,
    captured SMALL_CAPTURE_RANGE px high; `real_share`: the share of `real` plates, real
    crops read by eye; `foreign_share`, `two_line_share`: the shares of rendered foreign and
    Ukrainian two-line plates (design_sample); `half_share`: the share of rendered one-line
    crops given as a half cut as for two lines, which reads as nothing; `real_augment`: the
    share of real crops seen as another camera would see them, real_plates.camera_variant)."""
    # Drawn only when asked for, so that recipes without real plates keep their streams.
    if real and rng.random() < real_share:
        return real_sample(real, rng, input_size, real_augment)
    if foreign_share or two_line_share:
        pick = rng.random()
        if pick < foreign_share + two_line_share:
            background = photos[int(rng.integers(len(photos)))].image if photos and rng.random() < 0.5 else None
            family = "foreign" if pick < foreign_share else "ua-two-line"
            return design_sample(rng, family, validation, input_size, background)
    if photos and rng.random() < swap_share:
        made = swap_sample(photos[int(rng.integers(len(photos)))], rng, validation)
        if made is not None:
            crop, text = made
            return preprocess(crop, input_size), text
    background = None
    if photos and rng.random() < 0.5:
        background = photos[int(rng.integers(len(photos)))].image
    # Drawn only when asked for, so that recipes without leveled crops keep their streams.
    leveled = leveled_share > 0 and rng.random() < leveled_share
    if small_share > 0 and capture_height is None and rng.random() < small_share:
        capture_height = SMALL_CAPTURE_RANGE
    crop, text = synth_crop(rng, text=draw_text(rng, validation), background=background,
                            capture_height=capture_height, view=view, leveled=leveled,
                            leveling_error=leveling_error)
    if half_share and rng.random() < half_share:
        return preprocess(split_lines(crop)[int(rng.integers(2))], input_size), ""
    return preprocess(crop, input_size), text


class TrainingStream(IterableDataset):
    """An endless stream of fresh training samples; deterministic per (seed, epoch, worker)."""

    def __init__(self, seed: int, epoch: int, photos_dir: Path | None, swap_share: float,
                 input_size: int, photo_limit: int = 300, leveled_share: float = 0.0,
                 small_share: float = 0.0, leveling_error: float = LEVELING_ERROR,
                 real_labels: Sequence[Path] = (), real_share: float = 0.0, alphabet: str = "",
                 foreign_share: float = 0.0, two_line_share: float = 0.0, half_share: float = 0.0,
                 real_augment: float = 0.0):
        self.seed, self.epoch = seed, epoch
        # Real plates of the training photos; a text also read in the validation photos (the
        # same car in another frame) is left out, so the real validation figure stays fair.
        self.real_labels, self.real_share, self.alphabet = real_labels, real_share, alphabet
        self.leveling_error = leveling_error
        self.photos_dir, self.swap_share, self.leveled_share = photos_dir, swap_share, leveled_share
        self.small_share = small_share
        self.foreign_share, self.two_line_share, self.half_share = foreign_share, two_line_share, half_share
        self.real_augment = real_augment
        self.input_size, self.photo_limit = input_size, photo_limit

    def __iter__(self) -> Iterator[tuple[np.ndarray, str]]:
        worker = get_worker_info()
        worker_id = worker.id if worker else 0
        rng = np.random.default_rng([self.seed, self.epoch, worker_id])
        photos = load_photos(self.photos_dir, "train", self.photo_limit, rng) if self.photos_dir else []
        real = ([plate for path in self.real_labels for plate in load_real_plates(
                    path, self.photos_dir, "train", self.alphabet, exclude=texts_of(VALIDATION_LABELS))]
                if self.real_labels and self.photos_dir and self.real_share > 0 else [])
        while True:
            yield sample(rng, photos, self.swap_share, validation=False, input_size=self.input_size,
                         leveled_share=self.leveled_share, small_share=self.small_share,
                         leveling_error=self.leveling_error, real=real, real_share=self.real_share,
                         foreign_share=self.foreign_share, two_line_share=self.two_line_share,
                         half_share=self.half_share, real_augment=self.real_augment)


def make_validation_set(kind: str, count: int, seed: int, photos_dir: Path | None,
                        input_size: int, capture_height: float | tuple[float, float] | None = None,
                        view: str | None = None, leveled: bool = False) -> tuple[np.ndarray, list[str]]:
    """`kind` 'synthetic' (rendered crops, optionally all captured at `capture_height` px
    or in that range, all of one `view`, all `leveled`), 'swap' (plates swapped into
    validation photos), or a family of plate_designs.FAMILIES (its plates, two-line ones
    given line by line)."""
    if kind in FAMILIES:
        rng = np.random.default_rng([seed, 99991, 2 + FAMILIES.index(kind)])
        made = [design_sample(rng, kind, True, input_size) for _ in range(count)]
        return np.stack([m[0] for m in made]), [m[1] for m in made]
    rng = np.random.default_rng([seed, 99991, 0 if kind == "synthetic" else 1])
    if kind == "swap":
        photos = load_photos(photos_dir, "val", 10_000, rng)
        share = 1.0
    else:
        photos, share = [], 0.0
    images, texts = [], []
    while len(texts) < count:
        image, text = sample(rng, photos, share, validation=True, input_size=input_size,
                             capture_height=capture_height, view=view, leveled_share=float(leveled))
        images.append(image)
        texts.append(text)
    return np.stack(images), texts


def collate(batch: list[tuple[np.ndarray, str]], alphabet: str):
    """Stacks images (N×3×H×W float) and concatenates CTC targets."""
    images = to_tensor(np.stack([b[0] for b in batch]))
    texts = [b[1] for b in batch]
    targets = torch.tensor([alphabet.index(c) for t in texts for c in t], dtype=torch.long)
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    return images, targets, lengths, texts
