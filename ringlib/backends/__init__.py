"""Backends: ``reference`` (ground truth), ``strided`` (the ``sdpa`` backend), ``fused_forward``
(the one-launch forward), ``kernels`` (one 4-D attention call). They run what
``ringlib.dispatch`` chose and decide nothing themselves."""
