"""Automatic licence-plate recognition for Ukrainian plates: YOLO finds, a CRNN reads."""

__version__ = "0.1.0"
