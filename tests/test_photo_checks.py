"""scripts/photo_checks.py, run as a person would: the real-photo checks on a few photos."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alpr.config import SHARED_PHOTOS
from alpr.training.render import find_fonts
from conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "photo_checks.py"


def run(*args: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)}, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not (SHARED_PHOTOS / "images" / "val").is_dir() or not find_fonts(),
                    reason="validation photos or plate fonts (../shared/datasets) not available")
def test_steep_and_empty_checks_tally_every_photo():
    steep = run("steep", "--limit", "4", "--answers")
    counts = steep["counts"]
    assert len(steep["answers"]) == 4 and all(" plate " in row for row in steep["answers"])
    # Every scene is answered: the plate read right, wrong reads, or a code.
    assert steep["scenes"] == 4 and sum(counts[k] for k in counts if k != "found") >= 4
    assert counts.get("right", 0) >= 1 and steep["ms"] > 0
    empty = run("empty", "--limit", "4")
    assert "answers" not in empty and empty["photos"] == 4 and sum(empty["counts"].values()) >= 4
