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


UA_REAL = PROJECT_ROOT.parent / "shared" / "datasets" / "ua-real"


@pytest.mark.skipif(not UA_REAL.is_dir(), reason=f"{UA_REAL} not available")
def test_the_ua_check_tallies_ua_real_and_its_degraded_copies(tmp_path):
    import shutil

    from alpr.degrade import write_copies

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(UA_REAL / "ua-14-BM1930BM.jpg", src)
    (src / "labels.json").write_text(json.dumps({"ua-14-BM1930BM.jpg": ["BM1930BM"]}))
    write_copies(src, tmp_path / "copies", ("half", "noise"))
    ua = run("ua", "--limit", "2", "--copies", str(tmp_path / "copies"), "--answers")
    assert ua["sets"]["ua-real"]["photos"] == 2 and ua["sets"]["degraded"]["photos"] == 2
    assert ua["sets"]["degraded"]["counts"].get("right", 0) >= 1  # the half-size copy of a clear plate
    assert len(ua["answers"]) == 4 and "ua-14-BM1930BM--half.jpg: BM1930BM" in ua["answers"]
