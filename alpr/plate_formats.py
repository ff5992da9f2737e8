"""What a Ukrainian plate may say: the alphabet and the layouts, in one place.

The recognizer's alphabet, the synthetic renderer and the format-aware decoder all read
from here, so a layout added once is rendered, trained on and preferred when decoding.
"""
from __future__ import annotations

import re

from .regions import REGIONS

# Latin look-alikes of the Cyrillic letters used on Ukrainian plates (А В С Е Н І К М О Р Т Х),
# plus Y and Z that appear on some series. The CTC blank is appended by the recognizer.
LETTERS = "ABCEHIKMOPTXYZ"
DIGITS = "0123456789"
CHARSET = DIGITS + LETTERS
BLANK = "_"
ALPHABET = CHARSET + BLANK  # "0123456789ABCEHIKMOPTXYZ_", the seed's alphabet
# Every plate as written: digits and the 26 Latin letters (foreign plates too).
LATIN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LATIN_ALPHABET = DIGITS + LATIN_LETTERS + BLANK

# Pattern letters: L = a letter of LETTERS, D = a digit. The names are the API's `layout`.
LAYOUTS: dict[str, str] = {
    "ua": "LLDDDDLL",       # 2004 onwards, e.g. AI5255EI, the main format
    "ua-1995": "DDDDDLL",   # 1995-2004 one-line plates, e.g. 12345KB
    "ua-1977": "LDDDDLL",   # older one-line plates still on the road, e.g. B8233XA
}
# The `layout` of a two-line Ukrainian plate read line by line (alpr.two_line).
TWO_LINE = "ua-two-line"
# The `layout` of a read that fits none of LAYOUTS: read as written, never bent into one.
FOREIGN = "foreign"
# Every `layout` the API answers.
LAYOUT_NAMES = (*LAYOUTS, TWO_LINE, FOREIGN)

# The region letters of current plates (alpr.regions): the renderer draws them most often.
REGION_PREFIXES = tuple(REGIONS)

_PATTERN_CLASS = {"L": f"[{LETTERS}]", "D": "[0-9]"}


def layout_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + "".join(_PATTERN_CLASS[c] for c in pattern) + "$")


_LAYOUT_REGEXES = {name: layout_regex(p) for name, p in LAYOUTS.items()}


def matching_layout(text: str) -> str | None:
    """The name of the first Ukrainian layout `text` fits, or None."""
    for name, regex in _LAYOUT_REGEXES.items():
        if regex.match(text):
            return name
    return None


# Letters a reader takes for digits and back, one way or the other (O and 0, I and 1, ...).
_LOOK_ALIKE_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "Z": "2", "S": "5", "G": "6", "T": "7", "B": "8"}
_LOOK_ALIKE_LETTER = {"0": "O", "1": "I", "2": "Z", "7": "T", "8": "B"}


def look_alike_misses(text: str, pattern: str) -> int | None:
    """How many characters of `text` stand where `pattern` wants the other kind, when each
    of them is a look-alike of a character that fits (O for 0, 8 for B, ...); None when the
    lengths differ or a misfit is no look-alike."""
    if len(text) != len(pattern):
        return None
    misses = 0
    for ch, kind in zip(text, pattern):
        if ch in LETTERS if kind == "L" else ch in DIGITS:
            continue
        look_alike = _LOOK_ALIKE_LETTER.get(ch) if kind == "L" else _LOOK_ALIKE_DIGIT.get(ch)
        if look_alike is None or look_alike not in (LETTERS if kind == "L" else DIGITS):
            return None
        misses += 1
    return misses


def near_patterns(text: str) -> list[str]:
    """The layout patterns `text` misses by one look-alike at the same length (O for 0, 8
    for B, ...): a read that looks Ukrainian, which format-aware decoding may mend. A
    foreign number (BA302OZ, 1B80338) is none of these."""
    return [p for p in dict.fromkeys(LAYOUTS.values()) if look_alike_misses(text, p) == 1]
