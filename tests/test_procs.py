"""Which processes a build's clean-up ends: those of runs whose owner is gone, never those of a run whose owner
is alive, whatever that owner's command line says (a pytest-xdist worker, a Python session, a scheduler)."""

from __future__ import annotations

import os
import subprocess
import sys

from natoua import procs

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return not fh.read().rsplit(") ", 1)[-1].startswith(("Z", "X"))
    except OSError:
        return False


def test_a_live_owner_keeps_its_runs_processes_whatever_its_command_line(tmp_path):
    owner = subprocess.Popen(["sleep", "600"])  # alive; its command line names neither natoua nor pytest
    try:
        marked = subprocess.Popen(SLEEPER, env=dict(os.environ, **{procs.RUN_ENV: procs.token_for(owner.pid)}))
        try:
            procs.sweep_orphans()
            assert _alive(marked.pid), "a process of a run whose owner is alive was killed"
            owner.kill()
            owner.wait()
            procs.sweep_orphans()
            marked.wait(timeout=60)  # the owner is gone: its run's process is ended
        finally:
            marked.kill()
            marked.wait()
    finally:
        owner.kill()
        owner.wait()

