"""Two-line plates: how a crop is cut into its lines, and in what order their reads are
written as one number. Serving and training both cut here, so the reader learns lines cut
exactly as the service cuts them.

A crop is read whole, and, when it may hold two lines, also as its top and bottom halves
read one after the other; the better-supported answer stands (alpr.pipeline).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .plate_formats import layout_regex

# The halves overlap, so that a detector box a little off the plate's middle still holds
# each line whole: the top half ends below the middle, the bottom half starts above it.
TOP_END = 0.56
BOTTOM_START = 0.44
# A box at most this wide for its height may hold two lines: a two-line plate is at most
# about twice as wide as high, a one-line plate about 4.6 times.
MAX_TWO_LINE_ASPECT = 2.6

# The Ukrainian two-line plates, as (top line, bottom line) patterns of plate_formats (L a
# letter of Ukrainian plates, D a digit), each with the order its characters are written in
# (indices into top + bottom): the square car plate, region and series letters over the
# digits (AP/ET over 7007: AP7007ET), and the digits-over-letters plates of tractors, ATVs
# and trailers (10922 over BX: 10922BX).
LINE_PATTERNS = (("LLLL", "DDDD"), ("DDDDD", "LL"), ("DDDD", "LL"))
_WRITTEN = {("LLLL", "DDDD"): (0, 1, 4, 5, 6, 7, 2, 3)}
_LINE_REGEXES = [(layout_regex(top), layout_regex(bottom), (top, bottom)) for top, bottom in LINE_PATTERNS]


def may_hold_two_lines(width: float, height: float) -> bool:
    return height > 0 and width / height <= MAX_TWO_LINE_ASPECT


def split_lines(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top and bottom halves of a crop (views, not copies), overlapping."""
    h = crop.shape[0]
    top_end = max(1, int(round(TOP_END * h)))
    bottom_start = min(h - 1, int(round(BOTTOM_START * h)))
    return crop[:top_end], crop[bottom_start:]


@dataclass(frozen=True)
class Written:
    text: str
    ukrainian: bool          # the lines fit a Ukrainian two-line layout
    order: tuple[int, ...]   # which character of top + bottom stands at each place of `text`


def written_order(top: str, bottom: str) -> Written:
    """The number as written from the reads of its lines: a Ukrainian two-line plate in its
    own order (LINE_PATTERNS); any other plate top line, then bottom line."""
    both = top + bottom
    for top_regex, bottom_regex, patterns in _LINE_REGEXES:
        if top_regex.match(top) and bottom_regex.match(bottom):
            order = _WRITTEN.get(patterns, tuple(range(len(both))))
            return Written("".join(both[i] for i in order), True, order)
    return Written(both, False, tuple(range(len(both))))
