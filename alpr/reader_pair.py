"""Two readers composed by rules that can be read and tested: the Ukrainian reader (digits
and the 14 Latin letters Ukrainian plates use) and the Latin reader (digits
and all 26 Latin letters, for the foreign plates that drive on Ukrainian roads).

The Ukrainian reader reads every crop first, and its read stands wherever it fits the
current Ukrainian layout surely: no such read is left to the Latin reader, which only
checks how sure it is (`checked`) unless it is very sure.
Every other crop is read by the Latin reader too, and `choose` keeps one of the two reads.
A learned gate was not used: every real crop it could learn from is foreign, so it learns
"a real photo: the Latin reader" and hands it real Ukrainian plates too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .recognizer import PlateRecognizer, Reading

# A Ukrainian read of these layouts at least this sure stands without the Latin reader. Not
# the shorter old layouts: a Romanian or Moldovan plate read with the Ukrainian letters often
# fits them (B089414 read B0894IA, ua-1977, at 0.91 on a validation photo).
STANDING_LAYOUTS = ("ua",)
UKRAINIAN_SURE = 0.9
# A standing read less sure than this is checked by the Latin reader (`checked`): on ua-real
# and its degraded copies, 130 current-layout reads at >= 0.99 were all right, and 3 of the 43
# between 0.9 and 0.99 were not (`AH5696CK` for `AM5696CK`, which the Latin reader reads right).
UKRAINIAN_UNCHECKED = 0.99
# How much surer a foreign Latin read must be to replace the Ukrainian reader's unsure read
# that fits a layout: twice for the current layout (`ua-11-BE7425CB` with noise: `BE7425CB` at
# 0.56 against `EE7425` at 0.80), as sure for the shorter old ones, which Romanian plates
# read with the Ukrainian letters fit (`B089414` read `B0894IA`).
LATIN_OVER_UKRAINIAN = {"ua": 2.0}
LATIN_OVER_OLD_LAYOUT = 1.0
# A foreign read less sure than this does not replace a Ukrainian read that fits a layout
# and would be answered: on a noisy copy of `ua-11-BE7425CB`, a Latin misread under it
# replaced the right read at 0.34.
MIN_FOREIGN_CONFIDENCE = 0.7


def choose(ukrainian: Reading, latin: Reading, min_foreign_confidence: float = MIN_FOREIGN_CONFIDENCE,
           min_ukrainian_confidence: float = 0.0) -> Reading:
    """The read kept of one crop read by both readers.

    - Both read the same text: the surer read.
    - The Latin read is part of the Ukrainian one: the Ukrainian read (the Latin reader
      dropped characters at the plate's ends: `BE7425` for `BE7425CB` on ua-real).
    - The Ukrainian read fits no layout: the Latin read, as the Ukrainian reader lacks most
      letters of foreign plates and its read of them is a misread.
    - The Ukrainian read fits a layout: it stands when the Latin read fits one too (the
      Ukrainian reader knows those plates better: `ua-old-B8233XA.jpg` is read `88233XA` by
      the Latin reader); a foreign Latin read replaces it only when LATIN_OVER_UKRAINIAN
      times surer and at least `min_foreign_confidence`, so that an unsure Ukrainian plate
      is not lost to a Latin misread; a Ukrainian read below `min_ukrainian_confidence`,
      which the pipeline would not answer, is replaced by any surer Latin read (`KM0510IC`
      at 0.00 kept `NOSMUG` at 0.59 out, and the photo answered nothing).
    """
    if ukrainian.text == latin.text:
        return max((ukrainian, latin), key=lambda r: r.confidence)
    if latin.text in ukrainian.text:
        return ukrainian
    if ukrainian.layout is None:
        return latin
    if latin.layout is not None:
        return ukrainian
    factor = LATIN_OVER_UKRAINIAN.get(ukrainian.layout, LATIN_OVER_OLD_LAYOUT)
    surer = latin.confidence > factor * ukrainian.confidence and (
        latin.confidence >= min_foreign_confidence or ukrainian.confidence < min_ukrainian_confidence)
    return latin if surer else ukrainian


def checked(ukrainian: Reading, latin: Reading) -> Reading:
    """A standing Ukrainian read, as sure as the Latin reader's read of the same crop lets it
    be: where that read is another Ukrainian number (not the same text, nor part of it), the
    two readers disagree on a Ukrainian plate, and the read keeps only its share of their
    confidence (its candidates scaled alike); else it stands as read."""
    if latin.layout is None or latin.text in ukrainian.text:
        return ukrainian
    return ukrainian.scaled(ukrainian.confidence / (ukrainian.confidence + latin.confidence))


@dataclass
class ReaderPair:
    """Reads crops as one reader does (the pipeline's Recognizer), with both readers."""

    ukrainian: PlateRecognizer
    latin: PlateRecognizer
    ukrainian_sure: float = UKRAINIAN_SURE
    min_foreign_confidence: float = MIN_FOREIGN_CONFIDENCE
    # The pipeline answers no Ukrainian read below this (Settings.min_read_confidence).
    min_ukrainian_confidence: float = 0.0

    @property
    def backend(self) -> str:
        return f"{self.ukrainian.backend}, latin {self.latin.backend}"

    @property
    def rectifier(self):
        return self.ukrainian.rectifier

    @property
    def reads_lines(self) -> bool:
        return True

    def read_two_lines(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """Crops read as two lines: by the Ukrainian reader where it was trained on lines,
        else by the Latin reader, which reads a line as the short plate it looks like
        (ua-real's two-line `MDA934`, `DU912JT` and `BRAT31`; the Ukrainian reader reads
        their lines as nothing)."""
        return (self.ukrainian if self.ukrainian.reads_lines else self.latin).read_two_lines(crops)

    def read(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        reads = self.ukrainian.read(crops)
        standing = [self.stands(r) for r in reads]
        asked = [i for i, r in enumerate(reads) if not standing[i] or r.confidence < UKRAINIAN_UNCHECKED]
        if asked:
            for i, latin in zip(asked, self.latin.read([crops[i] for i in asked])):
                reads[i] = (checked(reads[i], latin) if standing[i] else
                            choose(reads[i], latin, self.min_foreign_confidence, self.min_ukrainian_confidence))
        return reads

    def stands(self, ukrainian: Reading) -> bool:
        """Whether the Ukrainian reader's read stands whatever the Latin reader reads (its
        text does; its confidence is `checked`)."""
        return ukrainian.layout in STANDING_LAYOUTS and ukrainian.confidence >= self.ukrainian_sure
