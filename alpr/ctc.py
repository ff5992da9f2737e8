"""CTC decoding: greedy, and format-aware for Ukrainian layouts, with confidences.

The plate confidence is the model's probability of the decoded string itself, summed over
every alignment (the CTC forward pass), so a read the network hesitates about anywhere —
an extra character, a missing one, a letter that could be a digit — scores low.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .plate_formats import DIGITS, LETTERS, matching_layout, near_patterns


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
    NumPy, so that serving needs no deep-learning framework. It runs in probability space
    with rescaling (cheaper than log-space sums on arrays this small)."""
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
    can_skip = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    # The forward pass is linear in probability space: alpha_t = (alpha_{t-1} @ M) * e_t, with
    # M[j, s] = 1 where state s may follow state j (stay, step, or skip a blank).
    rows = np.arange(len(nonempty))
    index = np.arange(states)
    moves = np.zeros((len(ext), states, states))
    moves[:, index, index] = 1.0
    moves[:, index[:-1], index[1:]] = 1.0
    moves[:, index[:-2], index[2:]] = can_skip
    # Every frame's probability of every extended state, gathered once: T×B×S.
    emissions = np.exp(log_probs[:, nonempty, :][:, rows[:, None], ext])
    alpha = np.zeros(ext.shape)
    alpha[:, :2] = emissions[0, :, :2]
    # Few sequences (a single read: the latency that counts) multiply the frames' matrices
    # pairwise, 5 NumPy rounds for 32 frames; many sequences step frame by frame, which
    # costs fewer operations once the batch is large.
    chain = _chain_pairwise if len(ext) <= PAIRWISE_MAX_SEQUENCES else _chain_by_frame
    alpha, log_scale = chain(alpha, moves, emissions)
    final = alpha[rows, ends] + alpha[rows, ends - 1]
    with np.errstate(divide="ignore"):
        log_final = np.log(final) + log_scale
    for i, value in zip(nonempty, log_final):
        out[i] = float(np.exp(value)) if np.isfinite(value) else 0.0
    return out


# Up to this many sequences the pairwise product is the faster (measured: 0.18 against
# 0.37 ms for one read, level at four, slower from six).
PAIRWISE_MAX_SEQUENCES = 4


