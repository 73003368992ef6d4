"""The build: validate the data, run the section notebooks, assemble, export, publish.

    natoua build [--as-of 2026-03-31] [--sections 02,07] [--jobs N] [--no-pdf] [--out reports]

Exit codes (see README): 0 built or up to date, 1 a section or the export
failed, 2 bad input (data or arguments), 3 another build holds the lock,
4 a degraded edition was published (--keep-going with failed sections).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from . import __version__, cache, paths, publish
from .execute import Job, Result

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_DEGRADED = 0, 1, 2, 3, 4
CURRENCIES = ("EUR", "USD")
SECTION_ID = re.compile(r"^(?:[0-9]{2}|A[0-9])$")
REPORT_SLUG = "nato-ukraine-relations"

log = logging.getLogger("natoua.build")


class BuildError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    as_of: str
    sections: list[str] | None = None
    jobs: int = 0
    pdf: bool = True
    out: Path = field(default_factory=lambda: paths.REPORTS)
    currency: str = "EUR"
    params: dict = field(default_factory=dict)  # section-specific: {"12": {"ceasefire_year": 2027}}
    force: bool = False
    keep_going: bool = False
    wait: bool = True
    quiet: bool = False
    stale_months: int = 9  # a section whose newest data are older than this (before as_of) gets flagged
    cell_timeout: int | None = None  # seconds per cell for every section (else notebook metadata, else the default)
    timings: dict = field(default_factory=dict)  # seconds per phase, reported at the end

    def common_parameters(self) -> dict:
        return {"as_of": self.as_of, "currency": self.currency}


@dataclass
class Section:
    section: str
    notebook: Path
    title: str
    declared: dict  # parameter name -> default (from the parameters cell)
    cell_timeout: int | None = None  # notebook metadata natoua.cell_timeout (seconds per cell)

    @property
    def name(self) -> str:
        return self.notebook.stem


# --- parameters and plan ------------------------------------------------------------

def check_as_of(value: str) -> str:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BuildError(f"--as-of {value!r} is not a date (YYYY-MM-DD)", EXIT_BAD_INPUT) from None
    if len(value) != 10 or not date(2008, 1, 1) <= parsed <= date(2100, 1, 1):
        raise BuildError(f"--as-of {value!r} must be YYYY-MM-DD between 2008 and 2100", EXIT_BAD_INPUT)
    return value


def plan(selected: list[str] | None = None) -> list[Section]:
    """The sections to build, in report order."""
    available = {}
    for nb_path in paths.section_notebooks():
        sid = nb_path.name.split("_", 1)[0]
        available[sid] = nb_path
    if selected:
        bad = [s for s in selected if not SECTION_ID.match(s)]
        if bad:
            raise BuildError(f"--sections: {', '.join(map(repr, bad))} is not a section number like 02 or A1", EXIT_BAD_INPUT)
        unknown = [s for s in selected if s not in available]
        if unknown:
            raise BuildError(f"--sections: no section {', '.join(unknown)} (have {', '.join(available)})", EXIT_BAD_INPUT)
    chosen = [s for s in available if not selected or s in selected]
    out = []
    for sid in chosen:
        nb = json.loads(available[sid].read_text(encoding="utf-8"))
        out.append(Section(sid, available[sid], _title(nb), declared_parameters(nb), notebook_cell_timeout(nb)))
    return out


def _title(nb: dict) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled section"


def notebook_cell_timeout(nb: dict) -> int | None:
    """A notebook's own cell time limit (metadata {"natoua": {"cell_timeout": seconds}}), if it sets one."""
    value = nb.get("metadata", {}).get("natoua", {}).get("cell_timeout")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def cell_timeout(section: Section, options: Options) -> int:
    from .execute import CELL_TIMEOUT

    return options.cell_timeout or section.cell_timeout or CELL_TIMEOUT


def declared_parameters(nb: dict) -> dict:
    """Names and literal defaults from the cell tagged `parameters`."""
    import ast

    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell.get("source", "")))
            found = {}
            for node in tree.body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        if isinstance(t, ast.Name):
                            found[t.id] = ast.literal_eval(node.value)
            return found
    return {}


def section_parameters(section: Section, options: Options) -> dict:
    params = {k: v for k, v in options.common_parameters().items() if k in section.declared}
    for key, value in options.params.get(section.section, {}).items():
        if key not in section.declared:
            raise BuildError(f"section {section.section} has no parameter {key!r} "
                             f"(it declares {', '.join(section.declared) or 'none'})", EXIT_BAD_INPUT)
        params[key] = value
    return params


# --- validation (cached on the package's content) -----------------------------------

def validate_data(reports: Path) -> list:
    """Every problem in the data package; a valid package is remembered (by content) in reports/.cache."""
    from .validate import validate_package

    digest = _package_content_digest()
    marker = reports / ".cache" / "validation" / f"{digest}.ok"
    if marker.exists():
        return []
    problems = validate_package()
    if not problems:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("valid\n")
    return problems


