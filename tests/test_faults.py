"""Faults, each through the real parts: the production server (gunicorn) with weights missing
or corrupt and with bodies over the request limit; the S3 job against moto's S3 and SQS servers
over HTTP with an object deleted before it is read, S3 throttling (a loopback proxy in front of
moto answering 503 SlowDown, as S3 does), a worker killed mid-job, and a Lambda invocation near
its time limit."""
from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlparse

import boto3
import pytest
import requests

from alpr import bench, s3_job
from alpr.status import Code, body
from lambda_events import FakeContext, lambda_handler, reading_handler, s3_event, sqs_event  # noqa: F401, F811
from conftest import REGION
from test_s3_job import keys, read_json


def invoke(handler, event, context=None) -> dict:
    return handler.handler(event, context or FakeContext())


# --------------------------------------------------------------------------- the server


def _get(client: bench.Client, path: str) -> tuple[int, dict]:
    return client.request("GET", path)


def _once(port: int, path: str) -> tuple[int, dict]:
    client = bench.Client(port, timeout=60)  # a fresh one: a refused connection spoils its client
    try:
        return client.request("GET", path)
    finally:
        client.close()


def _post_photo(client: bench.Client, data: bytes) -> tuple[int, dict]:
    return client.request("POST", "/recognize", *bench.multipart("car.jpg", data))


@pytest.fixture
def gunicorn(tmp_path):
    """Factory: the production command with these ALPR_* variables, stopped after the test."""
    servers = []

    def start(**variables: str) -> bench.GunicornServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
        env.update(ALPR_DEVICE="cpu", **variables)
        server = bench.GunicornServer(tmp_path / "gunicorn.log", env)
        servers.append(server)
        server.poll_until(lambda: _once(server.port, "/health"), lambda status, _: status == 200)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_broken_weights_answer_8_and_the_server_stays_up(gunicorn, tmp_path, untrained_weights, photo_bytes,
                                                         broken):
    detector, recognizer = untrained_weights
    weights = tmp_path / "crnn.pth"
    if broken == "corrupt":
        weights.write_bytes(b"not a checkpoint at all")
    server = gunicorn(ALPR_DETECTOR_WEIGHTS=str(detector), ALPR_RECOGNIZER_WEIGHTS=str(weights))
    [worker] = bench.child_pids(server.process.pid)
    client = bench.Client(server.port, timeout=120)
    try:
        for _ in range(2):  # each request tries the load again, and fails again
            assert _post_photo(client, photo_bytes) == (500, body(Code.MODEL_NOT_LOADED))
        assert _get(client, "/health") == (200, {"status": "OK", "models_loaded": False, "device": "cpu"})
        status, health = _get(client, "/health?load=1")
        assert status == 503 and health["status"] == "ERROR" and health["models_loaded"] is False
        assert health["message"]  # says why, for the operator
        # The same process, still serving; the weights put right, it loads them on the next request.
        assert server.process.poll() is None and bench.child_pids(server.process.pid) == [worker]
        shutil.copy(recognizer, weights)
        assert _post_photo(client, photo_bytes) == (400, body(Code.NO_PLATE))
        assert _get(client, "/health")[1]["models_loaded"] is True
        assert bench.child_pids(server.process.pid) == [worker]
    finally:
        client.close()


def test_a_body_over_the_request_limit_is_answered_to_a_client_still_sending(gunicorn, photo_bytes):
    """Over ALPR_MAX_UPLOAD_MB's request limit, Flask refuses the body unread, and gunicorn
    closes a connection with more than 64 KiB left unread: a client that sends its whole body
    before reading (requests, http.client) saw a reset. The body is read and dropped first."""
    server = gunicorn(ALPR_MAX_UPLOAD_MB="1")  # a request limit of 1 × 4/3 + 1 MB
    huge = photo_bytes + b"\0" * (8 << 20)  # more than loopback's socket buffers take unread
    with requests.Session() as session:
        for _ in range(2):  # the connection stays usable
            answer = session.post(f"http://127.0.0.1:{server.port}/recognize",
                                  files={"image": ("huge.jpg", huge)}, timeout=60)
            assert (answer.status_code, answer.json()) == (400, body(Code.FILE_TOO_LARGE))
        answer = session.post(f"http://127.0.0.1:{server.port}/recognize",
                              json={"image": "A" * (8 << 20), "filename": "huge.jpg"}, timeout=60)
        assert (answer.status_code, answer.json()) == (400, body(Code.FILE_TOO_LARGE))
    client = bench.Client(server.port, timeout=60)
    try:
        assert client.request("POST", "/recognize", *bench.multipart("huge.jpg", huge)) == (
            400, body(Code.FILE_TOO_LARGE))
    finally:
        client.close()


