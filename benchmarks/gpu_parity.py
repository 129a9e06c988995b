"""The GPU parity run whose table is committed as benchmarks/results/parity_gpu.md.

Runs ``ringlib parity`` on CUDA in float32, bfloat16 and float16 (sdpa and flex backends
against the float64 reference, forward and backward, every legacy name and canonical
pattern) and writes the JSON and the markdown table (device, torch version, date, command)
into OUT (default: benchmarks/results), plus JUnit XML. Exits 1 on any failure.

    python benchmarks/gpu_parity.py [OUT]
"""

from __future__ import annotations

import json
import os
import sys

# Before torch touches cuBLAS: the bitwise check runs shim and rewrite under strict
# deterministic kernels (torch.use_deterministic_algorithms(True)), which needs it.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402

import ringlib_parity as parity  # noqa: E402

DTYPES = ["float32", "bfloat16", "float16"]
COMMAND = "ringlib parity --device cuda --dtype float32,bfloat16,float16"


def main(out_dir: str) -> int:
    if not torch.cuda.is_available():
        print("needs a CUDA device", file=sys.stderr)
        return 2
    os.makedirs(out_dir, exist_ok=True)
    report = parity.check(device="cuda", dtypes=DTYPES,
                          on_result=lambda r: r.failed and print(f"FAIL {r.name} {r.check} {r.backend} {r.dtype} "
                                                                 f"{r.quantity} {r.case}: {r.error} > {r.bound} {r.message}"))
    report.meta["gpu"] = torch.cuda.get_device_name()
    report.meta["device"] = f"{torch.cuda.get_device_name()} (cuda {torch.version.cuda})"
    report.write_json(os.path.join(out_dir, "parity_gpu.json"))
    report.write_junit(os.path.join(out_dir, "parity_gpu.xml"))
    with open(os.path.join(out_dir, "parity_gpu.md"), "w", encoding="utf-8") as f:
        f.write(report.to_markdown(COMMAND))
    report.render()
    print(json.dumps({k: report.meta[k] for k in ("device", "torch", "date", "seconds")}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results"))
