"""pytest plugin: prove that a project's tests compute the same attention numbers after
``ringlib migrate`` as before it.

    pytest --ringlib-parity=record      # on the old code: record every attention call
    ringlib migrate .
    pytest --ringlib-parity=compare     # fail each test whose calls differ

The record lives in ``--ringlib-parity-dir`` (default ``.ringlib-parity`` in the rootdir). It
is an option of its own, written ``--ringlib-parity-dir=DIR``, because pytest picks its rootdir
from the command line's paths before plugins load: a bare ``DIR`` token would count as one.
Off unless ``--ringlib-parity`` is given: this module then imports nothing but pytest.
Only the call phase of a test is recorded (not fixtures). The semantics of the migration
(``--ringlib-parity-semantics``) defaults to the project's ``[tool.ringlib.migrate]`` table;
with ``intended``, the registry's intended per-name differences are reported, not failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PROPERTY = "ringlib_parity"
DEFAULT_DIR = ".ringlib-parity"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("ringlib-parity", "ringlib parity of attention calls before/after `ringlib migrate`")
    group.addoption("--ringlib-parity", choices=("record", "compare"), default=None,
                    help="record: store every attention call of each test; compare: fail each test whose "
                         "calls differ from the record.")
    group.addoption("--ringlib-parity-dir", metavar="DIR", default=None,
                    help="where the record lives (default: .ringlib-parity in the rootdir).")
    group.addoption("--ringlib-parity-full", action="store_true", default=False,
                    help="record: also store full output tensors (default: hash, sample, max abs).")
    group.addoption("--ringlib-parity-grads", action="store_true", default=False,
                    help="record: also store the gradients of the calls' inputs (when a test runs backward).")
    group.addoption("--ringlib-parity-seed", type=int, default=None, metavar="N",
                    help="record: seed torch and random with N before each test (for tests that draw unseeded "
                         "random numbers: without a seed no two runs agree); compare reuses the recorded seed.")
    group.addoption("--ringlib-parity-semantics", choices=("preserve", "intended"), default=None,
                    help="compare: the --semantics the code was migrated with (default: the project's "
                         "[tool.ringlib.migrate] table, else preserve).")
    group.addoption("--ringlib-parity-json", metavar="PATH", default=None, help="compare: write a JSON report.")
    group.addoption("--ringlib-parity-junit", metavar="PATH", default=None,
                    help="compare: write JUnit XML (one test case per test).")


def pytest_configure(config) -> None:
    mode = config.getoption("ringlib_parity", None)
    if not mode:
        return
    directory = config.getoption("ringlib_parity_dir")
    directory = Path(directory).absolute() if directory else Path(config.rootpath) / DEFAULT_DIR
    config.pluginmanager.register(ParitySession(config, mode, directory), "ringlib-parity-session")


class ParitySession:
    """The plugin while it is on: one recorder for the whole session, one scope per test."""

    def __init__(self, config, mode: str, directory: Path) -> None:
        import tempfile

        from ringlib_parity.usercode import compare, store
        from ringlib_parity.usercode.recorder import Recorder

        self.config, self.mode, self.directory = config, mode, directory
        self.worker = hasattr(config, "workerinput")  # a pytest-xdist worker
        self.verdicts: list = []
        self.recorded = 0
        try:
            if mode == "record":
                full, grads = config.getoption("ringlib_parity_full"), config.getoption("ringlib_parity_grads")
                self.seed = config.getoption("ringlib_parity_seed")
                if not self.worker:
                    store.start(directory, full=full, grads=grads, seed=self.seed, fresh=True)
                self.target = directory
            else:
                manifest = store.manifest(directory)
                full, grads, self.seed = manifest["full"], manifest["grads"], manifest.get("seed")
                self.semantics = (config.getoption("ringlib_parity_semantics")
                                  or compare.configured_semantics(Path(config.rootpath)))
                self.target = Path(tempfile.mkdtemp(prefix="ringlib-parity-"))
                store.start(self.target, full=full, grads=grads, seed=self.seed, fresh=False)
        except store.RecordError as error:
            raise pytest.UsageError(f"--ringlib-parity: {error}") from None
        self.recorder = Recorder(full=full, grads=grads).install()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item) -> None:
        if self.seed is not None:
            import random

            import torch

            random.seed(self.seed)
            torch.manual_seed(self.seed)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        self.recorder.begin(item.nodeid)
        try:
            result = yield
        except BaseException:
            self._finish(item, self.recorder.end(), fail=False)
            raise
        self._finish(item, self.recorder.end(), fail=True)
        return result

    def _finish(self, item, calls, *, fail: bool) -> None:
        from ringlib_parity.usercode import store
        from ringlib_parity.usercode.compare import compare_scope

        store.write(self.target, item.nodeid, calls)
        if self.mode == "record":
            item.user_properties.append((PROPERTY, json.dumps({"recorded": len(calls)})))
            return
        verdict = compare_scope(item.nodeid, store.read(self.directory, item.nodeid),
                                store.read(self.target, item.nodeid), semantics=self.semantics,
                                old_root=self.directory, new_root=self.target)
        item.user_properties.append((PROPERTY, json.dumps({"verdict": verdict.to_json()})))
        if fail and not verdict.ok:
            lines = "\n".join(c.describe() for c in verdict.failures)
            hint = ("" if self.seed is not None else "\n(a test that draws unseeded random numbers differs on every "
                    "run: record and compare with --ringlib-parity-seed=N)")
            pytest.fail(f"ringlib parity: {len(verdict.failures)} attention call(s) differ from the record "
                        f"in {self.directory}:\n{lines}{hint}", pytrace=False)

    def pytest_runtest_logreport(self, report) -> None:
        """Collects the results (also those of pytest-xdist workers, through the report)."""
        from ringlib_parity.usercode.compare import ScopeVerdict

        for name, value in report.user_properties:
            if name == PROPERTY and report.when == "call":
                data = json.loads(value)
                if "verdict" in data:
                    self.verdicts.append(ScopeVerdict.from_json(data["verdict"]))
                else:
                    self.recorded += data["recorded"]

    def pytest_terminal_summary(self, terminalreporter) -> None:
        import io

        from rich.console import Console

        from ringlib_parity.usercode.report import Report

        if self.worker:
            return
        if self.mode == "record":
            terminalreporter.write_line(f"ringlib parity: recorded {self.recorded} attention calls to {self.directory}")
            return
        report = Report(self.verdicts, semantics=self.semantics)
        buffer = io.StringIO()
        report.render(Console(file=buffer, force_terminal=terminalreporter.isatty(),
                              width=max(terminalreporter._tw.fullwidth, 120)))
        terminalreporter.write(buffer.getvalue())
        if self.config.getoption("ringlib_parity_json"):
            report.write_json(self.config.getoption("ringlib_parity_json"))
        if self.config.getoption("ringlib_parity_junit"):
            report.write_junit(self.config.getoption("ringlib_parity_junit"))

    def pytest_unconfigure(self, config) -> None:
        import shutil

        self.recorder.uninstall()
        if self.mode == "compare":
            shutil.rmtree(self.target, ignore_errors=True)
