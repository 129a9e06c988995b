"""Block-sparse attention: ``BlockSparse`` patterns, named layouts and their backends.

* ``pattern``: the ``BlockSparse`` pattern (validation, reference parts, active pairs);
* ``layouts``: named layout generators reproducing the legacy patterns exactly;
* ``pairs``: active block pairs, the work list of the ``sdpa`` path;
* ``sdpa``: batched active pairs through fused kernels, LSE merge, custom backward;
* ``flex``: compiled FlexAttention with a cached BlockMask (CUDA);
* ``prepared``: what a call derives from (pattern, n, heads, causal, device), built once.
"""

from ringlib.blocksparse.layouts import (
    DilatedBlocks,
    GlobalLocal,
    Hierarchical,
    LayoutGenerator,
    LocalWindow,
    dilated,
    global_local,
    hierarchical,
    hierarchical_levels,
    local_window,
)
from ringlib.blocksparse.pattern import BlockSparse, StaticLayout

__all__ = [
    "BlockSparse",
    "StaticLayout",
    "LayoutGenerator",
    "LocalWindow",
    "DilatedBlocks",
    "GlobalLocal",
    "Hierarchical",
    "local_window",
    "dilated",
    "global_local",
    "hierarchical",
    "hierarchical_levels",
]
