#!/usr/bin/env bash
# The small CPU variants (a few minutes on 2 cores): bash benchmarks/run_cpu.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
python "$HERE/attention.py" --device cpu --lengths 2048,4096 --segments 512,1024,2048 --iters 3
(cd "$HERE" && python modules.py --device cpu --lengths 2048 --segments 512,1024,2048 --iters 2)
python "$HERE/blocksparse.py" memory --lengths 2048,4096,8192
python "$HERE/ring_memory.py" --seq 4096 --worlds 1 2
python "$HERE/codemod_throughput.py" --files 60 --repeats 1
