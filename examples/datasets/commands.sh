#!/usr/bin/env bash
# The srop-onnx commands of docs/datasets.md, over the sets that digits_dataset.py build wrote to DIR.
#   bash examples/datasets/commands.sh runs/data
set -uo pipefail
DIR=${1:-runs/data}
cd "$DIR" || exit 2
for s in benchmark same custom planted; do
  srop-onnx analyze digits.onnx "$s" --labels folders --json "$s.json" -q || exit $?
done
srop-onnx classes benchmark.json
srop-onnx compare benchmark.json custom.json --by class --junit custom.xml; echo "exit code: $?"
srop-onnx compare benchmark.json same.json --by class; echo "exit code: $?"
srop-onnx outliers planted.json --top 10 --csv outliers.csv
srop-onnx plot benchmark.json --kind kde --by class -o classes_kde.png
srop-onnx plot benchmark.json custom.json --kind kde --by class --layers 'conv1|conv2|pool1|conv5' -o custom_kde.png
srop-onnx plot benchmark.json --kind classes -o classes.png
srop-onnx report benchmark.json custom.json -o report.html
