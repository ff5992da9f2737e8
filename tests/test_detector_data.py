"""The detector's dataset builder, and a training run on it, on a tiny fixture it makes itself."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from yaml import safe_load

from alpr.config import DEFAULT_DETECTOR_WEIGHTS
from alpr.detector import PlateDetector
from alpr.training.detector_data import build, source_of
from alpr.training.render import find_fonts


def make_source(root: Path) -> Path:
    rng = np.random.default_rng(0)
    names = {
        "train": ["rf-aaa-0", "rf-aaa-1", "rf-aaa-2", "rf-bbb-0", "rf-bbb-1", "rl-video1-t00001"],
        "val": ["rf-ccc-0", "rl-video2-t00005"],
    }
    for split, stems in names.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for stem in stems:
            image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), image)
            (root / "labels" / split / f"{stem}.txt").write_text("0 0.5 0.5 0.4 0.12\n")
    return root


def test_source_of_groups_roboflow_variants():
    assert source_of("rf-02855802b0710e43-3") == "rf-02855802b0710e43"
    assert source_of("rl-dayride_type1_001-t00003") == "rl-dayride_type1_001-t00003"


def test_build_keeps_one_variant_per_source_and_the_val_split(tmp_path):
    source = make_source(tmp_path / "src")
    yaml = build(source, tmp_path / "out", rf_variants=1, swap_scenes=0, seed=0)
    train = sorted(p.stem for p in (tmp_path / "out" / "images" / "train").iterdir())
    assert len([s for s in train if s.startswith("rf-aaa")]) == 1
    assert len([s for s in train if s.startswith("rf-bbb")]) == 1
    assert "rl-video1-t00001" in train
    val = sorted(p.stem for p in (tmp_path / "out" / "images" / "val").iterdir())
    assert val == ["rf-ccc-0", "rl-video2-t00005"]
    assert not set(map(source_of, train)) & set(map(source_of, val))
    for stem in train:
        assert (tmp_path / "out" / "labels" / "train" / f"{stem}.txt").exists()
    assert "train: images/train" in yaml.read_text()


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_build_adds_swap_scenes_with_valid_labels(tmp_path):
    source = make_source(tmp_path / "src")
    build(source, tmp_path / "out", rf_variants=1, swap_scenes=3, seed=0)
    scenes = sorted((tmp_path / "out" / "images" / "train").glob("swap-*.jpg"))
    assert len(scenes) == 3
    for scene in scenes:
        rows = (tmp_path / "out" / "labels" / "train" / f"{scene.stem}.txt").read_text().split("\n")
        boxes = np.array([list(map(float, r.split()[1:])) for r in rows if r.strip()])
        assert len(boxes) >= 1
        assert ((boxes >= 0) & (boxes <= 1)).all()
        assert (boxes[:, 2] > 0).all() and (boxes[:, 3] > 0).all()
        assert cv2.imread(str(scene)).shape == (240, 320, 3)


def added_box_aspects(out: Path) -> list[float]:
    """Width ÷ height of every swap-scene box that is not the fixture's own plate box."""
    aspects = []
    for label in (out / "labels" / "train").glob("swap-*.txt"):
        for row in label.read_text().split("\n"):
            if row.strip():
                _, cx, cy, w, h = map(float, row.split())
                if (round(cx, 2), round(cy, 2)) != (0.5, 0.5):
                    aspects.append(w * 320 / (h * 240))
    return aspects


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_steep_share_makes_the_added_plates_steep_views(tmp_path):
    """With every added plate a steep view (narrower, turned or slanted), their boxes are
    much less wide for their height than those of plates seen head-on."""
    source = make_source(tmp_path / "src")
    build(source, tmp_path / "flat", rf_variants=1, swap_scenes=12, seed=1, steep_share=0.0)
    build(source, tmp_path / "steep", rf_variants=1, swap_scenes=12, seed=1, steep_share=1.0)
    flat, steep = added_box_aspects(tmp_path / "flat"), added_box_aspects(tmp_path / "steep")
    assert len(flat) >= 5 and len(steep) >= 5
    assert np.median(steep) < 0.75 * np.median(flat), (sorted(steep), sorted(flat))


def test_train_detector_fine_tunes_the_shipped_detector_with_sheared_photos(tmp_path):
    """One tiny epoch from the shipped weights on the fixture: the shear reaches Ultralytics
    (its run arguments), and the run leaves weights that load."""
    data = build(make_source(tmp_path / "src"), tmp_path / "out", rf_variants=1, swap_scenes=0, seed=0)
    run = subprocess.run(
        [sys.executable, "-m", "alpr", "train-detector", "--data", str(data), "--init", DEFAULT_DETECTOR_WEIGHTS,
         "--imgsz", "64", "--epochs", "1", "--batch", "2", "--workers", "0", "--shear", "30",
         "--warmup-epochs", "0", "--no-plots", "--project", str(tmp_path / "runs"), "--name", "sheared",
         "--export", str(tmp_path / "sheared.pt")],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    arguments = safe_load((tmp_path / "runs" / "sheared" / "args.yaml").read_text())
    assert arguments["shear"] == 30.0 and arguments["fliplr"] == 0.0
    assert isinstance(PlateDetector(tmp_path / "sheared.pt", imgsz=64).detect(np.zeros((64, 64, 3), np.uint8)), list)
