"""Test session setup."""

import os

# Triton kernels run in Triton's interpreter on this CPU-only suite. The switch is read when
# Triton is imported, so it is set before any test module can import it.
os.environ.setdefault("TRITON_INTERPRET", "1")
