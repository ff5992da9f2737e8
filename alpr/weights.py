"""Weights from a local path or `s3://bucket/key`, cached once per instance under /tmp."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(location: str, cache_dir: str, sha256: str | None = None) -> Path:
    """A local file path for `location`. S3 objects are downloaded once into `cache_dir`
    (to a temporary name, then renamed, so a half-written file is never loaded)."""
    if not location.startswith("s3://"):
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(f"weights not found: {location}")
        _check(path, sha256)
        return path

    bucket, key = _s3_parts(location)
    target = Path(cache_dir) / bucket / key
    if target.is_file():
        _check(target, sha256)
        return target

    _download(bucket, key, target, sha256)
    return target


def fetch_twin(location: str, cache_dir: str) -> Path | None:
    """For a checkpoint in S3, its ONNX twin (`<key stem>.onnx` beside it) into the cache,
    where the service looks for it; None when the bucket has none. The twin's own digest
    check (alpr.onnx_twins) decides whether it is used."""
    if not location.startswith("s3://"):
        return None
    bucket, key = _s3_parts(location)
    key = str(Path(key).with_suffix(".onnx"))
    target = Path(cache_dir) / bucket / key
    if target.is_file():
        return target
    from botocore.exceptions import ClientError

    try:
        _download(bucket, key, target, None)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "403", "AccessDenied"):
            return None
        raise
    return target


def _s3_parts(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key location: {location}")
    return bucket, key


def _download(bucket: str, key: str, target: Path, sha256: str | None) -> None:
    import boto3  # only needed when weights live in S3

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    os.close(fd)
    try:
        boto3.client("s3").download_file(bucket, key, partial)
        _check(Path(partial), sha256)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _check(path: Path, sha256: str | None) -> None:
    if sha256 and sha256_of(path).lower() != sha256.lower():
        raise ValueError(f"sha256 mismatch for {path}")
