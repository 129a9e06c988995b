"""Parity for users' own code (ringlib_parity.usercode): record on the old code through the
shim, migrate a copy, compare.

The end-to-end tests run pytest and ``ringlib parity`` in subprocesses on copies of
examples/legacy_project, as a user's CI would; the unit tests check the two promises of
recording: the hash sees every bit, and recording never changes what the program computes.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("dilated_attention_pytorch", reason="needs the shim (legacy/)")

from ringlib_codemods import Options, run  # noqa: E402
from ringlib_parity.usercode import store  # noqa: E402
from ringlib_parity.usercode.compare import compare_scope  # noqa: E402
from ringlib_parity.usercode.digest import _hash, digest, sample_indices  # noqa: E402
from ringlib_parity.usercode.recorder import Recorder  # noqa: E402

import ringlib  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy_project"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-W",
          "ignore::DeprecationWarning", "-W", "ignore::FutureWarning"]
PLANTED = ("ringlib.compat.Regions(SEGMENTS, RATES)", "ringlib.compat.Regions(SEGMENTS, [1, 1])")  # one line, after migration


# ------------------------------------------------------------------------------------ units

def test_plugin_imports_nothing_heavy_when_off():
    code = "import sys, ringlib_parity.usercode.pytest_plugin; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_hash_sees_one_bit_and_agrees_across_copies():
    x = torch.linspace(-3, 3, 1001, dtype=torch.float32).reshape(7, 11, 13)[:, :, :-1]  # non-contiguous
    same, _ = digest(x.clone())
    flipped = x.contiguous().reshape(-1).clone()
    flipped[500] = torch.nextafter(flipped[500], torch.tensor(10.0))
    changed, _ = digest(flipped.reshape(x.shape))
    assert digest(x)[0].hash == same.hash
    assert changed.hash != same.hash
    assert digest(x.to(torch.bfloat16))[0].hash != same.hash
    # the on-device hash (accelerators): exact integer sums, so it is order-free and sees one ulp too
    assert torch.equal(_hash(x.contiguous().reshape(-1)), _hash(x.clone().reshape(-1)))
    assert not torch.equal(_hash(flipped), _hash(x.contiguous().reshape(-1)))
    indices = sample_indices(x.numel())
    assert indices == sorted(set(indices)) and indices[0] == 0 and indices[-1] == x.numel() - 1
    assert same.sample == x.reshape(-1)[indices].double().tolist()
    assert same.max_abs == 3.0


def _train_step(model, x):
    out = model(x)
    out.square().mean().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


def test_recording_changes_nothing_the_program_computes():
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 16),
        ringlib.MultiheadDilatedAttention(16, 2, ringlib.Dilated([8, 16], [1, 2]), dropout=0.1)).train()
    x = torch.randn(2, 32, 16, requires_grad=True)
    state = torch.get_rng_state()
    plain = _train_step(model, x)
    after_plain = torch.get_rng_state()
    model.zero_grad()
    torch.set_rng_state(state)
    recorder = Recorder(full=True, grads=True).install()
    try:
        recorder.begin("scope")
        recorded = _train_step(model, x)
        calls = recorder.end()
    finally:
        recorder.uninstall()
    assert torch.equal(torch.get_rng_state(), after_plain)  # no extra random draws (dropout is on)
    torch.testing.assert_close(recorded, plain, rtol=0, atol=0)
    assert [(c.path, c.target) for c in calls] == [("Sequential.1", "ringlib.MultiheadDilatedAttention")]
    assert calls[0].grads[0] is not None and calls[0].tensors[("outputs", 0)].shape == (2 * 32 * 16,)
    assert ringlib.attention.__module__ == "ringlib.functional" and "recorded" not in ringlib.attention.__name__


def test_compare_names_the_call_and_measures_the_difference(tmp_path):
    layer = ringlib.DilatedAttention(ringlib.Dilated([8], [1]))
    q = torch.randn(1, 16, 2, 4)
    runs = {}
    for name, scale in (("old", None), ("new", 0.4)):
        layer.scale = scale
        recorder = Recorder(full=True).install()
        try:
            recorder.begin("t")
            expected = layer(q, q, q)
            ringlib.attention(q, q, q, ringlib.Dense())
            runs[name] = (recorder.end(), expected)
        finally:
            recorder.uninstall()
        store.start(tmp_path / name, full=True, grads=False, fresh=True)
        store.write(tmp_path / name, "t", runs[name][0])
    verdict = compare_scope("t", store.read(tmp_path / "old", "t"), store.read(tmp_path / "new", "t"),
                            old_root=tmp_path / "old", new_root=tmp_path / "new")
    first, second = verdict.calls
    assert (first.status, first.where, first.basis) == ("differs", "(called directly) #0", "full tensor")
    assert first.max_abs == pytest.approx(float((runs["new"][1] - runs["old"][1]).abs().max()), rel=1e-6)
    assert (second.status, second.recorded) == ("bitwise", "ringlib.attention")


# ------------------------------------------------------------------------------------ end to end

def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name / "legacy_project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".ringlib-parity"))
    return root


def _migrate(root: Path, semantics: str = "preserve") -> None:
    result = run([root], Options(jobs=1, semantics=semantics))
    assert result.exit_code == 0 and result.count("changed") == 3


def _pytest(root: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTEST, *options, "tests"], cwd=root, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """The example project's tests recorded on the old code (through the shim)."""
    tmp = tmp_path_factory.mktemp("usercode")
    old = _copy(tmp, "old")
    done = _pytest(old, "--ringlib-parity=record", "--ringlib-parity-seed=0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ringlib parity: recorded 5 attention calls" in done.stdout, "is the pytest11 entry point installed?"
    return old / ".ringlib-parity"


def test_record_migrate_compare_is_bitwise(recorded, tmp_path):
    new = _copy(tmp_path, "new")
    _migrate(new)
    report = tmp_path / "parity.json"
    done = _pytest(new, "--ringlib-parity=compare", f"--ringlib-parity-dir={recorded}",
                   f"--ringlib-parity-json={report}", f"--ringlib-parity-junit={tmp_path / 'parity.xml'}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ringlib parity: 3 tests, 5 calls: 5 bitwise -> OK" in done.stdout
    data = json.loads(report.read_text())
    wheres = [(c["where"], c["recorded"], c["now"]) for s in data["scopes"] for c in s["calls"]]
    assert ("TinyLM.block1.dilated #0", "RingDilatedAttentionCorrect", "ringlib.MultiheadDilatedAttention") in wheres
    assert "<failure" not in (tmp_path / "parity.xml").read_text()


def test_planted_change_after_migration_fails_and_is_named(recorded, tmp_path):
    new = _copy(tmp_path, "planted")
    _migrate(new)
    source = new / "legacy_app" / "attention.py"
    assert PLANTED[0] in source.read_text()
    source.write_text(source.read_text().replace(*PLANTED))
    done = _pytest(new, "--ringlib-parity=compare", f"--ringlib-parity-dir={recorded}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED tests/test_model.py::test_model_runs" in done.stdout
    assert "call 0 TinyLM.block1.dilated #0: RingDilatedAttentionCorrect -> ringlib.MultiheadDilatedAttention: " \
           "differs (output 0: max abs" in done.stdout
    # the direct use of the old class in the tests is untouched by the planted line
    assert "test_ring_layer_shapes" not in done.stdout.split("short test summary")[-1]


def test_intended_migration_reports_expected_differences_per_name(recorded, tmp_path):
    new = _copy(tmp_path, "intended")
    _migrate(new, semantics="intended")
    report = tmp_path / "parity.json"
    done = _pytest(new, "--ringlib-parity=compare", "--ringlib-parity-semantics=intended",
                   f"--ringlib-parity-dir={recorded}", f"--ringlib-parity-json={report}")
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [c for s in json.loads(report.read_text())["scopes"] for c in s["calls"]]
    assert {c["status"] for c in calls} == {"expected"}
    assert {c["recorded"] for c in calls} == {"RingDilatedAttentionCorrect", "RingDilatedAttentionHilbertGPUOptimized",
                                              "RingDilatedAttentionV3"}
    assert all(c["note"].startswith("intended: ") and c["max_abs"] > 0 for c in calls)
    strict = _pytest(new, "--ringlib-parity=compare", f"--ringlib-parity-dir={recorded}")
    assert strict.returncode == 1  # the same differences fail when the migration claimed to preserve


def test_script_form_records_and_compares(tmp_path):
    old, new = _copy(tmp_path, "old"), _copy(tmp_path, "new")
    _migrate(new)
    cli = [sys.executable, "-m", "ringlib_cli.app", "parity"]
    script = ["--", sys.executable, "scripts/run_tiny_lm.py"]
    record = tmp_path / "record"
    done = subprocess.run([*cli, "--record", str(record), "--seed", "0", *script], cwd=old, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "recorded 4 attention calls" in done.stdout, done.stdout + done.stderr
    report = tmp_path / "r.json"
    done = subprocess.run([*cli, "--compare", str(record), "--json", str(report), *script], cwd=new,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "1 script, 4 calls: 4 bitwise -> OK" in done.stdout, done.stdout + done.stderr
    calls = json.loads(report.read_text())["scopes"][0]["calls"]
    assert [c["where"] for c in calls][:3] == ["TinyLM.block1.dilated #0", "TinyLM.block1.dense #0", "TinyLM.block2 #0"]
