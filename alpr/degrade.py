"""Degraded copies of real photos, the same bytes on every run: what a street camera or a
phone does to a plate (smaller, compressed, blurred, dark, askew, seen from the side, noisy).

    python -m alpr degrade SRC OUT

writes, for every photo of SRC, one JPEG per degradation into OUT (`<stem>--<name>.jpg`),
and OUT/labels.json and OUT/layouts.json giving each copy its source's entry of
SRC/labels.json and SRC/layouts.json (when SRC has them). `../shared/datasets/ua-real`
(31 photos) gives 279 copies.

Every copy is the same bytes on any machine and thread count: the pixel work is integer
numpy (block means, shifted sums) or OpenCV's warpAffine on 8-bit images (fixed-point
interpolation), the randomness a numpy Generator seeded from the photo's and the
degradation's names, and each copy is encoded once by cv2.imencode at a fixed quality.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
QUALITY = 90        # every copy's JPEG quality, but for the one that is about JPEG
LOW_QUALITY = 20    # jpeg20
TILT_DEGREES = 12.0
SIDE_SQUEEZE = 0.6  # side: the photo's width seen from the side...
SIDE_SHEAR = math.tan(math.radians(15.0))  # ...and its rows climbing by this much per pixel
NOISE_SIGMA = 12.0
NIGHT_GAIN = 77     # /256: about 30 % of the light
NIGHT_SIGMA = 6.0
SEPARATOR = "--"    # <stem>--<degradation>.jpg


def _shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Each factor×factor block's mean, rounded (the border rows and columns that make no
    whole block are dropped)."""
    height, width = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    blocks = image[:height, :width].astype(np.uint32).reshape(height // factor, factor, width // factor, factor, -1)
    area = factor * factor
    return ((blocks.sum(axis=(1, 3)) + area // 2) // area).astype(np.uint8)


def half(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _shrink(image, 2)


def third(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _shrink(image, 3)


def jpeg20(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image  # the encoding does it (LOW_QUALITY)


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A horizontal smear over 0.6 % of the photo's width (12 px of a 2,000 px photo): the
    mean of that many neighbours along each row, edges repeated."""
    length = max(5, round(image.shape[1] * 0.006))
    before, after = length // 2, length - 1 - length // 2
    padded = np.pad(image.astype(np.uint32), ((0, 0), (before + 1, after), (0, 0)), mode="edge")
    padded[:, 0] = 0
    sums = np.cumsum(padded, axis=1)
    window = sums[:, length:] - sums[:, :-length]
    return ((window + length // 2) // length).astype(np.uint8)


def _add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = np.rint(rng.normal(0.0, sigma, image.shape)).astype(np.int32)
    return np.clip(image.astype(np.int32) + noise, 0, 255).astype(np.uint8)


def night(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """About 30 % of the light, and the sensor noise a dark exposure brings."""
    dark = (image.astype(np.uint32) * NIGHT_GAIN + 128) >> 8
    return _add_noise(dark.astype(np.uint8), rng, NIGHT_SIGMA)


def noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _add_noise(image, rng, NOISE_SIGMA)


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _tilt(image: np.ndarray, degrees: float) -> np.ndarray:
    """Turned about the centre by `degrees` (counter-clockwise when positive), same size."""
    height, width = image.shape[:2]
    return _warp(image, cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0), (width, height))


def tilt_left(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _tilt(image, TILT_DEGREES)


def tilt_right(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _tilt(image, -TILT_DEGREES)


def side(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seen from the side: squeezed to SIDE_SQUEEZE of its width, and each column shifted
    down in proportion to its distance from the left edge (rows climb to the left, as a
    plate's baseline does from the right side of a car); the photo grows by the shift."""
    height, width = image.shape[:2]
    new_width = round(width * SIDE_SQUEEZE)
    climb = math.ceil(new_width * SIDE_SHEAR)
    matrix = np.array([[SIDE_SQUEEZE, 0.0, 0.0], [SIDE_SQUEEZE * SIDE_SHEAR, 1.0, 0.0]])
    return _warp(image, matrix, (new_width, height + climb))


Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
DEGRADATIONS: dict[str, Degradation] = {
    "half": half, "third": third, "jpeg20": jpeg20, "blur": motion_blur, "night": night,
    "tilt-left": tilt_left, "tilt-right": tilt_right, "side": side, "noise": noise,
}


def seed_of(source_name: str, degradation: str) -> int:
    """The same seed for a photo's degradation on every run and machine (not Python's
    salted hash)."""
    return zlib.crc32(f"{source_name}/{degradation}".encode())


def encode(image: np.ndarray, quality: int) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the copy does not encode")
    return jpeg.tobytes()


def degraded_copies(image: np.ndarray, source_name: str,
                    names: Sequence[str] = tuple(DEGRADATIONS)) -> dict[str, bytes]:
    """Degradation name → the JPEG bytes of the photo (BGR, 8 bits) so degraded."""
    copies = {}
    for name in names:
        rng = np.random.default_rng(seed_of(source_name, name))
        copies[name] = encode(DEGRADATIONS[name](image, rng), LOW_QUALITY if name == "jpeg20" else QUALITY)
    return copies


def copy_name(source: str, degradation: str) -> str:
    return f"{Path(source).stem}{SEPARATOR}{degradation}.jpg"


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_copies(src: Path, out: Path, names: Sequence[str] = tuple(DEGRADATIONS)) -> list[Path]:
    """Every photo of `src` degraded each way into `out`, with labels.json and layouts.json
    (each copy → its source's entry) where `src` has them; the paths written, sorted."""
    out.mkdir(parents=True, exist_ok=True)
    labels, layouts = _read_json(src / "labels.json"), _read_json(src / "layouts.json")
    copy_labels, copy_layouts, written = {}, {}, []
    for photo in sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
        image = cv2.imdecode(np.frombuffer(photo.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{photo} does not decode")
        for name, data in degraded_copies(image, photo.name, names).items():
            target = out / copy_name(photo.name, name)
            target.write_bytes(data)
            written.append(target)
            if photo.name in labels:
                copy_labels[target.name] = labels[photo.name]
            if photo.name in layouts:
                copy_layouts[target.name] = layouts[photo.name]
    for file, table in (("labels.json", copy_labels), ("layouts.json", copy_layouts)):
        if table:
            (out / file).write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr degrade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="folder of photos (with labels.json / layouts.json)")
    parser.add_argument("out", type=Path, help="folder for the copies")
    parser.add_argument("--only", nargs="+", choices=tuple(DEGRADATIONS), default=tuple(DEGRADATIONS),
                        help="these degradations only (default: all)")
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        parser.error(f"not a folder: {args.src}")
    written = write_copies(args.src, args.out, args.only)
    print(f"{len(written)} copies written to {args.out}", file=sys.stderr)
    return 0
