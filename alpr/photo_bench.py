"""Cost per real photo: every photo of some folders through the API's own path, and the
reference peer on the same photos in the same run, interleaved chunk by chunk so that the
machine's load weighs on both alike (timings on shared machines move 10–40 % between runs).

Per photo: milliseconds (decoding included, as the peer's), how many detector looks and
crop reads it took, its code and plate; for photos nothing was read from, their cost in
first looks (the photo's first detector look alone, timed in the same call).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import metrics
from .config import PROJECT_ROOT, SHARED_DATASETS, Settings

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# The real Ukrainian plates (../shared/datasets/README.md): every change that touches reading
# or searching is judged on them, and on their degraded copies (alpr.degrade).
UA_REAL = SHARED_DATASETS / "ua-real"
DEFAULT_FOLDERS = (SHARED_DATASETS / "plates-detection" / "images" / "val", SHARED_DATASETS / "dev-images", UA_REAL)
# The plates a person read in the validation photos (labels/README.md), and the other sets' own.
DEFAULT_LABELS = (PROJECT_ROOT / "labels" / "plates-detection-val.json", SHARED_DATASETS / "dev-images" / "labels.json",
                  UA_REAL / "labels.json")
# The folder under the bench's out dir that the default run writes ua-real's degraded copies to.
DEGRADED_FOLDER = "ua-real-degraded"
PEER = SHARED_DATASETS.parent / "peer"
PEER_CHUNK = 30  # photos per turn: ours, then the peer, on the same photos


@dataclass(frozen=True)
class PhotoCost:
    photo: str
    ms: float
    code: int
    plate: str | None
    looks: int
    crops: int
    first_look_ms: float
    stages_ms: dict[str, float]
    answers: tuple[tuple[str, float], ...] = ()  # every plate answered: text, confidence


def default_folders(out: Path) -> list[Path]:
    """DEFAULT_FOLDERS, and ua-real's degraded copies written into out/DEGRADED_FOLDER (the
    same bytes every run) when ua-real is there."""
    folders = list(DEFAULT_FOLDERS)
    if UA_REAL.is_dir():
        from .degrade import write_copies

        write_copies(UA_REAL, out / DEGRADED_FOLDER)
        folders.append(out / DEGRADED_FOLDER)
    return folders


def set_name(folder: Path) -> str:
    """How a folder of photos is named in the report: its path under ../shared/datasets, or
    its own name."""
    try:
        return folder.resolve().relative_to(SHARED_DATASETS.resolve()).as_posix().replace("/images/", "/")
    except ValueError:
        return folder.name


def read_layouts(folders: Sequence[Path]) -> dict[str, str]:
    """File name → layout, from each folder's layouts.json (ua-real and its copies)."""
    layouts: dict[str, str] = {}
    for folder in folders:
        path = folder / "layouts.json"
        if path.is_file():
            layouts.update(json.loads(path.read_text(encoding="utf-8")))
    return layouts


def photos_in(folders: Sequence[Path]) -> list[Path]:
    return [p for folder in folders if folder.is_dir() for p in sorted(folder.iterdir())
            if p.suffix.lower() in IMAGE_EXTENSIONS]


def read_labels(files: Sequence[Path]) -> dict[str, list[str]]:
    """File name → the plates a person read in it (alpr.evaluate.load_labels); photos
    without one are left out."""
    from .evaluate import load_labels

    return {k: list(v) for f in files if f.is_file() for k, v in load_labels(f).items() if v}


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, mean, p50, p90, p99 (metrics.percentiles) and max."""
    return {"n": len(values), "mean": round(statistics.fmean(values), 1),
            **{k: round(v, 1) for k, v in metrics.percentiles(values).items()}, "max": round(max(values), 1)}


class _CountingDetector:
    """The pipeline's detector, passed through, counting its looks and timing the first."""

    def __init__(self, inner):
        self.inner = inner
        self.count, self.first_ms, self.ms = 0, 0.0, 0.0

    def looks(self, image) -> Iterator[list]:
        self.count, self.first_ms, self.ms = 0, 0.0, 0.0
        looks = self.inner.looks(image) if hasattr(self.inner, "looks") else iter([self.inner.detect(image)])
        while True:
            start = time.perf_counter()
            found = next(looks, None)
            took = (time.perf_counter() - start) * 1000
            self.ms += took
            if found is None:
                return
            if self.count == 0:
                self.first_ms = took
            self.count += 1
            yield found


