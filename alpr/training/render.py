"""Synthetic Ukrainian licence plates: flat renders and detector-like training crops.

Everything random is drawn from a numpy Generator passed in by the caller, so a seed
reproduces a sample byte for byte. Fonts are read from the shared datasets folder (never
shipped with the project); loaded fonts and rasterised glyphs are cached per process.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from alpr.config import SHARED_DATASETS
from alpr.leveling import unslant, unturn
from alpr.plate_formats import DIGITS, LATIN_LETTERS, LAYOUTS, LETTERS, REGION_PREFIXES, matching_layout

if TYPE_CHECKING:
    from .plate_designs import Design

DEFAULT_FONTS_DIR = SHARED_DATASETS / "fonts"
FONTS_DIR_ENV = "ALPR_FONTS_DIR"

PLATE_MM = (520.0, 112.0)  # width, height of the standard one-line plate
PLATE_ASPECT = PLATE_MM[0] / PLATE_MM[1]
BASE_HEIGHT = 112  # default render height in pixels (1 px per mm)

_GLYPH_CHARS = DIGITS + LATIN_LETTERS + "-"  # foreign plates and country bands too
_LAYOUT_WEIGHTS = {"ua": 0.75, "ua-1995": 0.125, "ua-1977": 0.125}
ROW_FIXINGS_P = 0.3  # plates with screws or holes level with the characters (_draw_row_fixings)
# Plates with a painted or riveted dot before the first character (_draw_lead_dot), by layout:
# common on the older one-line plates, seen now and then on the others.
LEAD_DOT_P = {"ua": 0.04, "ua-1995": 0.15, "ua-1977": 0.5}

# Ukrainian flag and plate strip colours (BGR).
_UA_BLUE = (183, 87, 0)
_UA_YELLOW = (0, 213, 255)


# --------------------------------------------------------------------------- text


def random_plate_text(rng: np.random.Generator, layout: str | None = None) -> str:
    """A random plate text that fits `layout` (a key of LAYOUTS); mostly 'ua' if None."""
    if layout is None:
        names = list(_LAYOUT_WEIGHTS)
        layout = names[rng.choice(len(names), p=list(_LAYOUT_WEIGHTS.values()))]
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    pattern = LAYOUTS[layout]
    chars = [LETTERS[rng.integers(len(LETTERS))] if p == "L" else DIGITS[rng.integers(10)]
             for p in pattern]
    # Region codes dominate real traffic, so the recognizer should see them most.
    if layout == "ua" and rng.random() < 0.85:
        chars[:2] = REGION_PREFIXES[rng.integers(len(REGION_PREFIXES))]
    elif layout == "ua-1995" and rng.random() < 0.5:
        chars[5:] = REGION_PREFIXES[rng.integers(len(REGION_PREFIXES))]
    return "".join(chars)


# --------------------------------------------------------------------------- fonts


def fonts_dir_or_default(fonts_dir: str | os.PathLike[str] | None = None) -> Path:
    """The fonts folder: the argument, else $ALPR_FONTS_DIR, else the shared datasets one."""
    if fonts_dir is not None:
        return Path(fonts_dir)
    env = os.environ.get(FONTS_DIR_ENV)
    return Path(env) if env else DEFAULT_FONTS_DIR


def find_fonts(fonts_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """TrueType/OpenType fonts in the fonts folder, sorted so seeds pick the same font."""
    folder = fonts_dir_or_default(fonts_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".ttf", ".otf"))


@functools.lru_cache(maxsize=8)
def _fonts_tuple(folder: str) -> tuple[str, ...]:
    fonts = tuple(str(p) for p in find_fonts(folder))
    if not fonts:
        raise FileNotFoundError(
            f"no .ttf/.otf fonts in {folder}; pass fonts_dir or set ${FONTS_DIR_ENV}")
    return fonts


def _font_paths(fonts_dir: str | os.PathLike[str] | None) -> tuple[str, ...]:
    return _fonts_tuple(str(fonts_dir_or_default(fonts_dir)))


@functools.lru_cache(maxsize=None)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=None)
def _cap_ratio(path: str) -> float:
    # Fonts differ in cap height per em; sizing by cap height keeps plates uniform.
    left, top, right, bottom = _font(path, 200).getbbox("H", anchor="ls")
    return (bottom - top) / 200.0


@dataclass(frozen=True)
class _Glyph:
    mask: np.ndarray  # uint8 coverage, cropped to the ink
    top: int  # rows from the cap line down to the mask's first row


# Stroke fonts built into OpenCV (no file, no download): thin, rounded, even-width
# lettering like the older plates' stencils, unlike the DIN outlines. A "font" here is
# "hershey:<face>:<stroke width as a share of the cap height>".
STROKE_PREFIX = "hershey:"
_STROKE_FACES = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)
_STROKE_WIDTHS = (0.07, 0.09, 0.11, 0.13, 0.15)


def random_stroke_font(rng: np.random.Generator) -> str:
    face = _STROKE_FACES[int(rng.integers(len(_STROKE_FACES)))]
    return f"{STROKE_PREFIX}{face}:{_STROKE_WIDTHS[int(rng.integers(len(_STROKE_WIDTHS)))]}"


def _stroke_glyphs(font: str, cap_px: int) -> dict[str, _Glyph]:
    face, width = font[len(STROKE_PREFIX):].split(":")
    face, thickness = int(face), max(1, round(float(width) * cap_px))
    (_, cap1), _ = cv2.getTextSize("H", face, 1.0, 1)
    scale = max(0.1, (cap_px - thickness) / max(1, cap1))
    size = 3 * cap_px + 8

    def ink(ch: str) -> tuple[np.ndarray, int]:
        canvas = np.zeros((size, size), np.uint8)
        cv2.putText(canvas, ch, (thickness + 2, 2 * cap_px), face, scale, 255, thickness, cv2.LINE_AA)
        rows, cols = np.nonzero(canvas)
        if not len(rows):
            return np.zeros((1, 1), np.uint8), 0
        return canvas[rows.min():rows.max() + 1, cols.min():cols.max() + 1].copy(), int(rows.min())

    _, cap_top = ink("H")
    out: dict[str, _Glyph] = {}
    for ch in _GLYPH_CHARS:
        mask, top = ink(ch)
        out[ch] = _Glyph(mask, top - cap_top)
    return out


@functools.lru_cache(maxsize=1024)
def _glyphs(path: str, cap_px: int) -> dict[str, _Glyph]:
    if path.startswith(STROKE_PREFIX):
        return _stroke_glyphs(path, cap_px)
    font = _font(path, max(4, round(cap_px / _cap_ratio(path))))
    cap_top = font.getbbox("H", anchor="ls")[1]
    out: dict[str, _Glyph] = {}
    for ch in _GLYPH_CHARS:
        left, top, right, bottom = font.getbbox(ch, anchor="ls")
        im = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
        ImageDraw.Draw(im).text((-left, -top), ch, font=font, fill=255, anchor="ls")
        out[ch] = _Glyph(np.asarray(im).copy(), top - cap_top)
    return out


# --------------------------------------------------------------------------- drawing helpers


def _fill_round_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, r: int,
                     color: tuple[int, ...] | int) -> None:
    r = int(max(0, min(r, (x1 - x0) // 2, (y1 - y0) // 2)))
    cv2.rectangle(img, (x0 + r, y0), (x1 - r, y1), color, -1)
    cv2.rectangle(img, (x0, y0 + r), (x1, y1 - r), color, -1)
    if r > 0:
        for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
            cv2.circle(img, (cx, cy), r, color, -1, lineType=cv2.LINE_AA)


def _blend_mask(img: np.ndarray, mask: np.ndarray, x: int, y: int,
                color: tuple[int, int, int]) -> None:
    """Paint `color` into img through a uint8 coverage mask placed at (x, y), clipped."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    a = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32) * (1.0 / 255.0)
    roi = img[y0:y1, x0:x1]
    ink = np.empty_like(roi)
    ink[:] = color
    roi[:] = cv2.blendLinear(ink, roi, a, 1.0 - a)


