"""The S3 side against moto's S3 server over HTTP on loopback: result objects, the loop guard,
idempotency, per-record failures, SQS partial batch failures, weights pulled from S3."""
from __future__ import annotations

import hashlib
import json
import socket

import pytest

from alpr import weights
from alpr.config import Settings
from alpr.models import ModelHolder
from alpr.status import Code, body
from conftest import REGION, SHIPPED_DETECTOR, SHIPPED_LATIN_READER, SHIPPED_RECOGNIZER, png_bomb
from lambda_events import FakeContext, lambda_handler, load_event, reading_handler, s3_event, sqs_event  # noqa: F401

def invoke(lambda_handler, event) -> dict:
    return lambda_handler.handler(event, FakeContext())


def read_json(client, bucket: str, key: str) -> dict:
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_result_is_written_beside_the_input(reading_handler, s3, photo_bytes):
    client, bucket = s3
    key = "incoming/my car.jpg"  # arrives URL-encoded as incoming/my+car.jpg
    etag = client.put_object(Bucket=bucket, Key=key, Body=photo_bytes)["ETag"].strip('"')

    answer = invoke(reading_handler, s3_event(bucket, key, len(photo_bytes), etag))

    assert answer == {"records": [{
        "bucket": bucket, "key": key, "status": "done", "detail": "Success", "code": 0,
        "result_key": "results/incoming/my car.jpg.json",
    }]}
    assert keys(client, bucket) == ["incoming/my car.jpg", "results/incoming/my car.jpg.json"]
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == photo_bytes  # input untouched
    result = read_json(client, bucket, "results/incoming/my car.jpg.json")
    assert {k: result[k] for k in ("status", "code", "message", "plate", "confidence")} == {
        "status": "OK", "code": 0, "message": "Success", "plate": "AI5255EI", "confidence": 0.97}
    assert result["source"] == {"bucket": bucket, "key": key, "version_id": None, "etag": etag}
    assert set(result["timings_ms"]) == {"decode", "detect", "read", "download", "recognize", "total"}
    assert result["processed_at"].endswith("+00:00")
    assert set(result) == {"status", "code", "message", "plate", "confidence", "plates", "source",
                           "timings_ms", "processed_at"}
    # Every plate as the detail answer gives it: layout, region, candidates.
    [plate] = result["plates"]
    assert (plate["text"], plate["layout"], plate["region"]) == ("AI5255EI", "ua", "Kyiv Oblast")
    assert plate["candidates"] == [{"text": "AI5255EI", "confidence": 0.97}]
    head = client.head_object(Bucket=bucket, Key="results/incoming/my car.jpg.json")
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == {"source-etag": etag, "source-version-id": ""}


def test_results_bucket_can_be_another_bucket(reading_handler, s3, monkeypatch, photo_bytes):
    client, bucket = s3
    other = bucket + "-results"
    client.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("ALPR_RESULTS_BUCKET", other)
    monkeypatch.setenv("ALPR_RESULTS_PREFIX", "out/")
    reading_handler.reset()
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    invoke(reading_handler, s3_event(bucket, "incoming/a.jpg"))
    assert keys(client, bucket) == ["incoming/a.jpg"]
    assert keys(client, other) == ["out/incoming/a.jpg.json"]


def test_keys_under_the_results_prefix_never_trigger_work(lambda_handler, s3):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="results/incoming/a.jpg.json", Body=b"{}")
    answer = invoke(lambda_handler, s3_event(bucket, "results/incoming/a.jpg.json"))
    assert answer["records"][0]["status"] == "skipped"
    assert answer["records"][0]["detail"] == "under the results prefix"
    assert keys(client, bucket) == ["results/incoming/a.jpg.json"]


def test_the_same_event_twice_does_the_work_once(reading_handler, s3, photo_bytes):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    event = s3_event(bucket, "incoming/a.jpg")
    assert invoke(reading_handler, event)["records"][0]["status"] == "done"
    before = client.get_object(Bucket=bucket, Key="results/incoming/a.jpg.json")
    before_body = before["Body"].read()

    second = invoke(reading_handler, event)["records"][0]
    assert second["status"] == "skipped" and second["detail"] == "result already written"
    after = client.get_object(Bucket=bucket, Key="results/incoming/a.jpg.json")
    assert after["Body"].read() == before_body and after["LastModified"] == before["LastModified"]

    # A new upload under the same key is new work.
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes + b"\0")
    assert invoke(reading_handler, event)["records"][0]["status"] == "done"


