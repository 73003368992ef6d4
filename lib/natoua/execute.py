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

from . import paths
from .data import RUN_LOG_ENV

KERNEL_NAME = "python3"
# Imported in each kernel as it starts, before a notebook is assigned to it.
WARM_IMPORTS = "import natoua.warm"
CELL_TIMEOUT = 600  # seconds; a cell running longer fails the section instead of hanging the schedule


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


def _zygote():
    """This worker's kernel zygote (started once; None where fork is unavailable or disabled)."""
    global _ZYGOTE
    if _ZYGOTE is None and sys.platform == "linux" and os.environ.get("NATOUA_FORK_KERNELS", "1") != "0":
        from .zygote import Zygote

        _ZYGOTE = Zygote(dict(os.environ))
    return _ZYGOTE


class WarmKernel:
    """A kernel started before it is needed (forked from the zygote where possible).

    It is not tied to a notebook: each kernel records the datasets it reads in its own log, which the
    job that uses it collects afterwards.
    """

    def __init__(self):
        import uuid

        from jupyter_client.manager import KernelManager

        n = next(_COUNTER)
        self.reads = _socket_dir() / f"k{n}.reads.jsonl"
        env = dict(os.environ, PYTHONHASHSEED="0")
        env[RUN_LOG_ENV] = str(self.reads)
        # IPC sockets: local only, no TCP ports, no plain-text network warning. Unix socket paths are
        # limited to about 100 bytes, hence the short private folder.
        km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(_socket_dir() / f"k{n}"))
        zygote = _zygote()
        if zygote is not None:
            from .zygote import ForkProvisioner

            provisioner = ForkProvisioner(kernel_id=str(uuid.uuid4()), kernel_spec=km.kernel_spec, parent=km)
            provisioner.zygote = zygote
            provisioner.log_path = str(_socket_dir() / f"k{n}.log")
            km.provisioner = provisioner
        km.start_kernel(env=env, cwd=str(paths.NOTEBOOKS),
                        extra_arguments=[f"--IPKernelApp.exec_lines={WARM_IMPORTS!r}"])
        self.km = km

    def shutdown(self) -> None:
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass


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
    import papermill as pm

    job.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    kernel = _WARM or WarmKernel()
    _WARM = WarmKernel()
    error = None
    try:
        pm.execute_notebook(
            str(job.notebook), str(job.output), parameters=job.parameters, kernel_name=KERNEL_NAME,
            progress_bar=False, log_output=False, cwd=str(paths.NOTEBOOKS),
            request_save_on_cell_execute=False, km=kernel.km, start_timeout=60, execution_timeout=CELL_TIMEOUT,
        )
    except pm.PapermillExecutionError as exc:
        error = {"cell": exc.exec_count, "cell_index": exc.cell_index, "ename": exc.ename,
                 "evalue": exc.evalue}
    except Exception as exc:  # kernel died, notebook unreadable, ...
        error = {"cell": None, "cell_index": None, "ename": type(exc).__name__, "evalue": str(exc),
                 "trace": traceback.format_exc(limit=3)}
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
    """Drop run-specific metadata (timestamps, paths) so executed notebooks are reproducible."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    pm_meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables"):
        pm_meta.pop(key, None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        meta.pop("execution", None)
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
