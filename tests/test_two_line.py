"""Two-line plates: cut into lines as the service cuts them, written in the order a person writes them."""
import numpy as np
import pytest

from alpr.two_line import TWO_LINE, may_hold_two_lines, split_lines, written_order


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
