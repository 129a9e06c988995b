"""A reduced matrix for the parity tests: one segment set, both causal flags (the CLI and CI
run the full matrix)."""

import pytest

from ringlib_parity import Matrix, Shape

SMALL = Matrix(shapes=(Shape(2, 128, 4, 16),), segment_sets=(((96, 64), (2, 1)),), block_size=32,
               block_layouts=("local_window",), orderings=(None, "snake"))


@pytest.fixture
def small():
    return SMALL
