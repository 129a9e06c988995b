import warnings

import pytest



@pytest.fixture
def quiet():
    """Silence the deprecation warnings of the old names inside a test body."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
