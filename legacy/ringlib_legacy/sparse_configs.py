"""Block-sparse config objects as data, for ``ringlib migrate`` (plain keyword rows).

* how an old ``SparsePatternConfig`` becomes a ``ringlib.BlockSparse`` value (one row per
  ``pattern_type``), and which old constructors/factories take one;
* the presets of ``get_block_sparse_preset`` as config values.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlib_legacy.schema import REQUIRED, Arg, Param


@dataclass(frozen=True)
class ConfigLayout:
    """One value of a config's ``pattern_type`` field: the named ``ringlib.BlockSparse``
    layout it builds, and the layout keywords taken from the config's fields."""

    config: str  # key of the config entry
    value: str  # the pattern_type value
    layout: str  # name of the ringlib.blocksparse layout
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True)
class ConfigConsumer:
    """An old constructor or factory that builds block-sparse attention from a config.

    ``params`` is its full signature (for binding the user's arguments); ``config_param``
    receives the config object; the canonical code is ``target(<pattern>)`` where the
    pattern is ``ringlib.BlockSparse(layout, block_size=..., <pattern_args>)``.
    ``requires``: literal values some parameters must have for this route (else: by hand).
    ``build_config``: parameters that, without a config, build one (field <- parameter).
    """

    key: str
    config_param: str
    params: tuple[Param, ...]
    target: str = "ringlib.DilatedAttention"
    pattern_args: tuple[Arg, ...] = (Arg("normalization", value="'per_block_sum'"),)
    requires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    build_config: tuple[tuple[str, str, str], ...] = ()  # (field, parameter, source if None)
    reason: str = ""  # shown as "check the uses" note


@dataclass(frozen=True)
class Preset:
    """A named preset of ``get_block_sparse_preset``: its config fields (Python source)."""

    name: str
    config: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NotExact:
    """An entry whose canonical rewrite does not build what the shim builds."""

    key: str
    reason: str


def _p(name: str, default: object = REQUIRED, role: str = "map", note: str = "",
       kind: str = "positional_or_keyword") -> Param:
    return Param(name, default, role, kind, note)  # type: ignore[arg-type]


_QKV = ("the old forward took return_attention_weights and returned (out, info) with it; the canonical "
        "forward is forward(q, k, v, *, is_causal)")
_VALIDATED = "validated only, never changed a pattern"

SPARSE_CONFIG_PARAMS: tuple[Param, ...] = (
    _p("pattern_type", "local_window"), _p("block_size", 64),
    _p("sparsity_ratio", 0.1, "ignored", _VALIDATED), _p("window_size", 256), _p("global_tokens", 1),
    _p("dilation_rates", None),
)

CONFIG_LAYOUTS: tuple[ConfigLayout, ...] = (
    ConfigLayout(config="SparsePatternConfig", value="local_window", layout="local_window",
                 args=(Arg("window_size", source="window_size"),)),
    ConfigLayout(config="SparsePatternConfig", value="dilated_sparse", layout="dilated_sparse",
                 args=(Arg("dilation_rates", source="dilation_rates", omit_if_default=False),)),
    ConfigLayout(config="SparsePatternConfig", value="global_local", layout="global_local",
                 args=(Arg("global_blocks", source="global_tokens"), Arg("window_size", source="window_size"))),
)

#: keyword arguments the old block-sparse constructor read from ``**kwargs``
_BSR_KWARGS = (
    _p("sparsity_config", None, "unsupported", "overrides sparse_config", kind="keyword_only"),
    _p("sparsity_ratio", None, "ignored", _VALIDATED, kind="keyword_only"),
    _p("dropout", 0.0, "ignored", "validated, never applied", kind="keyword_only"),
    *(_p(n, None, "ignored", kind="keyword_only") for n in (
        "ring_size", "use_gradient_checkpointing", "enable_memory_pool", "device", "dtype")),
    _p("kwargs", role="ignored", kind="var_keyword", note="the old class ignored unknown keywords"),
)
_LISTS = (_p("segment_lengths", role="ignored", note="validated only"),
          _p("dilation_rates", role="ignored", note="validated only"))

CONFIG_CONSUMERS: tuple[ConfigConsumer, ...] = (
    ConfigConsumer(key="BlockSparseRingDilatedAttention", config_param="sparse_config",
                   params=(*_LISTS, _p("sparse_config", None), _p("enable_batched_ops", True, "ignored"),
                           _p("pattern_cache_size", 100, "ignored"), *_BSR_KWARGS), reason=_QKV),
    ConfigConsumer(key="BlockSparseRingDilatedAttentionHilbertPostPattern", config_param="sparse_config",
                   params=(*_LISTS, _p("sparse_config"), _p("use_post_pattern_optimization", True, "ignored"),
                           _p("cache_orderings", True, "ignored"), *_BSR_KWARGS),
                   pattern_args=(Arg("normalization", value="'per_block_sum'"),
                                 Arg("partial_tail", value="'zero'")), reason=_QKV),
    ConfigConsumer(key="create_block_sparse_attention", config_param="sparse_config",
                   params=(_p("variant", "auto"), _p("segment_lengths", None, "ignored", "validated only"),
                           _p("dilation_rates", None, "ignored", "validated only"), _p("sparse_config", None),
                           _p("sparsity_ratio", None, "ignored", _VALIDATED), _p("block_size", None),
                           _p("adaptive_config", None, "unsupported", "selects the adaptive variant"),
                           _p("distributed_config", None, "unsupported", "selects the distributed variant"),
                           _p("embed_dim", None, "unsupported", "selects the multihead variant"),
                           _p("num_heads", None, "unsupported", "selects the multihead variant"),
                           *_BSR_KWARGS[:-1], _BSR_KWARGS[-1]),
                   requires=(("variant", ("'auto'", "'base'")),),
                   build_config=(("block_size", "block_size", "64"),), reason=_QKV),
)

PRESETS: tuple[Preset, ...] = (
    Preset("local", (("pattern_type", "'local_window'"), ("sparsity_ratio", "0.05"), ("window_size", "256"),
                     ("block_size", "64"))),
    Preset("dilated", (("pattern_type", "'dilated_sparse'"), ("sparsity_ratio", "0.1"),
                       ("dilation_rates", "[1, 2, 4, 8]"), ("block_size", "64"))),
    Preset("global_local", (("pattern_type", "'global_local'"), ("sparsity_ratio", "0.1"), ("global_tokens", "64"),
                            ("window_size", "256"), ("block_size", "64"))),
    Preset("ultra_sparse", (("pattern_type", "'dilated_sparse'"), ("sparsity_ratio", "0.01"),
                            ("block_size", "128"))),
)
#: ``get_block_sparse_preset(name, **overrides)``: overrides that do not change the result
PRESET_PARAMS: tuple[Param, ...] = (_p("preset_name"),
                                    _p("segment_lengths", None, "ignored", "validated only", "keyword_only"),
                                    _p("dilation_rates", None, "ignored", "validated only", "keyword_only"),
                                    *_BSR_KWARGS)

