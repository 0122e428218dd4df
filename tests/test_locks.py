"""Lock files on run directories and stage outputs: two real `textbooks run` processes, stale locks,
the heartbeat."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from synth_fake_teacher import FakeTeacher
from textbooks.errors import UserError
from textbooks.locks import Holder, hold, read_holder, try_acquire
from textbooks.pipeline.runner import RunOptions, run_pipeline
from textbooks.pipeline.spec import load_spec

HOST = socket.gethostname()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(path: Path, host: str, pid: int, heartbeat_age_s: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time() - 3600, "token": "theirs"}))
    if heartbeat_age_s:
        then = time.time() - heartbeat_age_s
        os.utime(path, (then, then))


# -- the lock itself ---------------------------------------------------------------------------------


def test_a_held_lock_names_its_holder_and_a_second_taker_is_refused_in_one_line(tmp_path):
    path = tmp_path / ".lock"
    with hold(path, "run directory R"):
        holder = read_holder(path)
        assert (holder.host, holder.pid) == (HOST, os.getpid())
        with pytest.raises(UserError) as refused:
            with hold(path, "run directory R"):
                pass
    message = str(refused.value)
    assert "\n" not in message and f"pid {os.getpid()} on {HOST} since " in message and str(path) in message
    assert not path.exists()  # released


def test_a_lock_of_a_dead_process_on_this_host_is_stale_and_taken_over(tmp_path):
    path = tmp_path / ".lock"
    write_lock(path, HOST, dead_pid())
    with hold(path, "R") as lock:
        assert read_holder(path).token == lock.token


def test_a_lock_from_another_host_is_held_while_its_heartbeat_is_fresh_and_stale_after(tmp_path):
    path = tmp_path / ".lock"
    write_lock(path, "node-17", 4242, heartbeat_age_s=5)
    got = try_acquire(path, stale_after_s=60)
    assert isinstance(got, Holder) and str(got).startswith("pid 4242 on node-17 since ")
    write_lock(path, "node-17", 4242, heartbeat_age_s=61)
    got = try_acquire(path, stale_after_s=60)
    assert not isinstance(got, Holder)
    got.release()


def test_the_holder_beats_the_heartbeat_and_release_leaves_another_holders_lock_alone(tmp_path):
    path = tmp_path / ".lock"
    lock = try_acquire(path, heartbeat_s=0.05)
    os.utime(path, (time.time() - 100, time.time() - 100))
    time.sleep(0.3)
    assert read_holder(path).heartbeat_age_s < 5
    write_lock(path, "node-17", 4242)  # taken over meanwhile (it looked stale to another node)
    lock.release()
    assert read_holder(path).host == "node-17"


def test_a_waiting_taker_is_told_once_and_gets_the_lock_when_the_holder_leaves(tmp_path):
    path = tmp_path / ".lock"
    write_lock(path, HOST, os.getpid())  # held by a live process (this one, by another lock)
    told = []

    def leave_later():
        time.sleep(0.3)
        path.unlink()

    threading.Thread(target=leave_later).start()
    with hold(path, "stage S", wait=True, on_wait=told.append, poll_s=0.05):
        assert read_holder(path).token != "theirs"
    assert len(told) == 1 and told[0].startswith(f"waiting for stage S: in use by pid {os.getpid()} on {HOST} since ")


# -- two `textbooks run` processes -------------------------------------------------------------------


def slow_pipeline(tmp_path: Path, teacher: FakeTeacher, run_dir: Path) -> Path:
    """One teacher stage that takes a few seconds (the stand-in answers slowly, one at a time)."""
    data = {"run_dir": str(run_dir), "teacher": {"endpoints": [teacher.url], "model": "fake", "max_in_flight": 1},
            "stages": {"textbooks": {"kind": "synth-textbooks", "config": {"num": 6, "max_tokens_per_doc": 64}}}}
    path = tmp_path / f"{run_dir.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start_run(pipeline: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "textbooks", "run", str(pipeline)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(found, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while not found() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found(), "the first run never took its lock"


def test_a_second_run_on_a_busy_run_directory_stops_at_once_naming_the_holder(tmp_path):
    run_dir = tmp_path / "run"
    with FakeTeacher() as teacher:
        teacher.held.set()  # the first run waits for its answers until the second has been turned away
        pipeline = slow_pipeline(tmp_path, teacher, run_dir)
        first = start_run(pipeline)
        wait_for(lambda: (run_dir / ".lock").exists())
        second = run_cli("run", str(pipeline))
        teacher.held.clear()
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2 and "Traceback" not in second.stderr
    line = second.stderr.strip()
    assert "\n" not in line and f"run directory {run_dir} is in use by pid {first.pid} on {HOST} since " in line
    assert len(teacher.hits) == 6 and not (run_dir / ".lock").exists()


def test_runs_sharing_stages_wait_for_the_output_they_both_need_and_make_it_once(tmp_path):
    shared = tmp_path / "shared-stages"
    shared.mkdir()
    runs = [tmp_path / "arm-a", tmp_path / "arm-b"]
    for run_dir in runs:  # as an experiment's arms do: stages/ shared, each its own teacher cache
        run_dir.mkdir()
        (run_dir / "stages").symlink_to(shared)
    with FakeTeacher() as teacher:
        teacher.held.set()
        first = start_run(slow_pipeline(tmp_path, teacher, runs[0]))
        wait_for(lambda: list(shared.glob(".textbooks-*.lock")))
        second = start_run(slow_pipeline(tmp_path, teacher, runs[1]))
        waiting = ""
        while "waiting for stage" not in waiting and second.poll() is None:
            waiting = second.stdout.readline()
        teacher.held.clear()
        first.communicate(timeout=120)
        out, err = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err
    assert waiting.startswith("waiting for stage textbooks") and f"in use by pid {first.pid} on {HOST}" in waiting
    assert len(teacher.hits) == 6  # the second run asked the teacher nothing
    assert os.readlink(runs[0] / "textbooks") == os.readlink(runs[1] / "textbooks")
    assert not list(shared.glob(".*.lock"))


def test_a_run_directory_locked_by_a_killed_run_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "m.py").write_text('def f():\n    """Return one."""\n    return 1\n')
    data = {"run_dir": str(run_dir), "stages": {"code": {"kind": "import", "config": {"roots": [str(tmp_path / "code")]}}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    write_lock(run_dir / ".lock", HOST, dead_pid())
    result = run_pipeline(load_spec(tmp_path / "p.yaml", []), None, RunOptions(), echo=lambda line: None)
    assert result.ran == ["code"] and not (run_dir / ".lock").exists()