def _package_content_digest() -> str:
    h = hashlib.sha256(cache.package_digest().encode())
    base = paths.data_dir()
    h.update(str(base).encode())
    for p in sorted(base.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(base)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# --- execution ----------------------------------------------------------------------

def _worker(jobs_q, results_q):
    from .execute import run_job, shutdown_prewarmed, warm_up
    from .zygote import die_with_parent

    die_with_parent()  # a killed build leaves no worker (or kernel) behind
    warm_up()  # the first kernel starts while the jobs are still being planned
    job = jobs_q.get()
    while job is not None:
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
        ctx = mp.get_context("fork")
        self.jobs_q, self.results_q = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_worker, args=(self.jobs_q, self.results_q), daemon=True)
                      for _ in range(max(1, workers))]
        for p in self.procs:
            p.start()
        # Only after forking: a fork while another thread holds an import lock could deadlock the child.
        import threading

        threading.Thread(target=_preload_exporters, daemon=True).start()

    def run(self, jobs: list[Job], on_result, expected_seconds: dict | None = None) -> list[Result]:
        expected_seconds = expected_seconds or {}
        for job in sorted(jobs, key=lambda j: -expected_seconds.get(j.section, 0.0)):
            self.jobs_q.put(job)
        results = []
        while len(results) < len(jobs):
            try:
                result = self.results_q.get(timeout=5)
            except Exception:
                if not any(p.is_alive() for p in self.procs):
                    raise BuildError("worker processes died before finishing") from None
                continue
            results.append(result)
            on_result(result)
        return results

    def close(self) -> None:
        for _ in self.procs:
            self.jobs_q.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def run_jobs(jobs: list[Job], workers: int, on_result, expected_seconds: dict | None = None) -> list[Result]:
    """Run jobs on a fresh pool (used by the briefs)."""
    if not jobs:
        return []
    pool = Pool(min(workers, len(jobs)))
    try:
        return pool.run(jobs, on_result, expected_seconds)
    finally:
        pool.close()


def _preload_exporters() -> None:
    """Import what assembling and exporting need while the workers execute notebooks
    (the main process is otherwise idle then; these imports take a few seconds)."""
    import nbconvert.exporters  # noqa: F401
    import pandas  # noqa: F401
    import weasyprint  # noqa: F401

    from . import changes, edition, export  # noqa: F401


# --- the build ------------------------------------------------------------------------

def build(options: Options) -> int:
    started = time.perf_counter()
    check_as_of(options.as_of)
    if options.currency not in CURRENCIES:
        raise BuildError(f"--currency must be one of {', '.join(CURRENCIES)}", EXIT_BAD_INPUT)
    reports = Path(options.out).resolve()
    sections = plan(options.sections)
    params = {s.section: section_parameters(s, options) for s in sections}

    try:
        held = publish.lock(reports, options.wait,
                            on_wait=lambda path: print(f"waiting for another build to finish (lock {path})", flush=True))
    except publish.Locked as exc:
        raise BuildError(f"another build is running (lock {exc}); try again later or use --wait", EXIT_LOCKED) from None
    try:
        publish.clean_leftovers(reports)
        from .execute import clean_stale_socket_dirs

        clean_stale_socket_dirs()
        return _locked_build(options, reports, sections, params, started)
    finally:
        held.release()


def _say(options: Options, text: str) -> None:
    log.info(text)
    if not options.quiet:
        print(text, flush=True)


def _locked_build(options, reports, sections, params, started) -> int:
    section_cache = cache.SectionCache(reports / ".cache" / "sections")
    keys = {s.section: cache.section_key(s.notebook, params[s.section]) for s in sections}
    hits = {} if options.force else {s.section: section_cache.lookup(s.section, keys[s.section]) for s in sections}
    hits = {k: v for k, v in hits.items() if v is not None}
    # Workers (and their kernels) start now, so their start-up overlaps validation.
    misses = len(sections) - len(hits)
    pool = Pool(min(options.jobs or os.cpu_count() or 1, misses)) if misses else None
    try:
        t0 = time.perf_counter()
        problems = validate_data(reports)
        options.timings["validate"] = time.perf_counter() - t0
        if problems:
            for p in problems:
                print(str(p), file=sys.stderr)
            raise BuildError(f"data validation failed: {len(problems)} problem(s); nothing was built or published",
                             EXIT_BAD_INPUT)
        return _checked_build(options, reports, sections, params, started, section_cache, keys, hits, pool)
    finally:
        if pool is not None:
            pool.close()


