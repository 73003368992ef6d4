"""The runner: the one place that decides which notebooks run, and runs them.

`natoua build` (then writes and publishes an edition), `natoua preview` (then renders a private page) and
`natoua briefs` (then publishes the briefs into an edition) all run their notebooks through a `Runner` and
differ only in what they do with the `Run` it returns. For each task (a notebook with its parameters) the
runner looks up the cache of executed sections (a section re-runs only when its notebook, its parameters,
the natoua source or a dataset it read changed), validates the data package (cached on its content), runs
what is missing on the worker pool (warm kernels; cell time limit from --cell-timeout, else the notebook's
metadata, else the default), stores each success in the cache, and reports each result as it arrives.

Phases, for a command that does work between them (the build starts the workers before validating, so
their start-up overlaps validation, and checks whether the edition is up to date before running):

    runner = Runner(RunOptions(as_of="2026-03-31"), reports)
    run = runner.prepare(runner.section_tasks(sections))   # cache lookups; workers start for the misses
    runner.validate(run)                                    # run.problems: file:row:column lines
    runner.execute(run, on_result=print)                    # run.outcomes: task name -> Outcome
    runner.close()

Or in one call, `run = runner.run(tasks)` (nothing executes if the data are invalid: see run.problems).

One section over several parameter sets, nothing published (a sweep): give each task its own name; they
share the section's cache entries (keyed on the parameters), so a repeated set costs nothing:

    from natoua import plan
    from natoua.runner import RunOptions, Runner
    section = plan.plan(["12"])[0]
    with Runner(RunOptions(as_of="2026-03-31", jobs=2)) as runner:
        run = runner.run([runner.task(section, {"ceasefire_year": y}, name=f"12@{y}") for y in (2027, 2029)])
    for name, outcome in run.outcomes.items():
        outcome.ok, outcome.status, outcome.notebook, outcome.claims(), outcome.error

`runner.task` checks the parameters against the notebook's declaration (BuildError, exit code 2).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cache, datacheck, paths, publish, webfonts
from .errors import EXIT_BAD_INPUT, BuildError
from .execute import CELL_TIMEOUT, Job, Result
from .files import read_json, write_atomic
from .plan import Section, check_as_of, check_currency, parameters_memo, plan, section_parameters


@dataclass(frozen=True)
class RunOptions:
    """What every command that runs sections is asked for (frozen: the run's state is in `Run`)."""

    as_of: str
    currency: str = "EUR"
    sections: tuple | list | None = None  # section ids (None: all)
    params: dict = field(default_factory=dict)  # section-specific: {"12": {"ceasefire_year": 2027}}
    jobs: int = 0  # worker processes (0: the number of cores)
    cell_timeout: int | None = None  # seconds per cell for every notebook (else its metadata, else the default)
    force: bool = False  # ignore the cache
    out: Path = field(default_factory=lambda: paths.REPORTS)
    stale_months: int = 9  # a section whose newest data are older than this (before as_of) gets flagged

    def common_parameters(self) -> dict:
        return {"as_of": self.as_of, "currency": self.currency}


def check(options: RunOptions, notebooks: Path | None = None) -> list[Section]:
    """Every argument checked before any work (one line and exit code 2 for the first bad one): the cut-off,
    the currency, the sections and each -p value. Returns the sections, in report order."""
    check_as_of(options.as_of)
    check_currency(options.currency)
    sections = plan(options.sections, notebooks, parameters_memo(options.out))
    stray = sorted(set(options.params) - {s.section for s in sections})
    if stray:
        raise BuildError(f"-p {stray[0]}.…: section {stray[0]} is not among the sections being built", EXIT_BAD_INPUT)
    for s in sections:
        section_parameters(s, options.common_parameters(), options.params.get(s.section))
    return sections


@dataclass(frozen=True)
class Task:
    """One notebook to run with its parameters."""

    name: str  # unique in a run: "07", "POL", "12@2029"
    section: Section
    parameters: dict
    export_title: str = ""  # when set, the worker also renders the executed notebook to .html and .pdf
    cache_name: str = ""  # the cache folder (default: the section id; entries are keyed on the parameters)

    @property
    def cached_as(self) -> str:
        return self.cache_name or self.section.section


@dataclass
class Outcome:
    """What became of one task."""

    task: Task
    key: str  # its cache key
    # "cached", "executed", "reworded" (only its Markdown changed: the last run's outputs with the new text,
    # see cache.reworded), "failed", or "skipped" (the caller's `skip` said so)
    status: str
    entry: cache.Entry | None = None  # the executed notebook as cached (None if failed, skipped or lost)
    result: Result | None = None  # the execution, when it ran

    @property
    def ok(self) -> bool:
        return self.status in ("cached", "executed", "reworded") and self.entry is not None

    @property
    def notebook(self) -> Path | None:
        """The executed notebook (in the cache), if the task succeeded."""
        return self.entry.notebook if self.entry is not None else None

    @property
    def reads(self) -> dict:
        return self.entry.reads if self.entry is not None else (self.result.reads if self.result else {})

    @property
    def error(self) -> dict | None:
        return self.result.error if self.result is not None else None

    @property
    def seconds(self) -> float:
        return self.result.seconds if self.result is not None else (self.entry.seconds if self.entry else 0.0)

    def claims(self) -> dict[str, dict]:
        """The claims the executed notebook made (name -> value, text, unit, datasets, check)."""
        import nbformat

        from . import claims

        return claims.collect(nbformat.read(str(self.notebook), as_version=4)) if self.notebook else {}


@dataclass
class Run:
    """The state of one run (what changes while it runs)."""

    tasks: list[Task]
    keys: dict[str, str]  # task name -> cache key
    cached: dict[str, cache.Entry]  # task name -> entry found before running
    to_run: list[Task]
    skipped: list[Task]
    codes: dict[str, str] = field(default_factory=dict)  # task name -> cache.code_key (what its outputs depend on)
    # task name -> (its executed notebook with the new prose, the cached run it was made from)
    reworded: dict[str, tuple[bytes, cache.Entry]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problems: list = field(default_factory=list)  # data validation problems
    snapshot: dict = field(default_factory=dict)  # data file -> sha256, as validated
    datasets: dict = field(default_factory=dict)  # dataset -> digest, as validated
    timings: dict = field(default_factory=dict)  # seconds per phase
    run_id: str = field(default_factory=publish.new_run_id)

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    def executed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.result is not None]


class Runner:
    """Runs tasks with the cache and a pool of worker processes (kept between runs until `close`)."""

    def __init__(self, options: RunOptions, reports: Path | None = None, scratch: Path | None = None):
        self.options = options
        self.reports = Path(reports if reports is not None else options.out)
        self.cache = cache.SectionCache(self.reports / ".cache" / "sections")
        # Scratch folders of executions; a build's next run removes what a killed one left in the default.
        self.scratch = Path(scratch) if scratch is not None else self.reports / ".cache" / "runs"
        self.timings_file = self.reports / ".cache" / "timings.json"  # longest first keeps every worker busy
        # The HTML's font subsets depend only on the page's characters: kept on disk, shared by builds, previews
        # and briefs (set before the workers fork, so the briefs' exports in them use it too).
        webfonts.use_cache(self.reports / ".cache" / "webfonts")
        self.pool = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what to run --------------------------------------------------------------------------

    def parameters(self, section: Section, given: dict | None = None) -> dict:
        """The parameters `section` runs with: as_of and currency, then `given` (default: the -p values)."""
        return section_parameters(section, self.options.common_parameters(),
                                  self.options.params.get(section.section) if given is None else given)

    def task(self, section: Section, given: dict | None = None, name: str = "", **kw) -> Task:
        return Task(name or section.section, section, self.parameters(section, given), **kw)

    def section_tasks(self, sections: list[Section]) -> list[Task]:
        return [self.task(s) for s in sections]

    def cell_timeout(self, section: Section) -> int:
        return self.options.cell_timeout or section.cell_timeout or CELL_TIMEOUT

    # --- the phases ---------------------------------------------------------------------------

    def prepare(self, tasks: list[Task], skip=None) -> Run:
        """Look each task up in the cache (unless --force); start the workers for those that must run.
        `skip(task, key)` may leave a task out (the preview does not re-run a failure nothing fixed)."""
        keys = {t.name: cache.section_key(t.section.source or t.section.notebook, t.parameters) for t in tasks}
        codes = {t.name: cache.code_key(t.section.source or t.section.notebook, t.parameters) for t in tasks}
        cached, to_run, skipped, reworded = {}, [], [], {}
        for t in tasks:
            entry = None if self.options.force else self._usable(t, keys[t.name])
            if entry is not None:
                cached[t.name] = entry
            elif skip is not None and skip(t, keys[t.name]):
                skipped.append(t)
            elif (text := None if self.options.force else self._reworded(t, codes[t.name])) is not None:
                reworded[t.name] = text
            else:
                to_run.append(t)
        if to_run:
            self.start_workers(len(to_run))
        return Run(tasks, keys, cached, to_run, skipped, codes, reworded)

    def _reworded(self, task: Task, code: str) -> tuple[bytes, cache.Entry] | None:
        """A notebook whose prose alone changed since its last run: that run's outputs with the new text (no
        kernel needed). Not for a task that exports itself (a brief's HTML and PDF come from its worker)."""
        found = None if task.export_title else self.cache.lookup_code(task.cached_as, code)
        if found is None:
            return None
        text = cache.reworded(found[1].notebook.read_bytes(), task.section.source or task.section.notebook.read_bytes())
        return (text, found[1]) if text is not None else None

    def _usable(self, task: Task, key: str) -> cache.Entry | None:
        entry = self.cache.lookup(task.cached_as, key)
        if entry is not None and task.export_title:  # an exported task needs its exports too
            if not all(entry.notebook.with_suffix(s).exists() for s in (".html", ".pdf")):
                return None
        return entry

    def validate(self, run: Run) -> list:
        """Validate the data package (cached on its content); remember what was validated."""
        t0 = time.perf_counter()
        run.snapshot = datacheck.data_snapshot()
        run.problems = list(datacheck.validate(self.reports, run.snapshot))
        run.timings["validate"] = time.perf_counter() - t0
        if not run.problems:
            run.datasets = datacheck.dataset_digests()
        return run.problems

    def execute(self, run: Run, on_result=None, keep_failed: Path | None = None) -> dict[str, Outcome]:
        """Run what `prepare` found missing; store each success in the cache as it arrives and call
        `on_result(outcome)`. A failed task's executed notebook (with Papermill's error marker) is moved to
        `keep_failed/<name>.ipynb` when given. Returns every task's outcome."""
        scratch = self.scratch / run.run_id
        by_name = {t.name: t for t in run.to_run}
        jobs = [Job(t.name, self._executed_source(t, scratch), t.parameters, scratch / f"{t.name}.ipynb",
                    export_title=t.export_title, timeout=self.cell_timeout(t.section)) for t in run.to_run]
        results: dict[str, Result] = {}

        def arrived(result: Result) -> None:
            task = by_name[result.section]
            results[task.name] = result
            if result.ok:
                nb = self.cache.store(task.cached_as, run.keys[task.name], result.output.read_bytes(),
                                      result.reads, result.seconds, run.codes.get(task.name, ""))
                if task.export_title:
                    for suffix in (".html", ".pdf"):
                        shutil.copyfile(result.output.with_suffix(suffix), nb.with_suffix(suffix))
            elif keep_failed is not None and result.output.exists():
                keep_failed.mkdir(parents=True, exist_ok=True)
                os.replace(result.output, keep_failed / f"{task.name}.ipynb")
                result.output = keep_failed / f"{task.name}.ipynb"
            if on_result is not None:
                on_result(Outcome(task, run.keys[task.name], "executed" if result.ok else "failed", None, result))

        t0 = time.perf_counter()
        for t in run.tasks:  # prose edits first: no kernel, a moment each
            if t.name in run.reworded:
                text, last = run.reworded[t.name]
                self.cache.store(t.cached_as, run.keys[t.name], text, last.reads, last.seconds, run.codes[t.name])
                if on_result is not None:
                    on_result(Outcome(t, run.keys[t.name], "reworded", self._usable(t, run.keys[t.name])))
        if jobs:
            expected = read_json(self.timings_file)
            try:
                self.pool.run(jobs, arrived, expected)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            expected.update({name: round(r.seconds, 2) for name, r in results.items() if r.ok})
            write_atomic(self.timings_file, json.dumps(expected, sort_keys=True).encode())
        run.timings["sections"] = time.perf_counter() - t0

        for t in run.tasks:  # the cache, read back once every task has run
            key = run.keys[t.name]
            if t.name in run.cached:
                run.outcomes[t.name] = Outcome(t, key, "cached", run.cached[t.name])
            elif t.name in run.reworded:
                entry = self._usable(t, key)
                run.outcomes[t.name] = Outcome(t, key, "reworded" if entry is not None else "failed", entry)
            elif t.name in results:
                r = results[t.name]
                entry = self._usable(t, key) if r.ok else None
                run.outcomes[t.name] = Outcome(t, key, "executed" if r.ok else "failed", entry, r)
            else:
                run.outcomes[t.name] = Outcome(t, key, "skipped")
        return run.outcomes

    @staticmethod
    def _executed_source(task: Task, scratch: Path) -> Path:
        """The notebook as it was read when its cache key was taken (a copy in the run's scratch folder), so
        the bytes that run are the bytes the key names, whatever happens to the file meanwhile."""
        if not task.section.source:
            return task.section.notebook
        scratch.mkdir(parents=True, exist_ok=True)
        copy = scratch / f"{task.name}.source.ipynb"
        copy.write_bytes(task.section.source)
        return copy

    def run(self, tasks: list[Task], on_result=None, skip=None, keep_failed: Path | None = None) -> Run:
        """Prepare, validate and execute; with invalid data nothing executes (see run.problems)."""
        run = self.prepare(tasks, skip)
        if not self.validate(run):
            self.execute(run, on_result, keep_failed)
        return run

    def check_unchanged(self, run: Run) -> None:
        """Exit code 2 if a data file changed since validation or a task read another version of a dataset."""
        datacheck.check_unchanged(run.snapshot, run.datasets, [o.reads for o in run.outcomes.values()])

    # --- the workers --------------------------------------------------------------------------

    def start_workers(self, wanted: int) -> None:
        """Start up to `wanted` workers (--jobs, else the number of cores) unless they are running."""
        if self.pool is None:
            from .pool import Pool

            self.pool = Pool(max(1, min(self.options.jobs or os.cpu_count() or 1, wanted)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

