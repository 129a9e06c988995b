"""A run collects cyclic garbage less often (parsing makes many objects and few cycles), and
leaves the process's collector as it found it, also when it ends early."""

import gc

import pytest

from ringlib_codemods.runner import GC_THRESHOLD, Options, run


def test_threshold_raised_during_a_run_and_restored(tmp_path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    before = gc.get_threshold()
    seen = []
    run([tmp_path], Options(jobs=1), on_progress=lambda done, total: seen.append(gc.get_threshold()))
    assert seen and all(t[0] >= GC_THRESHOLD and t[1:] == before[1:] for t in seen)
    assert gc.get_threshold() == before

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run([tmp_path], Options(jobs=1), on_progress=interrupt)
    assert gc.get_threshold() == before
