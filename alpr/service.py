"""Bytes in, the API's answer out: shared by the HTTP API, the CLI and the S3 job."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .images import load_image
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
        output = models.get().read(image)
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
