"""Blind sheets of a reader's misreads, for a person to read: are the plates it gets wrong
plates a person reads, or plates nobody could?

    PYTHONPATH=. python scripts/blind_sheet.py sheets runs/recognizer15/validation.npz weights/crnn.pth /tmp/blind
    # read the sheets; write "TILE TEXT" lines ("TILE ?" for an unreadable plate) into answers.txt
    PYTHONPATH=. python scripts/blind_sheet.py score /tmp/blind answers.txt

`sheets` reads a run's cached rendered set (`synthetic`; `--set swap` for the other) with
the weights, and writes `sheet-N.png` (20 numbered tiles each, no text on them) and
`key.json` (truth, read and confidence of each tile). `score` counts the person's right
reads against the key: the share of the reader's misreads that were legible.

`--rectifier weights/rectifier.pth` shows the misreads of the reader as the service builds it
(askew crops leveled first) instead of the CRNN's alone.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

TILES_PER_SHEET = 20
TILE = (300, 120)  # the 128×128 network input stretched back to about a plate's shape


def write_sheets(validation: Path, weights: Path, out: Path, subset: str, limit: int,
                 rectifier_weights: Path | None = None) -> None:
    from alpr.recognizer import PlateRecognizer
    from alpr.rectifier import Rectifier

    blob = np.load(validation)
    crops = [cv2.cvtColor(hls, cv2.COLOR_HLS2BGR) for hls in blob[f"{subset}_images"]]
    texts = [str(t) for t in blob[f"{subset}_texts"]]
    rectifier = Rectifier.from_checkpoint(rectifier_weights) if rectifier_weights else None
    reader = PlateRecognizer.from_checkpoint(weights, rectifier=rectifier)
    reads = [read for first in range(0, len(crops), 100) for read in reader.read(crops[first:first + 100])]
    misread = [i for i, (read, text) in enumerate(zip(reads, texts)) if read.text != text]
    wrong = misread[:limit]
    print(f"{len(wrong)} misreads shown ({len(misread)} of {len(texts)})")
    out.mkdir(parents=True, exist_ok=True)
    key = [{"tile": n, "index": i, "truth": texts[i], "read": reads[i].text,
            "confidence": round(float(reads[i].confidence), 3)} for n, i in enumerate(wrong)]
    (out / "key.json").write_text(json.dumps(key, indent=1))
    for first in range(0, len(wrong), TILES_PER_SHEET):
        tiles = []
        for n, i in enumerate(wrong[first:first + TILES_PER_SHEET], start=first):
            tile = cv2.resize(crops[i], TILE, interpolation=cv2.INTER_CUBIC)
            tile = cv2.copyMakeBorder(tile, 0, 22, 3, 3, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            cv2.putText(tile, str(n), (4, TILE[1] + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 200), 2)
            tiles.append(tile)
        while len(tiles) % 4:
            tiles.append(np.full_like(tiles[0], 255))
        rows = [np.hstack(tiles[k:k + 4]) for k in range(0, len(tiles), 4)]
        cv2.imwrite(str(out / f"sheet-{first // TILES_PER_SHEET}.png"), np.vstack(rows))


def score(out: Path, answers: Path) -> None:
    key = json.loads((out / "key.json").read_text())
    person: dict[int, str] = {}
    for line in answers.read_text().splitlines():
        if line.strip():
            tile, text = line.split()
            person[int(tile)] = text
    marks = {n: "right" if text == key[n]["truth"] else "?" if text == "?" else "wrong"
             for n, text in person.items()}
    counts = {mark: list(marks.values()).count(mark) for mark in ("right", "?", "wrong")}
    print(f"{len(person)} misreads looked at: the person read {counts['right']} right, "
          f"called {counts['?']} unreadable, got {counts['wrong']} wrong")
    for n in sorted(person):
        tile = key[n]
        print(f"{n:3d} truth {tile['truth']:9s} person {person[n]:9s} reader {tile['read']:9s} "
              f"{tile['confidence']:.2f} {marks[n]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sheets = commands.add_parser("sheets")
    sheets.add_argument("validation", type=Path)
    sheets.add_argument("weights", type=Path)
    sheets.add_argument("out", type=Path)
    sheets.add_argument("--set", dest="subset", default="synthetic", choices=("synthetic", "swap"))
    sheets.add_argument("--limit", type=int, default=80)
    sheets.add_argument("--rectifier", type=Path, default=None, help="read as the service does, leveled first")
    scoring = commands.add_parser("score")
    scoring.add_argument("out", type=Path)
    scoring.add_argument("answers", type=Path)
    args = parser.parse_args()
    if args.command == "sheets":
        write_sheets(args.validation, args.weights, args.out, args.subset, args.limit, args.rectifier)
    else:
        score(args.out, args.answers)


if __name__ == "__main__":
    main()
