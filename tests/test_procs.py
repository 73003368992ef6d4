"""Orphan sweeping ends what a dead run left, and never what a live run owns, whatever that run's command line."""

import os
import signal
import subprocess
import sys

from natoua import procs

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _marked_child(token: str) -> subprocess.Popen:
    return subprocess.Popen(SLEEPER, env={**os.environ, procs.RUN_ENV: token})


def _alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None


def _end(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if _alive(proc):
            proc.kill()
            proc.wait()


def test_a_live_owner_keeps_its_processes_whatever_its_command_line():
    owner = subprocess.Popen(["sleep", "120"])  # not natoua, not pytest: like a pytest-xdist worker (`python -c`)
    child = _marked_child(procs.new_token(owner.pid))
    try:
        procs.sweep_orphans()
        assert _alive(child), "a running run's worker was killed as an orphan"
        owner.kill()
        owner.wait()
        procs.sweep_orphans()
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        _end(owner, child)


def test_a_reused_pid_is_not_the_owner():
    owner = subprocess.Popen(["sleep", "120"])
    pid, _, rest = procs.new_token(owner.pid).partition(".")
    start, _, random = rest.partition("-")
    child = _marked_child(f"{pid}.{int(start) - 1}-{random}")  # same pid, another start: another process
    try:
        procs.sweep_orphans()
        assert child.wait(timeout=60) == -signal.SIGKILL
        assert _alive(owner)
    finally:
        _end(owner, child)


def test_token_names_this_process_and_its_start_time():
    pid, _, rest = procs.new_token().partition(".")
    start = rest.split("-", 1)[0]
    with open(f"/proc/{os.getpid()}/stat") as fh:
        assert int(start) == int(fh.read().rsplit(") ", 1)[-1].split()[19]) and int(pid) == os.getpid()
