"""The configuration matrix: which shapes, segment/rate sets, block layouts, causal flags and
orderings each name is checked on, and how old constructor arguments get their values.

Nothing here lists legacy names: a name's variants follow from its registry parameters
(a name that takes ``use_hilbert`` is checked with both orderings, one that takes a sparse
config with every block layout, ...) and from whether its forward takes ``is_causal``.

The CPU matrix is small on purpose (CI runs every name in float32 and float64 within a
few minutes) but still exercises what the definitions make position-dependent: regions
longer than 64 tokens (so the snake ordering changes residue classes), rates 1-3, dilated
regions that do not start at 0, and several blocks per row.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch


@dataclass(frozen=True)
class Shape:
    batch: int
    seq: int
    heads: int
    head_dim: int

    @property
    def embed_dim(self) -> int:
        return self.heads * self.head_dim

    def __str__(self) -> str:
        return f"B={self.batch} L={self.seq} H={self.heads} D={self.head_dim}"


@dataclass(frozen=True)
class Matrix:
    shapes: tuple[Shape, ...]
    segment_sets: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
    block_size: int
    block_layouts: tuple[str, ...]
    causal: tuple[bool, ...] = (False, True)
    orderings: tuple[Any, ...] = (None, "snake", "hilbert")  # for the canonical patterns
    # Names whose block layout is chosen per head from the data (they take ``adaptive_config``)
    # are checked at these shapes (default: ``shapes``). Their per_block_sum reference builds
    # one dense O(n^2) float64 part per (head, kept block pair): at L=1024 with 64-token blocks
    # that is ~1000 parts of 128 MiB each kept for the backward, far beyond one GPU.
    adaptive_shapes: tuple[Shape, ...] | None = None
    # For names whose old class required the sequence to be a multiple of its largest segment
    # (``ringlib_parity.subjects.SUBJECTS``): segment sets that divide every shape's sequence.
    whole_segment_sets: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()


CPU = Matrix(
    shapes=(Shape(2, 128, 4, 16),),
    # regions of 96 tokens with rates 2 and 3: the snake (rows of 10) reverses even-length rows,
    # so it moves tokens between residue classes; FirstSegment keeps 43 of 128 rows at rate 3
    segment_sets=(((96, 64), (2, 1)), ((32, 96), (1, 3))),
    block_size=32,
    block_layouts=("local_window", "dilated_sparse", "global_local"),
    whole_segment_sets=(((32, 128), (1, 2)),),
)

CUDA = Matrix(
    shapes=(Shape(2, 1024, 8, 64),),
    segment_sets=(((256, 512, 1024), (1, 2, 4)), ((128, 384), (1, 3))),
    block_size=64,
    block_layouts=("local_window", "dilated_sparse", "global_local"),
    adaptive_shapes=(Shape(2, 256, 8, 64),),  # 4 blocks a side: ~4 GB of float64 reference
    whole_segment_sets=(((256, 512, 1024), (1, 2, 4)),),
)


def default_matrix(device: str | torch.device) -> Matrix:
    return CUDA if torch.device(device).type == "cuda" else CPU


@dataclass(frozen=True)
class Variant:
    """One point of the matrix for one name."""

    shape: Shape
    causal: bool
    segments: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    use_hilbert: bool | None = None
    layout: str | None = None

    @property
    def label(self) -> str:
        parts = [str(self.shape), f"causal={self.causal}"]
        if self.segments is not None:
            parts.append(f"segments={list(self.segments[0])} rates={list(self.segments[1])}")
        if self.use_hilbert is not None:
            parts.append(f"use_hilbert={self.use_hilbert}")
        if self.layout is not None:
            parts.append(f"layout={self.layout}")
        return " ".join(parts)


# Old parameters whose values come from the block layout axis / the segment axis.
_SPARSE_CONFIG_PARAMS = ("sparse_config", "sparse_pattern_config")
_SEGMENT_PARAMS = ("segment_lengths", "dilation_rates")


def variants(param_names: Sequence[str], supports_causal: bool, matrix: Matrix) -> Iterator[Variant]:
    """The variants a name with these constructor parameters is checked on."""
    names = set(param_names)
    has_layout = any(p in names for p in _SPARSE_CONFIG_PARAMS)
    segment_axis = matrix.segment_sets if (names & set(_SEGMENT_PARAMS)) and not has_layout else (None,)
    if has_layout and names & set(_SEGMENT_PARAMS):
        segment_axis = matrix.segment_sets[:1]
    hilbert_axis = (True, False) if "use_hilbert" in names else (None,)
    layout_axis = matrix.block_layouts if has_layout else (None,)
    causal_axis = matrix.causal if supports_causal else (False,)
    shape_axis = matrix.adaptive_shapes if "adaptive_config" in names and matrix.adaptive_shapes else matrix.shapes
    for shape, segments, use_hilbert, layout, causal in itertools.product(
            shape_axis, segment_axis, hilbert_axis, layout_axis, causal_axis):
        yield Variant(shape, causal, segments, use_hilbert, layout)


#: Vocabulary of the language models' token inputs (``num_tokens``).
VOCABULARY = 61


def constructor_kwargs(param_names: Sequence[str], required: Sequence[str], variant: Variant,
                       matrix: Matrix, configs: dict[str, type], device: torch.device) -> dict[str, Any]:
    """Values for an old constructor's parameters, by parameter name.

    Only parameters the variant sets, or that are required, are passed; the rest keep
    their old defaults (that is what users' code mostly does). ``configs`` holds the old
    config dataclasses (``SparsePatternConfig``, ``AdaptiveConfig``, ``DistributedSparseConfig``)
    of the package being called, so the same kwargs build the shim and the original.
    """
    shape = variant.shape
    bs = matrix.block_size
    segments = variant.segments or matrix.segment_sets[0]
    value_of = {
        "embed_dim": shape.embed_dim,
        "dim": shape.embed_dim,
        "d_model": shape.embed_dim,
        "num_heads": shape.heads,
        "heads": shape.heads,
        "nhead": shape.heads,
        "head_dim": shape.head_dim,
        "segment_lengths": list(segments[0]),
        "dilation_rates": list(segments[1]),
        "dropout": 0.0,
        # the block scorer of the adaptive classes (ImportanceScorer): per-head block summaries in
        "input_dim": shape.head_dim,
        "hidden_dim": 2 * shape.head_dim,
        "num_layers": 2,
        "num_tokens": VOCABULARY,
        # the old models: a small LongNet (the old defaults are the paper's 12 + 12 layers of width 3072)
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "dim_feedforward": 2 * shape.embed_dim,
    }
    if variant.use_hilbert is not None:
        value_of["use_hilbert"] = variant.use_hilbert
    if variant.layout is not None and "SparsePatternConfig" in configs:
        config = configs["SparsePatternConfig"](pattern_type=variant.layout, block_size=bs, window_size=3 * bs)
        for name in _SPARSE_CONFIG_PARAMS:
            value_of[name] = config
    if "AdaptiveConfig" in configs:
        value_of["adaptive_config"] = configs["AdaptiveConfig"](base_sparsity=0.5, hidden_dim=16)
    if "DistributedSparseConfig" in configs:
        value_of["distributed_config"] = configs["DistributedSparseConfig"](block_size=bs)
    value_of["block_size"] = bs
    value_of["device"] = device
    value_of["dtype"] = torch.float32
    always = {"embed_dim", "dim", "d_model", "num_heads", "heads", "nhead", "head_dim", "dropout", "use_hilbert", "device", "dtype", "adaptive_config", "distributed_config",
              "block_size", "segment_lengths", "dilation_rates", "num_encoder_layers", "num_decoder_layers",
              "dim_feedforward", *_SPARSE_CONFIG_PARAMS}
    kwargs = {}
    for name in param_names:
        if name in value_of and (name in required or name in always):
            kwargs[name] = value_of[name]
    missing = [name for name in required if name not in kwargs]
    if missing:
        raise ValueError(f"the parity matrix has no value for required parameter(s) {missing}")
    return kwargs


def config_to_plain(value: Any) -> Any:
    """Config dataclasses as plain data (for the --against subprocess, which rebuilds them
    with the original package's classes)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        fields = {k: (v.value if hasattr(v, "value") and type(v).__module__ != "builtins" and
                      hasattr(type(v), "__members__") else v) for k, v in fields.items()}
        return {"__config__": type(value).__name__, "fields": fields}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).replace("torch.", "")}
    if isinstance(value, (list, tuple)):
        return type(value)(config_to_plain(v) for v in value)
    return value
