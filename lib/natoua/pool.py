"""The worker pool: `workers` processes, each executing notebooks one after another on a warm kernel
(see execute), taking jobs from one queue, longest first. A job whose worker dies, or that outlives every
limit inside it, fails its section; the pool itself never hangs."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path

from .errors import BuildError
from .execute import Job, Result


def _worker(jobs_q, results_q):
    from .execute import run_job, shutdown_prewarmed, warm_up
    from .zygote import die_with_parent

    die_with_parent()  # a killed build leaves no worker (or kernel) behind
    warm_up()  # the first kernel starts while the jobs are still being planned
    job = jobs_q.get()
    while job is not None:
        results_q.put(("started", job.section, os.getpid()))  # the pool watches this worker while it runs the job
        try:
            results_q.put(run_job(job))
        except BaseException as exc:  # keep the pool alive; report the section as failed
            results_q.put(Result(job.section, False, 0.0, job.output, {},
                                 {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}))
        job = jobs_q.get()
    shutdown_prewarmed()


class Pool:
    """`workers` processes, each with a warm kernel, taking jobs from one queue (longest first)."""

    def __init__(self, workers: int):
        import threading

        ctx = mp.get_context("fork")
        # One kernel zygote for all workers, started here before they fork (they inherit it). Only from the main
        # thread: Linux kills a process's children when the *thread* that started them ends (PDEATHSIG).
        self.shared_zygote = workers > 1 and threading.current_thread() is threading.main_thread()
        if self.shared_zygote:
            from .execute import share_zygote

            share_zygote()
        self.jobs_q, self.results_q = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_worker, args=(self.jobs_q, self.results_q), daemon=True)
                      for _ in range(max(1, workers))]
        for p in self.procs:
            p.start()
        # Only after forking: a fork while another thread holds an import lock could deadlock the child.
        threading.Thread(target=_preload_exporters, daemon=True).start()

    def run(self, jobs: list[Job], on_result, expected_seconds: dict | None = None) -> list[Result]:
        expected_seconds = expected_seconds or {}
        for job in sorted(jobs, key=lambda j: -expected_seconds.get(j.section, 0.0)):
            self.jobs_q.put(job)
        by_section = {j.section: j for j in jobs}
        running: dict[str, tuple[int, float]] = {}  # section -> (worker pid, started)
        results = []
        while len(results) < len(jobs):
            try:
                result = self.results_q.get(timeout=5)
            except queue.Empty:
                result = self._overdue(running, by_section)
                if result is None and not any(p.is_alive() for p in self.procs):
                    raise BuildError("worker processes died before finishing") from None
                if result is None:
                    continue
            if isinstance(result, tuple):  # ("started", section, pid)
                running[result[1]] = (result[2], time.monotonic())
                continue
            running.pop(result.section, None)
            results.append(result)
            on_result(result)
        return results

    def _overdue(self, running: dict, by_section: dict) -> Result | None:
        """A job whose worker died, or that outlived every limit inside it (cell time limits, kernel start):
        the worker is killed, and its kernels with it, and the section fails."""
        for section, (pid, since) in list(running.items()):
            job = by_section[section]
            proc = next((p for p in self.procs if p.pid == pid), None)
            limit = job.timeout * (_code_cells(job.notebook) + 2) + 120
            if proc is not None and proc.is_alive() and time.monotonic() - since <= limit:
                continue
            why = f"timed out after {limit} s (whole section)" if proc is not None and proc.is_alive() \
                else "the worker process running it died"
            if proc is not None and proc.is_alive():
                proc.kill()
            from . import procs

            procs.sweep_owned(procs.KERNEL_ENV, pid)  # its kernels: forked from the shared zygote, they outlive it
            del running[section]
            return Result(section, False, time.monotonic() - since, job.output, {},
                          {"cell": None, "ename": "WorkerError", "evalue": why})
        return None

    def close(self) -> None:
        for _ in self.procs:
            self.jobs_q.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        if self.shared_zygote:
            from .execute import stop_shared_zygote

            stop_shared_zygote()


def _code_cells(notebook: Path) -> int:
    try:
        return sum(c.get("cell_type") == "code" for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        return 100


def _preload_exporters() -> None:
    """Import what assembling and exporting need while the workers execute notebooks
    (the main process is otherwise idle then; these imports take a few seconds)."""
    import nbconvert.exporters  # noqa: F401
    import pandas  # noqa: F401
    import typst  # noqa: F401

    from . import changes, data, edition, export  # noqa: F401

    # The edition's pages read every dataset (what changed, releases, freshness, the PDF's attachments): parsed
    # here, beside the sections, rather than after them (keyed on each file's digest: a file changed since is
    # read again; no read is recorded)
    data.preload()
