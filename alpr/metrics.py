"""Small pure metric functions shared by training, evaluation and the benchmark."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions all cost 1."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def char_accuracy(read: str | None, truth: str) -> float:
    """1 − edit distance / length of the truth, floored at 0 (1 − CER for one plate).
    No read at all scores 0."""
    if not read:
        return 0.0
    return max(0.0, 1.0 - edit_distance(read, truth) / max(1, len(truth)))


def best_char_accuracy(read: str | None, truths: Iterable[str]) -> float:
    """Character accuracy against the closest of several true texts (0 when there are none)."""
    return max((char_accuracy(read, t) for t in truths), default=0.0)


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Probability that a right read scores above a wrong one (ties count half);
    None unless there is at least one of each."""
    pos = np.array([s for s, p in zip(scores, positives) if p], dtype=float)
    neg = np.array([s for s, p in zip(scores, positives) if not p], dtype=float)
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def share(hits: int, total: int) -> float | None:
    """hits / total, or None when there is nothing to count."""
    return hits / total if total else None


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 90, 99)) -> dict[str, float] | None:
    """{'p50': …, 'p90': …, 'p99': …} with linear interpolation; None for no values."""
    if not len(values):
        return None
    found = np.percentile(np.asarray(values, dtype=float), points)
    return {f"p{p:g}": float(v) for p, v in zip(points, found)}


def box_intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """The area two x1, y1, x2, y2 boxes share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    shared = box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - shared
    return float(shared / union) if union > 0 else 0.0