# --------------------------------------------------------------------------- S3 faults


def test_object_deleted_between_event_and_read(lambda_handler, s3, photo_bytes):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    other = boto3.client("s3")
    job = lambda_handler.get_job()

    def delete(**_) -> None:  # a before-call hook returning something would stand for the answer
        other.delete_object(Bucket=bucket, Key="incoming/a.jpg")

    job.s3.meta.events.register("before-call.s3.GetObject", delete)

    [record] = invoke(lambda_handler, s3_event(bucket, "incoming/a.jpg"))["records"]
    assert record["status"] == "failed" and record["detail"].startswith("NoSuchKey")
    assert keys(client, bucket) == []  # nothing written for it
    # Through SQS the message is reported failed (to come back until the dead-letter queue).
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    assert invoke(lambda_handler, sqs_event(s3_event(bucket, "incoming/a.jpg"))) == {
        "batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert keys(client, bucket) == []


SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message><RequestId>FAULTY</RequestId></Error>")


class FaultyS3(http.server.ThreadingHTTPServer):
    """A loopback HTTP proxy in front of moto's server that answers the requests a rule
    matches (method, a part of the path) the way S3 does when it throttles: 503 SlowDown."""

    daemon_threads = True

    def __init__(self, target: str):
        super().__init__(("127.0.0.1", 0), _Forward)
        parsed = urlparse(target)
        self.target = (parsed.hostname, parsed.port)
        self.rules: list[list] = []
        self.injected: Counter = Counter()
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def throttle(self, method: str, path_part: str, times: int = 10**9) -> None:
        with self.lock:
            self.rules.append([method, path_part, times])

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def should_fail(self, method: str, path: str) -> bool:
        with self.lock:
            for rule in self.rules:
                if rule[0] == method and rule[1] in path and rule[2] > 0:
                    rule[2] -= 1
                    self.injected[method] += 1
                    return True
        return False


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultyS3

    def log_message(self, *args) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        data = self._body()
        if self.server.should_fail(self.command, self.path):
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)
            return
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("transfer-encoding", "expect", "connection", "content-length")}
        if data or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(data))
        upstream = http.client.HTTPConnection(*self.server.target, timeout=60)
        try:
            upstream.request(self.command, self.path, body=data or None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward


@pytest.fixture
def faulty_s3(s3, moto_endpoint, monkeypatch):
    """The job's S3 goes through FaultyS3 (boto3 finds it through AWS_ENDPOINT_URL), with
    botocore's retries as configured by AWS_MAX_ATTEMPTS (3 here, to keep the test short)."""
    proxy = FaultyS3(moto_endpoint)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_a_throttled_read_is_retried_and_read(reading_handler, s3, faulty_s3, photo_bytes):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    faulty_s3.throttle("GET", "/incoming/a.jpg", times=2)
    [record] = invoke(reading_handler, s3_event(bucket, "incoming/a.jpg"))["records"]
    assert (record["status"], record["code"]) == ("done", Code.SUCCESS)
    assert faulty_s3.injected == {"GET": 2}
    assert keys(client, bucket) == ["incoming/a.jpg", "results/incoming/a.jpg.json"]
    assert read_json(client, bucket, "results/incoming/a.jpg.json")["plate"] == "AI5255EI"


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_throttled_past_the_retries_fails_the_message_and_its_return_writes_once(
        reading_handler, s3, faulty_s3, photo_bytes, method):
    client, bucket = s3
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    event = sqs_event(s3_event(bucket, "incoming/a.jpg"))
    faulty_s3.throttle(method, "/incoming/a.jpg" if method == "GET" else "/results/")

    assert invoke(reading_handler, event) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert faulty_s3.injected[method] == 3  # botocore tried three times
    assert keys(client, bucket) == ["incoming/a.jpg"]

    faulty_s3.clear()  # S3 calms down; the message comes back
    assert invoke(reading_handler, event) == {"batchItemFailures": []}
    assert invoke(reading_handler, event) == {"batchItemFailures": []}  # and once more: skipped
    versions = client.list_object_versions(Bucket=bucket, Prefix="results/")["Versions"]
    assert [v["Key"] for v in versions] == ["results/incoming/a.jpg.json"]


# --------------------------------------------------------------------------- SQS: killed mid-job


class Killed(BaseException):
    """The worker dying: nothing in the job or Powertools catches it, the invocation fails."""


@pytest.fixture
def queue(moto_endpoint):
    """A real SQS queue on moto's server whose messages come back 1 s after a receive."""
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    url = sqs.create_queue(QueueName=f"jobs-{uuid.uuid4().hex[:8]}",
                           Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    return sqs, url


def deliver(handler, sqs, url: str, wait_s: float = 5.0) -> tuple[list[dict], dict | BaseException]:
    """What Lambda's SQS event source does (ReportBatchItemFailures): receive a batch, invoke,
    delete the messages not reported failed; after a failed invocation delete none."""
    deadline = time.monotonic() + wait_s
    messages: list[dict] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       AttributeNames=["All"]).get("Messages", [])
    event = {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:jobs",
        "awsRegion": REGION} for m in messages]}
    if not messages:
        return [], {}
    try:
        answer = invoke(handler, event)
    except BaseException as exc:  # noqa: B036 — the invocation died, as a killed worker does
        return messages, exc
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages, answer


