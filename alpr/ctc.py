"""CTC decoding: greedy, and format-aware for Ukrainian layouts, with confidences.

The plate confidence is the model's probability of the decoded string itself, summed over
every alignment (the CTC forward pass), so a read the network hesitates about anywhere —
an extra character, a missing one, a letter that could be a digit — scores low.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .plate_formats import DIGITS, LAYOUTS, LETTERS, matching_layout


@dataclass(frozen=True)
class Decoded:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    raw_text: str          # the greedy read before any format preference
    layout: str | None     # the Ukrainian layout `text` fits, if any


def greedy_path(log_probs: np.ndarray, blank: int) -> tuple[list[int], list[float]]:
    """Best path: collapse repeats, drop blanks. Returns labels and each label's peak probability."""
    best = log_probs.argmax(axis=1)
    peak = np.exp(log_probs.max(axis=1))
    labels: list[int] = []
    confs: list[float] = []
    previous = blank
    for t, label in enumerate(best):
        if label != blank and label != previous:
            labels.append(int(label))
            confs.append(float(peak[t]))
        elif label != blank and label == previous:
            confs[-1] = max(confs[-1], float(peak[t]))
        previous = label
    return labels, confs


def sequence_probabilities(log_probs: np.ndarray, labels: list[list[int]]) -> list[float]:
    """p(labels | x) for each label sequence: the CTC forward pass, summed over every
    alignment (log_probs: T×N×C, one sequence per column; an empty sequence scores 0).
    NumPy, so that serving needs no deep-learning framework."""
    steps, batch, _ = log_probs.shape
    blank = log_probs.shape[2] - 1
    out = [0.0] * batch
    nonempty = [i for i, seq in enumerate(labels) if seq]
    if not nonempty:
        return out
    states = 2 * max(len(labels[i]) for i in nonempty) + 1
    # Extended sequences blank, l1, blank, l2, ..., blank, padded with blanks.
    ext = np.full((len(nonempty), states), blank, dtype=np.int64)
    for row, i in enumerate(nonempty):
        ext[row, 1:2 * len(labels[i]):2] = labels[i]
    ends = np.array([2 * len(labels[i]) for i in nonempty])
    # A character state may be entered from two states back unless it repeats that character.
    can_skip = np.zeros_like(ext, dtype=bool)
    can_skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    rows = np.arange(len(nonempty))[:, None]
    emissions = log_probs[:, nonempty, :]                        # T×B×C
    neg = -np.inf
    alpha = np.full(ext.shape, neg)
    alpha[:, :2] = emissions[0][rows, ext[:, :2]]
    with np.errstate(invalid="ignore"):
        for t in range(1, steps):
            step = np.concatenate([np.full((len(ext), 1), neg), alpha[:, :-1]], axis=1)
            skip = np.concatenate([np.full((len(ext), 2), neg), alpha[:, :-2]], axis=1)
            total = np.logaddexp(alpha, step)
            total = np.where(can_skip, np.logaddexp(total, skip), total)
            alpha = total + emissions[t][rows, ext]
    final = np.logaddexp(alpha[np.arange(len(ext)), ends], alpha[np.arange(len(ext)), ends - 1])
    for i, value in zip(nonempty, final):
        out[i] = float(np.exp(value)) if np.isfinite(value) else 0.0
    return out


