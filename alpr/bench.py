"""Cost per real photo beside the peer; latency, cold start, memory and throughput: in
process, and through gunicorn over HTTP.

    python -m alpr bench [--photos DIR ...] [--no-peer] [--images DIR] [--requests N]
                         [--out bench-results/] [--quick]

Real photos first (alpr.photo_bench): every photo of --photos (default: the validation
photos of ../shared/datasets/plates-detection, ../shared/datasets/dev-images and the real
Ukrainian plates of ../shared/datasets/ua-real, when present, and ua-real's degraded copies,
which alpr.degrade writes into OUT/ua-real-degraded; none with --quick) once through the
API's path, and the reference peer (../shared/peer) on the same photos in the same run:
mean, p50, p90, p99 and max per photo, looks and reads per photo, the ratio of the means;
and per set (folder) of photos, exact reads and mean ms, ours and the peer's.

In process, through `alpr.service.recognize` (the API's own path): model load time, the
first request, then warm latency p50/p90/p99 per stage (decode, detect, read, JSON encode,
total) over N requests for each image, and the CRNN's cost per crop at batch 1 and 8.
Over HTTP, through the production command (gunicorn, one worker, eight threads): cold
start (process start → first JSON answer of POST /recognize), the /health?load=1 probe,
warm latency, throughput at 1, 2 and 4 concurrent clients, and peak RSS (VmHWM).

The images are a synthetic 1920×1440 JPEG the bench makes itself (always included), plus
every PNG/JPEG/BMP in --images. Weights and device come from the usual ALPR_* variables.
Prints a table beside the targets and writes bench.json (with the machine's facts),
bench.txt (the table), the synthetic image and gunicorn.log into --out; nothing here
asserts a timing. --quick (for CI) runs 3 requests per figure, one server start and one
concurrency level.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import metrics, photo_bench
from .config import PROJECT_ROOT, Settings

SYNTHETIC_NAME = "synthetic-1920x1440.jpg"
SYNTHETIC_SIZE = (1920, 1440)
SYNTHETIC_TEXT = "AI5255EI"
FIVE_KEYS = frozenset({"status", "code", "message", "plate", "confidence"})
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
SERVER_START_TIMEOUT_S = 180.0
GUNICORN_ARGS = ("--workers", "1", "--threads", "8", "--timeout", "60")  # as `make serve-prod`


@dataclass(frozen=True)
class Target:
    name: str
    limit: float
    unit: str
    value: float | None

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit


# --------------------------------------------------------------------------- helpers


def stats(values_ms: Sequence[float]) -> dict[str, float] | None:
    """n, p50, p90, p99 and mean of a list of timings (ms); None when empty."""
    found = metrics.percentiles(values_ms)
    if found is None:
        return None
    return {"n": len(values_ms), **{k: round(v, 3) for k, v in found.items()},
            "mean": round(float(np.mean(values_ms)), 3)}


def peak_rss_mb(pid: int | None = None) -> float | None:
    """Peak resident set size (VmHWM) of a process in MiB: /proc first; for this process,
    getrusage where there is no /proc; None if neither can tell."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    if pid is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from /proc/<pid>/stat of every process."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic_image(size: tuple[int, int] = SYNTHETIC_SIZE, text: str = SYNTHETIC_TEXT,
                    seed: int = 0) -> tuple[bytes, str]:
    """A street-like JPEG with one Ukrainian plate on a car; returns the bytes and how the
    plate was made ('rendered' with the training renderer, or 'drawn' with cv2 if that
    renderer or its fonts are not available)."""
    width, height = size
    rng = np.random.default_rng(seed)
    sky = np.linspace(200, 90, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(sky * np.array([1.0, 0.95, 0.85], np.float32), (height, width, 3)).copy()
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    car = (int(width * 0.25), int(height * 0.35), int(width * 0.75), int(height * 0.85))
    cv2.rectangle(image, car[:2], car[2:], (70, 40, 30), -1)
    cv2.rectangle(image, (car[0] + 60, car[1] + 40), (car[2] - 60, car[1] + 300), (120, 110, 100), -1)
    try:
        from .training.render import render_plate

        plate, made = render_plate(text, rng), "rendered"
    except Exception:  # the renderer needs the shared fonts; a drawn plate still benches the path
        plate = np.full((112, 520, 3), 245, np.uint8)
        cv2.rectangle(plate, (0, 0), (519, 111), (20, 20, 20), 4)
        cv2.rectangle(plate, (4, 4), (50, 107), (183, 87, 0), -1)
        cv2.putText(plate, text, (62, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (10, 10, 10), 8, cv2.LINE_AA)
        made = "drawn"
    plate_w = int(width * 0.22)
    plate = cv2.resize(plate, (plate_w, round(plate.shape[0] * plate_w / plate.shape[1])),
                       interpolation=cv2.INTER_AREA)
    x = (width - plate.shape[1]) // 2
    y = int(height * 0.7)
    image[y:y + plate.shape[0], x:x + plate.shape[1]] = plate
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes(), made


def image_size(data: bytes) -> tuple[int, int]:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return (int(decoded.shape[1]), int(decoded.shape[0])) if decoded is not None else (0, 0)


def collect_images(folder: Path | None, synthetic: bytes) -> list[tuple[str, bytes]]:
    images = [(SYNTHETIC_NAME, synthetic)]
    if folder is not None:
        images += [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return images


def machine_facts(device: str) -> dict[str, Any]:
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_average": load,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }


def weights_facts(settings: Settings) -> dict[str, Any]:
    def one(path: str) -> dict[str, Any]:
        local = Path(path)
        return {"path": path, "bytes": local.stat().st_size if local.is_file() else None}

    return {"detector": one(settings.detector_weights), "recognizer": one(settings.recognizer_weights),
            "rectifier": one(settings.rectifier_weights) if settings.rectifier_weights else None,
            "latin_reader": one(settings.latin_reader_weights) if settings.latin_reader_weights else None}


# --------------------------------------------------------------------------- in process


class _TimedDetector:
    """Passes detect() through and keeps how long each call took."""

    def __init__(self, inner):
        self.inner, self.ms = inner, []

    def detect(self, image):
        start = time.perf_counter()
        try:
            return self.inner.detect(image)
        finally:
            self.ms.append((time.perf_counter() - start) * 1000)


def _timed(call: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_in_process(settings: Settings, images: list[tuple[str, bytes]], requests: int,
                     log: Callable[[str], None]) -> dict[str, Any]:
    """Stage timings from the service's own path: the loaded pipeline's detector and
    recognizer are wrapped in timers; decode is timed in its own loop on the same bytes."""
    from .images import load_image
    from .models import ModelHolder
    from .service import recognize

    models = ModelHolder(settings)
    start = time.perf_counter()
    pipeline = models.get()
    load_ms = (time.perf_counter() - start) * 1000
    log(f"models loaded in {load_ms:.0f} ms on {models.device}")
    recognizer = pipeline.recognizer
    pipeline.detector = detector_timer = _TimedDetector(pipeline.detector)
    pipeline.recognizer = reader_timer = photo_bench.TimedReader(recognizer)

    results: dict[str, Any] = {}
    first_request_ms = None
    for name, data in images:
        start = time.perf_counter()
        recognize(data, name, models, settings)  # warm-up, not counted
        warmup_ms = (time.perf_counter() - start) * 1000
        first_request_ms = warmup_ms if first_request_ms is None else first_request_ms
        detector_timer.ms.clear()
        reader_timer.ms.clear()
        totals, encodes, codes = [], [], Counter()
        for _ in range(requests):
            start = time.perf_counter()
            answer = recognize(data, name, models, settings)
            encoded_at = time.perf_counter()
            json.dumps(answer.body)
            end = time.perf_counter()
            totals.append((end - start) * 1000)
            encodes.append((end - encoded_at) * 1000)
            codes[str(answer.body["code"])] += 1
        decodes = _timed(lambda: load_image(data, name, settings.max_upload_bytes, settings.max_pixels),
                         requests)
        results[name] = {
            "warmup_ms": round(warmup_ms, 3),
            "codes": dict(codes),
            "stages_ms": {
                "decode": stats(decodes),
                "detect": stats(detector_timer.ms),
                "read": stats(reader_timer.ms),  # None when no plate was found to read
                "json": stats(encodes),
                "total": stats(totals),
            },
        }
        log(f"in-process {name}: total p50 {results[name]['stages_ms']['total']['p50']:.1f} ms")

    # The reader alone on a plate crop, batch 1 and batch 8 (preprocess and decoding included).
    crop, crop_kind = plate_crop()
    crnn = {}
    for batch in (1, 8):
        recognizer.read([crop] * batch)
        per_call = _timed(lambda: recognizer.read([crop] * batch), max(requests, 5))
        crnn[f"batch_{batch}"] = {"per_call_ms": stats(per_call),
                                  "per_crop_ms": stats([t / batch for t in per_call])}
    peak = peak_rss_mb()  # before the side-by-side below loads a second detector
    synthetic = dict(images)[SYNTHETIC_NAME]
    return {
        "backends": {"detector": pipeline.detector.inner.backend, "recognizer": recognizer.backend,
                     "rectifier": recognizer.rectifier.backend if recognizer.rectifier else "off",
                     "onnx_spin": settings.onnx_spin},
        "model_load_ms": round(load_ms, 3),
        "first_request_ms": round(first_request_ms or 0.0, 3),
        "images": results,
        "crnn_read": crnn,
        "crnn_read_crop": crop_kind,
        "detect_by_backend": detect_by_backend(settings, models.device, synthetic, requests, log),
        "peak_rss_mb": peak,
    }


def plate_crop() -> tuple[np.ndarray, str]:
    """A clean rendered plate cut as a detector's box would (a margin of 8 % of its height,
    260 px wide), or noise where the renderer's fonts are missing (noise is the reader's
    worst case: it is never sure, so format-aware decoding always runs). The plate is not
    drawn from the training renderer's degradations, so the figure does not move with them."""
    rng = np.random.default_rng(1)
    try:
        from .training.render import render_plate

        plate = render_plate(SYNTHETIC_TEXT, rng)
    except Exception:
        return rng.integers(0, 255, (96, 440, 3), dtype=np.uint8), "noise"
    margin = int(0.08 * plate.shape[0])
    framed = cv2.copyMakeBorder(plate, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(60, 60, 60))
    width = 260
    return cv2.resize(framed, (width, round(framed.shape[0] * width / framed.shape[1])),
                      interpolation=cv2.INTER_AREA), "rendered plate"


def detect_by_backend(settings: Settings, device: str, data: bytes, requests: int,
                      log: Callable[[str], None]) -> dict[str, Any]:
    """The same detector weights run by ONNX Runtime (the twin) and by torch, side by side
    on the synthetic photo at the serving input size."""
    from .detector import PlateDetector
    from .weights import resolve

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    weights = resolve(settings.detector_weights, settings.weights_cache, settings.detector_weights_sha256)
    out: dict[str, Any] = {}
    for backend in ("onnx", "torch"):
        try:
            detector = PlateDetector(weights, device, settings.detector_imgsz, settings.detector_conf,
                                     backend=backend)
        except Exception as exc:  # no twin, or onnxruntime missing: say so in the report
            out[backend] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        detector.detect(image)
        ms = _timed(lambda: detector.detect(image), requests)
        out[backend] = {"ms": stats(ms), "found": len(detector.detect(image))}
        log(f"detect with {backend}: p50 {out[backend]['ms']['p50']:.1f} ms")
    return out


# --------------------------------------------------------------------------- over HTTP


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int, timeout: float = 120.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        try:
            return response.status, json.loads(payload)
        except ValueError:
            return response.status, None

    def close(self) -> None:
        self.conn.close()


class GunicornServer:
    """The production command on a free loopback port; `started` is taken just before spawning."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                        *GUNICORN_ARGS, "alpr.api:create_app()"]
        self.log_file = open(log_path, "ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=env or os.environ.copy(),
                                        stdout=self.log_file, stderr=subprocess.STDOUT)

    def since_start(self) -> float:
        return time.perf_counter() - self.started

    def poll_until(self, attempt: Callable[[], tuple[int, Any]], ready: Callable[[int, Any], bool]) -> tuple[int, Any]:
        """Retries `attempt` (connection refused, reset, …) until `ready` says yes."""
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            if self.since_start() > SERVER_START_TIMEOUT_S:
                raise RuntimeError(f"no answer within {SERVER_START_TIMEOUT_S:.0f} s")
            try:
                status, answer = attempt()
                if ready(status, answer):
                    return status, answer
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)

    def peak_rss_mb(self) -> dict[str, float | None]:
        master = peak_rss_mb(self.process.pid)
        workers = [peak_rss_mb(pid) for pid in child_pids(self.process.pid)]
        worker = max((w for w in workers if w is not None), default=None)
        total = None if master is None else master + sum(w for w in workers if w is not None)
        return {"master": master, "worker": worker, "total": total}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log_file.close()


def _is_answer(status: int, answer: Any) -> bool:
    return isinstance(answer, dict) and FIVE_KEYS <= answer.keys() and answer.get("code") is not None


def _once(port: int, method: str, path: str, body: bytes | None = None, ctype: str | None = None):
    client = Client(port, timeout=SERVER_START_TIMEOUT_S)
    try:
        return client.request(method, path, body, ctype)
    finally:
        client.close()


def _throughput(port: int, body: bytes, ctype: str, clients: int, per_client: int) -> dict[str, Any]:
    latencies: list[float] = []
    codes: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1, timeout=SERVER_START_TIMEOUT_S)

    def run() -> None:
        client = Client(port)
        try:
            client.request("POST", "/recognize", body, ctype)  # connect and warm this thread
            barrier.wait()
            mine, my_codes = [], Counter()
            for _ in range(per_client):
                start = time.perf_counter()
                _, answer = client.request("POST", "/recognize", body, ctype)
                mine.append((time.perf_counter() - start) * 1000)
                my_codes[str(answer["code"]) if isinstance(answer, dict) else "?"] += 1
            with lock:
                latencies.extend(mine)
                codes.update(my_codes)
        except Exception as exc:  # reported below; never leave the others waiting
            barrier.abort()
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{clients} concurrent clients: {errors[0]}")
    return {"clients": clients, "requests": clients * per_client, "seconds": round(seconds, 3),
            "requests_per_s": round(clients * per_client / seconds, 3), "latency_ms": stats(latencies),
            "codes": dict(codes)}


def bench_http(images: list[tuple[str, bytes]], requests: int, levels: Sequence[int], probe_start: bool,
               out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """What was measured; an "error" key says where it stopped if the server failed."""
    result: dict[str, Any] = {"command": None, "concurrency_levels": list(levels)}
    try:
        _bench_http(result, images, requests, levels, probe_start, out, log)
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


def _bench_http(result: dict[str, Any], images: list[tuple[str, bytes]], requests: int, levels: Sequence[int],
                probe_start: bool, out: Path, log: Callable[[str], None]) -> None:
    body, ctype = multipart(*images[0])

    # 1. Cold start as a client sees it: spawn, then POST /recognize until a JSON answer.
    server = GunicornServer(out / "gunicorn.log")
    result["command"] = " ".join(["python", *server.command[1:]])
    try:
        _, first = server.poll_until(lambda: _once(server.port, "POST", "/recognize", body, ctype), _is_answer)
        result["cold_start_s"] = round(server.since_start(), 3)
        result["cold_start_code"] = first["code"]
        log(f"cold start {result['cold_start_s']:.2f} s (answer code {first['code']})")
        if first["code"] == 8:
            raise RuntimeError("the server answered code 8: models not loaded (see gunicorn.log)")

        start = time.perf_counter()
        status, _ = _once(server.port, "GET", "/health?load=1")
        result["health_load_warm_ms"] = round((time.perf_counter() - start) * 1000, 3)

        client, latency = Client(server.port), {}
        for name, data in images:
            image_body, image_ctype = multipart(name, data)
            client.request("POST", "/recognize", image_body, image_ctype)  # warm-up
            latency[name] = stats(_timed(lambda: client.request("POST", "/recognize", image_body, image_ctype),
                                         requests))
        client.close()
        result["latency_ms"] = latency
        result["throughput"] = []
        for clients in levels:
            level = _throughput(server.port, body, ctype, clients, max(2, -(-requests // clients)))
            result["throughput"].append(level)
            log(f"{clients} client(s): {level['requests_per_s']:.2f} requests/s")
        result["peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()

    # 2. The readiness probe path: /health until up, then /health?load=1, then one POST.
    if probe_start:
        server = GunicornServer(out / "gunicorn.log")
        try:
            server.poll_until(lambda: _once(server.port, "GET", "/health"), lambda s, a: s == 200)
            up = server.since_start()
            start = time.perf_counter()
            status, answer = _once(server.port, "GET", "/health?load=1")
            load_ms = (time.perf_counter() - start) * 1000
            ready = server.since_start()
            start = time.perf_counter()
            _once(server.port, "POST", "/recognize", body, ctype)
            result["probe_start"] = {
                "server_up_s": round(up, 3), "health_load_ms": round(load_ms, 3),
                "health_status": status, "ready_s": round(ready, 3),
                "first_recognize_ms": round((time.perf_counter() - start) * 1000, 3),
            }
        finally:
            server.stop()


# --------------------------------------------------------------------------- report


def targets(report: dict[str, Any]) -> list[Target]:
    total = (report.get("in_process") or {}).get("images", {}).get(SYNTHETIC_NAME, {}).get("stages_ms", {}).get("total")
    http = report.get("http") or {}
    server_rss = (http.get("peak_rss_mb") or {}).get("total")
    rss = server_rss if server_rss is not None else (report.get("in_process") or {}).get("peak_rss_mb")
    return [
        Target("warm p50 end-to-end, in process, 1920×1440 JPEG", 60.0, "ms", total["p50"] if total else None),
        Target("cold start (process start → first answer)", 4.0, "s", http.get("cold_start_s")),
        Target("peak RSS " + ("(gunicorn master + worker)" if server_rss is not None else "(in process)"),
               1024.0, "MB", rss),
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render_table(report: dict[str, Any]) -> str:
    m = report["machine"]
    w = report["weights"]
    lines = [
        f"ALPR bench {m['date']} · {m['platform']} · {m['cpus_usable']}/{m['cpu_count']} CPUs usable · "
        f"load {m['load_average']} · torch {m['torch']} ({m['torch_threads']} threads) · device {m['device']}",
        f"weights: detector {w['detector']['path']} ({w['detector']['bytes']} B), "
        f"recognizer {w['recognizer']['path']} ({w['recognizer']['bytes']} B)",
        f"synthetic plate: {report['synthetic_plate']}; {report['requests']} requests per figure"
        + (" (--quick)" if report["quick"] else ""),
    ]
    if "ms" in (report.get("photos") or {}).get("ours", {}):
        lines += [""] + photo_bench.render(report["photos"])
    ip = report.get("in_process")
    if ip:
        lines += ["", "In process (alpr.service.recognize)",
                  f"  model load {ip['model_load_ms']:.0f} ms · "
                  f"first request {ip['first_request_ms']:.0f} ms · peak RSS {_fmt(ip['peak_rss_mb'], 0)} MB",
                  f"  {'image':<34} {'stage':<7} {'p50':>8} {'p90':>8} {'p99':>8}  ms  codes"]
        for name, r in ip["images"].items():
            for i, (stage, s) in enumerate(r["stages_ms"].items()):
                label = name if i == 0 else ""
                codes = ", ".join(f"{c}×{n}" for c, n in r["codes"].items()) if i == 0 else ""
                if s is None:
                    lines.append(f"  {label:<34} {stage:<7} {'—':>8}  (not run: no plate found)")
                else:
                    lines.append(f"  {label:<34} {stage:<7} {s['p50']:>8.2f} {s['p90']:>8.2f} {s['p99']:>8.2f}      {codes}")
        backends = ip.get("backends", {})
        lines.append(f"  backends: detector {backends.get('detector')}, rectifier {backends.get('rectifier')}, "
                     f"reader {backends.get('recognizer')}"
                     f" (ALPR_ONNX_SPIN={int(backends.get('onnx_spin', True))})")
        for batch, c in ip["crnn_read"].items():
            lines.append(f"  CRNN read ({ip['crnn_read_crop']}), {batch.replace('_', ' ')}: "
                         f"{c['per_crop_ms']['p50']:.2f} ms per crop ({c['per_call_ms']['p50']:.2f} ms per call, p50)")
        for backend, d in (ip.get("detect_by_backend") or {}).items():
            if "error" in d:
                lines.append(f"  detect on {SYNTHETIC_NAME}, {backend}: not run ({d['error']})")
            else:
                lines.append(f"  detect on {SYNTHETIC_NAME}, {backend}: p50 {d['ms']['p50']:.1f} / "
                             f"p90 {d['ms']['p90']:.1f} ms ({d['found']} box(es))")
    http = report.get("http")
    if http:
        lines += ["", f"Over HTTP ({http['command']})"]
        if "error" in http:
            lines.append(f"  FAILED: {http['error']}")
        if "cold_start_s" in http:
            lines.append(f"  cold start (spawn → first POST /recognize answer, code {http['cold_start_code']}): "
                         f"{http['cold_start_s']:.2f} s")
        probe = http.get("probe_start")
        if probe:
            lines.append(f"  probe path: server up {probe['server_up_s']:.2f} s, /health?load=1 "
                         f"{probe['health_load_ms']:.0f} ms (ready at {probe['ready_s']:.2f} s), "
                         f"first /recognize {probe['first_recognize_ms']:.0f} ms")
        if "health_load_warm_ms" in http:
            lines.append(f"  /health?load=1 once loaded: {http['health_load_warm_ms']:.1f} ms")
        for name, s in (http.get("latency_ms") or {}).items():
            lines.append(f"  warm latency {name}: p50 {s['p50']:.1f} / p90 {s['p90']:.1f} / p99 {s['p99']:.1f} ms")
        for level in http.get("throughput", []):
            lat = level["latency_ms"]
            lines.append(f"  {level['clients']} concurrent client(s): {level['requests_per_s']:.2f} requests/s "
                         f"(p50 {lat['p50']:.1f} ms, {level['requests']} requests)")
        rss = http.get("peak_rss_mb")
        if rss:
            lines.append(f"  peak RSS: worker {_fmt(rss['worker'], 0)} MB + master {_fmt(rss['master'], 0)} MB "
                         f"= {_fmt(rss['total'], 0)} MB")
    lines += ["", f"  {'target':<52} {'measured':>10} {'target':>10}"]
    for t in report["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        lines.append(f"  {t['name']:<52} {_fmt(t['value']):>7} {t['unit']:<2} {'≤ ' + format(t['limit'], 'g'):>7} "
                     f"{t['unit']:<2}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None, help="also bench every image in this folder")
    parser.add_argument("--requests", type=int, default=None, help="requests per figure (default 50, 3 with --quick)")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for bench.json")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke run: few requests, one server start, one concurrency level")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--photos", type=Path, nargs="*", default=None,
                        help="folders of real photos, each read once (default: the validation, dev and ua-real "
                             "photos of ../shared/datasets and ua-real's degraded copies, written into "
                             "OUT/ua-real-degraded; none with --quick or with --photos alone)")
    parser.add_argument("--labels", type=Path, nargs="*", default=None,
                        help="labels.json files (file name → plates) for exact reads (default: "
                             "labels/plates-detection-val.json and each folder's labels.json)")
    parser.add_argument("--no-peer", action="store_true", help="the real photos without the peer")
    parser.add_argument("--photos-only", action="store_true", help="only the real-photo part")
    args = parser.parse_args(argv)
    if args.images is not None and not args.images.is_dir():
        parser.error(f"not a folder: {args.images}")
    requests = args.requests or (3 if args.quick else 50)
    if requests < 1:
        parser.error("--requests must be at least 1")
    logging.getLogger("alpr.service").setLevel(logging.WARNING)  # one line per no-plate answer otherwise

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    from .models import resolve_device

    synthetic, made = synthetic_image()
    (args.out / SYNTHETIC_NAME).write_bytes(synthetic)
    images = collect_images(args.images, synthetic)
    report: dict[str, Any] = {
        "quick": args.quick,
        "requests": requests,
        "machine": machine_facts(resolve_device(settings.device)),
        "weights": weights_facts(settings),
        "synthetic_plate": made,
        "images": [{"name": n, "bytes": len(d), "size": image_size(d)} for n, d in images],
    }
    status = 0
    from .status import AlprError

    folders = args.photos if args.photos is not None else ([] if args.quick else photo_bench.default_folders(args.out))
    photos = photo_bench.photos_in(folders)
    if photos:
        label_files = args.labels if args.labels is not None else [
            *photo_bench.DEFAULT_LABELS, *(f / "labels.json" for f in folders)]
        labels = photo_bench.read_labels(label_files)
        log(f"real photos: {len(photos)} from {', '.join(map(str, folders))}")
        try:
            report["photos"] = photo_bench.run(settings, photos, labels, not args.no_peer, log)
        except AlprError as exc:
            report["photos"] = {"error": exc.detail or str(exc)}
            status = 1
    if args.photos_only:
        (args.out / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
        table = "\n".join(photo_bench.render(report["photos"])) if photos and status == 0 else "no photos"
        (args.out / "bench.txt").write_text(table + "\n", encoding="utf-8")
        print(table)
        return status
    try:
        report["in_process"] = bench_in_process(settings, images, requests, log)
    except AlprError as exc:
        report["in_process"] = None
        report["in_process_error"] = exc.detail or str(exc)
        log(f"in-process bench failed: {report['in_process_error']}")
        status = 1
    if not args.no_http and status == 0:
        levels = (1,) if args.quick else (1, 2, 4)
        report["http"] = bench_http(images, requests, levels, not args.quick, args.out, log)
        if "error" in report["http"]:
            log(f"HTTP bench failed: {report['http']['error']} (see {args.out / 'gunicorn.log'})")
            status = 1
    report["targets"] = [{**asdict(t), "met": t.met} for t in targets(report)]
    (args.out / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    table = render_table(report)
    (args.out / "bench.txt").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"\nwritten to {args.out}/ (bench.json, bench.txt, {SYNTHETIC_NAME})")
    return status
