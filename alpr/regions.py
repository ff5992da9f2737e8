"""Region prefixes of current Ukrainian plates: the first two letters of `LL DDDD LL` -> region.

Cyrillic letters are written as their Latin look-alikes by glyph shape, never by sound
(А->A, В->B, С->C, Е->E, Н->H, І->I, К->K, М->M, О->O, Р->P, Т->T, Х->X).

Sources:
- Вимоги до номерних знаків транспортних засобів, Додаток 4 «Літеросполуки, які позначають
  адміністративно-територіальну належність місця реєстрації транспортного засобу»,
  approved by Наказ МВС України від 02.03.2021 № 166 (reg. Мін'юст 22.03.2021 № 353/35975),
  consolidated text as amended, incl. Наказ МВС № 354 від 27.04.2023 (Додаток 4 amended):
  https://zakon.rada.gov.ua/laws/show/z0353-21 . Four letter pairs for each of 27 regions;
  this is the table below, row for row (read via the mechanical extraction in
  github.com/vehiclesdb/vehiclesdb plates/_decode/ua-regions.yml, cross-checked against a
  second independent transcription of Додаток 4).
- ДСТУ 4278:2004, Додаток Б (the 2004 series, first column below, and the nationwide «ІІ»),
  and its 2013 amendment adding the НА-НХ, ІА-ІН, КА-КХ ranges (second column).
- Wikipedia, «Номерні знаки України» / "Vehicle registration plates of Ukraine" (the era of
  each column: 2004, 2013, 2021+), for cross-checking only.

Where the 2023 amendment reassigned a pair, the instrument in force wins: КК (Crimea's 2013
pair in the DSTU amendment) now belongs to Kyiv, Crimea got МА instead; ЕЕ (Luhansk in the
first 2021 list) now belongs to Kyiv Oblast. The online-registration pairs ED, DC, DI, PD
(Наказ МВС № 814 від 12.12.2022) carry no region and use letters outside the plate alphabet,
so they are not here.
"""
from __future__ import annotations

KYIV = "Kyiv"
NATIONWIDE = "Nationwide"

# (region, (2004 pair, 2013 pair, 2021+ pair, 2021+ pair)) in the order of Додаток 4.
_TABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Autonomous Republic of Crimea", ("AK", "MA", "TK", "MK")),
    ("Vinnytsia Oblast", ("AB", "KB", "IM", "PI")),
    ("Volyn Oblast", ("AC", "KC", "CM", "TC")),
    ("Dnipropetrovsk Oblast", ("AE", "KE", "PP", "MI")),
    ("Donetsk Oblast", ("AH", "KH", "TH", "MH")),
    ("Zhytomyr Oblast", ("AM", "KM", "TM", "MB")),
    ("Zakarpattia Oblast", ("AO", "KO", "MT", "MO")),
    ("Zaporizhzhia Oblast", ("AP", "KP", "TP", "MP")),
    ("Ivano-Frankivsk Oblast", ("AT", "KT", "TO", "XC")),
    ("Kyiv Oblast", ("AI", "KI", "TI", "EE")),
    (KYIV, ("AA", "KA", "TT", "KK")),
    ("Kirovohrad Oblast", ("BA", "HA", "XA", "EA")),
    ("Luhansk Oblast", ("BB", "HB", "EP", "EB")),
    ("Lviv Oblast", ("BC", "HC", "CC", "EC")),
    ("Mykolaiv Oblast", ("BE", "HE", "XE", "XH")),
    ("Odesa Oblast", ("BH", "HH", "OO", "EH")),
    ("Poltava Oblast", ("BI", "HI", "XI", "EI")),
    ("Rivne Oblast", ("BK", "HK", "XK", "EK")),
    ("Sumy Oblast", ("BM", "HM", "XM", "EM")),
    ("Ternopil Oblast", ("BO", "HO", "XO", "EO")),
    ("Kharkiv Oblast", ("AX", "KX", "XX", "EX")),
    ("Kherson Oblast", ("BT", "HT", "XT", "ET")),
    ("Khmelnytskyi Oblast", ("BX", "HX", "OX", "PX")),
    ("Cherkasy Oblast", ("CA", "IA", "OA", "PA")),
    ("Chernihiv Oblast", ("CB", "IB", "OB", "PB")),
    ("Chernivtsi Oblast", ("CE", "IE", "OE", "PE")),
    ("Sevastopol", ("CH", "IH", "OH", "PH")),
    # ДСТУ 4278:2004 Додаток Б: «ІІ — загальнодержавна»; withdrawn from issue in 2006,
    # not in Додаток 4, but such plates may still be on the road.
    (NATIONWIDE, ("II",)),
)

REGIONS: dict[str, str] = {prefix: region for region, prefixes in _TABLE for prefix in prefixes}

_REGIONAL_LAYOUTS = frozenset({"ua", "ua-two-line"})


def region_of(text: str, layout: str | None) -> str | None:
    """The oblast or city the first two letters of a current plate stand for (layouts `ua`
    and `ua-two-line`); None for other layouts and unknown prefixes."""
    if layout not in _REGIONAL_LAYOUTS:
        return None
    prefix = "".join(text.split()).upper()[:2]
    return REGIONS.get(prefix)
