"""Plot the recorded H100 results: effective TFLOP/s vs sequence length.

    python benchmarks/plot_results.py   # writes benchmarks/results/h100_tflops.png (needs matplotlib)
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    dilated = json.loads((RESULTS / "attention_h100.json").read_text())["rows"]
    sparse = json.loads((RESULTS / "blocksparse_h100.json").read_text())
    sparse = sparse["rows"] if isinstance(sparse, dict) else sparse
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, key, title in ((axes[0], "fwd", "forward"), (axes[1], "fwd+bwd", "forward + backward")):
        for case in ("dense sdpa", "dense sdpa (flash)", "dilated lse", "dilated head_groups"):
            rows = [r for r in dilated if r["case"] == case]
            ax.plot([r["n"] for r in rows], [r[f"{key}_tflops"] for r in rows], marker="o",
                    label="dense sdpa (default: cuDNN)" if case == "dense sdpa" else case)
        skey = "fwd_tflops" if key == "fwd" else "fwd_bwd_tflops"
        for case in ("flex softmax 90%", "flex softmax 98%"):
            rows = [r for r in sparse if r["case"] == case]
            ax.plot([r["n"] for r in rows], [r[skey] for r in rows], marker="s", linestyle="--",
                    label=f"block-sparse {case}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length")
        ax.set_title(f"H100 bf16, {title}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("effective TFLOP/s")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "h100_tflops.png", dpi=110)


if __name__ == "__main__":
    main()
