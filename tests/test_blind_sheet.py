"""scripts/blind_sheet.py, run as a person would: sheets of the shipped reader's misreads
without their text, then a person's answers scored against the key."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from alpr.training.render import find_fonts, render_plate
from conftest import PROJECT_ROOT, SHIPPED_RECOGNIZER, SHIPPED_RECTIFIER

SCRIPT = PROJECT_ROOT / "scripts" / "blind_sheet.py"


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)}, check=True)
    return done.stdout


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_sheets_show_only_misreads_and_score_a_persons_answers(tmp_path):
    rng = np.random.default_rng(3)
    texts = ["AI5255EI", "BC9911BK", "KA1234OP"]
    crops = [cv2.resize(render_plate(t, rng, height=56), (128, 128), interpolation=cv2.INTER_AREA) for t in texts]
    labels = ["AI5255EI", "BC9911BK", "KA1234OX"]  # the last label is not what the plate says
    np.savez(tmp_path / "validation.npz",
             synthetic_images=np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2HLS) for c in crops]),
             synthetic_texts=np.array(labels))
    out = tmp_path / "blind"
    printed = run("sheets", str(tmp_path / "validation.npz"), str(SHIPPED_RECOGNIZER), str(out))

    key = json.loads((out / "key.json").read_text())
    assert [tile["truth"] for tile in key] == ["KA1234OX"] and key[0]["read"] == "KA1234OP"
    assert "1 misreads shown (1 of 3)" in printed
    sheet = cv2.imread(str(out / "sheet-0.png"))
    assert sheet is not None and sheet.shape[1] == 4 * 306  # one row of four tiles

    (tmp_path / "answers.txt").write_text("0 KA1234OX\n")
    assert "the person read 1 right, called 0 unreadable, got 0 wrong" in run("score", str(out), str(tmp_path / "answers.txt"))
    (tmp_path / "answers.txt").write_text("0 ?\n")
    assert "called 1 unreadable" in run("score", str(out), str(tmp_path / "answers.txt"))


@pytest.mark.skipif(not find_fonts(), reason="plate fonts (../shared/datasets/fonts) not available")
def test_sheets_can_show_the_misreads_of_the_reader_as_served(tmp_path):
    """A plate turned 30° is misread by the CRNN alone; leveled first, as the service reads,
    it is read right and leaves the sheets, while a wrong label stays on them."""
    rng = np.random.default_rng(3)
    plates = [render_plate(text, rng, height=56) for text in ("AI5255EI", "BC9911BK", "KA1234OP")]
    background = (90, 110, 100)
    canvas = cv2.copyMakeBorder(plates[0], 186, 186, 10, 10, cv2.BORDER_CONSTANT, value=background)
    height, width = canvas.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 30, 1.0)
    plates[0] = cv2.warpAffine(canvas, turn, (width, height), borderValue=background)
    crops = [cv2.resize(plate, (128, 128), interpolation=cv2.INTER_AREA) for plate in plates]
    np.savez(tmp_path / "validation.npz",
             synthetic_images=np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2HLS) for c in crops]),
             synthetic_texts=np.array(["AI5255EI", "BC9911BK", "KA1234OX"]))

    alone = run("sheets", str(tmp_path / "validation.npz"), str(SHIPPED_RECOGNIZER), str(tmp_path / "alone"))
    served = run("sheets", str(tmp_path / "validation.npz"), str(SHIPPED_RECOGNIZER), str(tmp_path / "served"),
                 "--rectifier", str(SHIPPED_RECTIFIER))

    assert "2 misreads shown (2 of 3)" in alone
    assert "1 misreads shown (1 of 3)" in served
    key = json.loads((tmp_path / "served" / "key.json").read_text())
    assert [(tile["truth"], tile["read"]) for tile in key] == [("KA1234OX", "KA1234OP")]
