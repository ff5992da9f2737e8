"""Mixed traffic against the production server for a while, with one report at the end.

    python -m alpr soak [--clients 8] [--seconds 600] [--seed 0] [--out soak-results/]
                        [--max-upload-mb 8] [--composed] [--max-photos N]

Starts the production command (gunicorn, `alpr.api:create_app()`, the Makefile's and the
bench's arguments: one worker, eight threads; ALPR_ONNX_SPIN=0 as in the Dockerfile's server
image) on a free loopback port, and drives it with N concurrent keep-alive clients for the
given time. The requests follow one fixed order drawn from --seed; each client takes the
next one when it is free. The traffic (shares of the requests):

- 58 %: real photos (../shared/datasets/ua-real, dev-images and the validation photos of
  plates-detection, with their labels; --max-photos takes a seeded sample) and three composed
  street scenes with a plate; every 4th of them sent as base64 JSON instead of multipart;
- 8 %: photos with no plate (composed plain scenes, a real photo whose plate is blacked out);
- 4 %: a large photo (12 MP: a dev photo upscaled, or a composed scene);
- 30 %: bad input of every kind the contract names: an empty upload, no `image` part, a
  wrong extension, a text file named .jpg, truncated and corrupted JPEGs, a pixel bomb (a PNG
  header claiming 40000×40000), an upload over ALPR_MAX_UPLOAD_MB (the server is started with
  --max-upload-mb, 8 by default, to keep that cheap) and one over the whole request limit, bad
  base64 in JSON, JSON with no image.

Without ../shared (or with --composed) the photos are composed ones only.

Before the load, every input is sent once, alone: that answer is what the same photo must
get under load (same code, same plate). Every answer is checked against the contract (the
exact five keys; code, HTTP status and message as alpr/status.py has them) and against the
answer expected for its input (as alone for photos, the contract's code for bad input).
The RSS of the gunicorn worker is sampled every second. Progress goes to stderr; the end
writes soak.json, soak.txt (the table, also printed), requests.csv (one row per request
under load) and gunicorn.log into --out.

The run holds when: no connection error; no 5xx but a contract code where it is due; every
answer within the contract and as expected (real photos as alone); one worker process all
through; the worker's RSS after warm-up (the first fifth of the load, at most a minute) flat
within 10 % (the medians of eight windows against the first: a single sample moves with the
requests in flight); p99 of photos with a plate within 3× their p50. Exit status 0 when all
held, 1 when one did not, 2 when the server did not start.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import struct
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from . import bench, photo_bench
from .config import PROJECT_ROOT, SHARED_DATASETS
from .status import CODES, Code

FIVE_KEYS = bench.FIVE_KEYS
DEFAULT_SECONDS = 600
DEFAULT_CLIENTS = 8
DEFAULT_MAX_UPLOAD_MB = 8.0
LARGE_SIZE = (4000, 3000)  # 12 MP
REQUEST_TIMEOUT_S = 120.0
RSS_SAMPLE_S = 1.0
PROGRESS_S = 15.0
RSS_FLAT = 0.10            # after warm-up, every sample within ±10 % of the value at its end
P99_OVER_P50 = 3.0         # p99 of photos with a plate at most 3× their p50
WARMUP_SHARE, WARMUP_MAX_S = 0.2, 60.0  # the first fifth of the load, at most a minute

# The folders of real photos and their labels (file name → plates; [] for none).
REAL_PHOTOS = (
    (SHARED_DATASETS / "ua-real", SHARED_DATASETS / "ua-real" / "labels.json"),
    (SHARED_DATASETS / "dev-images", SHARED_DATASETS / "dev-images" / "labels.json"),
    (SHARED_DATASETS / "plates-detection" / "images" / "val", PROJECT_ROOT / "labels" / "plates-detection-val.json"),
)
LARGE_SOURCE = SHARED_DATASETS / "dev-images" / "ua-AA8809TI.jpg"

# Share of the requests per group; within a group, its inputs in a seeded order.
GROUP_WEIGHTS = {"photo": 0.58, "no-plate": 0.08, "large": 0.04, "bad": 0.30}
JSON_EVERY = 4  # every 4th photo request goes as base64 JSON


# --------------------------------------------------------------------------- inputs


@dataclass
class Input:
    """One input the soak sends: its kind (the report's rows), group, and the request."""

    kind: str
    group: str
    name: str
    body: bytes
    content_type: str
    expect_code: int | None = None    # the contract's code; None: the answer it gets alone
    labels: list | None = None
    image: tuple[str, bytes] | None = None  # (file name, bytes) of a photo: it may go as JSON

    def request(self, as_json: bool) -> tuple[bytes, str]:
        if as_json and self.image is not None:
            name, data = self.image
            return json_body({"image": base64.b64encode(data).decode(), "filename": name})
        return self.body, self.content_type


def json_body(payload: Any) -> tuple[bytes, str]:
    return json.dumps(payload).encode(), "application/json"


def multipart_without_image(name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body whose only part is not called `image`."""
    body, ctype = bench.multipart(name, data)
    return body.replace(b'name="image"', b'name="photo"', 1), ctype


def png_bomb(width: int = 40000, height: int = 40000) -> bytes:
    """A small PNG whose header declares width×height pixels (4.8 GB decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + width * 3) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_segments(data: bytes) -> dict[int, tuple[int, int]]:
    """Marker → (offset, length) of the first segment of each kind, up to the scan."""
    found, i = {}, 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        found.setdefault(marker, (i, length))
        if marker == 0xDA:
            break
        i += 2 + length
    return found


def corrupted_jpegs(data: bytes, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Copies of a baseline JPEG that keep its signature but do not decode: the frame header
    claiming 0×0 pixels, the Huffman tables garbled, the scan header overwritten."""
    segments = jpeg_segments(data)
    out = []
    if 0xC0 in segments:
        start, _ = segments[0xC0]
        broken = bytearray(data)
        broken[start + 5:start + 9] = b"\0\0\0\0"
        out.append(("frame-0x0.jpg", bytes(broken)))
    if 0xC4 in segments:
        start, length = segments[0xC4]
        broken = bytearray(data)
        broken[start + 4:start + 2 + length] = rng.integers(0, 256, length - 2, dtype=np.uint8).tobytes()
        out.append(("huffman-garbled.jpg", bytes(broken)))
    if 0xDA in segments:
        start, length = segments[0xDA]
        broken = bytearray(data)
        broken[start + 4:start + 2 + length] = b"\xff" * (length - 2)
        out.append(("scan-header-ff.jpg", bytes(broken)))
    return out


def encode(image: np.ndarray, ext: str = ".jpg", quality: int = 90) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, encoded = cv2.imencode(ext, image, params)
    assert ok
    return encoded.tobytes()


def plain_scene(size: tuple[int, int], seed: int) -> np.ndarray:
    """A street-less picture: a soft gradient with noise and a few blocks, no plate."""
    width, height = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 200, width, dtype=np.float32)[None, :, None]
    image = np.broadcast_to(ramp * np.array([0.9, 1.0, 0.8], np.float32), (height, width, 3)).copy()
    image += rng.normal(0, 8, image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(4):
        x, y = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        cv2.rectangle(image, (x, y), (x + 180, y + 150), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return image


def read_labels(path: Path) -> dict[str, list]:
    try:
        return {k: list(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def build_inputs(max_upload_mb: float, composed_only: bool, seed: int,
                 log: Callable[[str], None], max_photos: int | None = None) -> list[Input]:
    rng = np.random.default_rng(seed)
    inputs: list[Input] = []

    def photo(kind: str, group: str, name: str, data: bytes, expect: int | None = None,
              labels: list | None = None) -> Input:
        body, ctype = bench.multipart(name, data)
        item = Input(kind, group, name, body, ctype, expect, labels, (name, data))
        inputs.append(item)
        return item

    # Photos with a plate: real ones (with their labels), and composed street scenes.
    real = 0
    if not composed_only:
        found = []
        for folder, labels_file in REAL_PHOTOS:
            labels = read_labels(labels_file)
            found += [(path, labels.get(path.name)) for path in photo_bench.photos_in([folder])]
        if max_photos is not None and len(found) > max_photos:
            keep = set(rng.permutation(len(found))[:max_photos].tolist())
            found = [f for i, f in enumerate(found) if i in keep]
        for path, plates in found:
            kind = "no-plate" if plates == [] else "plate-photo" if plates else "photo-unlabelled"
            photo(kind, "no-plate" if plates == [] else "photo", path.name, path.read_bytes(), labels=plates)
            real += 1
    for i, (size, text, ext) in enumerate((((1920, 1440), "AI5255EI", ".jpg"), ((1280, 960), "BC9911BK", ".png"),
                                           ((1600, 1200), "KA0123AB", ".jpg"))):
        data, _made = bench.synthetic_image(size, text, seed=seed + i)
        if ext != ".jpg":
            data = encode(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), ext)
        photo("plate-photo", "photo", f"composed-{text}{ext}", data, labels=[text])
    # Photos with no plate at all: the contract's code 4.
    photo("no-plate", "no-plate", "plain-1280x960.jpg", encode(plain_scene((1280, 960), seed)), Code.NO_PLATE, [])
    photo("no-plate", "no-plate", "plain-800x600.png", encode(plain_scene((800, 600), seed + 1), ".png"),
          Code.NO_PLATE, [])
    # A large photo: 12 MP.
    if not composed_only and LARGE_SOURCE.is_file():
        source = cv2.imread(str(LARGE_SOURCE), cv2.IMREAD_COLOR)
        large = encode(cv2.resize(source, LARGE_SIZE, interpolation=cv2.INTER_CUBIC))
        large_name, large_labels = "ua-AA8809TI-4000x3000.jpg", ["AA8809TI"]
    else:
        large, _made = bench.synthetic_image(LARGE_SIZE, "AI5255EI", seed=seed)
        large_name, large_labels = "composed-AI5255EI-4000x3000.jpg", ["AI5255EI"]
    limit = int(max_upload_mb * 1024 * 1024)
    if len(large) > limit:
        raise SystemExit(f"the large photo ({len(large)} B) is over --max-upload-mb ({limit} B)")
    photo("large", "large", large_name, large, labels=large_labels)

    # Bad input of every kind the contract names, each with its code.
    sample = encode(plain_scene((640, 480), seed + 2))
    text = b"This is a text file, not a photo.\n" * 40

    def bad(kind: str, body_ctype: tuple[bytes, str], code: Code, name: str = "") -> None:
        inputs.append(Input(kind, "bad", name or kind, body_ctype[0], body_ctype[1], int(code)))

    bad("empty-upload", bench.multipart("car.jpg", b""), Code.NO_FILE)
    bad("no-image-part", multipart_without_image("car.jpg", sample), Code.NO_FILE)
    bad("json-no-image", json_body({"filename": "car.jpg"}), Code.NO_FILE)
    bad("wrong-extension", bench.multipart("car.gif", sample), Code.INVALID_FORMAT, "car.gif")
    bad("text-as-jpg", bench.multipart("notes.jpg", text), Code.INVALID_FORMAT, "notes.jpg")
    bad("truncated-jpeg", bench.multipart("cut.jpg", sample[: len(sample) // 2]), Code.CORRUPTED_IMAGE, "cut-half.jpg")
    bad("truncated-jpeg", bench.multipart("cut.jpg", sample[:600]), Code.CORRUPTED_IMAGE, "cut-600B.jpg")
    for name, data in corrupted_jpegs(sample, rng):
        bad("corrupted-jpeg", bench.multipart(name, data), Code.CORRUPTED_IMAGE, name)
    bad("pixel-bomb", bench.multipart("bomb.png", png_bomb()), Code.CORRUPTED_IMAGE, "bomb-40000x40000.png")
    # Over ALPR_MAX_UPLOAD_MB but within the request limit (the upload check answers), and
    # over the request limit itself (Flask's 413, answered as code 3 too).
    over = sample + b"\0" * (limit + (1 << 20) - len(sample))
    bad("over-size", bench.multipart("big.jpg", over), Code.FILE_TOO_LARGE, f"big-{len(over) >> 20}MB.jpg")
    over_request = sample + b"\0" * (limit * 4 // 3 + (2 << 20) - len(sample))
    bad("over-size", bench.multipart("huge.jpg", over_request), Code.FILE_TOO_LARGE,
        f"huge-{len(over_request) >> 20}MB.jpg")
    bad("bad-base64", json_body({"image": "not base64 at all!", "filename": "car.jpg"}), Code.CORRUPTED_IMAGE)
    log(f"inputs: {real} real photos{' (none: composed only)' if composed_only or not real else ''}, "
        f"{sum(i.name.startswith('composed-') and i.group == 'photo' for i in inputs)} composed with a plate, "
        f"{sum(i.group == 'no-plate' for i in inputs)} with none, 1 large ({len(large) >> 10} KiB), "
        f"{sum(i.group == 'bad' for i in inputs)} bad")
    return inputs


def schedule(inputs: list[Input], seed: int, length: int) -> list[tuple[int, bool]]:
    """The fixed order of the requests: (index into inputs, send as JSON). Groups by their
    weights; within a group its inputs in turn, in a seeded order."""
    rng = np.random.default_rng(seed)
    groups = {g: [i for i, item in enumerate(inputs) if item.group == g] for g in GROUP_WEIGHTS}
    groups = {g: list(rng.permutation(members)) for g, members in groups.items() if members}
    names = list(groups)
    weights = np.array([GROUP_WEIGHTS[g] for g in names])
    picks = rng.choice(len(names), size=length, p=weights / weights.sum())
    turns: Counter = Counter()
    order = []
    for pick in picks:
        group = names[pick]
        turn = turns[group]
        turns[group] += 1
        index = int(groups[group][turn % len(groups[group])])
        order.append((index, group == "photo" and turn % JSON_EVERY == JSON_EVERY - 1))
    return order


# --------------------------------------------------------------------------- checking


class SoakClient(bench.Client):
    """bench's keep-alive client, keeping the raw answer and its Content-Type."""

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str, bytes]:
        self.conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = self.conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()


def contract_problems(status: int, content_type: str, payload: bytes) -> tuple[dict | None, list[str]]:
    """The answer as JSON and what in it breaks the contract (empty when nothing)."""
    if not content_type.startswith("application/json"):
        return None, [f"Content-Type {content_type!r}"]
    try:
        answer = json.loads(payload)
    except ValueError:
        return None, ["not JSON"]
    if not isinstance(answer, dict):
        return None, ["not a JSON object"]
    problems = []
    if set(answer) != FIVE_KEYS:
        problems.append(f"keys {sorted(answer)}")
    code = answer.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code not in {int(c) for c in CODES}:
        return answer, problems + [f"code {code!r} not in the table"]
    info, ok = CODES[Code(code)], code == Code.SUCCESS
    if status != info.http_status:
        problems.append(f"HTTP {status} for code {code} (table: {info.http_status})")
    if answer.get("message") != info.message:
        problems.append(f"message {answer.get('message')!r} for code {code}")
    if answer.get("status") != ("OK" if ok else "ERROR"):
        problems.append(f"status {answer.get('status')!r} for code {code}")
    plate, confidence = answer.get("plate"), answer.get("confidence")
    if ok and not (isinstance(plate, str) and plate):
        problems.append(f"plate {plate!r} with code 0")
    if not ok and plate is not None:
        problems.append(f"plate {plate!r} with code {code}")
    if not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0 or (not ok and confidence != 0.0):
        problems.append(f"confidence {confidence!r} with code {code}")
    return answer, problems


@dataclass
class Expected:
    code: int
    plate: str | None
    confidence: float = 0.0


@dataclass
class Tally:
    """Everything the clients saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    by_code: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    kinds: dict = field(default_factory=lambda: defaultdict(lambda: {"ms": [], "codes": Counter(), "mismatches": 0}))
    connection_errors: list = field(default_factory=list)
    unexpected_5xx: list = field(default_factory=list)
    contract: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    confidence_drift: float = 0.0
    alone_ms: dict = field(default_factory=lambda: defaultdict(list))
    rows: list = field(default_factory=list)  # one per request under load, for requests.csv
    n_connection_errors: int = 0
    n_unexpected_5xx: int = 0
    n_contract: int = 0
    n_mismatches: int = 0

    KEEP = 20  # examples kept of each kind of error

    def note(self, what: str, example: dict) -> None:
        setattr(self, f"n_{what}", getattr(self, f"n_{what}") + 1)
        kept = getattr(self, what)
        if len(kept) < self.KEEP:
            kept.append(example)


def check(item: Input, expected: Expected | None, status: int, content_type: str,
          payload: bytes) -> tuple[dict | None, list[str], str | None]:
    """The answer, its contract problems, and how it differs from what was expected."""
    answer, problems = contract_problems(status, content_type, payload)
    mismatch = None
    got_code = answer.get("code") if answer else None
    if item.expect_code is not None and got_code != item.expect_code:
        mismatch = f"code {got_code}, contract says {item.expect_code}"
    elif expected is not None and (got_code, answer.get("plate") if answer else None) != (expected.code, expected.plate):
        mismatch = f"{got_code}/{answer.get('plate') if answer else None}, alone {expected.code}/{expected.plate}"
    return answer, problems, mismatch


# --------------------------------------------------------------------------- the run


def current_rss_mb(pid: int) -> float | None:
    """Resident set size now (VmRSS) in MiB; bench.peak_rss_mb gives the peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class RssSampler(threading.Thread):
    """The worker's RSS every RSS_SAMPLE_S (the sum of the workers, were there several)."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master = master
        self.samples: list[tuple[float, float]] = []
        self.worker_pids: set[int] = set()
        self.started_at = time.perf_counter()
        self.stopping = threading.Event()

    def sample(self) -> float | None:
        workers = bench.child_pids(self.master)
        self.worker_pids.update(workers)
        values = [v for v in (current_rss_mb(pid) for pid in workers) if v is not None]
        if not values:
            return None
        rss = sum(values)
        self.samples.append((round(time.perf_counter() - self.started_at, 2), round(rss, 1)))
        return rss

    def run(self) -> None:
        while not self.stopping.wait(RSS_SAMPLE_S):
            self.sample()

    def latest(self) -> float | None:
        return self.samples[-1][1] if self.samples else None

    def peak_mb(self) -> float | None:
        peaks = [v for v in (bench.peak_rss_mb(pid) for pid in bench.child_pids(self.master)) if v is not None]
        return round(sum(peaks), 1) if peaks else None


def start_server(out: Path, max_upload_mb: float, log: Callable[[str], None]) -> bench.GunicornServer:
    env = os.environ.copy()
    env.setdefault("ALPR_ONNX_SPIN", "0")  # the Dockerfile's server image: several requests at once
    env.setdefault("YOLO_OFFLINE", "true")
    env["ALPR_MAX_UPLOAD_MB"] = f"{max_upload_mb:g}"
    server = bench.GunicornServer(out / "gunicorn.log", env)
    log(f"started {' '.join(['python', *server.command[1:]])} (ALPR_MAX_UPLOAD_MB={max_upload_mb:g}, "
        f"ALPR_ONNX_SPIN={env['ALPR_ONNX_SPIN']})")
    client = SoakClient(server.port, timeout=bench.SERVER_START_TIMEOUT_S)

    def health(path: str) -> tuple[int, Any]:
        client.conn.close()
        return client.request("GET", path)

    try:
        server.poll_until(lambda: health("/health"), lambda status, _: status == 200)
        status, answer = health("/health?load=1")
        if status != 200:
            raise RuntimeError(f"/health?load=1 answered {status}: {answer}")
    except Exception:
        server.stop()
        raise
    finally:
        client.close()
    log(f"server ready in {server.since_start():.1f} s on port {server.port}, models loaded on {answer['device']}")
    return server


def run_alone(port: int, inputs: list[Input], tally: Tally, log: Callable[[str], None]) -> dict[int, Expected]:
    """Every input once, one at a time: the answers photos must get again under load."""
    client = SoakClient(port, timeout=REQUEST_TIMEOUT_S)
    expected: dict[int, Expected] = {}
    try:
        for index, item in enumerate(inputs):
            body, ctype = item.request(False)
            start = time.perf_counter()
            status, content_type, payload = client.post("/recognize", body, ctype)
            tally.alone_ms[item.kind].append((time.perf_counter() - start) * 1000)
            answer, problems, mismatch = check(item, None, status, content_type, payload)
            if problems:
                tally.note("contract", {"phase": "alone", "input": item.name, "status": status, "problems": problems})
            if mismatch:
                tally.note("mismatches", {"phase": "alone", "kind": item.kind, "input": item.name,
                                          "difference": mismatch})
            if item.expect_code is None and answer is not None:
                expected[index] = Expected(answer.get("code"), answer.get("plate"), answer.get("confidence") or 0.0)
    finally:
        client.close()
    codes = Counter(e.code for e in expected.values())
    log(f"alone: {len(inputs)} inputs, photos answered " + ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())))
    return expected


def drive(port: int, inputs: list[Input], expected: dict[int, Expected], order: list[tuple[int, bool]],
          clients: int, seconds: float, tally: Tally, rss: RssSampler, warmup_s: float,
          log: Callable[[str], None]) -> dict[str, Any]:
    """N clients until the deadline; returns when the load ran and its warm-up ended."""
    position = [0]
    position_lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds
    marks: dict[str, Any] = {}

    def next_request() -> tuple[int, bool]:
        with position_lock:
            i = position[0]
            position[0] += 1
        return order[i % len(order)]

    def client_loop(number: int) -> None:
        client = SoakClient(port, timeout=REQUEST_TIMEOUT_S)
        try:
            while time.perf_counter() < deadline:
                index, as_json = next_request()
                item = inputs[index]
                body, ctype = item.request(as_json)
                sent = time.perf_counter()
                try:
                    status, content_type, payload = client.post("/recognize", body, ctype)
                except (OSError, http.client.HTTPException) as exc:
                    with tally.lock:
                        tally.requests += 1
                        tally.note("connection_errors", {"t": round(sent - start, 2), "client": number,
                                                         "input": item.name, "error": f"{type(exc).__name__}: {exc}"})
                    client.close()
                    client = SoakClient(port, timeout=REQUEST_TIMEOUT_S)
                    continue
                ms = (time.perf_counter() - sent) * 1000
                want = expected.get(index)
                answer, problems, mismatch = check(item, want, status, content_type, payload)
                code = answer.get("code") if answer else None
                with tally.lock:
                    tally.requests += 1
                    tally.rows.append((round(sent - start, 3), number, item.kind, item.name, int(as_json), status,
                                       code, round(ms, 1)))
                    tally.by_code[str(code)] += 1
                    tally.by_status[str(status)] += 1
                    kind = tally.kinds[item.kind]
                    kind["ms"].append(ms)
                    kind["codes"][str(code)] += 1
                    where = {"t": round(sent - start, 2), "kind": item.kind, "input": item.name,
                             "json": as_json, "status": status}
                    if problems:
                        tally.note("contract", {**where, "problems": problems})
                    if mismatch:
                        kind["mismatches"] += 1
                        tally.note("mismatches", {**where, "difference": mismatch})
                    if status >= 500 and (problems or mismatch):
                        tally.note("unexpected_5xx", {**where, "answer": (payload[:200].decode("utf-8", "replace"))})
                    if want is not None and answer and not mismatch and want.code == Code.SUCCESS:
                        drift = abs(float(answer.get("confidence") or 0.0) - want.confidence)
                        tally.confidence_drift = max(tally.confidence_drift, drift)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    last_progress = start
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        now = time.perf_counter()
        if "after_warmup" not in marks and now - start >= warmup_s:
            marks["after_warmup"] = rss.sample()
            marks["after_warmup_t"] = rss.samples[-1][0] if rss.samples else None
            log(f"warm-up over after {warmup_s:.0f} s: worker RSS {_fmt(marks['after_warmup'], 0)} MB")
        if now - last_progress >= PROGRESS_S:
            last_progress = now
            with tally.lock:
                n, codes = tally.requests, dict(tally.by_code)
                errors = tally.n_connection_errors + tally.n_unexpected_5xx + tally.n_contract + tally.n_mismatches
            log(f"{now - start:5.0f}/{seconds:.0f} s · {n} requests ({n / (now - start):.1f}/s) · codes "
                + ", ".join(f"{c}×{k}" for c, k in sorted(codes.items())) + f" · problems {errors}"
                + f" · worker RSS {_fmt(rss.latest(), 0)} MB")
    marks["seconds"] = round(time.perf_counter() - start, 2)
    marks["load_start_t"] = round(start - rss.started_at, 2)
    return marks


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def latency(values: list[float]) -> dict[str, float] | None:
    found = bench.stats(values)
    return None if found is None else {**found, "max": round(max(values), 3)}


def conditions(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each condition with an id, what it says, whether it held (None: nothing to judge)."""
    errors, rss = report["errors"], report["rss_mb"]
    plate = (report["kinds"].get("plate-photo") or {}).get("latency_ms")
    ratio = plate["p99"] / plate["p50"] if plate and plate["p50"] > 0 else None
    drift = rss.get("drift_after_warmup")
    return [
        {"id": "connection", "name": "no connection error", "held": errors["connection"] == 0,
         "detail": f"{errors['connection']} connection errors"},
        {"id": "5xx", "name": "no 5xx but the contract's codes where due", "held": errors["unexpected_5xx"] == 0,
         "detail": f"{errors['unexpected_5xx']} unexpected 5xx"},
        {"id": "contract", "name": "every answer within the contract (five keys, code ↔ HTTP ↔ message)",
         "held": errors["contract"] == 0, "detail": f"{errors['contract']} answers off the contract"},
        {"id": "as-alone", "name": "every answer as expected (photos as alone, same plate; bad input its code)",
         "held": errors["mismatches"] == 0,
         "detail": f"{errors['mismatches']} mismatches; confidence drift at most {report['confidence_drift']:.4f}"},
        {"id": "one-worker", "name": "one worker process served the whole run",
         "held": len(report["worker_pids"]) == 1, "detail": f"worker pids {report['worker_pids']}"},
        {"id": "rss-flat", "name": f"worker RSS after warm-up flat within {RSS_FLAT:.0%}",
         "held": None if drift is None else max(abs(drift["min"]), abs(drift["max"])) <= RSS_FLAT,
         "detail": "too few samples" if drift is None else
         f"medians of {rss['window_s']:.0f}-s windows {drift['min']:+.1%} … {drift['max']:+.1%} of the first "
         f"({rss['after_warmup']:.0f} MB); single samples {drift['samples_min']:+.1%} … {drift['samples_max']:+.1%}"},
        {"id": "p99-p50", "name": f"p99 of photos with a plate within {P99_OVER_P50:g}× their p50",
         "held": None if ratio is None else ratio <= P99_OVER_P50,
         "detail": "no photos" if ratio is None else f"p99 {plate['p99']:.0f} ms = {ratio:.2f}× p50 {plate['p50']:.0f} ms"},
    ]


def rss_windows(samples: list[tuple[float, float]], since: float | None) -> dict[str, Any]:
    """The worker's RSS after warm-up as the medians of consecutive windows (an eighth of the
    time after warm-up, at least 10 s): a single sample moves by the requests in flight when
    it is taken (a 12 MP decode, a 9 MB upload), a leak moves the medians."""
    later = [(t, v) for t, v in samples if since is not None and t >= since]
    if len(later) < 2:
        return {"window_s": None, "medians": [], "after_warmup": None, "end": None, "drift": None}
    window = max(10.0, (later[-1][0] - later[0][0]) / 8)
    groups: dict[int, list[float]] = defaultdict(list)
    for t, v in later:
        groups[int((t - later[0][0]) // window)].append(v)
    medians = [round(float(np.median(groups[k])), 1) for k in sorted(groups)]
    if len(medians) > 1 and len(groups[max(groups)]) < len(groups[min(groups)]) / 2:
        medians.pop()  # a last window too short to say much
    first = medians[0]
    values = [v for _, v in later]
    return {"window_s": round(window, 1), "medians": medians, "after_warmup": first, "end": medians[-1],
            "drift": {"min": round(min(medians) / first - 1, 4), "max": round(max(medians) / first - 1, 4),
                      "samples_min": round(min(values) / first - 1, 4),
                      "samples_max": round(max(values) / first - 1, 4)}}


def build_report(args: argparse.Namespace, command: str, inputs: list[Input], tally: Tally, rss: RssSampler,
                 marks: dict[str, Any], alone_n: int, warmup_s: float) -> dict[str, Any]:
    windows = rss_windows(rss.samples, marks.get("after_warmup_t"))
    kinds = {}
    for name, k in sorted(tally.kinds.items()):
        kinds[name] = {"requests": len(k["ms"]), "codes": dict(sorted(k["codes"].items())),
                       "mismatches": k["mismatches"], "latency_ms": latency(k["ms"]),
                       "alone_ms": latency(tally.alone_ms.get(name, []))}
    every = [ms for k in tally.kinds.values() for ms in k["ms"]]
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "clients": args.clients, "seconds": args.seconds, "seed": args.seed,
        "max_upload_mb": args.max_upload_mb, "composed_only": args.composed, "max_photos": args.max_photos,
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_end": load,
        "inputs": dict(Counter(i.kind for i in inputs)),
        "alone_inputs": alone_n,
        "load_seconds": marks.get("seconds"), "warmup_seconds": warmup_s,
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / marks["seconds"], 2) if marks.get("seconds") else None,
        "by_code": dict(sorted(tally.by_code.items())),
        "by_http_status": dict(sorted(tally.by_status.items())),
        "kinds": kinds,
        "latency_ms": latency(every),
        "confidence_drift": round(tally.confidence_drift, 4),
        "rss_mb": {"start": marks.get("rss_start"), "after_warmup": windows["after_warmup"],
                   "end": windows["end"], "peak": rss.peak_mb(),
                   "peak_sampled": max((v for _, v in rss.samples), default=None),
                   "window_s": windows["window_s"], "window_medians": windows["medians"],
                   "drift_after_warmup": windows["drift"], "samples": rss.samples},
        "worker_pids": sorted(rss.worker_pids),
        "errors": {"connection": tally.n_connection_errors, "unexpected_5xx": tally.n_unexpected_5xx,
                   "contract": tally.n_contract, "mismatches": tally.n_mismatches},
        "examples": {"connection": tally.connection_errors, "unexpected_5xx": tally.unexpected_5xx,
                     "contract": tally.contract, "mismatches": tally.mismatches},
    }
    report["conditions"] = conditions(report)
    report["held"] = all(c["held"] is True for c in report["conditions"])
    return report


def render_table(report: dict[str, Any]) -> str:
    fmt = _fmt
    lines = [
        f"ALPR soak {report['date']} · {report['clients']} clients · {report['load_seconds']} s of load "
        f"(warm-up {report['warmup_seconds']:.0f} s) · seed {report['seed']} · {report['cpus_usable']} CPUs · "
        f"load average at end {report['load_average_at_end']}",
        f"server: {report['command']} · ALPR_MAX_UPLOAD_MB={report['max_upload_mb']:g}",
        "inputs: " + ", ".join(f"{k} {n}" for k, n in sorted(report["inputs"].items()))
        + f"; each sent alone first ({report['alone_inputs']})",
        "",
        f"  {'kind':<18} {'requests':>8} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} ms {'alone p50':>9} "
        f"{'mismatch':>8}  codes",
    ]
    for name, k in list(report["kinds"].items()) + [("all", {"requests": report["requests"],
                                                             "latency_ms": report["latency_ms"],
                                                             "mismatches": report["errors"]["mismatches"],
                                                             "codes": report["by_code"]})]:
        lat, alone = k["latency_ms"] or {}, k.get("alone_ms") or {}
        codes = ", ".join(f"{c}×{n}" for c, n in k["codes"].items())
        lines.append(f"  {name:<18} {k['requests']:>8} {fmt(lat.get('p50'), 0):>8} {fmt(lat.get('p90'), 0):>8} "
                     f"{fmt(lat.get('p99'), 0):>8} {fmt(lat.get('max'), 0):>8}    {fmt(alone.get('p50'), 0):>9} "
                     f"{k['mismatches']:>8}  {codes}")
    rss = report["rss_mb"]
    lines += [
        "",
        f"  {report['requests']} requests, {fmt(report['requests_per_s'], 2)}/s; HTTP "
        + ", ".join(f"{s}×{n}" for s, n in report["by_http_status"].items()),
        f"  worker RSS MB: start {fmt(rss['start'], 0)} (models loaded) · after warm-up {fmt(rss['after_warmup'], 0)} · "
        f"end {fmt(rss['end'], 0)} (medians of {fmt(rss['window_s'], 0)}-s windows: "
        + " ".join(f"{m:.0f}" for m in rss["window_medians"])
        + f") · peak {fmt(rss['peak'], 0)} (VmHWM; sampled {fmt(rss['peak_sampled'], 0)})",
        f"  errors: connection {report['errors']['connection']} · unexpected 5xx {report['errors']['unexpected_5xx']}"
        f" · off contract {report['errors']['contract']} · mismatches {report['errors']['mismatches']}",
        "",
    ]
    for c in report["conditions"]:
        verdict = {True: "held", False: "FAILED", None: "n/a"}[c["held"]]
        lines.append(f"  {verdict:<6} {c['name']}: {c['detail']}")
    for what, examples in report["examples"].items():
        for e in examples[:3]:
            lines.append(f"  e.g. {what}: {json.dumps(e, ensure_ascii=False)[:300]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alpr soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long the load lasts (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="the order of the requests and the composed inputs")
    parser.add_argument("--out", type=Path, default=Path("soak-results"), help="folder for soak.json and soak.txt")
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                        help="ALPR_MAX_UPLOAD_MB of the server (default 8: over-size uploads stay cheap)")
    parser.add_argument("--composed", action="store_true", help="composed photos only, not ../shared's")
    parser.add_argument("--max-photos", type=int, default=None,
                        help="at most this many real photos (a seeded sample; default all)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients and --seconds must be positive")

    def log(message: str) -> None:
        print(f"[soak] {message}", file=sys.stderr, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    composed = args.composed or not SHARED_DATASETS.is_dir()
    args.composed = composed
    inputs = build_inputs(args.max_upload_mb, composed, args.seed, log, args.max_photos)
    order = schedule(inputs, args.seed, max(10_000, int(args.clients * args.seconds * 40)))
    try:
        server = start_server(args.out, args.max_upload_mb, log)
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        log(f"the server did not start: {exc} (see {args.out / 'gunicorn.log'})")
        return 2
    command = " ".join(["gunicorn", *server.command[3:]])
    tally = Tally()
    rss = RssSampler(server.process.pid)
    warmup_s = min(WARMUP_MAX_S, args.seconds * WARMUP_SHARE)
    try:
        marks = {"rss_start": rss.sample()}
        expected = run_alone(server.port, inputs, tally, log)
        rss.start()
        log(f"load: {args.clients} clients for {args.seconds:g} s (warm-up {warmup_s:.0f} s)")
        marks.update(drive(server.port, inputs, expected, order, args.clients, args.seconds, tally, rss,
                           warmup_s, log))
        marks["rss_end"] = rss.sample()
        rss.stopping.set()
        report = build_report(args, command, inputs, tally, rss, marks, len(inputs), warmup_s)
        if server.process.poll() is not None:
            report["held"] = False
            report["conditions"].append({"id": "server", "name": "the server kept running", "held": False,
                                         "detail": f"gunicorn exited with {server.process.returncode}"})
    finally:
        rss.stopping.set()
        server.stop()
    (args.out / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    with open(args.out / "requests.csv", "w", encoding="utf-8") as rows:
        rows.write("t_s,client,kind,input,json,http,code,ms\n")
        rows.writelines(",".join(map(str, row)) + "\n" for row in sorted(tally.rows))
    table = render_table(report)
    (args.out / "soak.txt").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"\nwritten to {args.out}/ (soak.json, soak.txt, requests.csv, gunicorn.log)")
    return 0 if report["held"] else 1


if __name__ == "__main__":
    sys.exit(main())
