"""How hard the service looks for a plate it did not read surely at first: one named plan
per `ALPR_SEARCH` setting, and every angle, margin and size of the search in one place.

A photo always gets one detector look and one read per box. A box whose read is not sure
(SURE_READ) is read again from more crop margins, then from its crop leveled (turned and
sheared back by each angle); a photo where no box reads as a plate gets more detector looks
(larger, turned, sheared, tiled). Each extra look and read costs time, so each plan bounds
what a hard photo, or one without a plate, may cost.
"""
from __future__ import annotations

from dataclasses import dataclass

# A read this sure, of any layout, ends the search for its box.
SURE_READ = 0.95
# Crop margins (share of the box on every side): the first is read first.
FIRST_MARGIN = 0.08
MORE_MARGINS = (0.0, 0.16, 0.24, 0.32, 0.4)
# A crop still unsure is read turned back by these degrees (a plate turned in the picture)
# and sheared back by these (seen from the side: baseline climbing, characters upright).
TURN_BACK = (-40.0, -30.0, -20.0, -12.0, 12.0, 20.0, 30.0, 40.0)
SHEAR_BACK = (-35.0, -25.0, -15.0, 15.0, 25.0, 35.0)
# The detector misses plates turned 25-50° in the picture and steeply slanted ones: it looks
# again at the photo turned and sheared by these degrees.
DETECTOR_TURNS = (-35.0, 35.0)
DETECTOR_SLANTS = (-30.0, 30.0)
# An askew crop the rectifier levels is also leveled this many degrees either side.
RECTIFIER_SPREAD = 5.0
# The balanced plan's larger look, and the detector score from which a box counts as the
# plate found (so that later looks would only find it again).
BALANCED_RETRY = 768
FOUND_BOX = 0.5


@dataclass(frozen=True)
class SearchPlan:
    name: str
    # Detector: a second, larger look when no box reads (px; 0: none), the photo turned and
    # sheared, then N×N tiles at the retry size (0: none).
    retry_imgsz: int
    detector_turns: tuple[float, ...]
    detector_slants: tuple[float, ...]
    tiles: int
    # Reader: the crop margins, then the leveled views of an unsure box.
    crop_margins: tuple[float, ...]
    turn_angles: tuple[float, ...]
    slant_angles: tuple[float, ...]
    rectifier_spread: float
    # The detector's extra looks stop once a box this confident was found, read or not: the
    # plate was found, and looking again finds it again (above 1: they never stop early).
    found_box: float = 1.01
    sure_read: float = SURE_READ
    # Only an unsure box whose read is a near miss (alpr.pipeline.near_miss: it fits a
    # Ukrainian layout, or has a Ukrainian plate's length) is read from the other margins.
    near_misses_only: bool = False


PLANS: dict[str, SearchPlan] = {
    # One look, one crop per box (read as the rectifier levels it).
    "fast": SearchPlan("fast", 0, (), (), 0, (FIRST_MARGIN,), (), (), 0.0),
    # What paid off on real photos (alpr.photo_bench): a larger look and sheared ones, only
    # while no box was found; one crop per box, and the other crop margins for a box read
    # unsure but nearly (a near miss). On ua-real and its 279 degraded copies (2026-12-06)
    # the other margins read 9 of the 19 plates right that thorough reads and balanced did
    # not (ua-11 from code 6; BE7425CT -> BE7425CB, AT1515CX -> AT1515CK, ...), and lose 2
    # that balanced read right unsure (ua-24's AM at 0.55 and 0.74 outvoted by AH): exact
    # 183 -> 190 of 310. Near misses only: re-reading every unsure box reads the same plates
    # right (and loses one more) at 1.9x the crops (1,346 vs 712 there), and on the
    # validation photos' foreign plates 8.0 vs 4.6 crops a photo (1.3 before), none right
    # either way; a surer sure_read (0.98) reads the same. Adding the leveled views reads 1
    # more right at 5.7x the crops; the rest of thorough's 19 need its looks (1,024 px,
    # turned, sheared at 1,024) and a box found at 0.5 not ending them, at about 4x the cost.
    # Cost (python -m alpr bench --photos-only, 600 photos, 2026-12-06): reading 6.0 -> 11.9
    # ms and 1.2 -> 3.4 crops a photo on average, mean 69.5 -> 71.5 ms (the peer's 63.9, 61.0).
    "balanced": SearchPlan("balanced", BALANCED_RETRY, (), DETECTOR_SLANTS, 0, (FIRST_MARGIN, *MORE_MARGINS),
                           (), (), 0.0, found_box=FOUND_BOX, near_misses_only=True),
    # Every look and every read.
    "thorough": SearchPlan("thorough", 1024, DETECTOR_TURNS, DETECTOR_SLANTS, 3,
                           (FIRST_MARGIN, *MORE_MARGINS), TURN_BACK, SHEAR_BACK, RECTIFIER_SPREAD),
}
DEFAULT_SEARCH = "balanced"


def plan_named(name: str) -> SearchPlan:
    try:
        return PLANS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"ALPR_SEARCH must be one of {', '.join(PLANS)}, not {name!r}") from None