class TimedReader:
    """The pipeline's reader, passed through, keeping each call's milliseconds and the crops read."""

    def __init__(self, inner):
        self.inner, self.crops, self.ms = inner, 0, []

    def __getattr__(self, name):  # reads_lines, backend: the reader's own
        return getattr(self.inner, name)

    def read(self, crops):
        return self._timed(self.inner.read, crops)

    def read_two_lines(self, crops):
        return self._timed(self.inner.read_two_lines, crops)

    def _timed(self, read, crops):
        start = time.perf_counter()
        self.crops += len(crops)
        try:
            return read(crops)
        finally:
            self.ms.append((time.perf_counter() - start) * 1000)


def bench_ours(settings: Settings, photos: Sequence[Path]) -> Callable[[Path], PhotoCost]:
    """A function that runs one photo through alpr.service.recognize and says what it cost."""
    from .models import ModelHolder
    from .service import recognize

    models = ModelHolder(settings)
    pipeline = models.get()
    pipeline.detector = detector = _CountingDetector(pipeline.detector)
    pipeline.recognizer = TimedReader(pipeline.recognizer)
    readers = [pipeline.recognizer]
    if pipeline.foreign_reader is not None:  # the views of foreign reads are reading too
        pipeline.foreign_reader = TimedReader(pipeline.foreign_reader)
        readers.append(pipeline.foreign_reader)
    if photos:
        recognize(photos[0].read_bytes(), photos[0].name, models, settings)  # warm

    def one(photo: Path) -> PhotoCost:
        for reader in readers:
            reader.crops = 0
            reader.ms.clear()
        start = time.perf_counter()
        answer = recognize(photo.read_bytes(), photo.name, models, settings, detail=True)
        ms = (time.perf_counter() - start) * 1000
        body = answer.body
        read_ms = sum(sum(reader.ms) for reader in readers)
        stages = {"detect": round(detector.ms, 2), "read": round(read_ms, 2)}
        stages["decode and the rest"] = round(ms - detector.ms - read_ms, 2)
        answers = tuple((p["text"], p["confidence"]) for p in body.get("plates", ()))
        return PhotoCost(photo.name, round(ms, 2), body["code"], body["plate"], detector.count,
                         sum(reader.crops for reader in readers),
                         round(detector.first_ms, 2), stages, answers)

    return one


def peer_python() -> str | None:
    """The peer's own interpreter (its setup script makes the venv once), or None."""
    if not (PEER / "peer.py").is_file():
        return None
    run = subprocess.run(["bash", str(PEER / "setup.sh")], capture_output=True, text=True, timeout=900)
    python = run.stdout.strip().splitlines()[-1] if run.returncode == 0 and run.stdout.strip() else ""
    return python if python and Path(python).exists() else None


def bench_peer(python: str, photos: Sequence[Path]) -> list[dict[str, Any]]:
    """The peer on these photos (one process; it warms up on the first, untimed)."""
    run = subprocess.run([python, str(PEER / "peer.py"), *map(str, photos)],
                         capture_output=True, text=True, timeout=3600)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"photo"')]
    if len(rows) != len(photos):
        raise RuntimeError(f"the peer answered {len(rows)} of {len(photos)} photos: {run.stderr[-500:]}")
    return rows


