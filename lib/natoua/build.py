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
# Summits the sections' prose is written around (sections 02, 03 and 11 require them by id): an edition
# needs the last of them to have ended. Their dates come from data/summits.csv.
PROSE_SUMMITS = ("bucharest-2008", "vilnius-2023", "washington-2024")
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
    partial: bool = False  # --sections chose a subset: published under reports/partial/, never latest
    data_snapshot: dict = field(default_factory=dict)  # data file -> sha256, as validated
    validated_datasets: dict = field(default_factory=dict)  # dataset -> digest, as validated

    def common_parameters(self) -> dict:
        return {"as_of": self.as_of, "currency": self.currency}


@dataclass
class Section:
    section: str
    notebook: Path
    title: str
    declared: dict  # parameter name -> default (from the parameters cell)
    cell_timeout: int | None = None  # notebook metadata natoua.cell_timeout (seconds per cell)
    specs: dict | None = None  # parameter name -> ParameterSpec (type and rules from the parameters cell)

    @property
    def name(self) -> str:
        return self.notebook.stem


# --- parameters and plan ------------------------------------------------------------

ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def check_as_of(value: str) -> str:
    """A calendar date YYYY-MM-DD (not an ISO week or ordinal date) within the range the data support."""
    try:
        if not isinstance(value, str) or not ISO_DAY.match(value):
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BuildError(f"--as-of {value!r} is not a date YYYY-MM-DD", EXIT_BAD_INPUT) from None
    first, last = as_of_range()
    if not first <= parsed <= last:
        raise BuildError(f"--as-of {value} is outside the range the data support: {first} to {last} "
                         f"(see README, Parameters)", EXIT_BAD_INPUT)
    return value


def as_of_range() -> tuple[date, date]:
    """The cut-offs the data package supports, derived from it.

    First: the end of the last summit the prose is written around (PROSE_SUMMITS, dates from summits.csv),
    or the newest start of a dated dataset's coverage if later: before it, sections have nothing to say.
    Last: two years after the newest end of any dataset's coverage (datapackage.json `temporal`); beyond
    it every figure would be a stale repeat of the last release."""
    import csv

    from .data import DataError, package, resource, resource_path

    fallback = (date(2024, 7, 11), date(2028, 10, 30))  # what the package held when this was written
    try:
        resources = [r for r in package().get("resources", []) if isinstance(r, dict)]
        starts, ends = [], []
        for r in resources:
            temporal = r.get("temporal") if isinstance(r.get("temporal"), dict) else {}
            if r.get("as_of_filter") and temporal.get("start"):
                starts.append(date.fromisoformat(str(temporal["start"])))
            if temporal.get("end"):
                ends.append(date.fromisoformat(str(temporal["end"])))
        with open(resource_path(resource("summits")), newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                if row.get("summit_id") in PROSE_SUMMITS:
                    starts.append(date.fromisoformat(row.get("end_date") or row["start_date"]))
        last = max(ends)
        two_years = date(last.year + 2, last.month, 28 if (last.month, last.day) == (2, 29) else last.day)
        return max(starts), two_years
    except (DataError, OSError, ValueError, KeyError, TypeError, RecursionError, csv.Error):
        return fallback  # a broken package: validation reports it next


def check_out(out) -> Path:
    """--out: a folder the build can write to (created if missing)."""
    import tempfile

    reports = Path(out)
    if reports.exists() and not reports.is_dir():
        raise BuildError(f"--out {out}: not a folder", EXIT_BAD_INPUT)
    try:
        reports.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=reports)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BuildError(f"--out {out}: not a writable folder ({exc.strerror or exc})", EXIT_BAD_INPUT) from None
    return reports.resolve()


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
        specs = parameter_specs(nb)
        out.append(Section(sid, available[sid], _title(nb), {k: v.default for k, v in specs.items()},
                           notebook_cell_timeout(nb), specs))
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
    return {name: spec.default for name, spec in parameter_specs(nb).items()}


COMMON_PARAMETERS = ("as_of", "currency")  # set by --as-of and --currency only, never by -p
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_RULES = re.compile(r"\[([^\[\]]*)\]\s*$")


@dataclass
class ParameterSpec:
    """One parameter as its notebook declares it: `name: type = default  # help [min 0; max 1; ordered; len 2]`."""

    name: str
    type: str  # int, float, str, bool, list[int], ...
    default: object
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    ordered: bool = False  # a list in strictly increasing order
    length: tuple[int, int | None] | None = None  # (at least, at most) items

    def check(self, value) -> str | None:
        """What is wrong with `value`, or None."""
        item_type = self.type[5:-1] if self.type.startswith("list[") else None
        if item_type:
            if not isinstance(value, list):
                return f"expected a list of {item_type}, e.g. {self.default!r}"
            items = value
            low, high = self.length or (0, None)
            if len(items) < low or (high is not None and len(items) > high):
                count = f"{low}" if high == low else f"at least {low}" if high is None else f"{low} to {high}"
                return f"expected {count} item(s), got {len(items)}"
        else:
            items = [value]
        kind = _TYPES.get(item_type or self.type)
        if kind is None:  # an annotation this checker does not know: the notebook checks the value itself
            return None
        for item in items:
            ok = isinstance(item, kind) and not (kind is not bool and isinstance(item, bool))
            if kind is float and isinstance(item, int) and not isinstance(item, bool):
                ok = True
            if not ok:
                return f"{item!r} is not {'an' if (item_type or self.type)[0] in 'aeiou' else 'a'} {item_type or self.type}"
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if item != item or item in (float("inf"), float("-inf")):
                    return f"{item!r} is not a finite number"
                if self.minimum is not None and item < self.minimum:
                    return f"{item!r} is below the minimum {_number(self.minimum)}"
                if self.maximum is not None and item > self.maximum:
                    return f"{item!r} is above the maximum {_number(self.maximum)}"
        if self.ordered and any(b <= a for a, b in zip(items, items[1:])):
            return f"{value!r} must be in increasing order"
        return None


