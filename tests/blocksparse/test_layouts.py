"""Named layouts reproduce the legacy SparsePatternConfig / HIERARCHICAL patterns exactly."""

import pytest
import torch

import ringlib
from ringlib.blocksparse import dilated, global_local, hierarchical, hierarchical_levels, local_window

# the old SparsePatternConfig patterns at seq 1024 / bs 128, window 256, 1 global block, rates [1, 2, 4]
LOCAL_8 = """
##......
###.....
.###....
..###...
...###..
....###.
.....###
......##"""
DILATED_8 = """
###.#...
####.#..
#####.#.
.#####.#
#.#####.
.#.#####
..#.####
...#.###"""
GLOBAL_8 = """
########
###.....
####....
#.###...
#..###..
#...###.
#....###
#.....##"""


def _mask(text: str) -> torch.Tensor:
    return torch.tensor([[c == "#" for c in row] for row in text.split()])


@pytest.mark.parametrize("name, expected, pairs", [
    ("local_window", LOCAL_8, 22), ("dilated_sparse", DILATED_8, 42), ("global_local", GLOBAL_8, 34)])
def test_8x8_examples(name, expected, pairs):
    pattern = ringlib.BlockSparse(name, block_size=128)
    counts = pattern.counts(8, 1)[0]
    assert torch.equal(counts > 0, _mask(expected))
    assert int(counts.sum()) == pairs


@pytest.mark.parametrize("seq, counts", [(1024, (74, 98, 100)), (512, (34, 42, 44))])
def test_pair_counts_at_block_64(seq, counts):
    nb = seq // 64
    gens = [local_window(256, 64), dilated(), global_local(1, 256, 64)]
    for gen, expected in zip(gens, counts):
        assert int(gen(nb).sum()) == expected
        assert gen.pairs(nb).shape[1] == expected


@pytest.mark.parametrize("gen", [local_window(256, 64), local_window(0, 128), local_window(512, 64),
                                 dilated(), dilated([1, 1, 0, 3, 100]), dilated([1, 2, 4, 8]),
                                 global_local(1, 256, 64), global_local(3, 128, 64), global_local(64, 256, 64)])
@pytest.mark.parametrize("nb", [1, 2, 5, 8, 16])
def test_pairs_are_the_counts_as_a_multiset(gen, nb):
    pairs = gen.pairs(nb)
    counts = torch.zeros(nb, nb, dtype=torch.int32)
    counts.index_put_((pairs[0], pairs[1]), torch.ones(pairs.shape[1], dtype=torch.int32), accumulate=True)
    assert torch.equal(counts, gen(nb))


def _legacy_dilated_pairs(nb, rates):
    out = []
    for i in range(nb):
        out.append((i, i))
        for r in rates:
            if i + r < nb:
                out.append((i, i + r))
            if i - r >= 0:
                out.append((i, i - r))
    return out


def _legacy_global_local_pairs(nb, g, w):
    g = min(g, nb)
    out = []
    for i in range(nb):
        if i < g:
            for j in range(nb):
                out.append((i, j))
                if i != j:
                    out.append((j, i))
        else:
            for j in range(max(0, i - w), min(nb, i + w + 1)):
                out.append((i, j))
            for j in range(g):
                if abs(i - j) > w:
                    out.append((i, j))
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


@pytest.mark.parametrize("nb", [1, 3, 8, 16])
def test_legacy_pair_order(nb):
    assert [tuple(p) for p in dilated([1, 2, 2, 0]).pairs(nb).t().tolist()] == _legacy_dilated_pairs(nb, [1, 2, 2, 0])
    for g, window in [(1, 256), (2, 128), (3, 512), (20, 0)]:
        got = [tuple(p) for p in global_local(g, window, 64).pairs(nb).t().tolist()]
        assert got == _legacy_global_local_pairs(nb, g, (window // 64) // 2)
    local = local_window(384, 64).pairs(nb).t().tolist()
    assert local == sorted(local)


def test_rate_zero_and_duplicates_count_multiply():
    counts = dilated([0, 1, 1])(4)
    assert counts[0, 0] == 3 and counts[1, 2] == 2 and counts[0, 3] == 0


def test_generator_validation():
    with pytest.raises(ValueError, match="dilation_rates"):
        dilated([1, -2])
    with pytest.raises(ValueError, match="window_size"):
        local_window(-1)
    with pytest.raises(ValueError, match="block_size=64"):
        ringlib.BlockSparse(local_window(256, 64), block_size=128)
    with pytest.raises(ValueError, match="needs block_size"):
        local_window(256)(8)
    with pytest.raises(ValueError, match="unknown layout"):
        ringlib.BlockSparse("banded")
    with pytest.raises(TypeError, match="window_size"):
        ringlib.BlockSparse("dilated", window_size=3)


def _literal_hierarchical(nb, heads, bs, ls, gs, inter, gen):
    """The legacy hierarchical mask written out draw by draw."""
    local = torch.zeros(heads, nb, nb, dtype=torch.bool)
    lw = min(512, nb // 4) // bs
    for h in range(heads):
        for i in range(nb):
            st, en = max(0, i - lw), min(nb, i + lw + 1)
            n = en - st
            torch.randperm(n, generator=gen)
            local[h, i, st: st + min(n, int(n * ls))] = True
    glob = torch.zeros(heads, nb, nb, dtype=torch.bool)
    g = min(16, nb // 8)
    for h in range(heads):
        for i in range(g):
            glob[h, i, torch.randperm(nb, generator=gen)[: int(nb * gs)]] = True
        glob[h, :, :g] = True
        for dil in (1, 2, 4, 8):
            for i in range(g, nb):
                for j in range(0, nb, dil):
                    if torch.rand(1, generator=gen).item() < gs:
                        glob[h, i, j] = True
    it = torch.zeros(heads, nb, nb, dtype=torch.bool)
    for h in range(heads):
        f = torch.randperm(nb * nb, generator=gen)[: int(nb * nb * inter)]
        it[h, f // nb, f % nb] = True
    return local, glob, it


@pytest.mark.parametrize("nb, bs, ls", [(16, 4, 0.4), (40, 8, 0.7), (9, 64, 0.4)])
def test_hierarchical_draw_order(nb, bs, ls):
    expected = _literal_hierarchical(nb, 3, bs, ls, 0.3, 0.05, torch.Generator().manual_seed(7))
    got = hierarchical_levels(nb, 3, bs, ls, 0.3, 0.05, torch.Generator().manual_seed(7))
    for e, name in zip(expected, ("local", "global", "inter_node")):
        assert torch.equal(got[name], e), name
    assert got["local"].any() == (nb // 4 >= bs)
    union = expected[0] | expected[1] | expected[2]
    pattern = ringlib.BlockSparse(hierarchical(7, ls, 0.3, 0.05), block_size=bs)
    assert torch.equal(pattern.counts(nb, 3) > 0, union)


def test_hierarchical_global_rng_variant():
    torch.manual_seed(3)
    a = hierarchical_levels(16, 2, 2)
    torch.manual_seed(3)
    b = _literal_hierarchical(16, 2, 2, 0.4, 0.1, 0.05, None)
    assert all(torch.equal(a[n], e) for n, e in zip(("local", "global", "inter_node"), b))
