"""textbooks.io's append log: what a killed process had written is there for the run that resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys


def test_rows_appended_before_a_sigkill_are_whole_lines_in_the_file(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"row": 0}\n')
    script = (f"import os, signal\nfrom textbooks.io import JsonlAppender\n"
              f"out = JsonlAppender({str(path)!r}, sync_every_s=3600)\n"
              "for i in range(1, 4):\n    out.write({'row': i, 'text': 'é'})\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"row": 0}, *({"row": i, "text": "é"} for i in range(1, 4))]