def _checked_build(options, reports, sections, params, started, section_cache, keys, hits, pool) -> int:
    report_key = _report_key(options, sections, keys, hits)
    existing = publish.current(reports, options.as_of)
    if len(hits) == len(sections) and existing is not None and not options.force:
        manifest = _read_json(existing / "manifest.json")
        if manifest.get("report_key") == report_key:
            _say(options, f"up to date: {reports.name}/{options.as_of} (nothing changed; {len(sections)} sections cached)")
            return EXIT_OK

    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f") + f"-{os.getpid()}"
    staging = publish.new_staging(reports, run_id)
    handler = logging.FileHandler(staging / "build.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("natoua")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        log.info("build %s as_of=%s sections=%s jobs=%s", run_id, options.as_of,
                 ",".join(s.section for s in sections), options.jobs)
        return _execute_and_publish(options, reports, sections, params, keys, hits, section_cache,
                                    report_key, staging, run_id, started, pool)
    finally:
        root.removeHandler(handler)
        handler.close()
        if staging.exists():  # not published: remove the staging folder
            shutil.rmtree(staging, ignore_errors=True)


def _execute_and_publish(options, reports, sections, params, keys, hits, section_cache, report_key,
                         staging, run_id, started, pool) -> int:
    from .execute import Job

    executed_dir = staging / "notebooks"
    executed_dir.mkdir()
    scratch = reports / ".cache" / "runs" / run_id
    jobs = []
    for s in sections:
        if s.section in hits:
            entry = hits[s.section]
            _say(options, f"  {s.section} {s.name:<34} cached   {entry.seconds:5.1f} s (last run)")
            continue
        jobs.append(Job(s.section, s.notebook, params[s.section], scratch / f"{s.name}.ipynb",
                        timeout=cell_timeout(s, options)))
    results: dict[str, Result] = {}

    def progress(r: Result):
        status = "ok" if r.ok else "FAILED"
        _say(options, f"  {r.section} {_name(sections, r.section):<34} {status:<8} {r.seconds:5.1f} s")
        if not r.ok:
            e = r.error or {}
            where = f"cell {e.get('cell')}" if e.get("cell") is not None else "before any cell ran"
            _say(options, f"     {where}: {e.get('ename')}: {_first_line(e.get('evalue', ''))}")
        results[r.section] = r

    t0 = time.perf_counter()
    timings_file = reports / ".cache" / "timings.json"
    expected = _read_json(timings_file)  # longest first keeps every worker busy to the end
    if jobs:
        pool.run(jobs, progress, expected)
    options.timings["sections"] = time.perf_counter() - t0
    expected.update({r.section: round(r.seconds, 2) for r in results.values() if r.ok})
    timings_file.write_text(json.dumps(expected, sort_keys=True))

    failed = [s for s in sections if s.section in results and not results[s.section].ok]
    if failed:
        keep = reports / "_failed" / run_id
        keep.mkdir(parents=True, exist_ok=True)
        for s in failed:
            out = results[s.section].output
            if out.exists():
                os.replace(out, keep / f"{s.section}.ipynb")
        _say(options, f"failed sections kept in {keep}")
        if not options.keep_going:
            raise BuildError(f"{len(failed)} section(s) failed: {', '.join(s.section for s in failed)}; nothing published")

    for s in sections:
        r = results.get(s.section)
        if r is not None and r.ok:
            section_cache.store(s.section, keys[s.section], r.output.read_bytes(), r.reads, r.seconds)
    shutil.rmtree(scratch, ignore_errors=True)

    entries = {s.section: section_cache.lookup(s.section, keys[s.section]) for s in sections
               if s not in failed}
    report_key = _report_key(options, sections, keys, {k: v for k, v in entries.items() if v})
    from .edition import write_edition

    previous = publish.previous_edition(reports, options.as_of)
    code = write_edition(options, sections, entries, failed, results, staging, executed_dir, report_key, run_id, previous,
                         options.timings)
    published = publish.publish(staging, reports, options.as_of, run_id)
    total = time.perf_counter() - started
    phases = ", ".join(f"{k} {v:.1f}" for k, v in options.timings.items())
    _say(options, f"published {published} in {total:.1f} s ({phases})" + (" (DEGRADED)" if failed else ""))
    return EXIT_DEGRADED if failed else code


def _report_key(options, sections, keys, hits) -> str:
    reads = {s: sorted(e.reads.items()) for s, e in hits.items() if e is not None}
    payload = json.dumps({"keys": keys, "reads": reads, "pdf": options.pdf, "pkg": cache.package_digest(),
                          "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _name(sections, sid):
    return next((s.name for s in sections if s.section == sid), sid)


def _first_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text or "")
    return text.strip().splitlines()[0] if text.strip() else ""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def environment_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "natoua": __version__}
    for pkg in ("pandas", "numpy", "matplotlib", "papermill", "nbconvert", "nbclient", "ipykernel",
                "weasyprint", "frictionless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