def _rescale(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Divides each item by its peak in place (so long sequences do not underflow) and
    returns the peaks' logs. An impossible sequence stays at zero."""
    peak = np.maximum(values.max(axis=axes, keepdims=True), 1e-300)
    values /= peak
    return np.log(peak).reshape(peak.shape[:values.ndim - len(axes)])


def _chain_by_frame(alpha: np.ndarray, moves: np.ndarray,
                    emissions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """alpha_{T-1} one frame at a time, rescaled every frame; returns it and its log scale."""
    log_scale = np.zeros(len(alpha))
    for t in range(1, len(emissions)):
        alpha = np.matmul(alpha[:, None, :], moves)[:, 0, :] * emissions[t]
        log_scale += _rescale(alpha, (1,))
    return alpha, log_scale


def _chain_pairwise(alpha: np.ndarray, moves: np.ndarray,
                    emissions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """alpha_{T-1} = alpha_0 @ P_1 @ ... @ P_{T-1} with P_t = M·diag(e_t), the product taken
    pairwise (a tree), each partial product rescaled; returns it and its log scale."""
    frames = moves[None] * emissions[1:, :, None, :]                     # (T-1)×B×S×S
    log_scale = np.zeros(len(alpha))
    while len(frames) > 1:
        if len(frames) % 2:
            identity = np.broadcast_to(np.eye(moves.shape[1]), (1, *moves.shape))
            frames = np.concatenate([frames, identity])
        frames = np.matmul(frames[0::2], frames[1::2])
        log_scale += _rescale(frames, (2, 3)).sum(axis=0)
    if len(frames):
        alpha = np.matmul(alpha[:, None, :], frames[0])[:, 0, :]
    return alpha, log_scale


def _allowed_classes(alphabet: str) -> dict[str, list[int]]:
    return {"L": [alphabet.index(c) for c in LETTERS], "D": [alphabet.index(c) for c in DIGITS]}


def constrained_paths(log_probs: np.ndarray, requests: list[tuple[int, str]],
                      alphabet: str) -> list[list[int] | None]:
    """For each (column, pattern): the most probable alignment of a string of the pattern's
    shape in that column (Viterbi over the CTC topology, each position limited to letters or
    digits). All requests run as one batch; each answer is labels, or None when the column
    has fewer frames than the pattern has characters. log_probs: T×N×C."""
    if not requests:
        return []
    blank = len(alphabet) - 1
    allowed = _allowed_classes(alphabet)
    steps = log_probs.shape[0]
    longest = max(len(pattern) for _, pattern in requests)
    states = 2 * longest + 1  # blank, char0, blank, char1, ..., blank
    neg = -1e9
    columns = [column for column, _ in requests]
    lp = log_probs[:, columns, :]                                          # T×R×C
    best_letter = lp[:, :, allowed["L"]].max(axis=2)
    best_digit = lp[:, :, allowed["D"]].max(axis=2)
    # Emission of each state at each frame: the blank, or the best allowed class of the
    # position; states past a shorter pattern's end can never be reached.
    emit = np.full((steps, len(requests), states), neg)
    emit[:, :, 0::2] = lp[:, :, blank][:, :, None]
    for row, (_, pattern) in enumerate(requests):
        for k, kind in enumerate(pattern):
            emit[:, row, 2 * k + 1] = best_letter[:, row] if kind == "L" else best_digit[:, row]
        emit[:, row, 2 * len(pattern) + 1:] = neg
    # moves[j, s]: 0 where state s may follow state j (stay, step to the next state, or skip
    # a blank into a character state), else impossible. Predecessors are listed from s down,
    # so that ties prefer staying, then stepping, then skipping.
    index = np.arange(states)
    moves = np.full((states, states), neg)
    moves[index, index] = 0.0
    moves[index[:-1], index[1:]] = 0.0
    moves[index[1:-2:2], index[3::2]] = 0.0
    moves = moves[::-1]
    score = np.full((len(requests), states), neg)
    score[:, :2] = emit[0, :, :2]
    back = np.zeros((steps, len(requests), states), dtype=np.int64)  # the state came from
    for t in range(1, steps):
        options = score[:, ::-1, None] + moves                   # R×(predecessor, reversed)×S
        came_from = options.argmax(axis=1)
        back[t] = states - 1 - came_from
        score = options.max(axis=1) + emit[t]
    answers: list[list[int] | None] = []
    for row, (column, pattern) in enumerate(requests):
        n = len(pattern)
        if steps < n:
            answers.append(None)
            continue
        last = 2 * n
        state = last if score[row, last] >= score[row, last - 1] else last - 1
        frames: list[list[int]] = [[] for _ in range(n)]
        for t in range(steps - 1, -1, -1):
            if state % 2 == 1:
                frames[state // 2].append(t)
            if t > 0:
                state = int(back[t, row, state])
        if any(not f for f in frames):
            answers.append(None)
            continue
        labels = []
        for k, pos_frames in enumerate(frames):
            choices = allowed[pattern[k]]
            totals = log_probs[pos_frames, column][:, choices].sum(axis=0)
            labels.append(choices[int(totals.argmax())])
        answers.append(labels)
    return answers


def decode_batch(
    log_probs: np.ndarray, alphabet: str, prefer_layouts: bool = True,
    min_ratio: float = 0.02, sure: float = 0.9,
) -> list[Decoded]:
    """Decodes T×N×C log-probabilities (NumPy, or a torch tensor). With `prefer_layouts`,
    a read that fits no Ukrainian layout but misses one by a single look-alike (O for 0:
    plate_formats.near_patterns), and that the model is unsure of (probability below
    `sure`), is replaced by the best read that fits that layout, when the model gives that
    one at least `min_ratio` of the raw read's probability; otherwise the raw read stands
    (foreign plates read as they are)."""
    blank = len(alphabet) - 1
    if hasattr(log_probs, "detach"):  # a torch tensor (training); serving passes NumPy
        log_probs = log_probs.detach().float().cpu().numpy()
    lp = np.asarray(log_probs, dtype=np.float64)
    greedy = [greedy_path(lp[:, i], blank) for i in range(lp.shape[1])]
    raw_texts = ["".join(alphabet[c] for c in labels) for labels, _ in greedy]
    raw_probs = sequence_probabilities(lp, [labels for labels, _ in greedy])
    # Every unsure read that fits no layout but nearly fits one, against those, in one batch.
    requests = [(i, pattern) for i, text in enumerate(raw_texts)
                if prefer_layouts and raw_probs[i] < sure and matching_layout(text) is None
                for pattern in near_patterns(text)]
    paths = constrained_paths(lp, requests, alphabet)
    found = [(column, path) for (column, _), path in zip(requests, paths) if path is not None]
    found_probs = sequence_probabilities(lp[:, [c for c, _ in found]], [p for _, p in found])
    candidates: dict[int, list[tuple[float, list[int]]]] = {}
    for (column, path), prob in zip(found, found_probs):
        candidates.setdefault(column, []).append((prob, path))
    results: list[Decoded] = []
    for i, (labels, peaks) in enumerate(greedy):
        text, prob, chosen = raw_texts[i], raw_probs[i], labels
        if candidates.get(i):
            best_prob, best_path = max(candidates[i], key=lambda c: c[0])  # first of equals
            if best_prob >= min_ratio * raw_probs[i] and best_prob > 0:
                chosen, prob = best_path, best_prob
                text = "".join(alphabet[c] for c in chosen)
        char_confs = tuple(peaks) if chosen is labels else _char_confidences(lp[:, i], chosen)
        results.append(Decoded(
            text=text, confidence=float(min(1.0, prob)),
            char_confidences=tuple(round(c, 4) for c in char_confs),
            raw_text=raw_texts[i], layout=matching_layout(text),
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


@dataclass(frozen=True)
class Candidate:
    text: str
    confidence: float

    def as_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4)}


def prefix_beam_search(log_probs: np.ndarray, blank: int, beam: int = 10,
                       floor: float = 1e-3) -> list[tuple[int, ...]]:
    """The `beam` most probable label sequences of one column (T×C log-probabilities),
    most probable first: CTC prefix beam search, each prefix's probability summed over its
    alignments. Classes under `floor` at a frame are not tried there (a trained reader puts
    nearly all of each frame on one or two classes, so this keeps the search a few steps
    per frame)."""
    probs = np.exp(np.asarray(log_probs, dtype=np.float64))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (1.0, 0.0)}  # (ends in blank, not)
    for frame in probs:
        tried = [int(c) for c in np.flatnonzero(frame >= floor) if c != blank]
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_blank, p_char) in beams.items():
            entry = grown.setdefault(prefix, [0.0, 0.0])
            entry[0] += (p_blank + p_char) * frame[blank]
            for c in tried:
                if prefix and prefix[-1] == c:
                    entry[1] += p_char * frame[c]          # the same character, held
                    longer = grown.setdefault(prefix + (c,), [0.0, 0.0])
                    longer[1] += p_blank * frame[c]        # a doubled character, after a blank
                else:
                    longer = grown.setdefault(prefix + (c,), [0.0, 0.0])
                    longer[1] += (p_blank + p_char) * frame[c]
        best = sorted(grown.items(), key=lambda item: item[1][0] + item[1][1], reverse=True)[:beam]
        beams = {prefix: (p[0], p[1]) for prefix, p in best}
    return [prefix for prefix in beams if prefix]


# Other readings less probable than this are noise, not an alternative worth matching.
MIN_CANDIDATE = 1e-4


def candidates(log_probs: np.ndarray, alphabet: str, text: str, confidence: float,
               prefer_layouts: bool = True, count: int = 3) -> tuple[Candidate, ...]:
    """Up to `count` readings of one column (T×C), the decoder's read first, then the other
    most probable strings, each with its probability (the CTC forward pass, as the read's
    confidence). The decoder's layout rule holds: when the read fits a Ukrainian layout,
    so do the others. Only strings less probable than the read follow it."""
    blank = len(alphabet) - 1
    texts = ["".join(alphabet[c] for c in labels) for labels in prefix_beam_search(log_probs, blank)]
    layouts_only = prefer_layouts and matching_layout(text) is not None
    others = [t for t in dict.fromkeys(texts)
              if t != text and not (layouts_only and matching_layout(t) is None)]
    probs = sequence_probabilities(np.asarray(log_probs, dtype=np.float64)[:, None, :].repeat(len(others), 1),
                                   [[alphabet.index(c) for c in t] for t in others]) if others else []
    ranked = sorted((Candidate(t, min(1.0, p)) for t, p in zip(others, probs)
                     if MIN_CANDIDATE <= p <= confidence), key=lambda c: c.confidence, reverse=True)
    return (Candidate(text, confidence), *ranked[:count - 1])


def fit_pattern(log_probs: np.ndarray, alphabet: str, pattern: str) -> tuple[str, float] | None:
    """The likeliest string of `pattern`'s shape in one T×C column, with its probability
    (None when the column has too few frames for it)."""
    path = constrained_paths(log_probs[:, None], [(0, pattern)], alphabet)[0]
    if path is None:
        return None
    return "".join(alphabet[c] for c in path), sequence_probabilities(log_probs[:, None], [path])[0]
