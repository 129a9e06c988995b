"""Per-row speed ratios of a peer-benchmark result: each peer row's time over ringlib's time
for the same (heads, head_dim, n) and the same mixing where the peer's function is LongNet's
(> 1: ringlib is faster).

    python benchmarks/peer_ratios.py peer_bench.json >> benchmarks/results/peers_h100.md
"""

from __future__ import annotations

import json
import sys


def ratios(rows: list[dict]) -> list[str]:
    def shape(r):
        return r.get("h"), r.get("d"), r.get("n")

    ours = {}
    for r in rows:
        if r.get("worker") == "ringlib" and r.get("status") in (None, "ok"):
            ours.setdefault(shape(r), []).append(r)
    lines = ["| heads x dim | n | peer row | ringlib row | fwd: peer ms / ringlib ms | fwd+bwd: peer / ringlib |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("worker") == "ringlib" or r.get("status") not in (None, "ok"):
            continue
        mine = ours.get(shape(r), [])
        # the same mixing where the names say so, else ringlib's fastest row
        same = [m for m in mine if any(x in str(r.get("case", "")) + str(r.get("impl", ""))
                                       for x in (str(m.get("case")),))] or mine
        if not same:
            continue
        best = min(same, key=lambda m: m.get("fwd_ms") or float("inf"))

        def ratio(key, peer=r, best=best):
            a, b = peer.get(key), best.get(key)
            return f"{a / b:.2f}" if a and b else "-"

        lines.append(f"| {r.get('h')}x{r.get('d')} | {r.get('n')} | {r.get('case')} / {r.get('impl')} | "
                     f"{best.get('case')} / {best.get('impl')} | {ratio('fwd_ms')} | {ratio('fwdbwd_ms')} |")
    return lines


def main() -> None:
    with open(sys.argv[1]) as fh:
        rows = json.load(fh)["rows"]
    print("\n".join(ratios(rows)))


if __name__ == "__main__":
    main()
