"""Teaching one CRNN what several read together (knowledge distillation).

Averaging the per-column probabilities of two differently built readers reads more plates
than either, but would cost two networks a read. Instead the student trains on the
labels (CTC) and on the teachers' averaged column probabilities (KL divergence), and is
served alone at its own cost."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch

from ..crnn import CRNN, load_checkpoint


class Teachers:
    """Frozen CRNNs whose averaged per-column probabilities a student learns: images in,
    T×N×C log-probabilities out, as a CRNN's."""

    def __init__(self, models: Sequence[CRNN]):
        if not models:
            raise ValueError("distillation needs at least one teacher")
        alphabets = {m.config.alphabet for m in models}
        if len(alphabets) != 1:
            raise ValueError(f"teachers read different alphabets: {sorted(alphabets)}")
        self.models = [m.eval().requires_grad_(False) for m in models]
        self.alphabet = alphabets.pop()

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], device: torch.device | str = "cpu") -> "Teachers":
        return cls([load_checkpoint(p).to(device) for p in paths])

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack([m(images) for m in self.models])
        # log of the mean probability, computed in log space
        return torch.logsumexp(stacked, dim=0) - math.log(len(self.models))


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """KL(teacher ‖ student) summed over the columns of each crop, per label character and
    averaged over the batch: on the same scale as the CTC loss (a mean per character)."""
    per_column = (teacher.exp() * (teacher - student)).sum(-1)   # T×N
    return (per_column.sum(0) / lengths.clamp(min=1).to(per_column.dtype)).mean()
