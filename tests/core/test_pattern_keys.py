"""Compiled graphs name a pattern by its ``plan_key`` (``ringlib.patterns.remember``): the key
must lead back to that pattern, never to a different one printed alike, and the registry must
not keep patterns alive (adaptive layouts make one per call)."""

import gc

import torch

import ringlib
from ringlib.patterns import by_key


class _Printed:
    """A layout callable whose repr does not tell two instances apart."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, nb: int, heads: int) -> torch.Tensor:
        return torch.eye(nb, dtype=torch.bool).roll(self.offset, 1) | torch.eye(nb, dtype=torch.bool)

    def __repr__(self) -> str:
        return "printed-layout"


def test_patterns_printed_alike_get_their_own_keys():
    a = ringlib.BlockSparse(_Printed(1), block_size=16)
    b = ringlib.BlockSparse(_Printed(2), block_size=16)
    assert repr(a) == repr(b) and a != b
    assert a.plan_key != b.plan_key
    assert by_key(a.plan_key) is a and by_key(b.plan_key) is b


def test_equal_patterns_share_a_key():
    a = ringlib.BlockSparse("local_window", block_size=16, window_size=32)
    b = ringlib.BlockSparse("local_window", block_size=16, window_size=32)
    assert a == b and a.plan_key == b.plan_key
    assert by_key(b.plan_key) == b


def test_the_registry_does_not_keep_patterns_alive():
    key = ringlib.BlockSparse(_Printed(3), block_size=16).plan_key
    gc.collect()
    try:
        by_key(key)
    except KeyError:
        return
    raise AssertionError(f"{key!r} still registered after its pattern was dropped")


def test_copies_and_unpickled_patterns_outlive_their_original():
    import copy
    import pickle

    q = torch.randn(1, 64, 2, 8)
    for make in (lambda: ringlib.BlockSparse("local_window", block_size=16, window_size=32),
                 lambda: ringlib.Dilated([32, 64], [1, 2])):
        original = make()  # never used: no cache keeps it alive
        copied, pickled = copy.deepcopy(original), pickle.dumps(original)
        del original
        gc.collect()
        outputs = []
        for pattern in (copied, pickle.loads(pickled)):
            assert by_key(pattern.plan_key) == pattern
            outputs.append(ringlib.attention(q, q, q, pattern))
        expected = ringlib.attention(q, q, q, make())
        for out in outputs:
            torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_an_equal_pattern_built_later_outlives_the_first():
    """Equal patterns share a key; the key stays valid while any of them lives (a model built
    from a template layer that is then dropped, e.g. deep-copied layer stacks)."""
    q = torch.randn(1, 32, 2, 8)
    for make in (lambda: ringlib.Dilated([8, 24], [1, 3], mixing="head_groups"),  # sizes no other test uses
                 lambda: ringlib.BlockSparse("local_window", block_size=8, window_size=24)):
        first, later = make(), make()
        assert first is not later and first.plan_key == later.plan_key
        del first
        gc.collect()
        assert by_key(later.plan_key) == later
        ringlib.attention(q, q, q, later)
