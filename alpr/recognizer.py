"""Plate crops → text. The preprocessing here is the one training uses too."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from .crnn import CRNN, load_checkpoint
from .ctc import Decoded, decode_batch


def preprocess(crop: np.ndarray, size: int = 128) -> np.ndarray:
    """BGR crop of any size → size×size×3 HLS, uint8 (the seed's input)."""
    resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2HLS)


def to_tensor(batch_hls: np.ndarray) -> torch.Tensor:
    """N×H×W×3 uint8 → N×3×H×W float in [0, 1]."""
    return torch.from_numpy(batch_hls).permute(0, 3, 1, 2).float().div_(255.0)


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    raw_text: str
    layout: str | None

    @classmethod
    def from_decoded(cls, d: Decoded) -> "Reading":
        return cls(d.text, d.confidence, d.char_confidences, d.raw_text, d.layout)


class PlateRecognizer:
    def __init__(self, model: CRNN, device: str = "cpu", prefer_layouts: bool = True):
        self.model = model.to(device).eval()
        self.device = device
        self.prefer_layouts = prefer_layouts
        self.alphabet = model.config.alphabet
        self.input_size = model.config.input_size

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "PlateRecognizer":
        if not Path(path).is_file():
            raise FileNotFoundError(f"recognizer weights not found: {path}")
        return cls(load_checkpoint(path, map_location="cpu"), device=device)

    @torch.inference_mode()
    def read(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """All crops in one batched forward pass."""
        if not crops:
            return []
        batch = np.stack([preprocess(c, self.input_size) for c in crops])
        log_probs = self.model(to_tensor(batch).to(self.device))
        decoded = decode_batch(log_probs, self.alphabet, prefer_layouts=self.prefer_layouts)
        return [Reading.from_decoded(d) for d in decoded]
