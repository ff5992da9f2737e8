"""Bytes in, the API's answer out: shared by the HTTP API, the CLI and the S3 job."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from . import anonymize as hiding
from .config import Settings
from .images import check_upload, decode, load_image
from .models import ModelHolder
from .status import AlprError, Code, body

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    http_status: int

    @property
    def ok(self) -> bool:
        return self.body["code"] == Code.SUCCESS


def recognize(
    data: bytes | None, filename: str | None, models: ModelHolder, settings: Settings,
    detail: bool = False,
) -> Answer:
    """Runs the checks and the pipeline; every failure becomes its coded answer."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        image = load_image(data, filename, settings.max_upload_bytes, settings.max_pixels)
        timings["decode"] = (time.perf_counter() - start) * 1000
        pipeline = models.get()
        with models.calls:
            output = pipeline.read(image)
    except AlprError as exc:
        log.info("recognize failed: code=%d detail=%s", exc.code, exc.detail)
        return Answer(body(exc.code), exc.http_status)
    timings.update(output.timings_ms)
    timings["total"] = (time.perf_counter() - start) * 1000
    best = output.plates[0]
    answer = body(Code.SUCCESS, best.text, best.confidence)
    if detail:
        answer["plates"] = [p.as_dict() for p in output.plates]
        answer["timings_ms"] = {k: round(v, 2) for k, v in timings.items()}
    return Answer(answer, 200)


@dataclass(frozen=True)
class HiddenPhoto:
    """The photo with its plates covered, in the upload's format (the upload's own bytes
    when nothing was found), and the areas covered: x1, y1, x2, y2 in its pixels."""
    data: bytes
    mimetype: str
    areas: tuple[tuple[int, int, int, int], ...]
    ms: float


def anonymize(
    data: bytes | None, filename: str | None, models: ModelHolder, settings: Settings, mode: str,
) -> HiddenPhoto | Answer:
    """The same checks as `recognize` (codes 1, 2, 3, 7, 8; 5 if the detector raises), then
    every plate found covered. No plate found is no error: the photo comes back as sent."""
    start = time.perf_counter()
    try:
        fmt = check_upload(data, filename, settings.max_upload_bytes)
        assert data is not None
        image = decode(data, fmt, settings.max_pixels)
        detector = hiding.hiding_detector(models.get().detector)
        try:
            with models.calls:
                found = hiding.find_plates(detector, image)
        except Exception as exc:
            raise AlprError(Code.DETECTION_FAILED, f"{type(exc).__name__}: {exc}") from exc
    except AlprError as exc:
        log.info("anonymize failed: code=%d detail=%s", exc.code, exc.detail)
        return Answer(body(exc.code), exc.http_status)
    height, width = image.shape[:2]
    areas = tuple(hiding.areas_to_hide(found, width, height))
    if areas:
        out, mimetype = hiding.encode(hiding.hide(image, areas, mode), fmt)
    else:
        out, mimetype = data, hiding.ENCODINGS[fmt][1]
    return HiddenPhoto(out, mimetype, areas, (time.perf_counter() - start) * 1000)