def test_versioned_bucket_results_follow_the_version(reading_handler, s3, photo_bytes):
    client, bucket = s3
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)["VersionId"]
    event = s3_event(bucket, "incoming/a.jpg")
    event["Records"][0]["s3"]["object"]["versionId"] = first
    assert invoke(reading_handler, event)["records"][0]["status"] == "done"
    assert invoke(reading_handler, event)["records"][0]["status"] == "skipped"
    result = read_json(client, bucket, "results/incoming/a.jpg.json")
    assert result["source"]["version_id"] == first


def test_one_bad_record_does_not_lose_the_others(lambda_handler, s3, photo_bytes):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    client.put_object(Bucket=bucket, Key="incoming/text.jpg", Body=b"hello, I am text\n" * 10)
    client.put_object(Bucket=bucket, Key="incoming/cut.jpg", Body=photo_bytes[: len(photo_bytes) // 2])
    client.put_object(Bucket=bucket, Key="incoming/bomb.png", Body=png_bomb())
    names = ["a.jpg", "missing.jpg", "text.jpg", "cut.jpg", "bomb.png"]
    event = {"Records": [s3_event(bucket, f"incoming/{n}")["Records"][0] for n in names]}
    event["Records"].append(s3_event(bucket + "-nope", "incoming/a.jpg")["Records"][0])

    records = invoke(lambda_handler, event)["records"]

    assert [(r["status"], r["code"]) for r in records] == [
        ("done", Code.NO_PLATE), ("failed", None), ("done", Code.INVALID_FORMAT),
        ("done", Code.CORRUPTED_IMAGE), ("done", Code.CORRUPTED_IMAGE), ("failed", None)]
    assert records[1]["detail"].startswith("404")
    for name, code in [("a.jpg", Code.NO_PLATE), ("text.jpg", Code.INVALID_FORMAT), ("cut.jpg", Code.CORRUPTED_IMAGE)]:
        result = read_json(client, bucket, f"results/incoming/{name}.json")
        assert {k: result[k] for k in body(code)} == body(code)


def test_too_large_is_3_without_downloading(lambda_handler, s3, monkeypatch, photo_bytes):
    client, bucket = s3
    monkeypatch.setenv("ALPR_MAX_UPLOAD_MB", "0.01")
    lambda_handler.reset()
    client.put_object(Bucket=bucket, Key="incoming/big.jpg", Body=photo_bytes + b"\0" * 20_000)
    gets = []
    job = lambda_handler.get_job()
    job.s3.meta.events.register("before-call.s3.GetObject", lambda **kw: gets.append(kw))
    record = invoke(lambda_handler, s3_event(bucket, "incoming/big.jpg"))["records"][0]
    assert record["code"] == Code.FILE_TOO_LARGE and gets == []
    result = read_json(client, bucket, "results/incoming/big.jpg.json")
    assert {k: result[k] for k in body(Code.FILE_TOO_LARGE)} == body(Code.FILE_TOO_LARGE)


def test_model_not_loaded_writes_no_result(lambda_handler, s3, monkeypatch, tmp_path, photo_bytes):
    client, bucket = s3
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", str(tmp_path / "none.pt"))
    lambda_handler.reset()
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    record = invoke(lambda_handler, s3_event(bucket, "incoming/a.jpg"))["records"][0]
    assert record["status"] == "failed" and record["detail"] == "Model not loaded"
    assert keys(client, bucket) == ["incoming/a.jpg"]  # a retry can still succeed


def test_sqs_batch_reports_only_the_failed_messages(reading_handler, s3, photo_bytes):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    client.put_object(Bucket=bucket, Key="incoming/b.jpg", Body=photo_bytes)
    s3_test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-11-29T07:00:00.000Z",
                     "Bucket": bucket, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkw"}
    event = sqs_event(
        s3_event(bucket, "incoming/a.jpg"),          # msg-0: fine
        s3_event(bucket, "incoming/missing.jpg"),    # msg-1: no such object
        s3_test_event,                               # msg-2: nothing to do
        "not json",                                  # msg-3: not an S3 notification
        s3_event(bucket, "incoming/b.jpg"),          # msg-4: fine
    )
    assert invoke(reading_handler, event) == {
        "batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-3"}]}
    assert keys(client, bucket) == ["incoming/a.jpg", "incoming/b.jpg",
                                    "results/incoming/a.jpg.json", "results/incoming/b.jpg.json"]

    # Every message failing is reported the same way (no exception: the ids are the answer).
    assert invoke(reading_handler, sqs_event("x", "y")) == {
        "batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]}


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_weights_come_from_s3_once(s3, tmp_path, monkeypatch):
    client, bucket = s3
    payload = b"weights " * 1000
    client.put_object(Bucket=bucket, Key="models/crnn.pth", Body=payload)
    location, cache = f"s3://{bucket}/models/crnn.pth", tmp_path / "cache"

    path = weights.resolve(location, str(cache), hashlib.sha256(payload).hexdigest())
    assert path == cache / bucket / "models" / "crnn.pth" and path.read_bytes() == payload

    # Cached: no S3 call the second time (the object is gone and S3 is unreachable).
    client.delete_object(Bucket=bucket, Key="models/crnn.pth")
    monkeypatch.setenv("AWS_ENDPOINT_URL", _dead_endpoint())
    assert weights.resolve(location, str(cache)) == path


def test_weights_with_the_wrong_sha256_are_refused(s3, tmp_path):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="models/crnn.pth", Body=b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="sha256 mismatch"):
        weights.resolve(f"s3://{bucket}/models/crnn.pth", str(cache), "0" * 64)
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # nothing half-trusted left behind


