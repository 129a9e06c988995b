#!/usr/bin/env bash
# GPU parity run for benchmarks/results/parity_gpu.md (run by the lead on the H100):
#   bash benchmarks/gpu_parity.sh "$OUT"
# = ringlib parity --device cuda --dtype float32,bfloat16,float16 (every name, sdpa + flex vs the
# float64 reference, forward and backward); writes $OUT/parity_gpu.{md,json,xml}.
set -euo pipefail
OUT="${1:-benchmarks/results}"
python benchmarks/gpu_parity.py "$OUT"
