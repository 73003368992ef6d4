"""Run notebooks with Papermill's Python API in worker processes.

Each worker is one process that executes notebooks one after another. Start-up
dominates the cost of a short notebook (kernel launch, then pandas and
matplotlib imports), so a worker keeps the next kernel already started, with
those imports done, while the current notebook runs.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import paths, procs
from .data import RUN_LOG_ENV

KERNEL_NAME = "python3"
# Imported in each kernel as it starts, before a notebook is assigned to it.
WARM_IMPORTS = "import natoua.warm"
# Seconds a cell may run before its section fails (no real cell takes more than a few seconds; a schedule
# must end). `--cell-timeout` sets it per build, notebook metadata `natoua.cell_timeout` per notebook.
CELL_TIMEOUT = 300
KERNEL_START_TIMEOUT = 60  # seconds for a kernel to answer its first request


def quiet_imports() -> None:
    """Skip an optional, slow validator that jsonschema would import (about 1 s per process).

    rfc3987-syntax only validates IRI formats; notebooks never use that format.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


@dataclass
class Job:
    section: str
    notebook: Path
    parameters: dict
    output: Path
    export_title: str = ""  # when set, the worker also renders the executed notebook to .html and .pdf
    timeout: int = CELL_TIMEOUT  # seconds per cell


@dataclass
class Result:
    section: str
    ok: bool
    seconds: float
    output: Path
    reads: dict[str, str]
    error: dict | None = None


_ZYGOTE = None
_SOCKETS: Path | None = None
_COUNTER = itertools.count()  # names each kernel's socket and log files


def _socket_dir() -> Path:
    global _SOCKETS
    if _SOCKETS is None:
        import atexit
        import shutil
        import tempfile

        _SOCKETS = Path(tempfile.mkdtemp(prefix=f"natoua-{os.getpid()}-", dir="/tmp" if os.path.isdir("/tmp") else None))
        atexit.register(shutil.rmtree, _SOCKETS, True)
    return _SOCKETS


def _zygote(shared: bool = False):
    """This worker's kernel zygote (started once; None where fork is unavailable or disabled)."""
    global _ZYGOTE
    if _ZYGOTE is None and sys.platform == "linux" and os.environ.get("NATOUA_FORK_KERNELS", "1") != "0":
        from .zygote import Zygote

        _ZYGOTE = Zygote(dict(os.environ), shared=shared)
    return _ZYGOTE


def share_zygote() -> None:
    """Start the zygote in this process, before the workers fork, so they share it: its imports (about 1.5 s
    of CPU) are paid once per build instead of once per worker. Stopped by `stop_shared_zygote`."""
    _zygote(shared=True)


def stop_shared_zygote() -> None:
    global _ZYGOTE
    if _ZYGOTE is not None:
        _ZYGOTE.close()
        _ZYGOTE = None


