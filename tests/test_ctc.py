import numpy as np

import pytest

from alpr import ctc
from alpr.ctc import constrained_paths, decode_batch, greedy_path, sequence_probabilities
from alpr.plate_formats import ALPHABET, matching_layout

BLANK = len(ALPHABET) - 1


def frames_for(path: str, sharp: float = 0.97) -> np.ndarray:
    """Log-probabilities that put `sharp` on each listed symbol ('_' is the blank) per frame."""
    lp = np.full((len(path), len(ALPHABET)), np.log((1 - sharp) / (len(ALPHABET) - 1)))
    for t, symbol in enumerate(path):
        lp[t, ALPHABET.index(symbol)] = np.log(sharp)
    return lp


def decode(lp: np.ndarray, **kwargs):
    return decode_batch(lp[:, None, :], ALPHABET, **kwargs)[0]


def test_greedy_collapses_repeats_and_drops_blanks():
    labels, confs = greedy_path(frames_for("__AA_I_55_2_5_5__EE_I_"), BLANK)
    assert "".join(ALPHABET[i] for i in labels) == "AI5255EI"
    assert len(confs) == 8


def test_blank_separates_a_doubled_character():
    labels, _ = greedy_path(frames_for("_5_5_"), BLANK)
    assert "".join(ALPHABET[i] for i in labels) == "55"


def test_all_blank_reads_nothing():
    result = decode(frames_for("______"))
    assert result.text == "" and result.confidence == 0.0


def test_sure_read_keeps_its_text_and_high_confidence():
    result = decode(frames_for("_A_I_5_2_5_5_E_I_" + "_" * 15))
    assert result.text == "AI5255EI" and result.layout == "ua"
    assert result.confidence > 0.3
    assert all(c > 0.9 for c in result.char_confidences)


def test_unsure_letter_digit_confusion_prefers_the_layout():
    lp = frames_for("_A_I_5_2_5_5_E_I_" + "_" * 15)
    # The last digit wavers between O and 0: O narrowly wins at a digit position.
    t = 11  # the frame of the last digit
    lp[t] = np.log(np.full(len(ALPHABET), 0.002))
    lp[t, ALPHABET.index("O")] = np.log(0.5)
    lp[t, ALPHABET.index("0")] = np.log(0.45)
    result = decode(lp)
    assert result.raw_text == "AI525OEI"
    assert result.text == "AI5250EI" and result.layout == "ua"
    assert result.confidence < 0.5  # an unsure read says so


def test_foreign_plate_falls_back_to_the_raw_read():
    # Confident, and fits no Ukrainian layout (two letters, three digits, two letters).
    result = decode(frames_for("_O__O_9_6_4_X_X_" + "_" * 6, sharp=0.999))
    assert result.text == result.raw_text == "OO964XX"
    assert result.layout is None


def test_constrained_path_fits_the_pattern():
    lp = frames_for("_A_I_5_2_5_5_E_I_")
    labels = constrained_paths(lp[:, None], [(0, "LLDDDDLL")], ALPHABET)[0]
    text = "".join(ALPHABET[i] for i in labels)
    assert text == "AI5255EI" and matching_layout(text) == "ua"
    assert constrained_paths(lp[:3, None], [(0, "LLDDDDLL")], ALPHABET) == [None]  # too few frames


def test_constrained_paths_in_one_batch_match_each_alone():
    # Patterns of different lengths share one padded batch; padding must not leak into the
    # shorter pattern's answer, and a column too short for a pattern answers None.
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (9, 3, len(ALPHABET)))
    lp = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    requests = [(0, "LLDDDDLL"), (0, "DDDDDLL"), (1, "LDDDDLL"), (2, "LLDDDDLL"), (2, "DDDDDLL")]
    together = constrained_paths(lp, requests, ALPHABET)
    alone = [constrained_paths(lp[:, [column]], [(0, pattern)], ALPHABET)[0] for column, pattern in requests]
    assert together == alone
    assert all(len(path) == len(pattern) for path, (_, pattern) in zip(together, requests))
    assert constrained_paths(lp[:6], [(0, "LLDDDDLL"), (1, "DD")], ALPHABET)[0] is None


def test_batch_decodes_each_column_independently():
    a = frames_for("_A_A_1_2_3_4_B_B_")
    b = frames_for("_1_2_3_4_5_K_A___")
    result = decode_batch(np.stack([a, b], axis=1), ALPHABET)
    assert [r.text for r in result] == ["AA1234BB", "12345KA"]


@pytest.mark.parametrize("pairwise_max", [0, 1000], ids=["frame-by-frame", "pairwise"])
def test_sequence_probability_matches_torch_ctc_loss(monkeypatch, pairwise_max):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(ctc, "PAIRWISE_MAX_SEQUENCES", pairwise_max)
    rng = np.random.default_rng(5)
    lp = torch.log_softmax(torch.from_numpy(rng.normal(0, 3, (32, 4, len(ALPHABET)))), dim=-1)
    labels = [[1, 2, 2, 3], [5], [3] * 8, [4, 5, 6, 7, 8, 9, 10, 11]]
    ours = sequence_probabilities(lp.numpy(), labels)
    for i, seq in enumerate(labels):
        nll = torch.nn.functional.ctc_loss(
            lp[:, i:i + 1], torch.tensor([seq]), torch.tensor([32]), torch.tensor([len(seq)]),
            blank=BLANK, reduction="none")
        assert ours[i] == pytest.approx(float(torch.exp(-nll)), rel=1e-9)
    assert sequence_probabilities(lp.numpy(), [[], [1], [], []])[0] == 0.0


