"""Plate swap: paint rendered Ukrainian plates over the plates of real photos.

The photos in the shared detection set carry foreign plates; replacing each plate with a
rendered one of known text, matched to the photo's light, sharpness and noise, gives
realistic scenes for both the detector and the text reader. `add_plates` puts extra
plates at free spots so detector scenes hold more (and smaller) plates.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from alpr.training.render import (
    PLATE_ASPECT,
    RenderedPlate,
    detector_box_jitter,
    find_fonts,
    fonts_dir_or_default,
    plate_window,
    random_plate_quad,
    random_plate_text,
    render_plate_layers,
    steep_view,
    warp_plate,
)

MIN_SWAP_HEIGHT = 12  # px; smaller plates cannot carry a legible render
MIN_SWAP_ASPECT = 1.3  # w/h; below this the box is a plate turned 90 degrees (or a square one)
_BLUR_SIGMAS = (0.0, 0.4, 0.6, 0.8, 1.0, 1.3, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0)


@dataclass(frozen=True)
class SwappedPlate:
    box_xyxy: tuple[float, float, float, float]  # bbox of the pasted plate, image pixels
    text: str


def read_yolo_boxes(label_path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """Boxes of a YOLO label file as an N x 4 float array of pixel xyxy.

    Lines are `class cx cy w h` (normalised); polygon lines (`class x1 y1 x2 y2 ...`) are
    reduced to their bounding box. A missing or empty file gives a 0 x 4 array.
    """
    path = Path(label_path)
    rows: list[list[float]] = []
    if path.is_file():
        for line in path.read_text().splitlines():
            vals = [float(v) for v in line.split()[1:]]
            if len(vals) == 4:
                cx, cy, w, h = vals
                rows.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            elif len(vals) >= 6 and len(vals) % 2 == 0:
                xs, ys = vals[0::2], vals[1::2]
                rows.append([min(xs), min(ys), max(xs), max(ys)])
    boxes = np.array(rows, np.float64).reshape(-1, 4)
    return boxes * np.array([width, height, width, height], np.float64)


def detector_like_crop(image: np.ndarray, box_xyxy: Sequence[float] | np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """A crop around box_xyxy with the margin jitter synth_crop uses (a copy)."""
    x0, y0, x1, y1 = detector_box_jitter(box_xyxy, rng, image.shape[1], image.shape[0])
    return image[y0:y1, x0:x1].copy()


# --------------------------------------------------------------------------- photo statistics


@dataclass(frozen=True)
class _Look:
    """What a pasted plate should look like in this photo."""

    mean: float  # luminance
    std: float | None  # luminance spread; None: scale light multiplicatively to `mean`
    cast: np.ndarray  # per-channel offset from grey (BGR), e.g. orange street light
    sharp: float | None  # Laplacian variance / luminance variance to match
    noise: float  # sensor noise sigma in grey levels
    sigma: float | None = None  # a known blur in px, used instead of `sharp`; both None: random


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _sharpness(gray: np.ndarray) -> float:
    # Normalised by contrast so a dim sharp plate and a bright sharp plate score alike.
    return float(cv2.Laplacian(gray, cv2.CV_32F).var() / (gray.var() + 1.0))


def _noise_sigma(gray: np.ndarray) -> float:
    # Median absolute residual after a median filter: robust to edges, i.e. to the text.
    if min(gray.shape) < 3:
        return 0.0
    res = gray - cv2.medianBlur(gray, 3)
    return float(1.4826 * np.median(np.abs(res)))


def _inner(box: np.ndarray, frac: float = 0.08) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * frac, (y1 - y0) * frac
    return (int(round(x0 + dx)), int(round(y0 + dy)),
            max(int(round(x1 - dx)), int(round(x0 + dx)) + 2),
            max(int(round(y1 - dy)), int(round(y0 + dy)) + 2))


def _look_of(image: np.ndarray, box: np.ndarray) -> _Look:
    x0, y0, x1, y1 = _inner(box)
    region = image[y0:y1, x0:x1]
    gray = _gray(region)
    means = region.reshape(-1, 3).mean(0)
    lum = float(gray.mean())
    return _Look(lum, float(gray.std()), (means - lum) * 0.5, _sharpness(gray),
                 _noise_sigma(gray))


# --------------------------------------------------------------------------- compositing


def _match_sigma(warped: np.ndarray, inner: tuple[int, int, int, int], sharp: float,
                 plate_h: float) -> float:
    """Gaussian sigma that brings the warped plate's sharpness closest to `sharp`."""
    ix0, iy0, ix1, iy1 = inner
    gray = _gray(warped)  # blur is linear, so blurring grey equals grey of the blurred plate
    best, best_err = 0.0, math.inf
    target = math.log(sharp + 1e-4)
    for sigma in _BLUR_SIGMAS:
        if sigma > max(0.5, plate_h / 8):  # never blur a plate into a smudge
            break
        blurred = gray if sigma == 0 else cv2.GaussianBlur(gray, (0, 0), sigma)
        err = abs(math.log(_sharpness(blurred[iy0:iy1, ix0:ix1]) + 1e-4) - target)
        if err < best_err:
            best, best_err = sigma, err
    return best