class WarmKernel:
    """A kernel started before it is needed (forked from the zygote where possible).

    It is not tied to a notebook: each kernel records the datasets it reads in its own log, which the
    job that uses it collects afterwards.
    """

    def __init__(self):
        import uuid

        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        n = next(_COUNTER)
        self.reads = _socket_dir() / f"k{n}.reads.jsonl"
        env = dict(os.environ, PYTHONHASHSEED="0")
        env[RUN_LOG_ENV] = str(self.reads)
        # Everything this kernel starts, in any session, carries the token; shutdown() kills them all.
        self.token = procs.new_token()
        env[procs.KERNEL_ENV] = self.token
        # IPC sockets: local only, no TCP ports, no plain-text network warning. Unix socket paths are
        # limited to about 100 bytes, hence the short private folder.
        # An *async* manager: with a blocking one, nbclient waits for output with no timeout and never
        # runs its dead-kernel check, so a kernel that dies or hangs hangs the build (issue 10).
        km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(_socket_dir() / f"k{n}"))
        zygote = _zygote()
        self.zygote, self.generation = zygote, None
        if zygote is not None:
            from .zygote import ForkProvisioner

            provisioner = ForkProvisioner(kernel_id=str(uuid.uuid4()), kernel_spec=km.kernel_spec, parent=km)
            provisioner.zygote = zygote
            provisioner.log_path = str(_socket_dir() / f"k{n}.log")
            km.provisioner = provisioner
        run_sync(km.start_kernel)(env=env, cwd=str(paths.NOTEBOOKS),
                                  extra_arguments=[f"--IPKernelApp.exec_lines={WARM_IMPORTS!r}"])
        self.km = km
        if zygote is not None:
            self.generation = zygote.replaced

    def lost(self) -> bool:
        """Forked from a zygote that has since been replaced: it died with that zygote."""
        return self.zygote is not None and self.generation != self.zygote.replaced

    def shutdown(self) -> None:
        """Kill the kernel (and its process group) now; a dead or hung kernel is no exception."""
        from jupyter_core.utils import run_sync

        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:
            pass
        provisioner = getattr(self.km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if pid:  # belt and braces: nothing the kernel started may outlive it
            import signal

            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        procs.sweep(procs.KERNEL_ENV, self.token)  # what it started in other sessions (setsid, double fork)


_WARM: WarmKernel | None = None


def warm_up() -> None:
    """Start this worker's first kernel (call when the worker starts, before jobs arrive)."""
    global _WARM
    if _WARM is None:
        _WARM = WarmKernel()


def run_job(job: Job) -> Result:
    """Execute one notebook on the warm kernel, starting the next warm kernel while it runs."""
    global _WARM
    quiet_imports()
    import logging

    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # its "Kernel died..." repeats what the build prints

    job.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    kernel = _WARM or WarmKernel()
    _WARM = WarmKernel()
    if kernel.lost():  # starting the next kernel replaced a dead or stopped zygote, and this kernel with it
        kernel.shutdown()
        kernel = WarmKernel()
    error = None
    seen: dict = {}  # the notebook being executed and the cell running, to report where a kernel died

    def on_cell_execute(cell=None, cell_index=None, **_):
        seen["cell_index"] = cell_index

    try:
        pm.execute_notebook(
            str(job.notebook), str(job.output), parameters=job.parameters, kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, cwd=str(paths.NOTEBOOKS),
            request_save_on_cell_execute=False, km=kernel.km, start_timeout=KERNEL_START_TIMEOUT,
            execution_timeout=job.timeout, on_notebook_start=lambda notebook=None, **_: seen.update(nb=notebook),
            on_cell_execute=on_cell_execute,
        )
    except pm.PapermillExecutionError as exc:
        error = {"cell": exc.exec_count, "cell_index": exc.cell_index, "ename": exc.ename,
                 "evalue": exc.evalue}
    except Exception as exc:  # kernel died or timed out, notebook unreadable, ...
        error = _kernel_failure(exc, job, seen)
    finally:
        kernel.shutdown()
    seconds = time.perf_counter() - started
    if error is None:
        normalise(job.output)
        if job.export_title:
            try:
                from .export import export_notebook

                export_notebook(job.output, job.output.with_suffix(".html"), job.output.with_suffix(".pdf"),
                                job.export_title, job.parameters.get("as_of", ""))
            except Exception as exc:  # an export failure fails this job, visibly
                error = {"cell": None, "cell_index": None, "ename": type(exc).__name__, "evalue": str(exc)}
    reads = read_log(kernel.reads)
    kernel.reads.unlink(missing_ok=True)
    return Result(job.section, error is None, seconds, job.output, reads, error)


def _kernel_failure(exc: Exception, job: Job, seen: dict) -> dict:
    """The error of a section whose kernel died or timed out, with the cell it was running; the partial
    notebook is written to job.output with Papermill's error marker, like any failed section."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError) and "IOPub" in str(exc):  # the cell ended; its output did not
        from .output_limit import MAX_CELL_OUTPUT

        ename, evalue = "OutputLimitError", (f"the cell's output was still arriving after the cell ended (it printed "
                                             f"too much; the output limit is {MAX_CELL_OUTPUT // 2**20} MB per cell)")
    elif isinstance(exc, CellTimeoutError):
        ename, evalue = "CellTimeoutError", f"timed out after {job.timeout} s (cell time limit)"
    elif isinstance(exc, DeadKernelError) or "kernel died" in str(exc).lower():
        ename, evalue = "DeadKernelError", "kernel died (the process running the notebook exited or crashed)"
    else:
        return {"cell": None, "cell_index": None, "ename": type(exc).__name__, "evalue": str(exc),
                "trace": traceback.format_exc(limit=3)}
    nb, index = seen.get("nb"), seen.get("cell_index")
    error = {"cell": None, "cell_index": index, "ename": ename, "evalue": evalue}
    if nb is None or index is None:
        return error
    import nbformat
    import papermill as pm

    cell = nb.cells[index]
    if not cell.get("execution_count"):  # the kernel died before announcing the cell: its number in order
        cell["execution_count"] = sum(c.get("cell_type") == "code" for c in nb.cells[: index + 1])
    error["cell"] = cell["execution_count"]
    cell.setdefault("outputs", []).append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
    try:
        _truncate_outputs(nb)
        pm.execute.raise_for_execution_errors(nb, str(job.output))  # writes the notebook with the marker
    except pm.PapermillExecutionError as marked:
        error["cell"] = marked.exec_count
    except Exception:
        pass
    return error


MAX_OUTPUT_CHARS = 200_000  # a runaway cell's text kept in the failed notebook


def _truncate_outputs(nb) -> None:
    """Keep at most MAX_OUTPUT_CHARS of text output per cell (a cell printing in a loop until its
    time limit would otherwise leave a notebook of many megabytes in _failed/)."""
    for cell in nb.cells:
        kept, budget = [], MAX_OUTPUT_CHARS
        for out in cell.get("outputs", []):
            text = out.get("text")
            if text is not None:
                text = "".join(text) if isinstance(text, list) else str(text)
                if budget <= 0:
                    continue
                if len(text) > budget:
                    out["text"] = text[:budget] + "\n[... output cut: the cell printed more than the report keeps]\n"
                budget -= len(text)
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept


def clean_stale_socket_dirs() -> None:
    """Remove socket folders of workers that no longer exist (a killed build cannot clean up)."""
    import glob
    import shutil

    for folder in glob.glob("/tmp/natoua-*-*"):
        try:
            pid = int(Path(folder).name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def read_log(run_log: Path) -> dict[str, str]:
    reads: dict[str, str] = {}
    if run_log.exists():
        for line in run_log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            reads[entry["dataset"]] = entry["digest"]
    return dict(sorted(reads.items()))


def normalise(path: Path) -> None:
    """Drop run-specific metadata (timestamps, paths, the random id of the injected parameters cell) so an
    executed notebook is the same bytes on every run."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    pm_meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables"):
        pm_meta.pop(key, None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        meta.pop("execution", None)
        if "injected-parameters" in meta.get("tags", []):
            cell["id"] = "injected-parameters"  # Papermill gives it a random id; the rest are the notebook's
        pmc = meta.get("papermill", {})
        for key in ("start_time", "end_time", "duration"):
            pmc.pop(key, None)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def shutdown_prewarmed() -> None:
    global _WARM
    if _WARM is not None:
        _WARM.shutdown()
        _WARM = None
    if _ZYGOTE is not None:
        _ZYGOTE.close()
    if _SOCKETS is not None:
        import shutil

        shutil.rmtree(_SOCKETS, ignore_errors=True)
