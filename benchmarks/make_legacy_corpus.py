"""Build a realistic legacy project (100+ files) written against dilated_attention_pytorch 0.2.

It imitates the old package's own repository: tests (45 %: ring classes 25 %, block-sparse 20 %),
benchmarks (20 %), scripts (15 %) and model code (10 %: DilatedAttention, MultiheadDilatedAttention,
ImprovedDilatedAttention, LongNet as in the old README) that import the old classes through every import form and
use them many times each, and a smaller body (10 %) of ordinary code that never mentions the
old names. The block-sparse files follow the old README, docstrings and factory module: a
``SparsePatternConfig`` built then passed (or inline), ``create_block_sparse_attention``,
presets, dicts of classes, ``functools.partial``, ``isinstance``, flat module paths and inline
comments on arguments the rewrite drops. Used
by ``codemod_throughput.py``; deterministic for a given seed.

    python benchmarks/make_legacy_corpus.py OUT_DIR [--files 120] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import textwrap
from pathlib import Path

P = "dilated_attention_pytorch"
X_CLASSES = [  # (import path, class) of x-input classes with the (E, H, segments, rates) signature
    (f"{P}.ring_dilated_attention_correct", "RingDilatedAttentionCorrect"),
    (f"{P}.ring", "RingDilatedAttentionCorrect"),
    (f"{P}.ring", "RingDilatedAttention"),
    (f"{P}.ring_dilated_attention_v3", "RingDilatedAttentionV3"),
    (f"{P}.ring.base", "RingDilatedAttentionSDPA"),
    (f"{P}.ring_dilated_attention_hilbert_proper", "RingDilatedAttentionHilbertProper"),
    (f"{P}", "RingDilatedAttentionHilbertGPUOptimized"),
    (f"{P}.ring.hilbert", "RingDilatedAttentionHilbertOptimizedCorrect"),
    (f"{P}.ring_dilated_attention_memory_efficient", "RingDilatedAttentionMemoryEfficient"),
]
MANUAL = [  # names whose migration needs a human
    (f"{P}.ring", "RingAttentionWrapper"),
    (f"{P}.ring_distributed_dilated_attention", "RingDistributedDilatedAttention"),
    (f"{P}.block_sparse_ring_dilated_attention", "BlockSparseRingDilatedAttention"),
    (f"{P}.ring_attention_autograd", "ring_attention"),
]

HEADER = '''"""{doc}"""

import math
import time

import torch
'''


def _segments(rng: random.Random) -> tuple[list[int], list[int]]:
    n = rng.choice([1, 2, 3])
    base = rng.choice([64, 128, 256])
    return [base * 2**i for i in range(n)], [2**i for i in range(n)]


def _import(rng: random.Random, module: str, name: str) -> tuple[str, str]:
    """(import statement, expression naming the class) in one of the import forms."""
    form = rng.choice(["from", "from", "from_as", "module_as", "dotted"])
    if form == "from":
        return f"from {module} import {name}", name
    if form == "from_as":
        return f"from {module} import {name} as Attn", "Attn"
    if form == "module_as" and "." in module:
        return f"import {module} as legacy", f"legacy.{name}"
    return f"import {module}", f"{module}.{name}"


def legacy_test(rng: random.Random, i: int) -> str:
    module, name = rng.choice(X_CLASSES)
    imp, ref = _import(rng, module, name)
    segs, rates = _segments(rng)
    try_block = rng.random() < 0.3
    if try_block:
        imp = textwrap.indent(imp, "    ")
        imports = f"try:\n{imp}\n    HAS_LEGACY = True\nexcept ImportError:\n    HAS_LEGACY = False\n"
    else:
        imports = imp + "\nHAS_LEGACY = True\n"
    body = f'''
import pytest

{imports}

SEGMENTS = {segs}
RATES = {rates}


@pytest.fixture
def device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not HAS_LEGACY, reason="legacy package missing")
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("seq_len", [{max(segs)}, {2 * max(segs)}])
def test_forward_shape_{i}(batch, seq_len, device):
    torch.manual_seed({i})
    module = {ref}(embed_dim=64, num_heads=4, segment_lengths=SEGMENTS, dilation_rates=RATES)
    x = torch.randn(batch, seq_len, 64)
    out = module(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


def test_deterministic_in_eval_{i}():
    module = {ref}(64, 4, SEGMENTS, RATES, dropout=0.1).eval()
    x = torch.randn(1, {max(segs)}, 64)
    torch.testing.assert_close(module(x), module(x))


def test_gradients_{i}():
    module = {ref}(64, 4, SEGMENTS, RATES)
    x = torch.randn(1, {max(segs)}, 64, requires_grad=True)
    module(x).sum().backward()
    assert x.grad is not None
'''
    for j in range(rng.randint(3, 8)):  # the old tests construct the class in most tests
        body += f'''

def test_config_{i}_{j}():
    module = {ref}(64, 4, SEGMENTS, RATES, dropout=0.0)
    assert module(torch.randn(1, {max(segs)}, 64)).shape[-1] == 64
'''
    if rng.random() < 0.25:
        m2, n2 = rng.choice(MANUAL)
        body += f'''

def test_manual_{i}():
    from {m2} import {n2}

    assert {n2} is not None
'''
    return HEADER.format(doc=f"Tests for {name} (generated legacy test {i}).") + body


def legacy_benchmark(rng: random.Random, i: int) -> str:
    names = rng.sample(X_CLASSES, 3)
    imports = "\n".join(f"from {m} import {n}" for m, n in names)
    rows = ",\n    ".join(f'("{n}", {n})' for _, n in names)
    segs, rates = _segments(rng)
    return HEADER.format(doc=f"Benchmark {i}: forward time of three legacy classes.") + f'''
import argparse

{imports}

CLASSES = [
    {rows},
]


def bench(cls, seq_len, repeats=10, device="cpu"):
    module = cls({rng.choice([256, 512, 768])}, 8, {segs}, {rates}).to(device)
    x = torch.randn(1, seq_len, module.embed_dim, device=device)
    for _ in range(2):
        module(x)
    start = time.perf_counter()
    for _ in range(repeats):
        module(x)
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq-len", type=int, default={4 * max(segs)})
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for label, cls in CLASSES:
        seconds = bench(cls, args.seq_len, device=args.device)
        print(f"{{label:50s}} {{seconds * 1e3:8.2f}} ms  {{math.log2(args.seq_len):.0f}}")


if __name__ == "__main__":
    main()
'''


def legacy_script(rng: random.Random, i: int) -> str:
    module, name = rng.choice(X_CLASSES)
    segs, rates = _segments(rng)
    extra = ""
    if rng.random() < 0.4:
        extra = f'''

CONFIG = {{"_target_": "{module}.{name}", "embed_dim": 512, "num_heads": 8}}
'''
    return HEADER.format(doc=f"Script {i}: train a toy model with {name}.") + f'''
import {P} as dap
from {module} import {name}
{extra}

class Block(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm = torch.nn.LayerNorm(dim)
        self.attn = {name}(dim, heads, {segs}, {rates}, dropout=0.0)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(), torch.nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm(x))
        return x + self.mlp(x)


def train(steps=10):
    model = torch.nn.Sequential(*[Block(256, 8) for _ in range(2)])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(steps):
        x = torch.randn(2, {4 * max(segs)}, 256)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(step, loss.item(), dap.__name__)


if __name__ == "__main__":
    train()
'''


def plain_module(rng: random.Random, i: int) -> str:
    """Ordinary project code that never mentions the old package."""
    funcs = []
    for j in range(rng.randint(6, 14)):
        funcs.append(f'''

def transform_{i}_{j}(x: torch.Tensor, scale: float = {rng.random():.3f}) -> torch.Tensor:
    """Step {j} of the preprocessing pipeline."""
    y = x * scale + {rng.randint(0, 9)}
    if y.dim() > 2:
        y = y.flatten(0, -2)
    mean = y.mean(dim=0, keepdim=True)
    std = y.std(dim=0, keepdim=True).clamp_min(1e-6)
    return (y - mean) / std


class Stage{i}_{j}(torch.nn.Module):
    def __init__(self, dim: int = {rng.choice([64, 128, 256])}) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(dim, dim)
        self.gate = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sigmoid(self.gate) * self.proj(x)
''')
    return HEADER.format(doc=f"Utilities {i} (no attention code).") + "".join(funcs)


SPARSE_MODULES = [f"{P}", f"{P}.sparse", f"{P}.sparse.block_sparse_ring_dilated_attention",
                  f"{P}.block_sparse_ring_dilated_attention"]
PATTERNS = [  # (pattern_type, extra config fields)
    ("local_window", "window_size={w}"), ("dilated_sparse", "dilation_rates=[1, 2, 4]"),
    ("global_local", "global_tokens=1, window_size={w}"), ("local_window", ""),
]


def legacy_sparse_test(rng: random.Random, i: int) -> str:
    """A block-sparse test module: configs, factory, presets, a dict of classes, partial."""
    module = rng.choice(SPARSE_MODULES)
    factory = rng.choice([f"{P}", f"{P}.sparse.block_sparse_factory", f"{P}.block_sparse_factory"])
    bs = rng.choice([32, 64, 128])
    body = [HEADER.format(doc=f"Block-sparse tests {i}."), "import functools", "import pytest", "",
            f"from {module} import BlockSparseRingDilatedAttention, SparsePatternConfig",
            f"from {factory} import create_block_sparse_attention, get_block_sparse_preset",
            f"from {P}.ring import RingDilatedAttentionCorrect, RingDilatedAttentionHilbertCore", "",
            "SEGMENTS = [1024, 2048]", "RATES = [1, 2]", ""]
    for j in range(rng.randint(3, 6)):
        kind, extra = rng.choice(PATTERNS)
        extra = extra.format(w=bs * rng.choice([2, 4]))
        fields = f'pattern_type="{kind}", sparsity_ratio={rng.choice([0.1, 0.25, 0.05])}, block_size={bs}'
        fields += f", {extra}" if extra else ""
        if rng.random() < 0.6:
            body += [f"def test_pattern_{i}_{j}():", f"    cfg = SparsePatternConfig({fields})",
                     "    attn = BlockSparseRingDilatedAttention(SEGMENTS, RATES, sparse_config=cfg)",
                     f"    q = torch.randn(1, {bs * 8}, 4, 32)", "    assert attn(q, q, q).shape == q.shape", ""]
        else:
            body += [f"def test_inline_{i}_{j}():", "    attn = BlockSparseRingDilatedAttention(",
                     "        segment_lengths=SEGMENTS,", "        dilation_rates=RATES,",
                     f"        sparse_config=SparsePatternConfig({fields}),",
                     "        enable_batched_ops=False,  # slower on small inputs", "    )",
                     f"    q = torch.randn(2, {bs * 4}, 4, 32)", "    assert attn(q, q, q).shape == q.shape", ""]
    body += [f"def test_factory_{i}():",
             f'    attn = create_block_sparse_attention("base", segment_lengths=SEGMENTS, dilation_rates=RATES,'
             f" sparsity_ratio=0.1, block_size={bs})",
             f'    preset = get_block_sparse_preset("{rng.choice(["local", "dilated", "global_local"])}")',
             "    assert attn is not None and preset is not None", "",
             f"def test_ring_{i}():",
             "    ring = RingDilatedAttentionCorrect(256, 8, SEGMENTS, RATES,",
             "                                       use_hilbert=False,  # Disable Hilbert",
             "                                       )",
             "    core = RingDilatedAttentionHilbertCore(dim=256, heads=8, segment_lengths=SEGMENTS, dilation_rates=RATES)",
             "    assert isinstance(ring, RingDilatedAttentionCorrect) and core is not None", "",
             "CLASSES = {\"correct\": RingDilatedAttentionCorrect, \"sparse\": BlockSparseRingDilatedAttention}",
             "MAKE = functools.partial(RingDilatedAttentionCorrect, 256, 8)", ""]
    return "\n".join(body) + "\n"


def legacy_model(rng: random.Random, i: int) -> str:
    """Model code in the style of the old README: DilatedAttention (most uses), then
    MultiheadDilatedAttention, ImprovedDilatedAttention and LongNet, through the package and
    the flat/base module paths."""
    dil_module = rng.choice([f"{P}", f"{P}.dilated_attention", f"{P}.base"])
    mha_module = rng.choice([f"{P}", f"{P}.multihead_dilated_attention", f"{P}.base"])
    segs, rates = _segments(rng)
    lines = [HEADER.format(doc=f"Model {i}: dilated attention layers in the style of the old README."),
             "from torch import nn", "",
             f"from {dil_module} import DilatedAttention",
             f"from {mha_module} import MultiheadDilatedAttention",
             f"from {P} import ImprovedDilatedAttention, LongNet", "",
             f"SEGMENTS = {segs}", f"RATES = {rates}", ""]
    for j in range(rng.randint(2, 4)):
        lines += [f"def dilated_{i}_{j}(q, k, v):",
                  f"    attn = DilatedAttention(SEGMENTS, RATES, attention_dropout={rng.choice([0.0, 0.1])})",
                  "    return attn(q, k, v, is_causal=False)", ""]
    lines += [f"class Encoder{i}(nn.Module):", "    def __init__(self, dim=512, heads=8):",
              "        super().__init__()",
              "        self.attn = MultiheadDilatedAttention(dim, heads, dilation_rates=RATES, segment_lengths=SEGMENTS)",
              "        self.improved = ImprovedDilatedAttention(SEGMENTS, RATES, dropout=0.0)", "",
              "    def forward(self, x):", "        out, _ = self.attn(x, x, x, is_causal=True)", "        return out", "",
              f"def long_net_{i}():",
              f"    return LongNet(d_model=256, nhead=4, num_encoder_layers=2, num_decoder_layers=2,"
              f" segment_lengths={segs}, dilation_rates={rates})", ""]
    return "\n".join(lines) + "\n"


def build(out: Path, files: int = 120, seed: int = 0) -> list[Path]:
    """Write the corpus under ``out`` and return the file list."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    plan = (
        [("tests", legacy_test)] * (files * 25 // 100)
        + [("tests", legacy_sparse_test)] * (files * 20 // 100)
        + [("benchmarks", legacy_benchmark)] * (files * 20 // 100)
        + [("scripts", legacy_script)] * (files * 15 // 100)
        + [("src/models", legacy_model)] * (files * 10 // 100)
    )
    plan += [("src/project", plain_module)] * (files - len(plan))
    written = []
    for i, (folder, make) in enumerate(plan):
        directory = out / folder
        directory.mkdir(parents=True, exist_ok=True)
        prefix = {"tests": "test_", "benchmarks": "benchmark_", "scripts": "run_",
                  "src/models": "model_"}.get(folder, "util_")
        path = directory / f"{prefix}{i:03d}.py"
        path.write_text(make(rng, i))
        written.append(path)
    (out / "src" / "project" / "__init__.py").write_text('"""The project package."""\n')
    written.append(out / "src" / "project" / "__init__.py")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = build(args.out, args.files, args.seed)
    lines = sum(len(p.read_text().splitlines()) for p in files)
    print(f"{len(files)} files, {lines} lines under {args.out}")


if __name__ == "__main__":
    main()