def _paste(out: np.ndarray, plate: RenderedPlate, quad: np.ndarray, look: _Look,
           rng: np.random.Generator) -> None:
    """Warp the plate onto quad in `out` (in place), matched to `look`."""
    H, W = out.shape[:2]
    x0, y0, x1, y1 = plate_window(plate, quad, W, H, pad=3)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    warped, alpha = warp_plate(plate, quad, (x1 - x0, y1 - y0), (x0, y0))
    lo, hi = quad.min(0) - (x0, y0), quad.max(0) - (x0, y0)
    ix0, iy0, ix1, iy1 = _inner(np.array([*lo, *hi]))
    ix0, iy0 = max(ix0, 0), max(iy0, 0)

    plate_h = float(hi[1] - lo[1])
    if look.sigma is not None:
        sigma = min(look.sigma, max(0.5, plate_h / 6))
    elif look.sharp is not None:
        sigma = _match_sigma(warped, (ix0, iy0, ix1, iy1), look.sharp, plate_h)
    else:
        sigma = rng.uniform(0.0, min(1.0, plate_h / 15))
    wf = warped.astype(np.float32)
    if sigma > 0:
        wf = cv2.GaussianBlur(wf, (0, 0), sigma)

    # Light: match the region's luminance mean (and spread when known), keep some colour cast.
    gray = cv2.cvtColor(wf, cv2.COLOR_BGR2GRAY)
    if iy1 > iy0 + 1 and ix1 > ix0 + 1:
        gray = gray[iy0:iy1, ix0:ix1]
    m, s = float(gray.mean()), float(gray.std())
    if look.std is not None:
        gain = float(np.clip(look.std / max(s, 1.0), 0.3, 1.5))
        wf = (wf - m) * gain + look.mean
    else:
        wf = wf * float(np.clip(look.mean / max(m, 1.0), 0.25, 1.3))
    wf += look.cast.astype(np.float32)

    # Noise: top the plate's own up to the photo's.
    add = math.sqrt(max(look.noise ** 2 - _noise_sigma(gray) ** 2, 0.0))
    if add > 0.3:
        wf += rng.standard_normal((*wf.shape[:2], 1), dtype=np.float32) * add
    patch = np.clip(wf, 0, 255).astype(np.uint8)

    # Soft edge, proportional to size so small plates keep their outline.
    a = cv2.GaussianBlur(alpha, (0, 0), max(0.5, plate_h / 60))
    roi = out[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(patch, roi, a, 1.0 - a)
    if rng.random() < 0.6:  # re-compress so the paste shares the photo's JPEG blocking
        ok, buf = cv2.imencode(".jpg", roi, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
        roi[:] = cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _fit_quad(rng: np.random.Generator, box: np.ndarray, strength: float) -> np.ndarray:
    """A mildly perspective quad whose bbox is exactly `box`."""
    x0, y0, x1, y1 = box
    q = random_plate_quad(rng, x1 - x0, y1 - y0, max_rot_deg=3.0, strength=strength)
    lo, hi = q.min(0), q.max(0)
    q = (q - lo) / np.maximum(hi - lo, 1e-6)
    return (q * np.array([x1 - x0, y1 - y0]) + np.array([x0, y0])).astype(np.float32)


def _render_for(text: str, rng: np.random.Generator, fonts: Path, box_h: float,
                frame_p: float) -> RenderedPlate:
    # Two render sizes keep the glyph cache small; warp_plate shrinks with area averaging.
    return render_plate_layers(text, rng, fonts, height=112 if box_h <= 90 else 224,
                               frame_p=frame_p)


def _fonts(fonts_dir: str | os.PathLike[str] | None) -> Path:
    # Fail before touching the image, with the folder named, when no fonts are there.
    folder = fonts_dir_or_default(fonts_dir)
    if not find_fonts(folder):
        raise FileNotFoundError(f"no .ttf/.otf fonts in {folder}; pass fonts_dir or set "
                                "$ALPR_FONTS_DIR")
    return folder


def _text_for(i: int, texts: Sequence[str] | None, rng: np.random.Generator) -> str:
    if texts is not None and i < len(texts) and texts[i]:
        return texts[i]
    return random_plate_text(rng)


def _bbox(quad: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    lo, hi = quad.min(0), quad.max(0)
    return (float(max(lo[0], 0.0)), float(max(lo[1], 0.0)),
            float(min(hi[0], width)), float(min(hi[1], height)))


def swap_plates(image: np.ndarray, boxes: np.ndarray | Sequence[Sequence[float]],
                rng: np.random.Generator, texts: Sequence[str] | None = None,
                fonts_dir: str | os.PathLike[str] | None = None
                ) -> tuple[np.ndarray, list[SwappedPlate]]:
    """Replace each plate box with a rendered Ukrainian plate (texts[i] or a random one).

    Boxes narrower than MIN_SWAP_ASPECT (turned plates) or lower than MIN_SWAP_HEIGHT are
    left as they are and not listed. Returns a new image and the swapped plates.
    """
    fonts = _fonts(fonts_dir)
    H, W = image.shape[:2]
    out = image.copy()
    swapped: list[SwappedPlate] = []
    for i, raw in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4)):
        box = np.clip(raw, 0, [W, H, W, H])
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bh < MIN_SWAP_HEIGHT or bw < MIN_SWAP_ASPECT * bh:
            continue
        text = _text_for(i, texts, rng)
        look = _look_of(image, box)
        # Slightly larger than the box so no edge of the old plate peeks out.
        e = rng.uniform(0.02, 0.06)
        target = box + np.array([-e * bw, -e * bh, e * bw, e * bh])
        quad = _fit_quad(rng, target, strength=0.35)
        plate = _render_for(text, rng, fonts, bh, frame_p=0.15)
        _paste(out, plate, quad, look, rng)
        swapped.append(SwappedPlate(_bbox(quad, W, H), text))
    return out, swapped


def _overlaps(box: np.ndarray, others: list[np.ndarray]) -> bool:
    return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]
               for o in others)


