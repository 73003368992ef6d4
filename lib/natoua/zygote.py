"""Fast kernel start-up: a zygote process that forks ready-made kernels.

A fresh Jupyter kernel spends most of its start-up importing ipykernel,
pandas, matplotlib and natoua (about 1.5 s of CPU each time). The zygote is
one interpreter, started with a fixed hash seed, that imports all of that
once; each kernel is then a fork of it running IPKernelApp on its own
connection file. Every notebook still gets its own kernel process (nothing
leaks between notebooks), but start-up costs tens of milliseconds.

`ForkProvisioner` plugs this into jupyter_client (and so into Papermill): it
is a LocalProvisioner whose launch asks the zygote to fork instead of running
the kernel command. Linux only (fork, prctl); elsewhere the build uses plain
kernels.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphan kernels after a killed build)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


# --- the zygote process ----------------------------------------------------------------

def serve() -> None:
    """Zygote main loop: one JSON request per line on stdin, one JSON reply per line on stdout."""
    die_with_parent()
    import ipykernel.kernelapp  # noqa: F401

    import natoua.warm  # noqa: F401
    from natoua.data import preload

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    preloaded = False
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_kernel(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        if not preloaded:  # after the first kernel, not before it: a build running one section waits for nothing
            preload()  # every later kernel finds the datasets parsed (keyed on each file's digest)
            preloaded = True


def _become_kernel(request: dict) -> None:
    try:
        os.setpgid(0, 0)
        die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        devnull = os.open(os.devnull, os.O_RDWR)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdin = open(os.devnull)
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=request["argv"])
    finally:
        os._exit(0)


# --- the client side (in a build worker) -----------------------------------------------------

class ZygoteError(RuntimeError):
    """The zygote did not start or answer in time, or died (a kernel could not be forked)."""


class Zygote:
    """A running zygote process; `fork` returns the pid of a new kernel.

    The zygote is watched like a kernel: every exchange with it has a deadline, and a zygote that died,
    was stopped (SIGSTOP) or stopped answering is killed and replaced by a fresh one, once per request,
    so one broken zygote never fails the sections that come after it.
    """

    start_timeout = 120.0  # seconds for a new zygote to import everything and say "ready" (generous: load)
    reply_timeout = 60.0  # seconds for a fork request to be answered (a fork takes milliseconds)

    def __init__(self, env: dict, shared: bool = False):
        """`shared`: the worker processes forked after this share it (one zygote imports everything once for
        all of them); its lock and its "ready" flag are then shared between processes, and a request and its
        one-line reply are exchanged under the lock, so the replies cannot cross."""
        self.env = dict(env, PYTHONHASHSEED="0")
        if shared:
            import multiprocessing as mp

            self.lock = mp.get_context("fork").Lock()
        else:
            self.lock = threading.Lock()
        self.shared = shared
        self.replaced = 0  # zygotes replaced after they died or stopped answering
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from natoua.zygote import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env, bufsize=0,
        )
        self.owner = os.getpid()  # only the process that started it stops it
        self._buffer = b""
        if self.shared and self.replaced == 0:
            import multiprocessing as mp

            self._ready = mp.get_context("fork").Value("b", 0, lock=False)  # read and set under self.lock
        else:  # a replacement belongs to the process that started it alone
            self._ready = _Flag()

    def _readline(self, timeout: float) -> str:
        """One line from the zygote, or ZygoteError when it exits or stays silent past the deadline."""
        import select
        import time

        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ZygoteError(f"kernel zygote did not answer within {timeout:g} s")
            readable, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ZygoteError(f"kernel zygote exited (exit code {self.proc.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def wait_ready(self) -> None:
        if not self._ready.value:
            line = self._readline(self.start_timeout)
            if line.strip() != "ready":
                raise ZygoteError(f"kernel zygote failed to start (exit code {self.proc.poll()})")
            self._ready.value = 1

    def _request(self, request: dict) -> int:
        self.wait_ready()
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        return int(json.loads(self._readline(self.reply_timeout))["pid"])

    def fork(self, argv: list[str], env: dict, cwd: str, log: str) -> int:
        request = {"argv": argv, "env": env, "cwd": cwd, "log": log}
        # A worker killed while it held the shared lock never releases it: waiting for it has a deadline too.
        if not self.lock.acquire(timeout=self.reply_timeout if self.shared else -1):
            self.shared, self.lock = False, threading.Lock()  # go on with a zygote of this worker's own
            self.replaced += 1
            self._start()
            self.lock.acquire()
        try:
            return self._request(request)
        except (ZygoteError, OSError, ValueError, KeyError):  # dead (broken pipe), stopped or garbled
            self.close(broken=True)  # broken for every worker sharing it: whoever finds it so kills it
            self.replaced += 1
            self._start()
            try:
                return self._request(request)
            except (OSError, ValueError, KeyError) as exc:
                raise ZygoteError(f"kernel zygote failed twice: {exc}") from None
        finally:
            self.lock.release()

    def close(self, broken: bool = False) -> None:
        if self.owner != os.getpid() and not broken:  # a worker's copy of the shared zygote: its owner stops it
            return
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL ends a stopped process too
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class _Flag:
    """A "ready" flag for one process (the shared one is a multiprocessing Value)."""

    value = 0


class _ForkedProcess:
    """The parts of subprocess.Popen that LocalProvisioner uses, for a process we did not spawn."""

    stdout = stderr = stdin = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                with open(f"/proc/{self.pid}/stat") as fh:
                    if fh.read().split(") ")[-1].startswith("Z"):
                        self.returncode = 0
            except (ProcessLookupError, FileNotFoundError):
                self.returncode = 0
        return self.returncode

    def wait(self, timeout=None):
        import time

        while self.poll() is None:
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum):
        os.kill(self.pid, signum)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Launches the kernel by forking the zygote instead of running the kernel command."""

    zygote: Zygote | None = None
    log_path: str = os.devnull

    async def launch_kernel(self, cmd: list[str], **kwargs) -> dict:
        argv = cmd[cmd.index("-f"):] if "-f" in cmd else cmd[3:]
        env = kwargs.get("env") or dict(os.environ)
        cwd = str(kwargs.get("cwd") or Path.cwd())
        pid = self.zygote.fork(argv, env, cwd, self.log_path)
        self.process = _ForkedProcess(pid)
        self.pid = pid
        self.pgid = pid
        self.cwd = cwd
        return self.connection_info
