"""S3 uploads in, result JSON objects out: the S3-triggered side of the service.

For each `ObjectCreated` record: skip keys under the results prefix (results never trigger
themselves), skip an object whose result already carries its ETag/version (idempotent under
S3's at-least-once delivery), check the size with HeadObject before GetObject, run the same
`recognize()` as the API, and write `<results_prefix><key>.json` next to (never over) the input.
With ALPR_ANONYMIZED_COPY set, a copy of the photo with its plates hidden is written first,
beside the result (`<results_prefix><key without extension>.anonymized<extension>`): the result
object is written last, so a result always has its copy.
A record that fails is reported in its outcome; the other records go on.
"""
from __future__ import annotations

import json
import logging
import posixpath
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event, SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from .config import Settings
from .models import ModelHolder
from .service import Answer, HiddenPhoto, anonymize, recognize
from .status import CODES, Code, body

log = logging.getLogger(__name__)

# User metadata on each result object: which input version it was computed from.
META_ETAG = "source-etag"
META_VERSION = "source-version-id"

# An SQS message is started only with this much of the invocation's time left: a download,
# a recognition (seconds on a 12 MP photo with the thorough plan) and a result write fit well
# within it. (An S3 event straight to the function has no partial failure to report: a time
# limit fails the invocation, which Lambda retries, and results already written are skipped.)
MIN_TIME_LEFT_MS = 10_000