def add_plates(image: np.ndarray, rng: np.random.Generator, count: int,
               existing_boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
               texts: Sequence[str] | None = None,
               fonts_dir: str | os.PathLike[str] | None = None,
               steep_share: float = 0.0,
               ) -> tuple[np.ndarray, list[SwappedPlate]]:
    """Paste up to `count` plates at free spots (3-25% of the image width wide), away from
    existing_boxes and from each other. Fewer are pasted when no free spot is found.
    `steep_share` of them are seen steeply (from the side, tilted; see `steep_view`)."""
    fonts = _fonts(fonts_dir)
    H, W = image.shape[:2]
    out = image.copy()
    existing = np.asarray(existing_boxes if existing_boxes is not None else [],
                          np.float64).reshape(-1, 4)
    # Keep a little clearance around every plate, real or pasted.
    taken = [b + np.array([-4, -4, 4, 4]) for b in existing]
    # The camera's blur in pixels, measured on one real plate of this photo (if any):
    # matching normalised sharpness directly would blur small pasted plates too little.
    refs = [b for b in np.clip(existing, 0, [W, H, W, H])
            if b[3] - b[1] >= MIN_SWAP_HEIGHT and b[2] - b[0] >= MIN_SWAP_ASPECT * (b[3] - b[1])]
    camera_sigma: float | None = None
    ref_noise: float | None = None
    if refs:
        ref = refs[int(rng.integers(len(refs)))]
        look = _look_of(image, ref)
        plate = _render_for(random_plate_text(rng), rng, fonts, ref[3] - ref[1], frame_p=0.0)
        quad = _fit_quad(rng, ref, strength=0.0)
        wx0, wy0, wx1, wy1 = plate_window(plate, quad, W, H, pad=3)
        warped, _ = warp_plate(plate, quad, (wx1 - wx0, wy1 - wy0), (wx0, wy0))
        inner = _inner(ref - np.array([wx0, wy0, wx0, wy0]))
        camera_sigma = _match_sigma(warped, inner, look.sharp or 0.0, float(ref[3] - ref[1]))
        ref_noise = look.noise
    added: list[SwappedPlate] = []
    for k in range(count):
        for _ in range(30):
            pw = rng.uniform(0.03, 0.25) * W
            ph = pw / PLATE_ASPECT * rng.uniform(0.85, 1.1)
            if pw >= W - 2 or ph >= H - 2:
                continue
            cx = rng.uniform(pw / 2 + 1, W - pw / 2 - 1)
            cy = rng.uniform(ph / 2 + 1, H - ph / 2 - 1)
            steep = steep_share > 0 and rng.random() < steep_share
            narrower, strength, turn, slant = steep_view(rng) if steep else (1.0, 0.7, 0.0, 0.0)
            quad = random_plate_quad(rng, pw * narrower, ph, max_rot_deg=6.0, strength=strength,
                                     turn_deg=turn, slant_deg=slant) + (cx, cy)
            lo, hi = quad.min(0), quad.max(0)
            if lo[0] < 0 or lo[1] < 0 or hi[0] > W or hi[1] > H:
                continue
            box = np.array([*lo, *hi])
            # Room for a holder frame and the soft edge, which also change pixels.
            m = 0.25 * (hi[1] - lo[1]) + 5
            if not _overlaps(box + np.array([-m, -m, m, m]), taken):
                break
        else:
            break
        # Light from the spot itself; sharpness and noise from a real plate of this photo.
        x0, y0, x1, y1 = (int(v) for v in box)
        spot = image[y0:max(y1, y0 + 2), x0:max(x1, x0 + 2)]
        spot_gray = _gray(spot)
        lum = float(np.clip(spot_gray.mean() * rng.uniform(1.0, 1.6), 50, 235))
        cast = (spot.reshape(-1, 3).mean(0) - spot_gray.mean()) * 0.3
        noise = ref_noise if ref_noise is not None else _noise_sigma(spot_gray)
        look = _Look(lum, None, cast, None, noise, camera_sigma)
        text = _text_for(k, texts, rng)
        plate = _render_for(text, rng, fonts, ph, frame_p=0.3)
        _paste(out, plate, quad.astype(np.float32), look, rng)
        # The frame (if any) takes space too, so reserve the whole pasted window.
        wx0, wy0, wx1, wy1 = plate_window(plate, quad, W, H, pad=4)
        taken.append(np.array([wx0, wy0, wx1, wy1], np.float64))
        added.append(SwappedPlate(_bbox(quad, W, H), text))
    return out, added
