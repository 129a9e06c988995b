#!/usr/bin/env bash
# Every GPU measurement of benchmarks/results in one command (one H100: about 15 minutes):
#   bash benchmarks/run_gpu.sh OUTDIR
set -euo pipefail
OUT="${1:-benchmarks/results/rerun}"
mkdir -p "$OUT"
HERE="$(cd "$(dirname "$0")" && pwd)"
python "$HERE/gpu_core_check.py"                                  | tee "$OUT/core_check.md"
python "$HERE/attention.py" --device cuda --lengths 2048,8192,32768,131072 --json "$OUT/attention.json" \
                                                                  | tee "$OUT/attention.md"
(cd "$HERE" && python kernel_survey.py)                           | tee "$OUT/kernel_survey.md"
(cd "$HERE" && python profiles.py --device cuda --lengths 32768,131072) | tee "$OUT/profiles.md"
(cd "$HERE" && python modules.py --device cuda)                   | tee "$OUT/modules.md"
python "$HERE/blocksparse.py" speed --out "$OUT/blocksparse"
python "$HERE/gpu_blocksparse_check.py" --quick                   | tee "$OUT/blocksparse_check.md"
python "$HERE/gpu_parity.py" "$OUT"
NCCL_NVLS_ENABLE=0 torchrun --nproc-per-node "$(python -c 'import torch; print(torch.cuda.device_count())')" \
    "$HERE/../examples/ring_torchrun.py" --dtype bfloat16 --causal  | tee "$OUT/ring.txt"