def run(settings: Settings, photos: Sequence[Path], labels: dict[str, list[str]],
        with_peer: bool, log: Callable[[str], None]) -> dict[str, Any]:
    one = bench_ours(settings, photos)
    python = peer_python() if with_peer else None
    if with_peer and python is None:
        log("the peer is not available (../shared/peer): ours alone")
    ours: list[PhotoCost] = []
    peer: list[dict[str, Any]] = []
    for k in range(0, len(photos), PEER_CHUNK):
        chunk = photos[k:k + PEER_CHUNK]
        ours += [one(p) for p in chunk]
        if python:
            peer += bench_peer(python, chunk)
        log(f"{len(ours)} of {len(photos)} photos")
    folders = list(dict.fromkeys(p.parent for p in photos))
    sets = {p.name: set_name(p.parent) for p in photos}
    return report(ours, peer, labels, settings.search.name, sets, read_layouts(folders))


def report(ours: list[PhotoCost], peer: list[dict[str, Any]], labels: dict[str, list[str]],
           search: str, sets: dict[str, str] | None = None, layouts: dict[str, str] | None = None) -> dict[str, Any]:
    """The summary; with `sets` (photo name → set), the same per set, and per layout where
    `layouts` (photo name → layout) names one."""
    unread = [c for c in ours if c.code != 0]
    out: dict[str, Any] = {
        "search": search,
        "photos": len(ours),
        "ours": {
            "ms": summary([c.ms for c in ours]),
            "looks": summary([c.looks for c in ours]),
            "crops": summary([c.crops for c in ours]),
            "stages_mean_ms": {stage: round(statistics.fmean(c.stages_ms[stage] for c in ours), 1)
                               for stage in ours[0].stages_ms},
            "answered": len(ours) - len(unread),
            # What a photo that reads as nothing costs, in first looks of its own.
            "unread_cost_in_first_looks": summary([c.ms / c.first_look_ms for c in unread if c.first_look_ms])
            if unread else None,
        },
        "per_photo": [asdict(c) for c in ours],
    }
    if peer:
        out["peer"] = {"ms": summary([r["ms"] for r in peer]), "per_photo": peer}
        out["mean_ratio"] = round(out["ours"]["ms"]["mean"] / out["peer"]["ms"]["mean"], 2)
    if labels:
        exact = lambda plate, name: plate is not None and plate in labels[name]  # noqa: E731
        labelled = [c for c in ours if c.photo in labels]
        out["exact"] = {"labelled": len(labelled), "ours": sum(exact(c.plate, c.photo) for c in labelled)}
        if peer:
            out["exact"]["peer"] = sum(exact(r["plate"], r["photo"]) for r in peer if r["photo"] in labels)
        out["confidence"] = confidence_report([(text, confidence, text in labels[c.photo])
                                               for c in labelled for text, confidence in c.answers])
    if sets:
        out["sets"] = per_set(ours, peer, labels, sets, layouts or {})
    return out


def per_set(ours: list[PhotoCost], peer: list[dict[str, Any]], labels: dict[str, list[str]],
            sets: dict[str, str], layouts: dict[str, str]) -> list[dict[str, Any]]:
    """Each set's photos, mean ms and exact reads, ours and the peer's; and its exact reads
    per layout when its photos have one."""
    peer_rows = {r["photo"]: r for r in peer}
    right = lambda plate, name: plate is not None and plate in labels.get(name, ())  # noqa: E731
    rows = []
    for name in dict.fromkeys(sets[c.photo] for c in ours):
        mine = [c for c in ours if sets[c.photo] == name]
        theirs = [peer_rows[c.photo] for c in mine if c.photo in peer_rows]
        row: dict[str, Any] = {"set": name, "photos": len(mine),
                               "ms_mean": {"ours": round(statistics.fmean(c.ms for c in mine), 1)},
                               "labelled": sum(c.photo in labels for c in mine),
                               "exact": {"ours": sum(right(c.plate, c.photo) for c in mine)}}
        if theirs:
            row["ms_mean"]["peer"] = round(statistics.fmean(r["ms"] for r in theirs), 1)
            row["exact"]["peer"] = sum(right(r["plate"], r["photo"]) for r in theirs)
        kinds = {}
        for layout in dict.fromkeys(layouts[c.photo] for c in mine if c.photo in layouts and c.photo in labels):
            these = [c for c in mine if layouts.get(c.photo) == layout and c.photo in labels]
            kinds[layout] = {"labelled": len(these), "ours": sum(right(c.plate, c.photo) for c in these)}
            if theirs:
                kinds[layout]["peer"] = sum(right(peer_rows[c.photo]["plate"], c.photo) for c in these
                                            if c.photo in peer_rows)
        if kinds:
            row["layouts"] = kinds
        rows.append(row)
    return rows


