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

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_kernel(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


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

class Zygote:
    """A running zygote process; `fork` returns the pid of a new kernel."""

    def __init__(self, env: dict):
        env = dict(env, PYTHONHASHSEED="0")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from natoua.zygote import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1,
        )
        self.lock = threading.Lock()
        self._ready = False

    def wait_ready(self) -> None:
        if not self._ready:
            line = self.proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"kernel zygote failed to start (exit code {self.proc.poll()})")
            self._ready = True

    def fork(self, argv: list[str], env: dict, cwd: str, log: str) -> int:
        with self.lock:
            self.wait_ready()
            self.proc.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd, "log": log}) + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError("kernel zygote exited")
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


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
