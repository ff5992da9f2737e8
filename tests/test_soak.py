"""`python -m alpr soak` for a minute: the production server under mixed traffic from four
clients, composed photos (so it runs without ../shared), the shipped weights. It asserts what
is right or wrong whatever the machine's speed: no connection error, no 5xx but the contract's
codes, every answer within the contract and as the same input gets alone. The report's latency
and memory figures must be there; their verdicts (p99 within 3× p50, RSS flat) are left to the
full run (`python -m alpr soak`), as speed is checked by benchmarks, never by timed tests."""
from __future__ import annotations

import json
import subprocess
import sys

from alpr.config import PROJECT_ROOT

CORRECTNESS = ("connection", "5xx", "contract", "as-alone", "one-worker")


def test_a_minute_of_mixed_traffic_holds(tmp_path):
    out = tmp_path / "soak"
    run = subprocess.run(
        [sys.executable, "-m", "alpr", "soak", "--seconds", "60", "--clients", "4", "--composed", "--out", str(out)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode in (0, 1), run.stderr[-4000:]
    report = json.loads((out / "soak.json").read_text())
    held = {c["id"]: c for c in report["conditions"]}
    for name in CORRECTNESS:
        assert held[name]["held"] is True, (held[name], report["examples"])
    assert run.returncode == (0 if report["held"] else 1)

    # Every kind of input was sent, and each got its answers.
    assert {"plate-photo", "no-plate", "large", "empty-upload", "no-image-part", "json-no-image", "wrong-extension",
            "text-as-jpg", "truncated-jpeg", "corrupted-jpeg", "pixel-bomb", "over-size", "bad-base64"
            } <= set(report["kinds"])
    assert report["requests"] == sum(k["requests"] for k in report["kinds"].values()) > 50
    assert report["by_code"].keys() >= {"1", "2", "3", "4", "7"}  # 0 too, where the renderer's fonts are
    # The figures the full run judges are reported.
    for kind in report["kinds"].values():
        assert {"p50", "p90", "p99", "max"} <= kind["latency_ms"].keys()
    rss = report["rss_mb"]
    assert all(isinstance(rss[k], float) and rss[k] > 0 for k in ("start", "after_warmup", "end", "peak"))
    assert {"rss-flat", "p99-p50"} <= held.keys()
    assert held["p99-p50"]["held"] in (True, False) and held["rss-flat"]["held"] in (True, False)
    table = (out / "soak.txt").read_text()
    assert "held" in table and "plate-photo" in table
    assert (out / "requests.csv").read_text().count("\n") == report["requests"] + 1
