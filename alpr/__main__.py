"""Command line: serve | recognize | evaluate | bench | train-recognizer | train-rectifier | train-detector ..."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from .api import create_app

    create_app().run(host=args.host, port=args.port, threaded=True)
    return 0


def _recognize(args: argparse.Namespace) -> int:
    from .config import Settings
    from .models import ModelHolder
    from .service import recognize

    settings = Settings.from_env()
    models = ModelHolder(settings)
    failures = 0
    for name in args.images:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        answer = recognize(data, path.name, models, settings, detail=args.detail)
        failures += not answer.ok
        print(json.dumps({"image": name, **answer.body} if args.with_name else answer.body), flush=True)
    return 1 if failures else 0


def _codes_table(_args: argparse.Namespace) -> int:
    from .status import markdown_table

    print(markdown_table())
    return 0


# Subcommands with their own argument parsers, in their own modules.
DELEGATED = {
    "evaluate": ("evaluate", "accuracy on a labelled folder"),
    "bench": ("bench", "latency, cold start, memory, throughput"),
    "soak": ("soak", "mixed traffic against the production server for a while, one report"),
    "train-recognizer": ("training.train_recognizer", "train the CRNN"),
    "average-recognizers": ("training.average_weights", "average sibling CRNN checkpoints into one"),
    "train-rectifier": ("training.train_rectifier", "train the rectifier that levels askew plates"),
    "train-detector": ("training.train_detector", "train the YOLO detector"),
    "build-detector-data": ("training.detector_data", "assemble the detector's dataset"),
    "carry-labels": ("training.carry_labels", "carry plates read by eye to the other augmented copies of their photo"),
    "build-eval-scenes": ("training.swap_scenes", "labelled plate-swap scenes for evaluate"),
    "detector-metrics": ("training.detector_metrics", "detector recall/precision and mAP on a split"),
    "hiding-metrics": ("hiding_metrics", "how well /anonymize hides the plates of labelled photos"),
    "export-onnx": ("export_onnx", "write the checkpoints' ONNX twins for torch-free CPU serving"),
    "degrade": ("degrade", "degraded copies of real photos (smaller, JPEG 20, blurred, night, askew, side view, noisy)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alpr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the development server")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=5000)
    serve.set_defaults(func=_serve)

    rec = sub.add_parser("recognize", help="one JSON line per image, the API's keys")
    rec.add_argument("images", nargs="+")
    rec.add_argument("--detail", action="store_true", help="add plates and timings_ms")
    rec.add_argument("--with-name", action="store_true", help="add the image path as 'image'")
    rec.set_defaults(func=_recognize)

    codes = sub.add_parser("codes-table", help="print the README's table of codes")
    codes.set_defaults(func=_codes_table)

    for name, (_, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(f"alpr.{DELEGATED[argv[0]][0]}").main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
