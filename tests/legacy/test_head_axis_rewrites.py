"""The old classes that attended across heads (HEAD_AXIS) or chose their segments at run time,
migrated by the codemod: the written code runs, computes what the shim computes bit for bit and
what 0.2 computed (its recordings, within the flash-attn rule); the segment choice is 0.2's."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from ringlib.compat import FitSegments
from ringlib.testing import assert_close_to_reference
from ringlib_codemods import LegacyIndex, migrate_code

RECORDINGS = Path(__file__).parent / "recordings"
INFRA = torch.load(RECORDINGS / "infra.pt", weights_only=False)
#: stateless recordings of 0.2 whose sites the codemod now rewrites
STEMS = ("ImprovedDilatedAttention", "ImprovedDilatedAttention_causal", "ImprovedDilatedAttention_three_pairs",
         "DynamicDilatedAttention", "DynamicDilatedAttention_standard")


def _fitted(lengths: list[int], n: int) -> list[int]:
    """The old module's step after the selector: a last length dividing ``n``."""
    lengths = list(lengths)
    if n % max(lengths):
        lengths[-1] = next(d for d in range(max(lengths), 0, -1) if n % d == 0)
    return lengths


def test_fit_segments_is_the_recorded_choice_of_0_2():
    for n, (lengths, rates) in INFRA["segments_cpu"].items():  # no device memory
        assert FitSegments().rule(n, 2, 8, 64, 4, free_bytes=0, block=32) == (_fitted(lengths, n), rates)
    for (n, b), (lengths, rates) in INFRA["segments_gpu"].items():  # recorded on a 30 GB-free A100 (block 128)
        assert FitSegments().rule(n, b, 8, 64, 4, free_bytes=int(30e9), block=128) == (_fitted(lengths, n), rates)


def _migrated(stem: str):
    g = torch.load(RECORDINGS / "models" / f"{stem}.pt", weights_only=False)
    module, _, name = g["import_path"].rpartition(".")
    args = ", ".join([*map(repr, g["args"]), *(f"{k}={v!r}" for k, v in g["kwargs"].items())])
    result = migrate_code(f"from {module} import {name}\n\nold = {name}({args})\n", LegacyIndex.load(), path="/p/m.py")
    return g, f"old = {name}({args})", result


@pytest.mark.parametrize("stem", STEMS)
def test_migrated_site_computes_the_shims_and_0_2s_numbers(stem):
    g, old_call, result = _migrated(stem)
    assert result.changed and "ringlib-migrate" not in result.code, result.code
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(result.code.replace("old = ", "new = "), "m.py", "exec"), namespace)
        exec(f"from {g['import_path'].rpartition('.')[0]} import {g['import_path'].rpartition('.')[2]}\n{old_call}",
             namespace)
    new, shim = namespace["new"].eval(), namespace["old"].eval()
    inputs = [t.float() for t in g["inputs"].values()]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, ref = new(*inputs, **g["forward_kwargs"]), shim(*inputs, **g["forward_kwargs"])
        exact = new(*(t.double() for t in inputs), **g["forward_kwargs"])
    assert torch.equal(got, ref), f"{result.code}: {(got - ref).abs().max().item():.3g} from the shim"
    assert_close_to_reference(g["output"], got, exact, what=f"0.2 output vs {result.code.splitlines()[-1]}")
