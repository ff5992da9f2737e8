"""The region letters of current plates: every series of the table maps to its oblast or city;
unknown prefixes, older layouts and foreign plates have no region."""
from __future__ import annotations

import pytest

from alpr.regions import NATIONWIDE, REGIONS, region_of

PLATE_LETTERS = set("ABCEHIKMOPTX")

# The 2004 series (ДСТУ 4278:2004, Додаток Б), one pair per region.
SERIES_2004 = {
    "AK": "Autonomous Republic of Crimea", "AB": "Vinnytsia Oblast", "AC": "Volyn Oblast",
    "AE": "Dnipropetrovsk Oblast", "AH": "Donetsk Oblast", "AM": "Zhytomyr Oblast",
    "AO": "Zakarpattia Oblast", "AP": "Zaporizhzhia Oblast", "AT": "Ivano-Frankivsk Oblast",
    "AI": "Kyiv Oblast", "AA": "Kyiv", "BA": "Kirovohrad Oblast", "BB": "Luhansk Oblast",
    "BC": "Lviv Oblast", "BE": "Mykolaiv Oblast", "BH": "Odesa Oblast", "BI": "Poltava Oblast",
    "BK": "Rivne Oblast", "BM": "Sumy Oblast", "BO": "Ternopil Oblast", "AX": "Kharkiv Oblast",
    "BT": "Kherson Oblast", "BX": "Khmelnytskyi Oblast", "CA": "Cherkasy Oblast",
    "CB": "Chernihiv Oblast", "CE": "Chernivtsi Oblast", "CH": "Sevastopol",
}
# The 2013 amendment: first letter A->K, B->H, C->I.
_TO_2013 = {"A": "K", "B": "H", "C": "I"}


@pytest.mark.parametrize(
    ("prefix", "region"),
    [
        ("AA", "Kyiv"), ("KA", "Kyiv"), ("TT", "Kyiv"), ("KK", "Kyiv"),
        ("AI", "Kyiv Oblast"), ("KI", "Kyiv Oblast"), ("TI", "Kyiv Oblast"),
        ("BC", "Lviv Oblast"), ("HC", "Lviv Oblast"), ("CC", "Lviv Oblast"),
        ("AX", "Kharkiv Oblast"), ("KX", "Kharkiv Oblast"), ("XX", "Kharkiv Oblast"),
        ("BH", "Odesa Oblast"), ("OO", "Odesa Oblast"),
        ("AE", "Dnipropetrovsk Oblast"), ("PP", "Dnipropetrovsk Oblast"),
        ("AM", "Zhytomyr Oblast"), ("TM", "Zhytomyr Oblast"),
        ("AK", "Autonomous Republic of Crimea"), ("CH", "Sevastopol"), ("IH", "Sevastopol"),
        ("II", NATIONWIDE),
    ],
)
def test_known_prefixes(prefix, region):
    assert REGIONS[prefix] == region
    assert region_of(f"{prefix}1234AB", "ua") == region


def test_examples_from_the_field():
    assert region_of("AI5255EI", "ua") == "Kyiv Oblast"
    assert region_of("BC9911BK", "ua") == "Lviv Oblast"


@pytest.mark.parametrize(("prefix", "region"), sorted(SERIES_2004.items()))
def test_every_region_keeps_its_2004_and_2013_pairs(prefix, region):
    assert REGIONS[prefix] == region
    pair_2013 = _TO_2013[prefix[0]] + prefix[1]
    if pair_2013 == "KK":
        # Crimea's 2013 pair; Наказ МВС № 354 (2023) gave it to Kyiv and МА to Crimea.
        assert REGIONS["KK"] == "Kyiv"
        assert REGIONS["MA"] == region
    else:
        assert REGIONS[pair_2013] == region


def test_each_region_has_four_pairs():
    counts: dict[str, int] = {}
    for region in REGIONS.values():
        counts[region] = counts.get(region, 0) + 1
    assert {region: n for region, n in counts.items() if region != NATIONWIDE} == {
        region: 4 for region in SERIES_2004.values()
    }


def test_27_regions_plus_nationwide():
    regions = set(REGIONS.values())
    assert len(regions - {NATIONWIDE}) == 27  # 24 oblasts + Kyiv + Sevastopol + Crimea
    assert sum(name.endswith(" Oblast") for name in regions) == 24
    assert regions == set(SERIES_2004.values()) | {NATIONWIDE}


def test_keys_are_two_plate_letters():
    for prefix in REGIONS:
        assert len(prefix) == 2 and set(prefix) <= PLATE_LETTERS, prefix


def test_two_line_layout():
    assert region_of("BC9911BK", "ua-two-line") == "Lviv Oblast"


@pytest.mark.parametrize("text", ["ZZ1234AB", "AZ1234AB", "BP1234AB", "HP1234AB", "ED1234AB"])
def test_unknown_prefix(text):
    assert region_of(text, "ua") is None


@pytest.mark.parametrize("layout", ["foreign", None, "ua-1995", "ua-1977", "UA", ""])
def test_other_layouts_have_no_region(layout):
    assert region_of("AA1234BC", layout) is None


def test_short_or_empty_text():
    assert region_of("", "ua") is None
    assert region_of("A", "ua") is None
