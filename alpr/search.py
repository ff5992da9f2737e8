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
# A box read as a foreign plate is read again from these margins by the Latin reader, and
# answered as the three views agree (Pipeline.foreign_margins).
FOREIGN_MARGINS = (0.0, 0.16)
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
    # A box read as a foreign plate: the crop margins it is read again from.
    foreign_margins: tuple[float, ...] = FOREIGN_MARGINS


PLANS: dict[str, SearchPlan] = {
    # One look, one crop per box (read as the rectifier levels it).
    "fast": SearchPlan("fast", 0, (), (), 0, (FIRST_MARGIN,), (), (), 0.0, foreign_margins=()),
    # What paid off on real photos (alpr.photo_bench): a larger look and sheared ones, only
    # while no box was found; one crop per box. The other crop margins and the leveled views
    # read no more plates right there, and answered more wrong.
    "balanced": SearchPlan("balanced", BALANCED_RETRY, (), DETECTOR_SLANTS, 0, (FIRST_MARGIN,), (), (),
                           0.0, found_box=FOUND_BOX),
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