def time_left_ms(context: Any) -> int | None:
    """What the Lambda context says is left of the invocation; None without one."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


@dataclass(frozen=True)
class Outcome:
    """What happened to one S3 record."""

    bucket: str
    key: str
    status: Literal["done", "skipped", "failed"]
    detail: str = ""
    code: int | None = None            # the result's code, when a result was written
    result_key: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class RecordsFailed(Exception):
    """Raised for an SQS message when any S3 record inside it failed (the message is retried)."""


class S3Job:
    def __init__(self, s3: Any, models: ModelHolder, settings: Settings):
        self.s3 = s3
        self.models = models
        self.settings = settings

    # --- events ------------------------------------------------------------------------------
    def process_event(self, event: dict) -> list[Outcome]:
        """Every record of an S3 notification. An event without records (S3's `s3:TestEvent`,
        sent when a notification is configured) has nothing to do."""
        if not event.get("Records"):
            return []
        outcomes = []
        for record in S3Event(event).records:
            # Keys arrive URL-encoded, with '+' for spaces.
            key = unquote_plus(record.s3.get_object.key)
            bucket = record.s3.bucket.name
            if not record.event_name.startswith("ObjectCreated"):
                outcomes.append(Outcome(bucket, key, "skipped", f"event {record.event_name}"))
                continue
            outcomes.append(self.process(bucket, key, record.s3.get_object.version_id))
        return outcomes

    def process_sqs_batch(self, event: dict, context: Any = None) -> dict:
        """An SQS batch whose messages carry S3 notifications: `{"batchItemFailures": [...]}`
        names only the messages with a failed record, so only those come back. A message is
        started only with MIN_TIME_LEFT_MS of the invocation left; else it is reported failed
        untouched, and comes back (rather than being cut off by the time limit half done)."""
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=self._sqs_message, processor=processor, context=context
        )

    def _sqs_message(self, record: SQSRecord, lambda_context: Any = None) -> list[Outcome]:
        left = time_left_ms(lambda_context)
        if left is not None and left < MIN_TIME_LEFT_MS:
            raise RecordsFailed(f"{left} ms left of the invocation: not started, the message comes back")
        outcomes = self.process_event(record.json_body)
        failed = [f"s3://{o.bucket}/{o.key}: {o.detail}" for o in outcomes if o.failed]
        if failed:
            raise RecordsFailed("; ".join(failed))
        return outcomes

    # --- one object --------------------------------------------------------------------------
    def result_location(self, bucket: str, key: str) -> tuple[str, str]:
        return self.settings.results_bucket or bucket, f"{self.settings.results_prefix}{key}.json"

    def anonymized_key(self, key: str) -> str:
        stem, extension = posixpath.splitext(key)
        return f"{self.settings.results_prefix}{stem}.anonymized{extension}"

    def process(self, bucket: str, key: str, version_id: str | None = None) -> Outcome:
        if key.startswith(self.settings.results_prefix):
            return Outcome(bucket, key, "skipped", "under the results prefix")
        try:
            outcome = self._process(bucket, key, version_id)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            outcome = Outcome(bucket, key, "failed", f"{error.get('Code')}: {error.get('Message')}")
        except (BotoCoreError, OSError) as exc:
            outcome = Outcome(bucket, key, "failed", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # one bad record must not lose the others
            log.exception("unexpected failure for s3://%s/%s", bucket, key)
            outcome = Outcome(bucket, key, "failed", f"{type(exc).__name__}: {exc}")
        level = logging.ERROR if outcome.failed else logging.INFO
        log.log(level, "s3 record %s", outcome.status,
                extra={"bucket": bucket, "key": key, "detail": outcome.detail, "code": outcome.code})
        return outcome

    def _process(self, bucket: str, key: str, version_id: str | None) -> Outcome:
        start = time.perf_counter()
        version = {"VersionId": version_id} if version_id else {}
        head = self.s3.head_object(Bucket=bucket, Key=key, **version)
        etag = head["ETag"].strip('"')
        version_id = head.get("VersionId") or version_id
        result_bucket, result_key = self.result_location(bucket, key)
        if self._already_done(result_bucket, result_key, etag, version_id):
            return Outcome(bucket, key, "skipped", "result already written", result_key=result_key)

        data = None
        if head["ContentLength"] > self.settings.max_upload_bytes:
            # Refused before any byte is downloaded.
            answer = Answer(body(Code.FILE_TOO_LARGE), CODES[Code.FILE_TOO_LARGE].http_status)
            download_ms = 0.0
        else:
            # IfMatch: the bytes read are the version just checked, or the read fails.
            obj = self.s3.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"], **version)
            data = obj["Body"].read()
            download_ms = (time.perf_counter() - start) * 1000
            answer = recognize(data, posixpath.basename(key), self.models, self.settings, detail=True)
        if answer.body["code"] == Code.MODEL_NOT_LOADED:
            # Not a fact about the image: write nothing, so that a retry can still succeed.
            return Outcome(bucket, key, "failed", CODES[Code.MODEL_NOT_LOADED].message)

        anonymized = None
        if self.settings.anonymized_copy and data is not None:
            hidden = anonymize(data, posixpath.basename(key), self.models, self.settings,
                               self.settings.anonymized_copy)
            if isinstance(hidden, HiddenPhoto):
                anonymized = self._write_anonymized(result_bucket, key, hidden, etag, version_id)

        total_ms = (time.perf_counter() - start) * 1000
        # The detail answer's stages (decode, detect, read), then the job's own.
        stages = {k: v for k, v in answer.body.get("timings_ms", {}).items() if k != "total"}
        result = {
            **answer.body,
            "source": {"bucket": bucket, "key": key, "version_id": version_id, "etag": etag},
            "timings_ms": {
                **stages,
                "download": round(download_ms, 2),
                "recognize": round(total_ms - download_ms, 2),
                "total": round(total_ms, 2),
            },
            "processed_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        if self.settings.anonymized_copy:
            result["anonymized"] = anonymized
        self.s3.put_object(
            Bucket=result_bucket, Key=result_key,
            Body=json.dumps(result).encode(), ContentType="application/json",
            Metadata={META_ETAG: etag, META_VERSION: version_id or ""},
        )
        return Outcome(bucket, key, "done", answer.body["message"], answer.body["code"], result_key)

    def _write_anonymized(self, bucket: str, key: str, hidden: HiddenPhoto, etag: str,
                          version_id: str | None) -> dict[str, Any]:
        """Writes the hidden copy; where it is and what was hidden, for the result object."""
        copy_key = self.anonymized_key(key)
        self.s3.put_object(Bucket=bucket, Key=copy_key, Body=hidden.data, ContentType=hidden.mimetype,
                           Metadata={META_ETAG: etag, META_VERSION: version_id or ""})
        return {"bucket": bucket, "key": copy_key, "plates_hidden": len(hidden.areas),
                "boxes": [list(a) for a in hidden.areas], "mode": self.settings.anonymized_copy,
                "ms": round(hidden.ms, 2)}

    def _already_done(self, bucket: str, key: str, etag: str, version_id: str | None) -> bool:
        try:
            meta = self.s3.head_object(Bucket=bucket, Key=key)["Metadata"]
        except ClientError as exc:
            # 404: no result yet. Without s3:ListBucket S3 answers a missing key with 403;
            # treat that the same way (the PutObject that follows says if access is really denied).
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403"):
                return False
            raise
        return meta.get(META_ETAG) == etag and meta.get(META_VERSION, "") == (version_id or "")
