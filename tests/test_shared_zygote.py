"""The workers of a build share one kernel zygote (its imports are paid once), and sharing it costs nothing
in safety: a worker that dies still fails only its own section and leaves no kernel behind."""

from __future__ import annotations

import pytest

from test_trust import run_scratch_build, scratch_notebooks

# Counts the zygotes of this build (same NATOUA_RUN token) from inside a kernel. By the time any kernel runs
# code every worker has started its zygote (a worker starts one at once; a kernel needs a zygote's imports).
COUNT_ZYGOTES = """
import os, pathlib
run = [e for e in open('/proc/self/environ', 'rb').read().split(b'\\0') if e.startswith(b'NATOUA_RUN=')][0]
forked = {}  # the zygote's pid -> its parent's (a kernel is a fork of a zygote: same command line)
for p in pathlib.Path('/proc').iterdir():
    try:
        if b'natoua.zygote import serve' in (p / 'cmdline').read_bytes() and run in (p / 'environ').read_bytes().split(b'\\0'):
            forked[p.name] = (p / 'stat').read_text().rsplit(')', 1)[1].split()[1]
    except OSError:
        pass
zygotes = [pid for pid, parent in forked.items() if parent not in forked]
pathlib.Path(os.environ['ZYGOTES_FILE'] + os.environ['NATOUA_KERNEL']).write_text(str(len(zygotes)))
"""


@pytest.mark.full
def test_two_workers_fork_their_kernels_from_one_zygote(tmp_path, monkeypatch):
    monkeypatch.setenv("ZYGOTES_FILE", str(tmp_path / "zygotes"))
    notebooks = scratch_notebooks(tmp_path / "notebooks", COUNT_ZYGOTES)
    (notebooks / "14_scratch.ipynb").write_bytes((notebooks / "13_scratch.ipynb").read_bytes())
    proc, left = run_scratch_build(notebooks, tmp_path / "reports", "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = [p.read_text() for p in tmp_path.glob("zygotes*")]
    assert counts == ["1", "1"], counts
    assert not left, f"processes left behind: {left}"


@pytest.mark.full
def test_a_worker_killed_beside_another_fails_only_its_section_and_leaves_nothing(tmp_path):
    """The kernel of section 13 kills its own worker (named by the owner in its kernel token), as the
    out-of-memory killer might; its kernel, forked from the shared zygote, does not die with the worker by
    itself. Section 14 runs on the other worker."""
    code = ("import os, signal, time\n"
            "worker = int(os.environ['NATOUA_KERNEL'].split('.')[0])\n"
            "os.kill(worker, signal.SIGKILL)\n"
            "time.sleep(600)")
    notebooks = scratch_notebooks(tmp_path / "notebooks", code)
    other = scratch_notebooks(tmp_path / "other", "x = 1") / "13_scratch.ipynb"
    (notebooks / "14_scratch.ipynb").write_bytes(other.read_bytes())
    proc, left = run_scratch_build(notebooks, tmp_path / "reports", "--jobs", "2", "--keep-going")
    assert "WorkerError: the worker process running it died" in proc.stdout, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "13 13_scratch" in failed[0], proc.stdout
    assert "14 14_scratch" in proc.stdout
    assert not left, f"processes left behind: {left}"