SURE = 0.9  # the confidence an operator would act on without a look


def confidence_report(answers: Sequence[tuple[str, float, bool]]) -> dict[str, Any]:
    """Whether confidence means something: of every plate answered in the labelled photos
    (text, confidence, right), how many at SURE or above were wrong, and the ROC AUC of
    confidence for telling right answers from wrong ones."""
    sure = [right for _, confidence, right in answers if confidence >= SURE]
    return {"answers": len(answers), "right": sum(right for *_, right in answers),
            "sure": len(sure), "sure_wrong": len(sure) - sum(sure),
            "auc": metrics.roc_auc([a[1] for a in answers], [a[2] for a in answers])}


def render(result: dict[str, Any]) -> list[str]:
    o = result["ours"]
    head = f"  {'per photo, ms':<28} {'mean':>7} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}"
    row = lambda name, s: f"  {name:<28} {s['mean']:>7.1f} {s['p50']:>7.1f} {s['p90']:>7.1f} {s['p99']:>7.1f} {s['max']:>7.1f}"  # noqa: E731,E501
    lines = [f"Real photos ({result['photos']}, ALPR_SEARCH={result['search']}; decoding included)", head,
             row("ours", o["ms"])]
    if "peer" in result:
        lines += [row("peer (fast-alpr, same run)", result["peer"]["ms"]),
                  f"  mean ours / mean peer: {result['mean_ratio']:.2f}"]
    lines += [row("ours: detector looks", o["looks"]), row("ours: crops read", o["crops"]),
              "  ours, mean per stage: " + ", ".join(f"{k} {v:.1f} ms" for k, v in o["stages_mean_ms"].items()),
              f"  ours answered a plate on {o['answered']} of {result['photos']} photos"]
    if o["unread_cost_in_first_looks"]:
        s = o["unread_cost_in_first_looks"]
        lines.append(f"  a photo read as nothing ({s['n']}): {s['mean']:.1f} first looks on average, "
                     f"{s['max']:.1f} at most")
    if "exact" in result:
        e = result["exact"]
        peer = f", peer {e['peer']}" if "peer" in e else ""
        lines.append(f"  exact reads on {e['labelled']} labelled photos: ours {e['ours']}{peer}")
        c = result["confidence"]
        auc = "n/a" if c["auc"] is None else f"{c['auc']:.3f}"
        lines.append(f"  ours, every plate answered there: {c['answers']} ({c['right']} right); "
                     f"at confidence >= {SURE}: {c['sure']}, {c['sure_wrong']} wrong; ROC AUC {auc}")
    if result.get("sets"):
        lines.append(f"  {'per set':<28} {'photos':>6}  exact reads, ours / peer   mean ms, ours / peer")
        for s in result["sets"]:
            lines.append(f"  {s['set']:<28} {s['photos']:>6}  {_pair(s['exact'])} of {s['labelled']:<10} "
                         f"{_pair(s['ms_mean'])}")
            for layout, k in (s.get("layouts") or {}).items():
                lines.append(f"    {layout:<26} {'':>6}  {_pair(k)} of {k['labelled']}")
    return lines


def _pair(figures: dict[str, Any]) -> str:
    """"ours / peer", or ours alone without the peer."""
    return f"{figures['ours']} / {figures['peer']}" if "peer" in figures else f"{figures['ours']}"
