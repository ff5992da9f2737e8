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

from ..crnn import CRNN, load_checkpoint, with_alphabet


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
    def from_paths(cls, paths: Sequence[str | Path], device: torch.device | str = "cpu",
                   alphabet: str | None = None) -> "Teachers":
        """Teachers from checkpoints; given the student's `alphabet`, a teacher that reads a part
        of it is widened to it (the symbols it never reads get no probability), and one that
        reads a symbol the student lacks is refused."""
        models = [load_checkpoint(p) for p in paths]
        if alphabet is not None:
            for index, model in enumerate(models):
                if model.config.alphabet != alphabet:
                    if not set(model.config.alphabet) <= set(alphabet):
                        raise ValueError(f"{paths[index]} reads another alphabet than the student")
                    models[index] = with_alphabet(model, alphabet)
        return cls([m.to(device) for m in models])

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack([m(images) for m in self.models])
        # log of the mean probability, computed in log space
        return torch.logsumexp(stacked, dim=0) - math.log(len(self.models))


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor,
                      per_plate: bool = False) -> torch.Tensor:
    """KL(teacher ‖ student) summed over the columns of each crop, per label character and
    averaged over the batch (or one figure per crop with `per_plate`): on the same scale as
    the CTC loss (a mean per character)."""
    per_column = (teacher.exp() * (teacher - student)).sum(-1)   # T×N
    plates = per_column.sum(0) / lengths.clamp(min=1).to(per_column.dtype)
    return plates if per_plate else plates.mean()
