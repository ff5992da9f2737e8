"""Plate crops → text. The preprocessing here is the one training uses too."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from .ctc import Candidate, Decoded, candidates, decode_batch, fit_pattern
from .onnx_twins import OnnxNet, choose_twin
from .plate_formats import ALPHABET, TWO_LINE, look_alike_misses
from .rectifier import Rectifier
from .two_line import LINE_PATTERNS, split_lines, written_order

# ONNX metadata keys: the CRNN settings serving needs (alphabet, input size), and how the
# twin was quantized (absent: float32; written by alpr.quantize).
CONFIG_KEY = "alpr_crnn_config"
QUANTIZATION_KEY = "alpr_quantization"


def preprocess(crop: np.ndarray, size: int = 128) -> np.ndarray:
    """BGR crop of any size → size×size×3 HLS, uint8 (the seed's input)."""
    resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2HLS)


def to_array(batch_hls: np.ndarray) -> np.ndarray:
    """N×H×W×3 uint8 → N×3×H×W float32 in [0, 1], the network's input."""
    return np.ascontiguousarray(batch_hls.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


@dataclass(frozen=True)
class Lattice:
    """What the network said of one crop, kept so that other readings of it can be ranked
    later, for the plates answered only (a beam search costs more than the read)."""

    log_probs: np.ndarray  # T×C
    alphabet: str
    prefer_layouts: bool
    # The read's confidence over the probability this lattice gives it (agreed_views: less
    # than 1 where other views disagree); the other readings are scaled alike.
    scale: float = 1.0


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    raw_text: str
    # The Ukrainian layout `text` fits (alpr.plate_formats), or "ua-two-line" for a two-line
    # plate read line by line (alpr.two_line); None for any other plate.
    layout: str | None
    lattice: Lattice | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_decoded(cls, d: Decoded, lattice: Lattice | None = None) -> "Reading":
        return cls(d.text, d.confidence, d.char_confidences, d.raw_text, d.layout, lattice)

    def scaled(self, factor: float) -> "Reading":
        """This read at `factor` times its confidence, its candidates scaled alike."""
        lattice = self.lattice
        if lattice is not None:
            lattice = replace(lattice, scale=lattice.scale * factor)
        return replace(self, confidence=self.confidence * factor, lattice=lattice)

    def candidates(self, count: int = 3) -> tuple[Candidate, ...]:
        """Up to `count` readings, this one first (alpr.ctc.candidates)."""
        if self.lattice is None:
            return (Candidate(self.text, self.confidence),)
        scale = self.lattice.scale
        _, *others = candidates(self.lattice.log_probs, self.lattice.alphabet, self.text, self.confidence / scale,
                                self.lattice.prefer_layouts, count)
        return (Candidate(self.text, self.confidence), *(Candidate(c.text, c.confidence * scale) for c in others))


class TorchCRNN:
    """A CRNN checkpoint in torch: NumPy batch in, T×N×C log-probabilities out."""

    def __init__(self, path: str | Path, device: str):
        import torch

        from .crnn import load_checkpoint

        self._torch = torch
        self.model = load_checkpoint(path, map_location="cpu").to(device).eval()
        self.device = device
        self.alphabet, self.input_size = self.model.config.alphabet, self.model.config.input_size

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


class PlateRecognizer:
    def __init__(self, net: Callable[[np.ndarray], np.ndarray], alphabet: str = ALPHABET,
                 input_size: int = 128, prefer_layouts: bool = True, backend: str = "torch",
                 rectifier: Rectifier | None = None, reads_lines: bool = False):
        self.net = net
        # Levels askew crops before they are read (None: every crop is read as it is).
        self.rectifier = rectifier
        self.alphabet, self.input_size = alphabet, input_size
        self.prefer_layouts = prefer_layouts
        self.backend = backend
        # The network was trained on lines of two-line plates (CRNNConfig.reads_lines).
        self.reads_lines = reads_lines

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", backend: str = "auto",
                        spin: bool = True, rectifier: Rectifier | None = None) -> "PlateRecognizer":
        """The checkpoint's ONNX twin on the CPU when one matches, else the checkpoint in torch."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"recognizer weights not found: {path}")
        twin = choose_twin(path, device, backend, spin)
        if twin is not None:
            return cls.from_onnx_net(twin, rectifier)
        net = TorchCRNN(path, device)
        return cls(net, net.alphabet, net.input_size, backend="torch", rectifier=rectifier,
                   reads_lines=net.model.config.reads_lines)

    @classmethod
    def from_onnx_net(cls, net: OnnxNet, rectifier: Rectifier | None = None) -> "PlateRecognizer":
        """An exported reader, with the settings its metadata carries."""
        config = json.loads(net.metadata[CONFIG_KEY])
        # Says which twin serves: "onnx" (float32) or "onnx-int8" (alpr.quantize).
        backend = "onnx-int8" if QUANTIZATION_KEY in net.metadata else "onnx"
        return cls(net, config["alphabet"], int(config["input_size"]), backend=backend, rectifier=rectifier,
                   reads_lines=bool(config.get("reads_lines", False)))

    def read(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """All crops in one batched forward pass. With a rectifier, an askew crop is read
        several ways in that batch: leveled as the rectifier saw it, as it is, leveled the
        other way (turned instead of sheared back, or the reverse) and the rectifier's way a
        few degrees either side (Rectifier.leveled); the read they agree on is kept (agreed_read)."""
        if not crops:
            return []
        leveled = self.rectifier.leveled(crops) if self.rectifier is not None else [[] for _ in crops]
        ways = [views[:1] + [crop] + views[1:] for crop, views in zip(crops, leveled)]
        readings = iter(self._read([way for crop_ways in ways for way in crop_ways]))
        return [agreed_read([next(readings) for _ in crop_ways]) for crop_ways in ways]

    def read_two_lines(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """Each crop read as a two-line plate: its halves (alpr.two_line.split_lines) read in
        one batch, as they are (a line is a fragment: no layout applies to it), and written
        as one number. The confidence is both lines' together; `layout` is "ua-two-line"
        when the lines fit a Ukrainian two-line plate, else None."""
        if not crops:
            return []
        halves = [half for c in crops for half in split_lines(c)]
        batch = np.stack([preprocess(h, self.input_size) for h in halves])
        log_probs = self.net(to_array(batch))
        lines = decode_batch(log_probs, self.alphabet, prefer_layouts=False)
        out = []
        for k, (top, bottom) in enumerate(zip(lines[0::2], lines[1::2])):
            if self.prefer_layouts:
                top, bottom = fit_two_lines(top, bottom, log_probs[:, 2 * k], log_probs[:, 2 * k + 1], self.alphabet)
            written = written_order(top.text, bottom.text)
            both = top.char_confidences + bottom.char_confidences
            out.append(Reading(written.text, top.confidence * bottom.confidence, tuple(both[i] for i in written.order),
                               f"{top.raw_text}/{bottom.raw_text}", TWO_LINE if written.ukrainian else None))
        return out

    def _read(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        batch = np.stack([preprocess(c, self.input_size) for c in crops])
        log_probs = self.net(to_array(batch))
        decoded = decode_batch(log_probs, self.alphabet, prefer_layouts=self.prefer_layouts)
        return [Reading.from_decoded(d, Lattice(log_probs[:, i], self.alphabet, self.prefer_layouts))
                for i, d in enumerate(decoded)]


def fit_two_lines(top: Decoded, bottom: Decoded, top_log_probs: np.ndarray, bottom_log_probs: np.ndarray,
                  alphabet: str, min_ratio: float = 0.02) -> tuple[Decoded, Decoded]:
    """Format-aware decoding of two lines: when they miss a Ukrainian two-line plate
    (alpr.two_line.LINE_PATTERNS) by one look-alike (APET over 7O07), the line that misses
    becomes the likeliest string that fits, if the network gives it at least `min_ratio`
    of the raw line's probability; any other pair of lines stands as read."""
    for top_pattern, bottom_pattern in LINE_PATTERNS:
        misses = (look_alike_misses(top.text, top_pattern), look_alike_misses(bottom.text, bottom_pattern))
        if None in misses or sum(misses) != 1:
            continue
        index = 0 if misses[0] else 1
        line, lp, pattern = ((top, top_log_probs, top_pattern) if index == 0
                             else (bottom, bottom_log_probs, bottom_pattern))
        fitted = fit_pattern(np.asarray(lp, dtype=np.float64), alphabet, pattern)
        if fitted is None or fitted[1] < min_ratio * line.confidence or fitted[1] <= 0:
            return top, bottom
        mended = Decoded(fitted[0], float(min(1.0, fitted[1])), line.char_confidences, line.raw_text, None)
        return (mended, bottom) if index == 0 else (top, mended)
    return top, bottom