def _number(x: float):
    return int(x) if float(x).is_integer() else x


def parameter_specs(nb: dict) -> dict[str, ParameterSpec]:
    """The typed parameters of the cell tagged `parameters`, with the rules in their comments."""
    import ast
    import io
    import tokenize

    for cell in nb.get("cells", []):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell.get("source", ""))
        comments = {}
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
        found = {}
        for node in ast.parse(source).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                kind = ast.unparse(node.annotation) if isinstance(node, ast.AnnAssign) else ""
                for t in targets:
                    if isinstance(t, ast.Name):
                        found[t.id] = _spec(t.id, kind, ast.literal_eval(node.value), comments.get(node.lineno, ""))
        return found
    return {}


def _spec(name: str, kind: str, default, comment: str) -> ParameterSpec:
    spec = ParameterSpec(name, kind or type(default).__name__, default, comment)
    match = _RULES.search(comment)
    for rule in (match.group(1).split(";") if match else []):
        word, _, arg = rule.strip().partition(" ")
        if word == "min":
            spec.minimum = float(arg)
        elif word == "max":
            spec.maximum = float(arg)
        elif word == "ordered":
            spec.ordered = True
        elif word == "len":
            spec.length = (int(arg[:-1]), None) if arg.endswith("+") else (int(arg), int(arg))
    return spec


def section_parameters(section: Section, options: Options) -> dict:
    params = {k: v for k, v in options.common_parameters().items() if k in section.declared}
    specs = section.specs or {}
    for key, value in options.params.get(section.section, {}).items():
        if key in COMMON_PARAMETERS:
            raise BuildError(f"-p {section.section}.{key}: {key} is common to every section; "
                             f"use --{key.replace('_', '-')}", EXIT_BAD_INPUT)
        if key not in section.declared:
            raise BuildError(f"section {section.section} has no parameter {key!r} "
                             f"(it declares {', '.join(section.declared) or 'none'})", EXIT_BAD_INPUT)
        problem = specs[key].check(value) if key in specs else None
        if problem:
            raise BuildError(f"-p {section.section}.{key}={value!r}: {problem}", EXIT_BAD_INPUT)
        params[key] = value
    return params


# --- validation (cached on the package's content) -----------------------------------

def validate_data(reports: Path, snapshot: dict | None = None) -> list:
    """Every problem in the data package; a valid package is remembered (by content) in reports/.cache."""
    from .validate import validate_package

    digest = _package_content_digest(snapshot if snapshot is not None else data_snapshot())
    marker = reports / ".cache" / "validation" / f"{digest}.ok"
    if marker.exists():
        return []
    problems = validate_package(cache_dir=reports / ".cache" / "validation" / "resources")  # re-reads what changed
    if not problems:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("valid\n")
    return problems


def _package_content_digest(snapshot: dict) -> str:
    h = hashlib.sha256(cache.package_digest().encode())
    h.update(str(paths.data_dir()).encode())
    for name, digest in sorted(snapshot.items()):
        h.update(name.encode())
        h.update(digest.encode())
    return h.hexdigest()


def data_snapshot() -> dict[str, str]:
    """sha256 of every file in the data folder, by path: the package as validation saw it."""
    base = paths.data_dir()
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def check_data_unchanged(validated: dict, datasets: dict, reads: list[dict]) -> None:
    """The data the build validated is the data it used: no file changed since validation, and every
    dataset a section read is the validated version. Otherwise exit 2 naming the file."""
    from . import data

    now = data_snapshot()
    changed = sorted(k for k in set(validated) | set(now) if validated.get(k) != now.get(k))
    if not changed:
        for section_reads in reads:
            for name, digest in section_reads.items():
                if datasets.get(name, digest) != digest:
                    try:
                        changed.append(str(data.resource_path(data.resource(name)).relative_to(paths.data_dir())))
                    except (data.DataError, ValueError):
                        changed.append(name)
    if changed:
        raise BuildError(f"data/{changed[0]} changed while the build ran (after validation)"
                         f"{f' (and {len(changed) - 1} more)' if len(changed) > 1 else ''}; nothing published: "
                         f"run the build again", EXIT_BAD_INPUT)


