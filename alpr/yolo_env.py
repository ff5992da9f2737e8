"""Ultralytics, kept offline and writing only under /tmp.

Must run before `ultralytics` is first imported: it reads these variables at import time.
Settings (and their `sync`), hub checks, font downloads and pip auto-installs all stay off,
and its settings file lands under /tmp because the home directory is read-only on Lambda.
"""
from __future__ import annotations

import os
import tempfile


def prepare_ultralytics() -> None:
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "alpr-ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    os.makedirs(os.environ["YOLO_CONFIG_DIR"], exist_ok=True)
