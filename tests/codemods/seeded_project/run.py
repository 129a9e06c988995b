"""Seeded run: build every layer, compute, return outputs and the state dict."""

import torch

import ring_layers
import sparse_layers


def main():
    torch.manual_seed(0)
    stack = ring_layers.Stack()
    x = torch.randn(2, 128, ring_layers.EMBED)
    q, k, v = torch.randn(3, 2, 128, 4, 8).unbind(0)
    out = {"stack": stack(x)}
    sparse = {
        "local": sparse_layers.local_attention(),
        "dilated": sparse_layers.dilated_attention(),
        "global0": sparse_layers.global_attention()[0],
        "global1": sparse_layers.global_attention()[1],
        "post": sparse_layers.post_pattern_attention(),
        "factory": sparse_layers.factory_attention(),
        "default": sparse_layers.default_attention(),
        "preset": sparse_layers.preset_attention(),
        "table_global": sparse_layers.table_attention("block_sparse", pattern_type="global_local",
                                                      global_tokens=2, window_size=32, block_size=16),
        "table_default": sparse_layers.table_attention("block_sparse"),
        "table_post": sparse_layers.table_attention("post_pattern", pattern_type="dilated_sparse",
                                                    block_size=32, dilation_rates=[1, 3]),
    }
    for name, module in sparse.items():
        out[name] = module(q, k, v)
        out[name + "_causal"] = module(q, k, v, is_causal=True)
    after = torch.randn(4)  # the random stream after every construction
    out["stream"] = after
    return out, stack.state_dict()
