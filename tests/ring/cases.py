"""Cases the spawned ranks run (imported by ``worker.py``). Shards have ``L = 16`` rows unless
said otherwise, so segment lengths 8 / 16 / 32 are shorter than / equal to / longer than a
shard."""

from __future__ import annotations

import torch

import ringlib
from ringlib import compat

L = 16


def _random_layout(nb, heads, counts=False):
    """A per-head layout with some empty rows; multiplicities 0..2 with ``counts``."""
    g = torch.Generator().manual_seed(nb)
    layout = torch.randint(0, 3 if counts else 2, (heads, nb, nb), generator=g)
    layout[:, 1] = 0  # an empty row: outputs 0
    return layout if counts else layout.bool()


def _exact(world):
    n = world * L
    dilated = ringlib.Dilated([8, 16, 32], [1, 2, 4])
    groups = ringlib.Dilated([8, 16, 32], [1, 2, 4], mixing="head_groups")
    cases = [
        dict(label="dense", pattern=ringlib.Dense(), n=n, heads=3, public=True),
        dict(label="dense causal", pattern=ringlib.Dense(), n=n, heads=3, causal=True),
        dict(label="dense causal zigzag", pattern=ringlib.Dense(), n=n, heads=3, causal=True, layout="zigzag"),
        dict(label="dense zigzag", pattern=ringlib.Dense(), n=n, heads=2, layout="zigzag"),
        dict(label="dilated lse", pattern=dilated, n=n, heads=5, public=True),
        dict(label="dilated lse causal", pattern=dilated, n=n, heads=5, causal=True),
        dict(label="dilated head_groups causal", pattern=groups, n=n, heads=5, causal=True),
        dict(label="dilated head_groups", pattern=groups, n=n, heads=4),
        dict(label="dilated segment >= n", pattern=ringlib.Dilated([8, 4 * n], [2, 4]), n=n, heads=4, causal=True),
        # spanning families nested in each other (rate 4 rows inside rate 2 rows inside whole
        # shards): rows another family already brings are not sent again
        dict(label="dilated nested spanning", pattern=ringlib.Dilated([L, 2 * L, n], [1, 2, 4]), n=n, heads=4),
        dict(label="dilated nested spanning causal", pattern=ringlib.Dilated([L, 2 * L, n], [1, 2, 4]), n=n,
             heads=4, causal=True),
        dict(label="dilated hilbert local", pattern=ringlib.Dilated([8, 16], [1, 2]), n=n, heads=3, causal=True,
             ordering="hilbert"),
        dict(label="dilated zigzag causal", pattern=ringlib.Dilated([8, 4 * n], [1, 2]), n=n, heads=2, causal=True,
             layout="zigzag"),
        dict(label="dilated straddling (masked)", pattern=ringlib.Dilated([12, 24], [1, 2]), n=n, heads=3,
             causal=True),
        dict(label="dilated snake spanning (masked)", pattern=ringlib.Dilated([32, 4 * n], [1, 2]), n=n, heads=2,
             causal=True, ordering=lambda m: list(reversed(range(m)))),
        dict(label="regions snake", pattern=compat.Regions([16, 32, 8], [2, 4, 1]), n=n, heads=2, causal=True,
             ordering="snake"),
        dict(label="first segment", pattern=compat.FirstSegment([16, 32], [1, 2]), n=n, heads=2, causal=True),
        dict(label="strided keys curve_b", pattern=compat.StridedKeys([16, 32], [2, 4]), n=n, heads=4,
             causal=True, ordering=compat.curve_b),
        dict(label="reference backend", pattern=dilated, n=n, heads=3, causal=True, backend="reference"),
        dict(label="dense causal float32", pattern=ringlib.Dense(), n=n, heads=2, causal=True,
             dtype=torch.float32, d=16),
        dict(label="dilated float32", pattern=dilated, n=n, heads=4, dtype=torch.float32, d=16),
        dict(label="block sparse softmax", pattern=ringlib.BlockSparse("local_window", block_size=4, window_size=12),
             n=n, heads=3, causal=True),
        dict(label="block sparse per_block_sum", n=n, heads=3, causal=True,
             pattern=ringlib.BlockSparse("dilated", block_size=4, normalization="per_block_sum",
                                         dilation_rates=[1, 2, 2])),
        dict(label="block sparse per-head zigzag", n=n, heads=2, causal=True, layout="zigzag",
             pattern=ringlib.BlockSparse(_random_layout(world * L // 4, 2), block_size=4)),
        dict(label="block sparse per-head sum", n=n, heads=2,
             pattern=ringlib.BlockSparse(_random_layout(world * L // 4, 2, counts=True), block_size=4,
                                         normalization="per_block_sum")),
        # shards of 256 rows: the kernels run in query (x key) tiles (MIN_TILE = 128)
        dict(label="dense causal tiled", pattern=ringlib.Dense(), n=world * 256, heads=1, causal=True, batch=1, d=4),
        dict(label="dense tiled", pattern=ringlib.Dense(), n=world * 256, heads=1, batch=1, d=4),
        dict(label="block sparse tiled", pattern=ringlib.BlockSparse("local_window", block_size=32, window_size=96),
             n=world * 256, heads=2, causal=True, batch=1, d=4),
        dict(kind="gather_roundtrip", label="gather zigzag", n=n, layout="zigzag"),
        dict(kind="gather_roundtrip", label="gather contiguous", n=n, layout="contiguous"),
    ]
    return cases


def _dropout(world):
    n = world * L
    dilated = ringlib.Dilated([8, 16, 32], [1, 2, 4])
    cases = [
        dict(label="dense", pattern=ringlib.Dense(), n=n, heads=2, seed=3),
        dict(label="dense causal zigzag", pattern=ringlib.Dense(), n=n, heads=2, causal=True, layout="zigzag",
             seed=2**40 + 5),
        dict(label="dilated lse causal, drawn seed", pattern=dilated, n=n, heads=3, causal=True, seed=None),
        dict(label="dilated head_groups", pattern=ringlib.Dilated([8, 16, 32], [1, 2, 4], mixing="head_groups"),
             n=n, heads=3, seed=7),
        dict(label="block sparse", pattern=ringlib.BlockSparse("local_window", block_size=4, window_size=12),
             n=n, heads=2, causal=True, seed=9),
    ]
    return [dict(kind="dropout", p=0.3, **c) for c in cases]


def _compiled(world):
    n = world * L
    patterns = [ringlib.Dense(), ringlib.Dilated([8, 16, 32], [1, 2, 4], mixing="head_groups"),
                ringlib.BlockSparse("local_window", block_size=4, window_size=12)]
    return [dict(kind="compiled", label="compiled model", n=n, patterns=patterns)]


def _failures(world):
    return [dict(kind="mismatch", label=f"mismatched {how}", how=how)
            for how in ("length", "heads", "dtype", "pattern", "dropout_seed")]


def _mid_ring(world):
    return [dict(kind="raise_mid_ring", label="raise mid ring", linger_s=5.0)]


def _faults_before(world):
    """Faults a group survives (a barrier follows each), then a rank that raises before the call."""
    cases = [dict(how="bad input"), dict(how="stall before", sleep_s=3.5), dict(how="different orderings"),
             dict(how="equal orderings"), dict(how="none"), dict(how="raise before")]
    return [dict(kind="fault", label=c["how"], barrier=c["how"] != "raise before", **c) for c in cases]


def _hang_in_ring(world):
    return [dict(kind="fault", label="hang in ring", how="hang in ring", sleep_s=3.5)]


def _die_in_ring(world):
    return [dict(kind="fault", label="die in ring", how="die in ring")]


CASES = {"exact": _exact, "compiled": _compiled, "dropout": _dropout, "failures": _failures, "mid_ring": _mid_ring, "faults before": _faults_before,
         "hang in ring": _hang_in_ring, "die in ring": _die_in_ring}
