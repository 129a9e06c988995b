"""Backends: ``reference`` (ground truth), ``strided`` (the ``sdpa`` backend), ``kernels``."""
