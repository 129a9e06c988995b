"""Plot a peer-benchmark run: forward and forward+backward milliseconds against n, one panel
pair per heads x head_dim configuration, one line per implementation (log-log; lower is
faster). Several JSON files of one run (e.g. ringlib's worker and the peers' workers run one
after the other on the same GPU) are merged.

    python benchmarks/plot_peers.py OUT.png peer_ringlib.json peer_others.json   # needs matplotlib
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path) as fh:
            data = json.load(fh)
        rows += data["rows"] if isinstance(data, dict) else data
    return [r for r in rows if r.get("fwd_ms")]


def main(out: str, paths: list[str]) -> None:
    rows = load(paths)
    configs = sorted({(r["h"], r["d"]) for r in rows})
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    colors = {impl: plt.get_cmap("tab10")(i % 10) for i, impl in enumerate(impls)}  # one colour per impl
    fig, axes = plt.subplots(len(configs), 2, figsize=(11, 3.6 * len(configs)), squeeze=False)
    for i, (h, d) in enumerate(configs):
        for j, (key, label) in enumerate((("fwd_ms", "forward"), ("fwdbwd_ms", "forward + backward"))):
            ax = axes[i][j]
            for impl in impls:
                pts = sorted((r["n"], r[key]) for r in rows if r["impl"] == impl and (r["h"], r["d"]) == (h, d)
                             and r.get(key))
                if pts:
                    style = "-" if impl.startswith("ringlib") else "--"
                    ax.plot(*zip(*pts), style, marker="o", color=colors[impl], label=impl,
                            linewidth=2.2 if style == "-" else 1.2)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length n")
            ax.set_ylabel("ms (lower is faster)")
            ax.set_title(f"{label}, {h} heads x {d}")
            ax.grid(True, which="both", alpha=0.3)
    handles = [plt.Line2D([], [], color=colors[i], marker="o", linestyle="-" if i.startswith("ringlib") else "--")
               for i in impls]
    fig.legend(handles, impls, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(impls) // 3), 1, 1))
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
