"""Spawning gloo groups for the ring tests: one subprocess per rank (``worker.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_group(world: int, scenario: str, timeout_s: float = 120.0, ring_timeout_s: float | None = None):
    """Run ``scenario`` on ``world`` gloo ranks; returns per rank the list of case results.
    Fails the test (instead of hanging) when a rank does not finish within ``timeout_s``."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        if ring_timeout_s is not None:
            env["RINGLIB_RING_TIMEOUT"] = str(ring_timeout_s)
        init = os.path.join(tmp, "init")
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "worker.py"), str(r), str(world), init,
                                   tmp, scenario], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for r in range(world)]
        deadline = time.monotonic() + timeout_s
        logs = []
        for p in procs:
            try:
                out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
                logs.append(out.decode(errors="replace"))
            except subprocess.TimeoutExpired:
                for other in procs:
                    other.kill()
                pytest.fail(f"ranks of {scenario!r} (world {world}) did not finish within {timeout_s} s")
        results = []
        for r in range(world):
            path = os.path.join(tmp, f"rank{r}.json")
            if not os.path.exists(path):
                pytest.fail(f"rank {r} of {scenario!r} wrote no results; log:\n{logs[r][-3000:]}")
            with open(path) as f:
                results.append(json.load(f))
        return results


@pytest.fixture
def spawn():
    return run_group
