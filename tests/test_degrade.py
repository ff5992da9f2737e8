"""Degraded copies of real photos (alpr.degrade): the same bytes run to run and whatever the
thread count, each degradation doing what its name says, the labels carried to the copies."""
from __future__ import annotations

import json
import math
import shutil

import cv2
import numpy as np
import pytest

from alpr import degrade
from alpr.__main__ import main as cli
from alpr.config import SHARED_DATASETS

UA_REAL = SHARED_DATASETS / "ua-real"
TWO_REAL = ("ua-24-AM5696CK.jpg", "ua-moto-BE0886AA.jpg")


def scene(width: int = 600, height: int = 420) -> np.ndarray:
    """A textured photo with a white horizontal bar across its middle (the 'plate')."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(40, 200, (height // 6, width // 6, 3), dtype=np.uint8)
    image = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)  # sharp edges both ways
    image[height // 2 - 8:height // 2 + 8, width // 4:3 * width // 4] = 255
    return image


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    cv2.imwrite(str(folder / "car.jpg"), scene(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(folder / "notes.txt.png"), scene(300, 200))  # a second photo, without labels
    (folder / "labels.json").write_text(json.dumps({"car.jpg": ["AA1234BB", "AA1234BV"]}))
    (folder / "layouts.json").write_text(json.dumps({"car.jpg": "ua"}))
    return folder


@pytest.fixture(scope="module")
def copies(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("copies")
    degrade.write_copies(source, out)
    return out


def decoded(path) -> np.ndarray:
    return cv2.imread(str(path))


def bar_angle(image: np.ndarray) -> float:
    """Degrees of the bright bar's long axis, y growing downwards (negative: its right end higher)."""
    ys, xs = np.nonzero(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 235)
    cov = np.cov(np.stack([xs, ys]).astype(float))
    values, vectors = np.linalg.eigh(cov)
    x, y = vectors[:, np.argmax(values)]
    return math.degrees(math.atan2(y, x)) if x > 0 else math.degrees(math.atan2(-y, -x))


def test_every_photo_gets_every_degradation_and_its_labels(source, copies):
    names = sorted(p.name for p in copies.glob("*.jpg"))
    assert names == sorted(degrade.copy_name(photo, d) for photo in ("car.jpg", "notes.txt.png")
                           for d in degrade.DEGRADATIONS)
    assert len(degrade.DEGRADATIONS) == 9
    labels = json.loads((copies / "labels.json").read_text())
    layouts = json.loads((copies / "layouts.json").read_text())
    # Each copy of a labelled photo carries its source's labels and layout; unlabelled photos none.
    assert labels == {degrade.copy_name("car.jpg", d): ["AA1234BB", "AA1234BV"] for d in degrade.DEGRADATIONS}
    assert layouts == {degrade.copy_name("car.jpg", d): "ua" for d in degrade.DEGRADATIONS}


def test_each_degradation_is_what_it_says(source, copies):
    original = decoded(source / "car.jpg")
    height, width = original.shape[:2]
    copy = {d: decoded(copies / degrade.copy_name("car.jpg", d)) for d in degrade.DEGRADATIONS}
    assert copy["half"].shape[:2] == (height // 2, width // 2)
    assert copy["third"].shape[:2] == (height // 3, width // 3)
    side_width = round(width * degrade.SIDE_SQUEEZE)
    assert copy["side"].shape[:2] == (height + math.ceil(side_width * degrade.SIDE_SHEAR), side_width)
    for name in ("jpeg20", "blur", "night", "tilt-left", "tilt-right", "noise"):
        assert copy[name].shape == original.shape, name
    for name in ("jpeg20", "blur", "night", "tilt-left", "tilt-right", "noise"):  # each differs from its source
        assert np.abs(copy[name].astype(int) - original).mean() > 2.0, name
    # JPEG 20: fewer bytes than the same photo at the copies' usual quality.
    assert (copies / degrade.copy_name("car.jpg", "jpeg20")).stat().st_size < len(
        degrade.encode(original, degrade.QUALITY)) / 2
    # Blur smears along rows: less horizontal detail (energy of neighbours' differences), the vertical kept.
    dx = lambda im: (np.diff(im.astype(float), axis=1) ** 2).mean()  # noqa: E731
    dy = lambda im: (np.diff(im.astype(float), axis=0) ** 2).mean()  # noqa: E731
    assert dx(copy["blur"]) < 0.6 * dx(original) and dy(copy["blur"]) > 0.6 * dy(original)
    # Night: about 30 % of the light, and noisier than darkening alone.
    assert 0.25 < copy["night"].mean() / original.mean() < 0.36
    dark = (original.astype(np.uint32) * degrade.NIGHT_GAIN + 128) >> 8
    assert np.abs(copy["night"].astype(int) - dark).mean() > 3
    # Noise: the light kept, about NOISE_SIGMA of spread added.
    assert abs(copy["noise"].mean() - original.mean()) < 3
    assert 8 < (copy["noise"].astype(float) - original).std() < 16
    # Tilt: the bar turned 12° either way; side view: squeezed, its rows climbing to the left.
    assert bar_angle(original) == pytest.approx(0, abs=0.5)
    assert bar_angle(copy["tilt-left"]) == pytest.approx(-12, abs=1)
    assert bar_angle(copy["tilt-right"]) == pytest.approx(12, abs=1)
    expected = math.degrees(math.atan(degrade.SIDE_SHEAR))  # y' = y + shear * x'
    assert bar_angle(copy["side"]) == pytest.approx(expected, abs=1.5)


def test_copies_are_the_same_bytes_run_to_run_and_whatever_the_threads(source, copies, tmp_path):
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        degrade.write_copies(source, tmp_path)
    finally:
        cv2.setNumThreads(threads)
    again = sorted(p.name for p in tmp_path.iterdir())
    assert again == sorted(p.name for p in copies.iterdir())
    for name in again:
        assert (tmp_path / name).read_bytes() == (copies / name).read_bytes(), name


def test_the_command_writes_the_copies(source, tmp_path):
    assert cli(["degrade", str(source), str(tmp_path / "out"), "--only", "half", "night"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == [
        "car--half.jpg", "car--night.jpg", "notes.txt--half.jpg", "notes.txt--night.jpg"]


@pytest.mark.skipif(not UA_REAL.is_dir(), reason=f"{UA_REAL} not available")
def test_real_photos_degrade_the_same_way_twice(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in TWO_REAL:
        shutil.copy(UA_REAL / name, src / name)
    labels = json.loads((UA_REAL / "labels.json").read_text())
    (src / "labels.json").write_text(json.dumps({name: labels[name] for name in TWO_REAL}))
    first = degrade.write_copies(src, tmp_path / "one")
    second = degrade.write_copies(src, tmp_path / "two")
    assert len(first) == 2 * len(degrade.DEGRADATIONS)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    carried = json.loads((tmp_path / "one" / "labels.json").read_text())
    assert carried[degrade.copy_name(TWO_REAL[0], "night")] == ["AM5696CK"]
    assert carried[degrade.copy_name(TWO_REAL[1], "side")] == ["BE0886AA"]
