"""Ctrl-C during ``ringlib migrate --jobs 2``: it ends within a second, no file is half
written, and what was written is listed."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

OLD = textwrap.dedent("""\
    from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect

""") + "".join(f"attn{i} = RingDilatedAttentionCorrect(512, 8, [2048], [1])\n" for i in range(20))


def test_ctrl_c_stops_within_a_second(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    files = [tmp_path / f"m{i:03d}.py" for i in range(150)]
    for path in files:
        path.write_text(OLD)
    process = subprocess.Popen(
        [sys.executable, "-c", "from ringlib_cli.app import main; main()", "migrate",
         str(tmp_path), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and all(p.read_text() == OLD for p in files):
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be interrupted"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    took = time.monotonic() - sent
    assert took < 5.0, f"took {took:.2f} s to stop"  # the goal is 1 s; slack for a loaded CI machine
    assert process.returncode == 130, err
    written = {line.split("written: ", 1)[1] for line in err.splitlines() if line.startswith("written: ")}
    assert written and f"interrupted: {len(written)} file(s) written" in err
    for path in files:
        text = path.read_text()
        if str(path) in written:
            assert "ringlib" in text and "RingDilatedAttentionCorrect" not in text
            compile(text, str(path), "exec")
        else:
            assert text == OLD, f"{path} changed but is not listed as written"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".ringlib-tmp")]
