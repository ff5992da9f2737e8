"""Plates beyond the Ukrainian one-line ones, as designs: Ukrainian two-line plates and the
foreign plates driven in Ukraine, each a list of character groups per line, the marks
between groups (space, dash, seal, emblem, small flag) and the band at the left. They are
drawn with the glyphs, borders and fixings of alpr.training.render; everything random comes
from the caller's Generator, so a seed reproduces a plate byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..plate_formats import DIGITS, LATIN_LETTERS, LETTERS
from ..two_line import written_order
from .render import (
    RenderedPlate,
    _draw_flag,
    _fill_round_rect,
    _finish_plate,
    _font_weights,
    _glyphs,
    _jitter_color,
    _place_row,
    _text_row,
    _white,
    random_stroke_font,
)

FAMILIES = ("ua-two-line", "foreign")

# Per country: the letters of its band (None: no EU band) and its formats. A format is
# pattern letters (L a Latin letter, D a digit, A either) with marks between groups:
# " " space, "-" dash, "@" seal or emblem, "^" small flag, "/" the line break of a
# two-line plate. The neighbours of Ukraine come first and weigh most.
COUNTRIES: dict[str, tuple[str | None, tuple[str, ...], float]] = {
    "PL": ("PL", ("LL DDDDD", "LL DDDDL", "LL DDDLL", "LL DLDDD", "LLL DDDD", "LLL DDDLL",
                  "LLL DLLDD", "LL/DDDDD", "LLL/DDDD"), 0.14),
    "SK": ("SK", ("LL@DDDLL", "LL-DDDLL", "LL/DDDLL"), 0.08),
    "HU": ("H", ("LLL-DDD", "LL^LL-DDD", "LLL/DDD"), 0.07),
    "RO": ("RO", ("L DD LLL", "LL DD LLL", "L DDD LLL", "LL DDD LLL", "LL/DD LLL"), 0.10),
    "MD": ("MD", ("LLL DDD", "LLL^DDD", "L LL DDD", "LLL/DDD"), 0.08),
    "LT": ("LT", ("LLL DDD", "LLL/DDD"), 0.06),
    "GE": ("GE", ("LL-DDD-LL", "LLL-DDD"), 0.06),
    "CZ": ("CZ", ("DLD DDDD", "DLL DDDD", "DLD/DDDD"), 0.06),
    "DE": ("D", ("L@LL DDDD", "LL@L DDD", "LLL@LL DD", "L@L DDDD", "LL@LL DDD", "L@LL/DDDD"), 0.08),
    "BG": ("BG", ("LL DDDD LL", "L DDDD LL", "LL/DDDD LL"), 0.03),
    "LV": ("LV", ("LL-DDDD", "LL-DDD"), 0.03),
    "EE": ("EST", ("DDD LLL",), 0.02),
    "BY": (None, ("DDDD LL-D",), 0.04),
    # Any other plate: letters and digits in two or three groups, any band or none.
    "other": (None, ("AAA AAA", "AA AAAA", "AAAA AAA", "AAA AAAA", "AA AAA AA", "AAAAAAA",
                     "AAA-AAAA", "AAAAAA", "AAAAA", "AAAAAAA", "AAA/AAA", "AA/AAAAA"), 0.3),
}
# Ukrainian two-line plates (U: a letter of Ukrainian plates): the square car plate (region
# and series letters over the digits; written AP7007ET) and the digits-over-letters plates of
# tractors, ATVs and trailers (written 10922BX).
UA_TWO_LINE: tuple[tuple[str, float], ...] = (("UU UU/DDDD", 0.6), ("DDDDD/UU", 0.25), ("DDDD/UU", 0.15))

_EU_BLUE = (153, 51, 0)      # BGR
_EU_STARS = (0, 204, 255)
_MARK_GAP = {" ": (0.35, 0.7), "-": (0.08, 0.2), "@": (0.7, 1.0), "^": (0.6, 0.9)}


@dataclass(frozen=True)
class Design:
    family: str                               # one of FAMILIES
    lines: tuple[tuple[str, ...], ...]        # character groups, line by line
    marks: tuple[tuple[str, ...], ...]        # what follows each group but a line's last
    band: str | None                          # the letters of the blue band, None: no band
    size_mm: tuple[float, float]              # width, height
    yellow: bool = False
    # Small print above and below the number (a state or dealer name, a motto), not read.
    captions: tuple[str, str] = ("", "")
    tinted: bool = False                      # a pale coloured or patterned plate, coloured ink

    @property
    def line_texts(self) -> tuple[str, ...]:
        return tuple("".join(groups) for groups in self.lines)

    @property
    def text(self) -> str:
        """The number as written (alpr.two_line.written_order for two lines)."""
        texts = self.line_texts
        return texts[0] if len(texts) == 1 else written_order(*texts).text


def _fill(pattern: str, rng: np.random.Generator) -> str:
    out = []
    for p in pattern:
        pool = {"L": LATIN_LETTERS, "D": DIGITS, "U": LETTERS, "A": LATIN_LETTERS + DIGITS}[p]
        out.append(pool[int(rng.integers(len(pool)))])
    return "".join(out)


def _parse(fmt: str, rng: np.random.Generator) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    lines, marks = [], []
    for line in fmt.split("/"):
        groups, between, current = [], [], ""
        for ch in line:
            if ch in _MARK_GAP:
                groups.append(_fill(current, rng))
                between.append(ch)
                current = ""
            else:
                current += ch
        groups.append(_fill(current, rng))
        lines.append(tuple(groups))
        marks.append(tuple(between))
    return tuple(lines), tuple(marks)


def random_design(rng: np.random.Generator, family: str) -> Design:
    """A random plate of `family` ("ua-two-line" or "foreign")."""
    if family == "ua-two-line":
        formats, weights = zip(*UA_TWO_LINE)
        fmt = formats[int(rng.choice(len(formats), p=np.array(weights) / sum(weights)))]
        lines, marks = _parse(fmt, rng)
        square = len(lines[0]) == 2
        size = (rng.uniform(250, 310), rng.uniform(150, 200)) if square else (rng.uniform(220, 290), rng.uniform(160, 210))
        return Design(family, lines, marks, "UA", size)
    if family != "foreign":
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    names = list(COUNTRIES)
    weights = np.array([COUNTRIES[n][2] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    band, formats, _ = COUNTRIES[name]
    fmt = formats[int(rng.integers(len(formats)))]
    if name == "other" and rng.random() < 0.5:
        band = "".join(LATIN_LETTERS[i] for i in rng.integers(len(LATIN_LETTERS), size=int(rng.integers(1, 4))))
    lines, marks = _parse(fmt, rng)
    captions, tinted = ("", ""), False
    if len(lines) == 2:
        size = (rng.uniform(240, 340), rng.uniform(160, 220))
    elif band is None and rng.random() < 0.6:  # the squatter plates of other standards
        size = (rng.uniform(290, 420), rng.uniform(140, 175))
        captions = tuple(_caption(rng) if rng.random() < 0.6 else "" for _ in range(2))
        tinted = bool(rng.random() < 0.5)
    else:
        size = (rng.uniform(460, 530), rng.uniform(105, 120))
    return Design("foreign", lines, marks, band, size, yellow=bool(rng.random() < 0.12),
                  captions=captions, tinted=tinted)


def _caption(rng: np.random.Generator) -> str:
    words = [_fill("L" * int(rng.integers(3, 10)), rng) for _ in range(int(rng.integers(1, 4)))]
    return " ".join(words)


# --------------------------------------------------------------------------- drawing


def _stars(img: np.ndarray, cx: int, cy: int, radius: float, dot: int) -> None:
    for k in range(12):
        a = 2 * np.pi * k / 12
        cv2.circle(img, (int(round(cx + radius * np.cos(a))), int(round(cy + radius * np.sin(a)))),
                   dot, _EU_STARS, -1, lineType=cv2.LINE_AA)


def _draw_band(img: np.ndarray, rng: np.random.Generator, band: str, x0: int, y0: int, y1: int,
               mm: float, font: str) -> int:
    """The blue band at the left: stars (Ukraine: its flag) over the country letters.
    Returns the band's right edge."""
    width = int(round(rng.uniform(36, 48) * mm))
    cv2.rectangle(img, (x0, y0), (x0 + width, y1), _jitter_color(rng, _EU_BLUE, 20), -1)
    height = y1 - y0
    mid = x0 + width // 2
    if band == "UA":
        fw, fh = int(round(0.6 * width)), int(round(0.4 * width))
        _draw_flag(img, mid - fw // 2, y0 + int(0.12 * height), fw, fh, rng.random() < 0.5)
    else:
        _stars(img, mid, y0 + int(0.3 * height), 0.28 * width, max(1, int(round(1.3 * mm))))
    cap = int(round(min(0.3 * height, 0.45 * width / max(1, len(band)) * 1.6)))
    cap = max(4, cap)
    row = _text_row([(band, _glyphs(font, cap), 0)], cap, max(1, int(1.5 * mm)), 0)
    top = y1 - int(0.08 * height) - cap
    _place_row(img, row, (x0, top, x0 + width, top + cap), cap, rng.uniform(0.75, 1.0),
               _white(rng), rng)
    return x0 + width


def _mark(img: np.ndarray, rng: np.random.Generator, kind: str, cx: int, cy: int, cap: int,
          ink: tuple[int, int, int]) -> None:
    """A seal or emblem ("@"), or a small flag ("^"), centred at (cx, cy)."""
    if kind == "@":
        r = max(2, int(round(cap * rng.uniform(0.22, 0.32))))
        colours = [tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in range(2)]
        if rng.random() < 0.5:  # a round inspection seal with a ring
            cv2.circle(img, (cx, cy), r, colours[0], -1, lineType=cv2.LINE_AA)
            cv2.circle(img, (cx, cy), max(1, r // 2), colours[1], -1, lineType=cv2.LINE_AA)
        else:  # a coat of arms: a shield
            w, h = r * 2, int(r * 2.4)
            pts = np.array([[cx - w // 2, cy - h // 2], [cx + w // 2, cy - h // 2],
                            [cx + w // 2, cy + h // 6], [cx, cy + h // 2], [cx - w // 2, cy + h // 6]])
            cv2.fillPoly(img, [pts], colours[0], lineType=cv2.LINE_AA)
            cv2.line(img, (cx, cy - h // 3), (cx, cy + h // 4), (245, 245, 245), max(1, r // 4))
    elif kind == "^":
        w, h = max(3, int(cap * rng.uniform(0.4, 0.55))), max(3, int(cap * rng.uniform(0.28, 0.4)))
        stripes = int(rng.integers(2, 4))
        for k in range(stripes):
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.rectangle(img, (cx - w // 2, cy - h // 2 + k * h // stripes),
                          (cx + w // 2, cy - h // 2 + (k + 1) * h // stripes), colour, -1)


def _line_mask(groups: tuple[str, ...], marks: tuple[str, ...], glyphs, cap: int, spacing: int,
               rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """One line's coverage mask, and each seal or flag mark with the x of its gap's middle."""
    parts: list[np.ndarray] = []
    centres: list[tuple[str, int]] = []
    x = 0
    for index, group in enumerate(groups):
        mask = _text_row([(group, glyphs, 0)], cap, spacing, 0)
        parts.append(mask)
        x += mask.shape[1]
        if index < len(marks):
            kind = marks[index]
            gap = max(1, int(round(cap * rng.uniform(*_MARK_GAP[kind]))))
            if kind == "-":
                dash = _text_row([("-", glyphs, 0)], cap, spacing, 0)
                blank = np.zeros((mask.shape[0], gap), np.uint8)
                parts += [blank, dash, blank]
                x += 2 * gap + dash.shape[1]
            else:
                parts.append(np.zeros((mask.shape[0], gap), np.uint8))
                if kind in "@^":
                    centres.append((kind, x + gap // 2))
                x += gap
    return np.concatenate(parts, axis=1), centres


def render_design(design: Design, rng: np.random.Generator, fonts: tuple[str, ...],
                  height: int, frame_p: float = 0.25) -> RenderedPlate:
    """A flat render of `design`, `height` pixels high (see render.RenderedPlate)."""
    mm = height / design.size_mm[1]
    W, H = int(round(design.size_mm[0] * mm)), height
    weights, names = _font_weights(fonts)
    index = int(rng.choice(len(fonts), p=weights))
    font, name = fonts[index], names[index]
    if rng.random() < 0.12:
        font = name = random_stroke_font(rng)
    condensed, bold = "condensed" in name, "bold" in name
    squeeze = rng.uniform(1.0, 1.2) if condensed else rng.uniform(0.74, 0.92)

    bg = (int(rng.uniform(0, 40)), int(rng.uniform(190, 225)), int(rng.uniform(230, 255))) if design.yellow else _white(rng)
    ink = _jitter_color(rng, (18, 18, 18), 14)
    plate = np.empty((H, W, 3), np.uint8)
    plate[:] = bg
    if design.tinted:  # a pale picture behind the number, ink of any dark colour
        pale = rng.uniform(150, 255, (int(rng.integers(2, 6)), int(rng.integers(2, 8)), 3)).astype(np.float32)
        plate[:] = cv2.resize(pale, (W, H), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)
        ink = tuple(int(c) for c in rng.uniform(0, 110, 3))
    inset = int(round(rng.uniform(1.0, 2.5) * mm))
    thick = max(1, int(round(rng.uniform(1.0, 2.0) * mm)))
    radius = int(round(rng.uniform(3.0, 8.0) * mm))
    _fill_round_rect(plate, inset, inset, W - 1 - inset, H - 1 - inset, radius, ink)
    _fill_round_rect(plate, inset + thick, inset + thick, W - 1 - inset - thick,
                     H - 1 - inset - thick, max(0, radius - thick), bg)
    inner0, inner1 = inset + thick, W - 1 - inset - thick
    bottom = H - 1 - inner0
    text_x0 = inner0 + int(round(rng.uniform(4, 9) * mm))
    rows = len(design.lines)
    ua_square = design.family == "ua-two-line" and len(design.lines[0]) == 2
    if design.band and not (ua_square and rng.random() < 0.6):
        text_x0 = _draw_band(plate, rng, design.band, inner0, inner0, bottom, mm, font) + int(round(rng.uniform(4, 9) * mm))
    elif ua_square:  # a small flag over "UA" at the top left, as on the square plate
        fw, fh = int(round(rng.uniform(22, 30) * mm)), int(round(rng.uniform(14, 19) * mm))
        fx, fy = inner0 + int(round(rng.uniform(3, 7) * mm)), inner0 + int(round(rng.uniform(4, 9) * mm))
        _draw_flag(plate, fx, fy, fw, fh, False)
        ua_cap = int(round(fh * rng.uniform(0.7, 0.9)))
        ua = _text_row([("UA", _glyphs(font, ua_cap), 0)], ua_cap, max(1, int(1.5 * mm)), 0)
        _place_row(plate, ua, (fx, fy + fh + int(2 * mm), fx + fw, fy + fh + int(2 * mm) + ua_cap),
                   ua_cap, 1.0, ink, rng)
        text_x0 = fx + fw + int(round(rng.uniform(3, 7) * mm))
    text_x1 = inner1 - int(round(rng.uniform(4, 9) * mm))

    top_edge = inner0
    for index, caption in enumerate(design.captions):
        if not caption:
            continue
        cap = max(4, int(round((bottom - inner0) * rng.uniform(0.08, 0.16))))
        row = _text_row([(caption.replace(" ", ""), _glyphs(font, cap), 0)], cap, max(1, int(mm)), 0)
        y0 = inner0 + int(0.03 * H) if index == 0 else bottom - int(0.03 * H) - cap
        colour = ink if rng.random() < 0.5 else tuple(int(c) for c in rng.uniform(0, 200, 3))
        _place_row(plate, row, (inner0, y0, inner1, y0 + cap), cap, rng.uniform(0.7, 1.1), colour, rng)
        if index == 0:
            top_edge = y0 + cap
        else:
            bottom = y0
    inner_top = top_edge
    row_h = (bottom - inner_top) / rows
    for r, (groups, marks) in enumerate(zip(design.lines, design.marks)):
        cap = int(round(row_h * rng.uniform(0.6, 0.72) if rows == 2 else row_h * rng.uniform(0.6, 0.7)))
        spacing = int(round(rng.uniform(1.0, 4.0) * mm))
        glyphs = _glyphs(font, cap)
        mask, centres = _line_mask(groups, marks, glyphs, cap, spacing, rng)
        if not bold and rng.random() < 0.6:
            k = 2 * max(1, int(round(cap * rng.uniform(0.01, 0.025)))) + 1
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        # The second line of a square plate spans the whole width; a first line beside the
        # flag starts after it.
        x0 = text_x0 if r == 0 or not ua_square else inner0 + int(round(rng.uniform(4, 9) * mm))
        y0 = int(round(inner_top + r * row_h))
        left, right, mid = _place_row(plate, mask, (x0, y0, text_x1, int(round(y0 + row_h))), cap,
                                      squeeze, ink, rng)
        scale = (right - left) / max(1, mask.shape[1])
        for kind, cx in centres:
            _mark(plate, rng, kind, int(round(left + cx * scale)), mid, cap, ink)

    return _finish_plate(plate, rng, mm, radius + inset, 0.4, (4.0, 7.0), frame_p)