def test_decoding_takes_a_torch_tensor_too():
    torch = pytest.importorskip("torch")
    lp = frames_for("_A_I_5_2_5_5_E_I_")
    assert decode_batch(torch.from_numpy(lp)[:, None, :], ALPHABET)[0].text == "AI5255EI"


def _brute_force_strings(probs: np.ndarray, blank: int) -> dict[tuple[int, ...], float]:
    """p(string) for every string of a tiny lattice, summed over every alignment."""
    import itertools

    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        labels, previous = [], blank
        for c in path:
            if c != blank and c != previous:
                labels.append(c)
            previous = c
        p = float(np.prod([probs[t, c] for t, c in enumerate(path)]))
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + p
    return totals


def test_prefix_beam_search_ranks_strings_as_exhaustive_search_does():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(3) * 0.7, size=6)  # 6 frames, classes 0, 1 and the blank 2
    exact = _brute_force_strings(probs, blank=2)
    ranked = sorted((s for s in exact if s), key=exact.__getitem__, reverse=True)
    found = ctc.prefix_beam_search(np.log(probs), blank=2, beam=len(exact), floor=0.0)
    assert found[:5] == ranked[:5]


def test_candidates_start_with_the_read_and_follow_its_layout_rule():
    # Frames that hesitate between AI5255EI and AI5256EI, and a fragment outside the layouts.
    lp = frames_for("_A_I_5_2_5_5_E_I_")
    six = ALPHABET.index("6")
    lp[11] = np.log(np.full(len(ALPHABET), 0.01 / (len(ALPHABET) - 2)))
    lp[11, ALPHABET.index("5")], lp[11, six] = np.log(0.69), np.log(0.3)
    read = decode(lp)
    found = ctc.candidates(lp, ALPHABET, read.text, read.confidence)
    assert found[0] == ctc.Candidate(read.text, read.confidence) and read.text == "AI5255EI"
    assert found[1].text == "AI5256EI"
    confidences = [c.confidence for c in found]
    assert confidences == sorted(confidences, reverse=True) and all(0 < c <= 1 for c in confidences)
    assert len(found) <= 3 and all(matching_layout(c.text) for c in found)
    # A foreign read keeps strings outside the layouts among its alternatives.
    foreign = ctc.candidates(lp, ALPHABET, read.text, read.confidence, prefer_layouts=False, count=8)
    assert any(matching_layout(c.text) is None for c in foreign)


def test_candidate_probabilities_are_the_forward_pass():
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(len(ALPHABET)) * 0.05, size=32) + 1e-12)
    read = decode(lp, prefer_layouts=False)
    for c in ctc.candidates(lp, ALPHABET, read.text, read.confidence, prefer_layouts=False)[1:]:
        labels = [ALPHABET.index(ch) for ch in c.text]
        assert c.confidence == pytest.approx(sequence_probabilities(lp[:, None, :], [labels])[0])


from alpr.plate_formats import LATIN_ALPHABET as LATIN  # noqa: E402


@pytest.mark.parametrize("foreign", ["BA302OZ", "1B80338", "OO964GG", "PO1234A"])
def test_an_unsure_foreign_read_is_not_bent_into_a_ukrainian_layout(foreign):
    # A foreign number read at 0.5: a Ukrainian layout a frame away must not replace it.
    lp = np.full((32, len(LATIN)), np.log(0.5 / (len(LATIN) - 1)))
    path = "_".join(foreign) + "_" * (32 - 2 * len(foreign) + 1)
    for t, symbol in enumerate(path[:32]):
        lp[t, LATIN.index(symbol)] = np.log(0.5)
    result = decode_batch(lp[:, None, :], LATIN)[0]
    assert result.raw_text == foreign and result.text == foreign and result.layout is None
    assert result.confidence < 0.9


def test_near_patterns_are_one_kind_of_character_away_at_the_same_length():
    from alpr.plate_formats import LAYOUTS, near_patterns

    assert near_patterns("AI525OEI") == [LAYOUTS["ua"]]
    assert near_patterns("A15255EI") == [LAYOUTS["ua"]] and near_patterns("AI5255EI") == []
    assert near_patterns("BA302OZ") == [] and near_patterns("AP7007ETX") == []


def test_a_digit_with_no_ukrainian_look_alike_leaves_the_read_as_it_is():
    from alpr.plate_formats import near_patterns

    assert near_patterns("A35255EI") == []  # 3 looks like no letter of the layouts
    assert near_patterns("AI52G5EI") != []  # G is a 6 misread
