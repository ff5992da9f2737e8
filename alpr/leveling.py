"""Bringing a plate crop back level. The reader reads the plate column by column, and a
plate whose baseline runs askew mixes characters in its columns. Two ways a plate goes
askew in a photo, each undone by its own transform:

- turned (`unturn`): the whole plate rotated in the picture, characters and all (a camera
  held askew, a plate hung crooked);
- slanted (`unslant`): the baseline climbs while the characters stay upright (a plate seen
  from the side and from above or below: `ua-AA8809TI.jpg`, whose plate reads 0.28 as it
  is and 0.88 once its 30° slant is undone).

A wrong angle gives a crop the reader is unsure of, so callers keep the surest read."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

# Near 45° the box of a turned plate no longer tells its length from its height.
_MIN_DETERMINANT = 0.2


def unturn(crop: np.ndarray, degrees: float) -> np.ndarray:
    """The crop of a plate turned by `degrees` (counter-clockwise as seen), turned back by as
    much and cut to the plate with a little margin.

    The box of a plate L long and P high turned by θ is L·cosθ + P·sinθ wide and
    L·sinθ + P·cosθ high; solving that for L and P gives the plate's extent once level."""
    h, w = crop.shape[:2]
    theta = np.deg2rad(abs(degrees))
    cos, sin = float(np.cos(theta)), float(np.sin(theta))
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    # A canvas that holds the whole turned crop, centred.
    out_w, out_h = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    turn[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    level = cv2.warpAffine(crop, turn, (out_w, out_h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    determinant = cos * cos - sin * sin
    if determinant > _MIN_DETERMINANT:
        length = (w * cos - h * sin) / determinant
        height = (h * cos - w * sin) / determinant
    else:
        length, height = max(w, h), min(w, h) / 2
    # Kept within sense: a plate is never shorter than half the canvas nor flatter than 1:8.
    length = min(out_w, max(length, 0.5 * out_w))
    height = min(out_h, max(height, length / 8))
    keep_w, keep_h = min(out_w, 1.1 * length), min(out_h, 1.5 * height)
    x0, y0 = int((out_w - keep_w) / 2), int((out_h - keep_h) / 2)
    return level[y0:y0 + max(1, int(keep_h)), x0:x0 + max(1, int(keep_w))]


def unslant(crop: np.ndarray, degrees: float) -> np.ndarray:
    """The crop of a plate whose baseline climbs by `degrees` to the right (characters
    upright), sheared back level about its centre and cut to the plate's band.

    A plate L long and P high slanted by θ fills a box L wide and P + L·tanθ high, so
    the band once level is the box's height less its width times tanθ."""
    h, w = crop.shape[:2]
    slope = float(np.tan(np.deg2rad(degrees)))
    # y' = y - slope·(w/2 - x) : the climb undone, the centre column kept in place.
    shear = np.float32([[1, 0, 0], [slope, 1, -slope * w / 2]])
    level = cv2.warpAffine(crop, shear, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    band = max(h - w * abs(slope), h / 4)  # at least a quarter of the box, whatever the angle
    keep = min(h, 1.5 * band)
    y0 = int((h - keep) / 2)
    return level[y0:y0 + max(1, int(keep))]


def leveled_views(crop: np.ndarray, turn_angles: Sequence[float],
                  slant_angles: Sequence[float]) -> list[np.ndarray]:
    """The crop turned back by each turn angle, then sheared back by each slant angle."""
    return [unturn(crop, a) for a in turn_angles] + [unslant(crop, a) for a in slant_angles]
