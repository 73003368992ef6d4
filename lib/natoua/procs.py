"""Every process a build starts ends with it, in whatever session or process group it put itself.

Kernels run in their own process group, and a notebook can start processes that leave it (`setsid`,
`start_new_session=True`, a double fork): killing the group misses those. What they cannot shed is
their environment. Each build (or preview, or briefs run) marks its environment with `NATOUA_RUN=<token>`
before it starts any worker, and each kernel gets its own `NATOUA_KERNEL=<token>`; every process started
from there inherits both. `sweep` finds the marked processes in /proc/<pid>/environ (the environment a
process started with, which a child's later changes do not remove) and kills them. This needs no cgroup
(so it works the same as root, in CI and in containers). A process that clears its own environment and
re-executes itself (`env -i`) escapes it; nothing in a notebook has a reason to.
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

RUN_ENV = "NATOUA_RUN"  # one token per build, preview or briefs run
KERNEL_ENV = "NATOUA_KERNEL"  # one token per kernel
_PROC = Path("/proc")


def new_token(owner: int | None = None) -> str:
    """`<pid>.<start>-<random>`: the pid and start time (clock ticks after boot) name the process that owns
    the token, uniquely even when the pid is reused (see `sweep_orphans`)."""
    pid = os.getpid() if owner is None else owner
    return f"{pid}.{_start_time(pid)}-{secrets.token_hex(8)}"


def start_run() -> str:
    """Mark this process's environment (inherited by every process it starts from now on)."""
    token = new_token()
    os.environ[RUN_ENV] = token
    return token


def _environ(pid: int) -> bytes:
    try:
        return (_PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone, a kernel thread, or not ours to read
        return b""


def _pids() -> list[int]:
    try:
        return [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def marked(name: str, value: str) -> list[int]:
    """Processes (other than this one) whose starting environment holds name=value."""
    needle = f"{name}={value}".encode()
    me = os.getpid()
    return [pid for pid in _pids() if pid != me and needle in _environ(pid).split(b"\0")]


def sweep(name: str, value: str | None, rounds: int = 20) -> int:
    """Kill every process marked name=value; returns how many were killed. Stopped first, then killed,
    round after round, so a process that forks while being swept cannot leave a child behind."""
    if not value:
        return 0
    killed = set()
    for _ in range(rounds):
        found = [pid for pid in marked(name, value) if pid not in killed or _alive(pid)]
        if not found:
            break
        for pid in found:
            _signal(pid, signal.SIGSTOP)
        for pid in found:
            _signal(pid, signal.SIGKILL)
            killed.add(pid)
    return len(killed)


def sweep_owned(name: str, owner: int) -> int:
    """Kill every process marked name=<a token of process `owner`> (e.g. the kernels of a worker that died;
    they outlive it, since the zygote they were forked from is shared)."""
    prefix = f"{name}={owner}.".encode()
    tokens = {entry.split(b"=", 1)[1].decode(errors="replace") for pid in _pids() if pid != os.getpid()
              for entry in _environ(pid).split(b"\0") if entry.startswith(prefix)}
    return sum(sweep(name, token) for token in sorted(tokens))


def sweep_orphans() -> int:
    """Kill processes left by runs whose owner is gone (a build killed with SIGKILL cannot sweep)."""
    count = 0
    me = os.getpid()
    for pid in _pids():
        if pid == me:
            continue
        for entry in _environ(pid).split(b"\0"):
            if entry.startswith(f"{RUN_ENV}=".encode()):
                token = entry.split(b"=", 1)[1].decode(errors="replace")
                pid, _, start = token.split("-", 1)[0].partition(".")
                # Not by command line: a run's owner may be any process (a pytest-xdist worker is `python -c`),
                # and one run must never end another run that is still going.
                if pid.isdigit() and start.isdigit() and int(pid) != me and not _owner_alive(int(pid), int(start)):
                    count += sweep(RUN_ENV, token)
                break
    return count


def _owner_alive(pid: int, start: int) -> bool:
    """Whether the process that made a token still runs: the same pid with the same start time."""
    return _alive(pid) and _start_time(pid) == start


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks after boot (field 22 of /proc/<pid>/stat); -1 if it is gone."""
    try:
        with open(_PROC / str(pid) / "stat") as fh:
            return int(fh.read().rsplit(") ", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return -1


def _alive(pid: int) -> bool:
    try:
        with open(_PROC / str(pid) / "stat") as fh:
            return not fh.read().rsplit(") ", 1)[-1].startswith(("Z", "X"))
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