def constrained_path(log_probs: np.ndarray, pattern: str, alphabet: str) -> list[int] | None:
    """Most probable alignment of a string of `pattern`'s shape (Viterbi over the CTC
    topology, each position limited to letters or digits). Returns labels or None."""
    blank = len(alphabet) - 1
    allowed = {"L": [alphabet.index(c) for c in LETTERS], "D": [alphabet.index(c) for c in DIGITS]}
    steps, n = log_probs.shape[0], len(pattern)
    if steps < n:
        return None
    # Emission of position i at frame t: the best allowed class at that frame.
    class_lp = np.stack([log_probs[:, allowed[p]].max(axis=1) for p in pattern], axis=1)  # T×n
    blank_lp = log_probs[:, blank]
    states = 2 * n + 1  # blank, char0, blank, char1, ..., blank
    emit = np.empty((steps, states))
    emit[:, 0::2] = blank_lp[:, None]
    emit[:, 1::2] = class_lp
    # A character state may also be entered from the previous character, skipping the blank.
    can_skip = np.zeros(states, dtype=bool)
    can_skip[3::2] = True
    neg = -1e9
    score = np.full(states, neg)
    score[0], score[1] = emit[0, 0], emit[0, 1]
    back = np.zeros((steps, states), dtype=np.int64)
    index = np.arange(states)
    for t in range(1, steps):
        stay = score
        step = np.concatenate(([neg], score[:-1]))
        skip = np.where(can_skip, np.concatenate(([neg, neg], score[:-2])), neg)
        options = np.stack([stay, step, skip])
        choice = options.argmax(axis=0)
        back[t] = index - choice
        score = options[choice, index] + emit[t]
    state = states - 1 if score[states - 1] >= score[states - 2] else states - 2
    frames: list[list[int]] = [[] for _ in range(n)]
    for t in range(steps - 1, -1, -1):
        if state % 2 == 1:
            frames[state // 2].append(t)
        state = back[t, state] if t > 0 else state
    labels = []
    for i, pos_frames in enumerate(frames):
        if not pos_frames:
            return None
        choices = allowed[pattern[i]]
        totals = log_probs[np.ix_(pos_frames, choices)].sum(axis=0)
        labels.append(choices[int(totals.argmax())])
    return labels


def decode_batch(
    log_probs: np.ndarray, alphabet: str, prefer_layouts: bool = True,
    min_ratio: float = 0.02, sure: float = 0.9,
) -> list[Decoded]:
    """Decodes T×N×C log-probabilities (NumPy, or a torch tensor). With `prefer_layouts`,
    a read that fits no Ukrainian layout and that the model is unsure of (probability below
    `sure`) is replaced by the best read that does fit, when the model gives that one at
    least `min_ratio` of the raw read's probability; otherwise the raw read stands (foreign
    plates read as they are)."""
    blank = len(alphabet) - 1
    if hasattr(log_probs, "detach"):  # a torch tensor (training); serving passes NumPy
        log_probs = log_probs.detach().float().cpu().numpy()
    lp = np.asarray(log_probs, dtype=np.float64)
    greedy = [greedy_path(lp[:, i], blank) for i in range(lp.shape[1])]
    raw_probs = sequence_probabilities(lp, [labels for labels, _ in greedy])
    results: list[Decoded] = []
    for i, (labels, peaks) in enumerate(greedy):
        raw_text = "".join(alphabet[c] for c in labels)
        text, prob, chosen = raw_text, raw_probs[i], labels
        if prefer_layouts and raw_probs[i] < sure and matching_layout(raw_text) is None:
            candidates = [
                path for pattern in dict.fromkeys(LAYOUTS.values())
                if (path := constrained_path(lp[:, i], pattern, alphabet)) is not None
            ]
            if candidates:
                probs = sequence_probabilities(lp[:, [i] * len(candidates)], candidates)
                best = int(np.argmax(probs))
                if probs[best] >= min_ratio * raw_probs[i] and probs[best] > 0:
                    chosen, prob = candidates[best], probs[best]
                    text = "".join(alphabet[c] for c in chosen)
        char_confs = tuple(peaks) if chosen is labels else _char_confidences(lp[:, i], chosen)
        results.append(Decoded(
            text=text, confidence=float(min(1.0, prob)),
            char_confidences=tuple(round(c, 4) for c in char_confs),
            raw_text=raw_text, layout=matching_layout(text),
        ))
    return results


def _char_confidences(log_probs: np.ndarray, labels: list[int]) -> tuple[float, ...]:
    """For a substituted read: each character's best frame probability, in order of frames."""
    probs = np.exp(log_probs)
    out, start = [], 0
    steps = probs.shape[0]
    for k, label in enumerate(labels):
        # Search the frames left to right so repeated characters take successive peaks.
        remaining = len(labels) - k - 1
        window = probs[start: steps - remaining, label]
        t = start + int(window.argmax()) if window.size else start
        out.append(float(probs[t, label]))
        start = min(t + 1, steps - 1)
    return tuple(out)