def _text_row(items: list[tuple[str, dict[str, _Glyph], int]], cap_px: int, spacing: int,
              gap: int) -> np.ndarray:
    """Coverage mask of a row of character groups; items are (group, glyphs, drop in px)."""
    pad = max(2, int(0.12 * cap_px))
    placed: list[tuple[_Glyph, int, int]] = []
    x = 0
    for gi, (group, glyphs, drop) in enumerate(items):
        if gi:
            x += gap - spacing
        for ch in group:
            g = glyphs[ch]
            placed.append((g, x, pad + g.top + drop))
            x += g.mask.shape[1] + spacing
    width = max(1, x - spacing)
    row = np.zeros((cap_px + 2 * pad, width), np.uint8)
    for g, gx, gy in placed:
        h, w = g.mask.shape
        y0, y1 = max(gy, 0), min(gy + h, row.shape[0])
        if y1 > y0:
            np.maximum(row[y0:y1, gx:gx + w], g.mask[y0 - gy:y1 - gy], out=row[y0:y1, gx:gx + w])
    return row


def _place_row(img: np.ndarray, row: np.ndarray, area: tuple[int, int, int, int],
               cap_px: int, squeeze: float, color: tuple[int, int, int],
               rng: np.random.Generator) -> tuple[int, int, int]:
    """Fit a text row into area (x0, y0, x1, y1), horizontally squeezed, roughly centred.
    Returns where its characters landed: left and right x, and the y of their middle."""
    ax0, ay0, ax1, ay1 = area
    pad = (row.shape[0] - cap_px) // 2
    width = min(int(round(row.shape[1] * squeeze)), ax1 - ax0)
    if width != row.shape[1]:
        interp = cv2.INTER_AREA if width < row.shape[1] else cv2.INTER_LINEAR
        row = cv2.resize(row, (max(1, width), row.shape[0]), interpolation=interp)
    slack_x = (ax1 - ax0) - width
    x = ax0 + slack_x // 2 + int(round(rng.uniform(-0.12, 0.12) * slack_x))
    y = (ay0 + ay1 - cap_px) // 2 - pad + int(round(rng.uniform(-0.04, 0.04) * cap_px))
    _blend_mask(img, row, x, y, color)
    return x, x + width, y + pad + cap_px // 2


# --------------------------------------------------------------------------- plate render


@dataclass(frozen=True)
class RenderedPlate:
    """A flat plate render: colour, coverage of plate (+frame), the plate's own corners."""

    image: np.ndarray  # BGR uint8
    alpha: np.ndarray  # uint8, 255 on the plate and its frame, 0 outside the rounded corners
    quad: np.ndarray  # 4x2 float32 corners of the plate itself (tl, tr, br, bl), frame excluded


def _white(rng: np.random.Generator) -> tuple[int, int, int]:
    base = rng.uniform(222, 252)
    tint = rng.uniform(0, 14) if rng.random() < 0.5 else 0.0  # yellowed reflective film
    return (int(base - tint), int(base - tint * 0.3), int(base))


def _jitter_color(rng: np.random.Generator, color: tuple[int, int, int],
                  amount: float = 18) -> tuple[int, int, int]:
    d = rng.uniform(-amount, amount, 3)
    return (int(min(255, max(0, color[0] + d[0]))), int(min(255, max(0, color[1] + d[1]))),
            int(min(255, max(0, color[2] + d[2]))))