def agreed_read(reads: Sequence[Reading]) -> Reading:
    """The read to keep of several reads of one box (crops and views of it): the text the
    reads agree on most, each read counting by its confidence, then that text's surest read.
    Reads that fit a Ukrainian layout outvote the rest: a crop that loses or gains a
    character leaves the layouts. Agreement beats the single surest read because a stray
    look can be sure and wrong: `ua-old-B8233XA.jpg` at 70 % size reads `IB8233XA` at 0.68
    from one margin, and `B8233XA` from four others."""
    pool = [r for r in reads if r.layout is not None] or list(reads)
    return _most_supported(pool)[0]


def _most_supported(reads: Sequence[Reading]) -> tuple[Reading, float]:
    """The surest read of the text the reads support most (each read counting by its
    confidence; ties: the text read first), and that text's support."""
    support: dict[str, float] = {}
    for r in reads:
        support[r.text] = support.get(r.text, 0.0) + r.confidence
    text = max(support, key=support.__getitem__)
    return max((r for r in reads if r.text == text), key=lambda r: r.confidence), support[text]


def agreed_views(reads: Sequence[Reading]) -> Reading:
    """The read of a plate several views of it agree on, as sure as the views are on the
    whole: the text with the most support (its reads' confidences summed), its surest read,
    at that support over the number of views (its candidates scaled alike). A view that
    reads otherwise counts as a view that was not sure: the foreign reads whose crops agree
    are the ones that are right (validation photos, crops at three margins: 68 reads at
    >= 0.9, none wrong; 8 of 115 wrong as the surest single view's confidence)."""
    surest, support = _most_supported(reads)
    confidence = support / len(reads)
    if surest.confidence <= 0:
        return replace(surest, confidence=confidence)
    return surest.scaled(confidence / surest.confidence)
