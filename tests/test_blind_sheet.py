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
from conftest import PROJECT_ROOT, SHIPPED_RECOGNIZER

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