def test_handler_loads_models_from_s3(lambda_handler, s3, monkeypatch, tmp_path, untrained_weights):
    client, bucket = s3
    detector, recognizer = untrained_weights
    client.upload_file(str(detector), bucket, "models/detector.pt")
    client.upload_file(str(recognizer), bucket, "models/crnn.pth")
    monkeypatch.setenv("ALPR_DETECTOR_WEIGHTS", f"s3://{bucket}/models/detector.pt")
    monkeypatch.setenv("ALPR_RECOGNIZER_WEIGHTS", f"s3://{bucket}/models/crnn.pth")
    monkeypatch.setenv("ALPR_WEIGHTS_CACHE", str(tmp_path / "cache"))
    lambda_handler.reset()
    assert invoke(lambda_handler, load_event("scheduled")) == {
        "status": "OK", "models_loaded": True, "device": "cpu"}
    assert (tmp_path / "cache" / bucket / "models" / "detector.pt").is_file()


def test_onnx_twins_come_from_s3_beside_their_checkpoints(s3, monkeypatch, tmp_path):
    client, bucket = s3
    for local, key in ((SHIPPED_DETECTOR, "models/detector.pt"), (SHIPPED_RECOGNIZER, "models/crnn.pth"),
                       (SHIPPED_LATIN_READER, "models/crnn-latin.pth")):
        client.upload_file(str(local), bucket, key)
    # The detector's and the Latin reader's twins are in the bucket, the Ukrainian reader's
    # not: that reader runs in torch, nothing fails.
    for local, key in ((SHIPPED_DETECTOR, "models/detector.onnx"), (SHIPPED_LATIN_READER, "models/crnn-latin.onnx")):
        client.upload_file(str(local.with_suffix(".onnx")), bucket, key)
    cache = tmp_path / "cache"
    settings = Settings(detector_weights=f"s3://{bucket}/models/detector.pt",
                        recognizer_weights=f"s3://{bucket}/models/crnn.pth",
                        latin_reader_weights=f"s3://{bucket}/models/crnn-latin.pth",
                        weights_cache=str(cache), device="cpu")
    pipeline = ModelHolder(settings).get()
    assert (pipeline.detector.backend, pipeline.recognizer.backend) == ("onnx", "torch, latin onnx-int8")
    assert (cache / bucket / "models" / "detector.onnx").is_file()
    assert (cache / bucket / "models" / "crnn-latin.onnx").is_file()
    assert not (cache / bucket / "models" / "crnn.onnx").exists()