@pytest.mark.parametrize("when, fault", [
    ("after-call.s3.GetObject", RuntimeError("the job raised after reading")),
    ("after-call.s3.GetObject", Killed("killed after reading, before writing")),
    ("after-call.s3.PutObject", Killed("killed after writing, before the message was deleted")),
])
def test_worker_killed_mid_job_the_message_comes_back_and_the_result_is_written_once(
        reading_handler, s3, queue, photo_bytes, when, fault):
    client, bucket = s3
    sqs, url = queue
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=bucket, Key="incoming/a.jpg", Body=photo_bytes)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_event(bucket, "incoming/a.jpg")))
    faults = [fault]

    def strike(**_):
        if faults:
            raise faults.pop()

    reading_handler.get_job().s3.meta.events.register(when, strike)

    [first], answer = deliver(reading_handler, sqs, url)
    if isinstance(fault, Killed):
        assert answer is fault  # the invocation died: Lambda deletes nothing
    else:
        assert answer == {"batchItemFailures": [{"itemIdentifier": first["MessageId"]}]}
    written = keys(client, bucket)
    assert written == (["incoming/a.jpg", "results/incoming/a.jpg.json"] if "PutObject" in when
                       else ["incoming/a.jpg"])

    [again], answer = deliver(reading_handler, sqs, url)  # after the visibility timeout
    assert again["MessageId"] == first["MessageId"] and again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert answer == {"batchItemFailures": []}
    assert deliver(reading_handler, sqs, url, wait_s=2.5) == ([], {})  # deleted: it never comes back
    versions = client.list_object_versions(Bucket=bucket, Prefix="results/")["Versions"]
    assert [v["Key"] for v in versions] == ["results/incoming/a.jpg.json"]  # written once, never twice
    assert read_json(client, bucket, "results/incoming/a.jpg.json")["plate"] == "AI5255EI"


# --------------------------------------------------------------------------- Lambda time limit


@dataclass
class TimedContext(FakeContext):
    """A Lambda context whose remaining time is read off a list, one value per call."""

    left_ms: tuple[int, ...] = (900_000,)
    calls: int = 0

    def get_remaining_time_in_millis(self) -> int:
        value = self.left_ms[min(self.calls, len(self.left_ms) - 1)]
        self.calls += 1
        return value


def test_near_the_time_limit_a_message_is_not_started_and_comes_back(reading_handler, s3, photo_bytes):
    client, bucket = s3
    for name in ("a.jpg", "b.jpg"):
        client.put_object(Bucket=bucket, Key=f"incoming/{name}", Body=photo_bytes)
    event = sqs_event(s3_event(bucket, "incoming/a.jpg"), s3_event(bucket, "incoming/b.jpg"))
    reads = []
    reading_handler.get_job().s3.meta.events.register("before-call.s3.GetObject", lambda **_: reads.append(1))

    # Time for the first message only: the second is reported failed without a read.
    short = s3_job.MIN_TIME_LEFT_MS - 1
    answer = invoke(reading_handler, event, TimedContext(left_ms=(60_000, short)))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert len(reads) == 1
    assert keys(client, bucket) == ["incoming/a.jpg", "incoming/b.jpg", "results/incoming/a.jpg.json"]

    # No time at all: nothing read, nothing written, both come back.
    assert invoke(reading_handler, event, TimedContext(left_ms=(short,))) == {
        "batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]}
    assert len(reads) == 1

    # The retry, with time: the second is written, the first skipped (already written).
    assert invoke(reading_handler, event, TimedContext()) == {"batchItemFailures": []}
    assert keys(client, bucket) == ["incoming/a.jpg", "incoming/b.jpg",
                                    "results/incoming/a.jpg.json", "results/incoming/b.jpg.json"]
    assert read_json(client, bucket, "results/incoming/b.jpg.json")["plate"] == "AI5255EI"