# --- execution ----------------------------------------------------------------------

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
        by_section = {j.section: j for j in jobs}
        running: dict[str, tuple[int, float]] = {}  # section -> (worker pid, started)
        results = []
        while len(results) < len(jobs):
            try:
                result = self.results_q.get(timeout=5)
            except Exception:
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
        the worker is killed (its zygote and kernels die with it) and the section fails."""
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


def _code_cells(notebook: Path) -> int:
    try:
        return sum(c.get("cell_type") == "code" for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        return 100


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
    import typst  # noqa: F401

    from . import changes, edition, export  # noqa: F401


# --- the build ------------------------------------------------------------------------

def build(options: Options) -> int:
    started = time.perf_counter()
    check_as_of(options.as_of)
    if options.currency not in CURRENCIES:
        raise BuildError(f"--currency must be one of {', '.join(CURRENCIES)}", EXIT_BAD_INPUT)
    sections = plan(options.sections)
    stray = sorted(set(options.params) - {s.section for s in sections})
    if stray:
        raise BuildError(f"-p {stray[0]}.…: section {stray[0]} is not among the sections being built", EXIT_BAD_INPUT)
    params = {s.section: section_parameters(s, options) for s in sections}
    reports = check_out(options.out)
    options.partial = len(sections) < len(paths.section_notebooks())

    try:
        held = publish.lock(reports, options.wait,
                            on_wait=lambda path: print(f"waiting for another build to finish (lock {path})", flush=True))
    except publish.Locked as exc:
        raise BuildError(f"another build is running (lock {exc}); try again later or use --wait", EXIT_LOCKED) from None
    try:
        publish.clean_leftovers(reports)
        try:
            publish.check_layout(reports, options.as_of)
        except publish.LayoutError as exc:
            raise BuildError(f"--out: {exc}; nothing was built or published", EXIT_BAD_INPUT) from None
        if publish.repair_latest(reports):  # a build killed between its two link switches
            _say(options, f"repaired {reports.name}/latest -> {os.readlink(reports / publish.LATEST)}")
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
        options.data_snapshot = data_snapshot()
        problems = validate_data(reports, options.data_snapshot)
        options.timings["validate"] = time.perf_counter() - t0
        if problems:
            for p in problems:
                print(str(p), file=sys.stderr)
            raise BuildError(f"data validation failed: {len(problems)} problem(s); nothing was built or published",
                             EXIT_BAD_INPUT)
        from . import data

        options.validated_datasets = {name: data.dataset_digest(name) for name in data.resource_names()}
        return _checked_build(options, reports, sections, params, started, section_cache, keys, hits, pool)
    finally:
        if pool is not None:
            pool.close()


def _checked_build(options, reports, sections, params, started, section_cache, keys, hits, pool) -> int:
    report_key = _report_key(options, sections, keys, hits)
    existing = publish.current(reports, options.as_of, options.partial)
    if len(hits) == len(sections) and existing is not None and not options.force:
        manifest = _read_json(existing / "manifest.json")
        if manifest.get("report_key") == report_key:
            where = f"{publish.PARTIAL}/{options.as_of}" if options.partial else options.as_of
            _say(options, f"up to date: {reports.name}/{where} (nothing changed; {len(sections)} sections cached)")
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

    check_data_unchanged(options.data_snapshot, options.validated_datasets,
                         [r.reads for r in results.values()] + [e.reads for e in hits.values()])
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
    lost = [sid for sid, entry in entries.items() if entry is None]
    if lost:  # the cache no longer matches the data: something changed under the build
        check_data_unchanged(options.data_snapshot, options.validated_datasets, [])
        raise BuildError(f"the executed section {lost[0]} could not be read back from the cache; nothing published: "
                         f"run the build again")
    report_key = _report_key(options, sections, keys, {k: v for k, v in entries.items() if v})
    from .edition import write_edition

    previous = publish.previous_edition(reports, options.as_of, options.partial)
    code = write_edition(options, sections, entries, failed, results, staging, executed_dir, report_key, run_id, previous,
                         options.timings)
    _mark_manifest(staging, partial=options.partial)
    check_data_unchanged(options.data_snapshot, options.validated_datasets,
                         [e.reads for e in entries.values() if e is not None])
    try:
        published = publish.publish(staging, reports, options.as_of, run_id, options.partial)
    except (OSError, publish.LayoutError) as exc:
        raise BuildError(f"publishing failed: {exc}; the next run repairs the links") from None
    total = time.perf_counter() - started
    phases = ", ".join(f"{k} {v:.1f}" for k, v in options.timings.items())
    _say(options, f"published {published} in {total:.1f} s ({phases})" + (" (DEGRADED)" if failed else "")
         + (" (partial build: not the edition, never latest)" if options.partial else ""))
    return EXIT_DEGRADED if failed else code


def _mark_manifest(staging: Path, partial: bool) -> None:
    """Record in the manifest whether this is a partial build (--sections), so no reader mistakes it."""
    path = staging / "manifest.json"
    manifest = _read_json(path)
    manifest["partial"] = partial
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


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
                "typst", "frictionless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
