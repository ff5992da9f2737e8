"""Two-line plates: cut into lines as the service cuts them, written in the order a person writes them."""
import numpy as np
import pytest

from alpr.ctc import decode_batch
from alpr.plate_formats import LATIN_ALPHABET as LATIN
from alpr.plate_formats import TWO_LINE
from alpr.recognizer import fit_two_lines
from alpr.two_line import may_hold_two_lines, split_lines, written_order


@pytest.mark.parametrize("top, bottom, text, ukrainian", [
    ("APET", "7007", "AP7007ET", True),     # square car plate: region and series over the digits
    ("10922", "BX", "10922BX", True),       # tractor, ATV, trailer: digits over letters
    ("SK", "123AB", "SK123AB", False),      # a foreign two-line plate: top line, then bottom
    ("APET", "70O7", "APET70O7", False),    # not digits under the letters: written as it stands
])
def test_lines_are_written_in_the_plates_own_order(top, bottom, text, ukrainian):
    written = written_order(top, bottom)
    assert written.text == text and written.ukrainian is ukrainian


def test_the_halves_overlap_and_cover_the_crop():
    crop = np.arange(100 * 7 * 3, dtype=np.uint8).reshape(100, 7, 3)
    top, bottom = split_lines(crop)
    assert top.shape[0] + bottom.shape[0] > crop.shape[0]  # they overlap
    assert np.array_equal(top[0], crop[0]) and np.array_equal(bottom[-1], crop[-1])


def test_only_boxes_shaped_like_two_line_plates_are_read_as_two_lines():
    assert may_hold_two_lines(280, 200) and may_hold_two_lines(305, 152)
    assert not may_hold_two_lines(520, 112) and not may_hold_two_lines(10, 0)
    assert TWO_LINE == "ua-two-line"


def lattice(text: str, wavering: dict[int, tuple[str, float]] | None = None) -> np.ndarray:
    """32×C log-probabilities reading `text` surely; wavering[k] = (rival, p): the k-th
    character's frame gives its rival p and the character 0.9 - p."""
    lp = np.full((32, len(LATIN)), np.log(0.01 / len(LATIN)))
    path = "".join(f"_{c}" for c in text).ljust(32, "_")
    for t, symbol in enumerate(path):
        lp[t, LATIN.index(symbol)] = np.log(0.99)
    for k, (rival, p) in (wavering or {}).items():
        t = 2 * k + 1
        lp[t, LATIN.index(text[k])] = np.log(0.9 - p)
        lp[t, LATIN.index(rival)] = np.log(p)
    return lp


def decoded(lp: np.ndarray):
    return decode_batch(lp[:, None, :], LATIN, prefer_layouts=False)[0]


def test_a_line_one_look_alike_off_a_square_plate_is_mended():
    top_lp, bottom_lp = lattice("APET"), lattice("7007", {1: ("O", 0.5)})
    top, bottom = fit_two_lines(decoded(top_lp), decoded(bottom_lp), top_lp, bottom_lp, LATIN)
    assert bottom.raw_text == "7O07" and bottom.text == "7007"
    assert written_order(top.text, bottom.text) == written_order("APET", "7007")


def test_foreign_lines_are_left_as_read():
    top_lp, bottom_lp = lattice("SK"), lattice("123AB")
    top, bottom = fit_two_lines(decoded(top_lp), decoded(bottom_lp), top_lp, bottom_lp, LATIN)
    assert (top.text, bottom.text) == ("SK", "123AB")
