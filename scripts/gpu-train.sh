#!/usr/bin/env bash
# Fine-tunes both networks side by side on a lent GPU machine and copies the results to $OUT.
# It carries .whl (the ultralytics and ultralytics-thop wheels) and .devpack/devdata.tgz, one
# tarball (the carry limit counts disk blocks) of .devdata: what scripts/pack_gpu_data.py packs
# into .devdata/detector and .devdata/reader-photos, the fonts in .devdata/fonts, and
# .devdata/stub, a polars stand-in (its runtime is too large to carry; --no-plots keeps
# Ultralytics off it). DETECTOR_HOURS 0 trains the reader alone, with more data workers.
#   bash scripts/gpu-train.sh DETECTOR_HOURS DETECTOR_LR0 READER_STEPS READER_LR READER_MINUTES
set -u
det_hours=$1 det_lr=$2 rec_steps=$3 rec_lr=$4 rec_minutes=$5
rec_workers=9; [ "$det_hours" = 0 ] && rec_workers=14
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p .devdata && tar -xzf .devpack/devdata.tgz -C .devdata || exit 1
export PYTHONPATH=/tmp/site:$PWD/.devdata/stub:$PWD PYTHONUNBUFFERED=1 ALPR_FONTS_DIR=$PWD/.devdata/fonts
sed -i "s#^path:.*#path: $PWD/.devdata/detector#" .devdata/detector/data.yaml
nvidia-smi -L
[ "$det_hours" = 0 ] || python3 -m alpr train-detector --data .devdata/detector/data.yaml --init weights/car-plate-best.pt \
  --imgsz 512 --hours "$det_hours" --lr0 "$det_lr" --warmup-epochs 0.5 --batch 32 --workers 5 \
  --device 0 --no-plots --project /tmp/det --name gpu >"$OUT/detector.log" 2>&1 &
timeout "${rec_minutes}m" python3 -m alpr train-recognizer --init weights/crnn.pth --steps "$rec_steps" \
  --lr "$rec_lr" --batch 64 --workers "$rec_workers" --threads 2 --seed 11 --device cuda \
  --photos .devdata/reader-photos --val-synthetic 500 --val-swap 500 --run-dir /tmp/rec >"$OUT/reader.log" 2>&1 &
wait
cp /tmp/det/gpu/weights/best.pt "$OUT/detector-best.pt"; cp /tmp/det/gpu/results.csv "$OUT/detector-results.csv"
cp /tmp/rec/best.pth "$OUT/reader-best.pth"; cp /tmp/rec/last.pt "$OUT/reader-last.pt"; cp /tmp/rec/history.json "$OUT/reader-history.json"
cut -d, -f1,2,7,8,9 /tmp/det/gpu/results.csv | tail -n 8; tail -n 3 "$OUT/detector.log"
grep '^{' "$OUT/reader.log" | cut -c1-400; grep '^step' "$OUT/reader.log" | tail -n 2