def _draw_flag(img: np.ndarray, x: int, y: int, w: int, h: int, outline: bool) -> None:
    if outline:
        o = max(1, h // 12)
        cv2.rectangle(img, (x - o, y - o), (x + w + o - 1, y + h + o - 1), (245, 245, 245), -1)
    cv2.rectangle(img, (x, y), (x + w - 1, y + h // 2 - 1), _UA_BLUE, -1)
    cv2.rectangle(img, (x, y + h // 2), (x + w - 1, y + h - 1), _UA_YELLOW, -1)


def _draw_holes(img: np.ndarray, rng: np.random.Generator, centres: list[tuple[int, int]],
                mm: float) -> None:
    """Empty mounting holes: dark dots, often with a paler rim where the film tore."""
    r = max(1, int(round(rng.uniform(1.2, 3.0) * mm)))
    dark = int(rng.uniform(15, 90))
    for cx, cy in centres:
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), r + max(1, r // 2), (int(rng.uniform(150, 210)),) * 3, -1,
                       lineType=cv2.LINE_AA)
        cv2.circle(img, (cx, cy), r, (dark,) * 3, -1, lineType=cv2.LINE_AA)


def _draw_row_fixings(img: np.ndarray, rng: np.random.Generator, text_x: tuple[int, int],
                      mid_y: int, mm: float) -> None:
    """Screws or empty holes level with the characters, just beyond the first or last one:
    where many plates are fixed. A reader that never saw them reads a dot before the first
    character as one more letter (`ua-old-B8233XA.jpg` at lower resolutions: `IB8233XA`)."""
    reach = rng.uniform(2.5, 7.0) * mm
    sides = [(text_x[0] - reach), (text_x[1] + reach)]
    pick = rng.random()
    if pick < 0.3:
        sides = sides[:1]
    elif pick < 0.45:
        sides = sides[1:]
    y = mid_y + int(round(rng.uniform(-4.0, 4.0) * mm))
    centres = [(int(round(x)), y) for x in sides]
    if rng.random() < 0.6:
        _draw_holes(img, rng, centres, mm)
    else:
        _draw_screws(img, rng, centres, mm)


def _draw_lead_dot(img: np.ndarray, rng: np.random.Generator, text_left: int, mid_y: int,
                   mm: float, ink: tuple[int, int, int], drawn: bool) -> None:
    """A filled dot in the character colour a little before the first character, as on
    `ua-old-B8233XA.jpg`: larger and closer than a mounting hole, and not a letter. Its
    size and place are drawn from rng even when it is not drawn, so that the choice alone
    changes the plate."""
    r = max(1, int(round(rng.uniform(2.5, 6.5) * mm)))
    cx = text_left - r - int(round(rng.uniform(2.0, 10.0) * mm))
    cy = mid_y + int(round(rng.uniform(-8.0, 4.0) * mm))
    if drawn:
        cv2.circle(img, (cx, cy), r, ink, -1, lineType=cv2.LINE_AA)


def _draw_screws(img: np.ndarray, rng: np.random.Generator, centres: list[tuple[int, int]],
                 mm: float) -> None:
    r = max(2, int(round(rng.uniform(2.5, 3.5) * mm)))
    metal = int(rng.uniform(110, 200))
    for cx, cy in centres:
        cv2.circle(img, (cx, cy), r, (metal,) * 3, -1, lineType=cv2.LINE_AA)
        cv2.circle(img, (cx, cy), r, (metal // 2,) * 3, max(1, r // 4), lineType=cv2.LINE_AA)
        if r >= 4 and rng.random() < 0.7:  # cross or slot head
            d = int(r * 0.6)
            cv2.line(img, (cx - d, cy), (cx + d, cy), (metal // 3,) * 3, max(1, r // 4))
            cv2.line(img, (cx, cy - d), (cx, cy + d), (metal // 3,) * 3, max(1, r // 4))


@functools.lru_cache(maxsize=8)
def _font_weights(fonts: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    # Bold cuts are closest to the plate lettering, so they are drawn twice as often.
    names = tuple(Path(f).name.lower() for f in fonts)
    weights = np.array([2.0 if "bold" in n else 1.0 for n in names])
    return weights / weights.sum(), names


def _render(text: str, rng: np.random.Generator, fonts: tuple[str, ...],
            height: int = BASE_HEIGHT, frame_p: float = 0.3) -> RenderedPlate:
    if not text or any(c not in DIGITS + LETTERS for c in text):
        raise ValueError(f"cannot render {text!r}: use characters of {DIGITS + LETTERS}")
    layout = matching_layout(text) or "ua"
    mm = height / PLATE_MM[1]
    W, H = int(round(PLATE_MM[0] * mm)), height

    weights, names = _font_weights(fonts)
    index = int(rng.choice(len(fonts), p=weights))
    font, name = fonts[index], names[index]
    # Older plates were stencilled in other lettering than DIN: some plates get stroke fonts.
    if rng.random() < (0.4 if layout in ("ua-1977", "ua-1995") else 0.12):
        font = name = random_stroke_font(rng)
    condensed, bold = "condensed" in name, "bold" in name
    # Plate characters are narrower than text DIN; squeeze the wide cuts more.
    squeeze = rng.uniform(1.0, 1.2) if condensed else rng.uniform(0.74, 0.9)

    dark_plate = layout == "ua-1977" and rng.random() < 0.35
    bg = _jitter_color(rng, (28, 28, 28), 10) if dark_plate else _white(rng)
    ink = _white(rng) if dark_plate else _jitter_color(rng, (18, 18, 18), 14)

    plate = np.empty((H, W, 3), np.uint8)
    plate[:] = bg
    # Thin border inset from the edge; the blank between edge and border is plate colour.
    inset = int(round(rng.uniform(1.0, 2.5) * mm))
    thick = max(1, int(round(rng.uniform(1.0, 2.0) * mm)))
    radius = int(round(rng.uniform(3.0, 6.0) * mm))
    if not (layout == "ua-1977" and rng.random() < 0.3):
        _fill_round_rect(plate, inset, inset, W - 1 - inset, H - 1 - inset, radius, ink)
        _fill_round_rect(plate, inset + thick, inset + thick, W - 1 - inset - thick,
                         H - 1 - inset - thick, max(0, radius - thick), bg)
    inner0, inner1 = inset + thick, W - 1 - inset - thick
    text_x0 = inner0 + int(round(rng.uniform(5, 10) * mm))

    cap = int(round(H * rng.uniform(0.6, 0.7)))
    spacing = int(round(rng.uniform(1.0, 4.5) * mm))
    gap = spacing + int(round(rng.uniform(8.0, 16.0) * mm))
    glyphs = _glyphs(font, cap)

    if layout == "ua":
        # Blue EU-style strip with the flag above "UA", inside the border.
        strip_w = int(round(rng.uniform(40, 48) * mm))
        blue = _jitter_color(rng, _UA_BLUE, 20)
        cv2.rectangle(plate, (inner0, inner0), (inner0 + strip_w, H - 1 - inner0), blue, -1)
        fw, fh = int(round(rng.uniform(26, 32) * mm)), int(round(rng.uniform(17, 21) * mm))
        fx = inner0 + (strip_w - fw) // 2 + 1
        _draw_flag(plate, fx, inner0 + int(round(rng.uniform(9, 16) * mm)), fw, fh,
                   rng.random() < 0.5)
        ua_cap = int(round(rng.uniform(13, 17) * mm))
        ua = _text_row([("UA", _glyphs(font, ua_cap), 0)], ua_cap, max(1, int(2 * mm)), 0)
        ua_top = H - inner0 - int(round(rng.uniform(8, 13) * mm)) - ua_cap
        _place_row(plate, ua, (inner0, ua_top, inner0 + strip_w + 1, ua_top + ua_cap), ua_cap,
                   rng.uniform(0.8, 1.0), _white(rng), rng)
        text_x0 = inner0 + strip_w + int(round(rng.uniform(6, 11) * mm))
        groups = [text[:2], text[2:6], text[6:]]
        items = [(g, glyphs, 0) for g in groups]
    elif layout == "ua-1995":
        if rng.random() < 0.75:  # small flag with "UA" at the left of the 1995 design
            fw, fh = int(round(rng.uniform(22, 28) * mm)), int(round(rng.uniform(15, 19) * mm))
            fy = int(round(rng.uniform(18, 26) * mm))
            _draw_flag(plate, inner0 + int(4 * mm), fy, fw, fh, False)
            ua_cap = int(round(rng.uniform(11, 15) * mm))
            ua = _text_row([("UA", _glyphs(font, ua_cap), 0)], ua_cap, max(1, int(2 * mm)), 0)
            ua_top = fy + fh + int(round(rng.uniform(6, 12) * mm))
            _place_row(plate, ua, (inner0 + int(4 * mm), ua_top, inner0 + int(4 * mm) + fw,
                                   ua_top + ua_cap), ua_cap, 1.0, ink, rng)
            text_x0 = inner0 + int(4 * mm) + fw + int(round(rng.uniform(6, 12) * mm))
        cap = int(round(cap * rng.uniform(0.88, 1.0)))
        glyphs = _glyphs(font, cap)
        if rng.random() < 0.7:
            items = [(text[:3] + "-" + text[3:5], glyphs, 0), (text[5:], glyphs, 0)]
        else:
            items = [(text[:5], glyphs, 0), (text[5:], glyphs, 0)]
    else:  # soviet: small first letter, then digits, then the region letters
        small = int(round(cap * rng.uniform(0.72, 1.0)))
        items = [(text[0], _glyphs(font, small), cap - small), (text[1:5], glyphs, 0),
                 (text[5:], glyphs, 0)]

    row = _text_row(items, cap, spacing, gap)
    if not bold and rng.random() < 0.6:  # plate strokes are heavier than a regular cut
        k = 2 * max(1, int(round(cap * rng.uniform(0.01, 0.025)))) + 1
        row = cv2.dilate(row, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    text_x1 = inner1 - int(round(rng.uniform(5, 10) * mm))
    text_left, text_right, text_mid = _place_row(plate, row, (text_x0, 0, text_x1, H), cap,
                                                 squeeze, ink, rng)
    if rng.random() < ROW_FIXINGS_P:
        _draw_row_fixings(plate, rng, (text_left, text_right), text_mid, mm)
    _draw_lead_dot(plate, rng, text_left, text_mid, mm, ink,
                   drawn=bool(rng.random() < LEAD_DOT_P[layout]))

    # Bracket screws above the characters, clear of the text.
    return _finish_plate(plate, rng, mm, radius + inset, 0.45, (6.5, 9.5), frame_p)


def _finish_plate(plate: np.ndarray, rng: np.random.Generator, mm: float, corner: int,
                  screws_p: float, screws_mm: tuple[float, float], frame_p: float) -> RenderedPlate:
    """Bracket screws (with probability `screws_p`, `screws_mm` from the top), the rounded
    coverage mask, and a holder frame (probability `frame_p`)."""
    H, W = plate.shape[:2]
    if rng.random() < screws_p:
        y = int(round(rng.uniform(*screws_mm) * mm))
        _draw_screws(plate, rng, [(int(W * rng.uniform(0.2, 0.3)), y),
                                  (int(W * rng.uniform(0.7, 0.8)), y)], mm)
    alpha = np.zeros((H, W), np.uint8)
    _fill_round_rect(alpha, 0, 0, W - 1, H - 1, corner, 255)
    quad = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float32)
    if rng.random() < frame_p:
        plate, alpha, quad = _add_frame(plate, alpha, quad, rng, mm)
    return RenderedPlate(plate, alpha, quad)


def _add_frame(plate: np.ndarray, alpha: np.ndarray, quad: np.ndarray,
               rng: np.random.Generator, mm: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surround the plate with a plastic or chrome holder; dealer text on a wider bottom bar."""
    H, W = alpha.shape
    side = int(round(rng.uniform(3, 8) * mm))
    top = int(round(rng.uniform(3, 8) * mm))
    bottom = int(round(rng.uniform(4, 16) * mm))
    fh, fw = H + top + bottom, W + 2 * side
    silver = rng.random() < 0.35
    base = rng.uniform(150, 215) if silver else rng.uniform(10, 45)
    frame = np.empty((fh, fw, 3), np.uint8)
    # Vertical gradient so chrome looks like chrome and plastic catches some light.
    ramp = np.linspace(1.15, 0.8, fh, dtype=np.float32)[:, None, None] if silver else 1.0
    frame[:] = np.clip(base * ramp, 0, 255).astype(np.uint8)
    falpha = np.zeros((fh, fw), np.uint8)
    _fill_round_rect(falpha, 0, 0, fw - 1, fh - 1, int(round(rng.uniform(5, 10) * mm)), 255)
    roi = frame[top:top + H, side:side + W]
    a = alpha.astype(np.float32)[..., None] / 255.0
    roi[:] = (plate * a + roi * (1 - a)).astype(np.uint8)
    falpha[top:top + H, side:side + W] = np.maximum(falpha[top:top + H, side:side + W], alpha)
    if bottom >= 9 * mm and rng.random() < 0.6:
        n = int(rng.integers(6, 16))
        dealer = "".join(LETTERS[i] for i in rng.integers(len(LETTERS), size=n))
        scale = bottom * 0.55 / 22.0
        colour = (30, 30, 30) if silver else (200, 200, 200)
        size, _ = cv2.getTextSize(dealer, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        org = ((fw - size[0]) // 2, top + H + (bottom + size[1]) // 2)
        cv2.putText(frame, dealer, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return frame, falpha, quad + np.array([side, top], np.float32)


def render_plate_layers(text: str, rng: np.random.Generator,
                        fonts_dir: str | os.PathLike[str] | None = None, *,
                        height: int = BASE_HEIGHT, frame_p: float = 0.3) -> RenderedPlate:
    """The render with its coverage mask and the plate's corners, for compositing.

    `height` is the plate's height in pixels (1 px per mm at 112); a holder frame is
    added with probability `frame_p`.
    """
    return _render(text, rng, _font_paths(fonts_dir), height, frame_p)


def render_plate(text: str, rng: np.random.Generator,
                 fonts_dir: str | os.PathLike[str] | None = None, *,
                 height: int = BASE_HEIGHT) -> np.ndarray:
    """Flat front view (BGR uint8) of a Ukrainian plate reading `text`.

    The design follows the layout the text matches: 'ua' gets the blue UA strip,
    'ua-1995' a white one-line plate with a small flag, 'ua-1977' a black or white plate.
    An optional holder frame makes the image larger than the plate; corners outside
    the rounded plate are dark grey.
    """
    p = render_plate_layers(text, rng, fonts_dir, height=height)
    a = p.alpha.astype(np.float32)[..., None] / 255.0
    return (p.image * a + 60.0 * (1.0 - a) + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- geometry


def detector_box_jitter(box_xyxy: np.ndarray | tuple[float, float, float, float],
                        rng: np.random.Generator, width: int, height: int,
                        tight: float = 0.03, loose: float = 0.25) -> tuple[int, int, int, int]:
    """Integer crop box around a plate box, as a detector would give it.

    Each side moves by a fraction of the box size from -tight (cutting into the plate)
    to +loose; small margins are more likely, as detectors tend to box snugly.
    The result is clipped to the image and never empty.
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    bw, bh = x1 - x0, y1 - y0
    f = -tight + (tight + loose) * rng.random(4) ** 1.5
    cx0 = int(math.floor(x0 - f[0] * bw))
    cy0 = int(math.floor(y0 - f[1] * bh))
    cx1 = int(math.ceil(x1 + f[2] * bw))
    cy1 = int(math.ceil(y1 + f[3] * bh))
    cx0, cy0 = min(max(cx0, 0), width - 1), min(max(cy0, 0), height - 1)
    cx1, cy1 = min(max(cx1, cx0 + 1), width), min(max(cy1, cy0 + 1), height)
    return cx0, cy0, cx1, cy1


def random_plate_quad(rng: np.random.Generator, w: float, h: float,
                      max_rot_deg: float = 8.0, strength: float = 1.0,
                      turn_deg: float = 0.0, slant_deg: float = 0.0) -> np.ndarray:
    """Corners (tl, tr, br, bl) of a w x h plate seen under a random mild perspective,
    centred on the origin. `strength` scales every distortion (0 = upright rectangle);
    `turn_deg` turns the plate further in the image plane; `slant_deg` makes its baseline
    climb to the right with its vertical edges kept upright (a side view from above)."""
    s = strength
    pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]],
                   np.float64)
    yaw = rng.uniform(-0.12, 0.12) * s  # one vertical edge nearer the camera
    pts[[1, 2], 1] *= 1 + yaw
    pts[[0, 3], 1] *= 1 - yaw
    pitch = rng.uniform(-0.05, 0.05) * s  # top edge nearer or farther than the bottom
    pts[[0, 1], 0] *= 1 + pitch
    pts[[2, 3], 0] *= 1 - pitch
    pts[:, 0] += rng.uniform(-0.12, 0.12) * s * pts[:, 1]  # shear
    a = math.radians(rng.uniform(-max_rot_deg, max_rot_deg) * s + turn_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pts = pts @ rot.T
    pts[:, 1] -= math.tan(math.radians(slant_deg)) * pts[:, 0]
    pts += rng.normal(0.0, 0.012 * h * s, (4, 2))
    return pts.astype(np.float32)


# The kinds of view synth_crop draws from; naming one forces it (for evaluation by view).
VIEWS = ("level", "steep", "turned", "slanted")
# Plate heights (px, as captured) a person reads at a glance: evaluation by view uses them,
# so that what is left is the view itself (smaller plates: evaluation by height).
LEGIBLE_HEIGHTS = (20.0, 60.0)
# How far off (degrees) the service's grid of leveling angles (Settings.turn_angles,
# slant_angles) can leave a plate it levels: leveled training crops are off by as much.
LEVELING_ERROR = 6.0
# The plate heights (px) cameras capture in training and validation crops.
CAPTURE_RANGE = (12.0, 60.0)
# The small end of it, where the reader makes most of its mistakes: training can draw more
# crops from it (train-recognizer --small-share).
SMALL_CAPTURE_RANGE = (12.0, 20.0)


def steep_view(rng: np.random.Generator, kind: str | None = None) -> tuple[float, float, float, float]:
    """A steep view (a car photographed from the side, a tilted plate): how much narrower
    the plate looks, the `random_plate_quad` strength, and its extra turn and slant in
    degrees. Real photos go as far as half the width and a turn of 25°; a camera held
    askew at a car's corner turns the plate by up to 50°, which a quarter of the views get.
    Seen from the side and from above, a plate's baseline climbs while its characters stay
    upright (`ua-AA8809TI.jpg`, about 30°): another quarter are slanted 15–40°. Readers and
    detectors trained on milder views missed such plates. `kind` ('steep', 'turned',
    'slanted') forces one of the three; by default a quarter turn and a quarter slant."""
    narrower, strength = rng.uniform(0.45, 0.95), rng.uniform(1.2, 3.2)
    askew, sign = rng.random(), rng.choice((-1.0, 1.0))
    if kind is not None:
        askew = {"steep": 0.75, "turned": 0.0, "slanted": 0.25}[kind]
    turn = rng.uniform(25.0, 50.0) * sign if askew < 0.25 else 0.0
    slant = rng.uniform(15.0, 40.0) * sign if 0.25 <= askew < 0.5 else 0.0
    return narrower, strength, turn, slant


def warp_plate(plate: RenderedPlate, dst_quad: np.ndarray, size: tuple[int, int],
               origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Warp a rendered plate so its own corners land on dst_quad.

    Produces the (w, h) = `size` window whose top-left is `origin` in dst_quad's
    coordinates, so callers warp only the region the plate covers. Returns (BGR, alpha
    float32 in 0..1). A render much larger than the target is first shrunk with area
    averaging, because bilinear warping would alias.
    """
    src_img, src_alpha, src_quad = plate.image, plate.alpha, plate.quad
    dst_quad = dst_quad.astype(np.float32) - np.asarray(origin, np.float32)
    dst_h = 0.5 * (np.linalg.norm(dst_quad[3] - dst_quad[0])
                   + np.linalg.norm(dst_quad[2] - dst_quad[1]))
    shrink = dst_h / float(src_quad[3, 1] - src_quad[0, 1])
    if shrink < 0.7:
        f = min(1.0, shrink * 1.25)
        nh, nw = max(2, int(round(src_img.shape[0] * f))), max(2, int(round(src_img.shape[1] * f)))
        fx, fy = nw / src_img.shape[1], nh / src_img.shape[0]
        src_img = cv2.resize(src_img, (nw, nh), interpolation=cv2.INTER_AREA)
        src_alpha = cv2.resize(src_alpha, (nw, nh), interpolation=cv2.INTER_AREA)
        src_quad = src_quad * np.array([fx, fy], np.float32)
    m = cv2.getPerspectiveTransform(src_quad.astype(np.float32), dst_quad)
    img = cv2.warpPerspective(src_img, m, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(src_alpha, m, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return img, alpha.astype(np.float32) * (1.0 / 255.0)


def plate_window(plate: RenderedPlate, dst_quad: np.ndarray, width: int, height: int,
                 pad: int = 2) -> tuple[int, int, int, int]:
    """Integer window (x0, y0, x1, y1) of a width x height image covered by the warped
    plate and its frame, padded, clipped; empty windows have x1 <= x0 or y1 <= y0."""
    pts = map_points(plate.quad, dst_quad, frame_corners(plate))
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def frame_corners(plate: RenderedPlate) -> np.ndarray:
    h, w = plate.alpha.shape
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def map_points(src_quad: np.ndarray, dst_quad: np.ndarray, pts: np.ndarray) -> np.ndarray:
    m = cv2.getPerspectiveTransform(src_quad.astype(np.float32), dst_quad.astype(np.float32))
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float32), m).reshape(-1, 2)


# --------------------------------------------------------------------------- synthetic crops


def _background(rng: np.random.Generator, w: int, h: int,
                source: np.ndarray | None) -> np.ndarray:
    if source is not None and rng.random() < 0.8:
        sh, sw = source.shape[:2]
        scale = rng.uniform(0.5, 2.0)
        cw, ch = min(sw, max(2, int(w * scale))), min(sh, max(2, int(h * scale)))
        x, y = int(rng.integers(sw - cw + 1)), int(rng.integers(sh - ch + 1))
        return cv2.resize(source[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    kind = rng.integers(4)
    c0 = rng.uniform(0, 255, 3).astype(np.float32)
    if kind == 0:  # flat paint
        bg = np.broadcast_to(c0, (h, w, 3))
    elif kind == 1:  # gradient between two colours
        c1 = rng.uniform(0, 255, 3).astype(np.float32)
        if rng.random() < 0.6:
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        else:
            t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        bg = c0 * (1 - t) + c1 * t
        bg = np.broadcast_to(bg, (h, w, 3))
    elif kind == 2:  # blotchy texture: coarse noise upsampled
        cell = int(rng.integers(4, 24))
        # Mostly luminance variation around one colour: rainbow noise is not a street.
        small = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2, 1)).astype(np.float32)
        tint = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2, 3)).astype(np.float32)
        small = c0 + small * rng.uniform(20, 90) + tint * rng.uniform(0, 20)
        bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # grille-like stripes
        bg = np.empty((h, w, 3), np.float32)
        bg[:] = c0
        period = int(rng.integers(4, 20))
        c1 = rng.uniform(0, 255, 3).astype(np.float32)
        if rng.random() < 0.5:
            bg[::period] = c1
            bg[1::period] = c1
        else:
            bg[:, ::period] = c1
    return np.clip(bg, 0, 255).astype(np.uint8)


def _lighting(img: np.ndarray, rng: np.random.Generator, plate_box: np.ndarray) -> np.ndarray:
    """Shadow, glare and colour cast (float maps), then contrast/brightness/gamma (LUT)."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = plate_box
    pw, ph = max(1.0, x1 - x0), max(1.0, y1 - y0)
    gain = rng.uniform(0.85, 1.1, 3).astype(np.float32) if rng.random() < 0.4 else None
    out: np.ndarray | None = None
    if rng.random() < 0.35:  # a hard-ish shadow edge across the plate
        ang = rng.uniform(0, 2 * math.pi)
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        xs = np.arange(w, dtype=np.float32)[None, :] - cx
        ys = np.arange(h, dtype=np.float32)[:, None] - cy
        soft = rng.uniform(0.5, 0.1 * pw + 1)
        t = np.clip((xs * math.cos(ang) + ys * math.sin(ang)) * (1.0 / soft) + 0.5, 0, 1)
        shade = 1.0 - rng.uniform(0.3, 0.7) * t
        out = img * shade[..., None]
    if gain is not None:
        out = (img if out is None else out) * gain
    if rng.random() < 0.2:  # specular glare spot on the reflective film
        gx, gy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        sx, sy = rng.uniform(0.04, 0.2) * pw, rng.uniform(0.2, 0.6) * ph
        xs = np.exp(-0.5 * ((np.arange(w, dtype=np.float32) - gx) / sx) ** 2)
        ys = np.exp(-0.5 * ((np.arange(h, dtype=np.float32) - gy) / sy) ** 2)
        spot = np.outer(ys, xs * rng.uniform(40, 150))
        out = (img.astype(np.float32) if out is None else out) + spot[..., None]
    if out is not None:
        img = cv2.convertScaleAbs(out)  # saturating cast back to uint8
    contrast = rng.uniform(0.55, 1.2)
    bright = rng.uniform(-50, 40)
    gamma = math.exp(rng.uniform(-0.5, 0.5))
    lut = np.arange(256, dtype=np.float32)
    lut = np.clip((lut - 128) * contrast + 128 + bright, 0, 255) / 255.0
    lut = np.clip(255.0 * lut ** gamma + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


def _motion_kernel(rng: np.random.Generator, length: int) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    a = rng.uniform(0, math.pi)
    dx, dy = math.cos(a) * c, math.sin(a) * c
    cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))),
             1.0, 1, cv2.LINE_AA)
    return k / max(k.sum(), 1e-6)


def degrade(img: np.ndarray, rng: np.random.Generator, plate_h: float,
            low_res: tuple[float, float] = CAPTURE_RANGE) -> np.ndarray:
    """Camera-like damage: blur, low resolution, sensor noise, JPEG, then back to size."""
    r = rng.random()
    if r < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.3))
    elif r < 0.7:
        # Streak length relative to the plate so small plates stay readable.
        length = 2 * int(rng.integers(1, max(2, int(0.06 * plate_h) + 1))) + 1
        img = cv2.filter2D(img, -1, _motion_kernel(rng, length))
    h, w = img.shape[:2]
    target = rng.uniform(*low_res)
    small = img
    if target < 0.9 * plate_h:  # the camera's own resolution
        f = target / plate_h
        size = (max(2, int(round(w * f))), max(2, int(round(h * f))))
        interp = cv2.INTER_AREA if rng.random() < 0.6 else cv2.INTER_LINEAR
        small = cv2.resize(img, size, interpolation=interp)
    sigma = rng.uniform(0, 10) if rng.random() < 0.7 else 0.0
    if sigma > 0.5:  # sensor noise, at capture resolution, mostly luminance
        shape = small.shape if rng.random() < 0.3 else (*small.shape[:2], 1)
        noise = rng.standard_normal(shape, dtype=np.float32) * sigma
        small = np.clip(small + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.85:
        q = int(round(95 - 75 * rng.random() ** 2))  # 20..95, mostly the milder end
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, q])
        small = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if small.shape[:2] != img.shape[:2]:
        interp = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
        small = cv2.resize(small, (w, h), interpolation=interp)
    return small


@dataclass(frozen=True)
class ViewedCrop:
    """A rendered crop with what is known of how the plate was seen."""
    image: np.ndarray  # BGR, detector-like crop
    text: str
    climb: float       # degrees the plate's baseline climbs to the right (counter-clockwise)
    slanted: bool      # askew by a shear (characters upright), not by a turn


def synth_crop(rng: np.random.Generator, text: str | None = None,
               background: np.ndarray | None = None,
               fonts_dir: str | os.PathLike[str] | None = None,
               capture_height: float | tuple[float, float] | None = None,
               view: str | None = None, leveled: bool = False,
               leveling_error: float = LEVELING_ERROR) -> tuple[np.ndarray, str]:
    """One training sample for the text reader: a detector-like crop (BGR) and its text
    (see synth_viewed_crop)."""
    made = synth_viewed_crop(rng, text, background, fonts_dir, capture_height, view, leveled,
                             leveling_error)
    return made.image, made.text


def synth_viewed_crop(rng: np.random.Generator, text: str | None = None,
                      background: np.ndarray | None = None,
                      fonts_dir: str | os.PathLike[str] | None = None,
                      capture_height: float | tuple[float, float] | None = None,
                      view: str | None = None, leveled: bool = False,
                      leveling_error: float = LEVELING_ERROR, design: "Design | None" = None) -> ViewedCrop:
    """One training sample for the text reader: a detector-like crop, its text and its view.
    `capture_height` fixes the plate's height in pixels as the camera saw it, or the range
    it is drawn from (by default 12–60 px; the crop is then at most that sharp); `view`,
    one of VIEWS, fixes the kind of view (by default 70 % level, the rest steep, some of
    those turned or slanted). `leveled` gives a steep view's crop as the service reads an
    unsure one: turned back (slanted plates: sheared back) by its baseline's angle, give
    or take `leveling_error` degrees (alpr.leveling). A `design` (alpr.training.plate_designs)
    draws that plate instead of a Ukrainian one-line plate reading `text`; `capture_height`
    is then a line's."""
    fonts = _font_paths(fonts_dir)
    aspect = PLATE_ASPECT
    if design is not None:
        from .plate_designs import render_design

        text, aspect = design.text, design.size_mm[0] / design.size_mm[1]
        lines = len(design.lines)
        ph = rng.uniform(36, 68) * (1.0 if lines == 1 else 1.6)
        plate = render_design(design, rng, fonts, int(8 * round(ph * 1.3 / 8)))
        # `capture_height` is a line's: a two-line plate stands 1.8 lines high.
        line_heights = capture_height if capture_height is not None else CAPTURE_RANGE
        if not isinstance(line_heights, tuple):
            line_heights = (line_heights, line_heights)
        capture_height = tuple(h * (1.0 if lines == 1 else 1.8) for h in line_heights)
    else:
        if text is None:
            text = random_plate_text(rng)
        ph = rng.uniform(36, 68)  # plate height in the working canvas
        # Render a little larger than needed (not at full size): it is the costliest step.
        plate = _render(text, rng, fonts, int(min(BASE_HEIGHT, 8 * round(ph * 1.3 / 8))))
    # A third of the views are steep (a car photographed from the side, a tilted plate):
    # real photos show these, and a reader trained on near-frontal plates misreads them.
    steep = rng.random() < 0.3
    if view is not None:
        steep = view != "level"
    if steep:
        narrower, strength, turn, slant = steep_view(rng, view)
    else:
        narrower, strength, turn, slant = rng.uniform(0.8, 1.05), 1.0, 0.0, 0.0
    quad = random_plate_quad(rng, ph * aspect * narrower, ph, strength=strength,
                             turn_deg=turn, slant_deg=slant)
    bw, bh = float(np.ptp(quad[:, 0])), float(np.ptp(quad[:, 1]))
    # The plate's own height as seen (its side edges) sets how sharp its characters are;
    # the box of a turned or slanted plate stands two to four times taller.
    seen_h = 0.5 * float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1]))
    # Choose the crop first and build only that window (plus a few pixels of context so
    # blur and resampling see real surroundings): pixels outside it would be thrown away.
    margin = np.array([0.3 * bw + 8, 0.3 * bh + 8], np.float32)
    quad = quad - quad.min(0) + margin
    span = np.ceil(quad.max(0) + margin).astype(int)
    box = np.array([*quad.min(0), *quad.max(0)])
    x0, y0, x1, y1 = detector_box_jitter(box, rng, int(span[0]), int(span[1]))
    pad = 4
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    quad = quad - np.array([x0, y0], np.float32)
    box = box - np.array([x0, y0, x0, y0], np.float32)
    w, h = x1 - x0, y1 - y0

    canvas = _background(rng, w, h, background)
    wx0, wy0, wx1, wy1 = plate_window(plate, quad, w, h)
    if wx1 > wx0 and wy1 > wy0:
        warped, alpha = warp_plate(plate, quad, (wx1 - wx0, wy1 - wy0), (wx0, wy0))
        roi = canvas[wy0:wy1, wx0:wx1]
        roi[:] = cv2.blendLinear(warped, roi, alpha, 1.0 - alpha)
    canvas = _lighting(canvas, rng, box)
    if capture_height is None:
        low_res = CAPTURE_RANGE
    elif isinstance(capture_height, tuple):
        low_res = capture_height
    else:
        low_res = (capture_height, capture_height)
    canvas = degrade(canvas, rng, seen_h, low_res)
    crop = canvas[pad:h - pad, pad:w - pad].copy()
    top_and_bottom = (quad[1] - quad[0]) + (quad[2] - quad[3])
    climb = math.degrees(math.atan2(-top_and_bottom[1], top_and_bottom[0]))  # counter-clockwise
    if leveled and steep:
        angle = climb + rng.uniform(-leveling_error, leveling_error)
        crop = unslant(crop, angle) if slant else unturn(crop, angle)
    return ViewedCrop(crop, text, climb, bool(slant))
