"""Live preview of the report while editing (`natoua preview`, `make preview`): the engine that rebuilds the
page. preview_pdf typesets the PDF in the background, preview_watch watches the files, preview_error draws a
failed section, and preview_server serves the page and runs the command.

The preview shows the HTML edition, built into a private folder (`reports/.preview/`, never `reports/latest`
or a published edition). A watcher polls `notebooks/` and `data/` (mtime and size, then a content hash, so a save that changes
nothing rebuilds nothing); on a change the engine re-executes only the affected sections, exactly as the
build's cache decides (a section's key covers its notebook and parameters; its entry records the datasets
it read), and the open page reloads itself.

A section that fails shows its error in place (section, cell, exception, the rows that contradict a
failed check) while the rest of the report stays visible; invalid data shows the validator's
`file:row:column` messages at the top of the page. The PDF follows each change (Typst typesets it in a few
seconds, in a background process, so it never delays the HTML; `--no-pdf` renders it only on request):
`/pdf` shows it and reloads itself when a newer one is ready.

The files written stay exactly what the build exports (no scripts); the small reload script and the
status bar are added only to the page as it is served.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import assemble, claims, paths
from .errors import BuildError, first_line
from .files import write_atomic
from .plan import load_section, parameters_memo, section_notebooks
from .preview_error import error_part, failed_cell_source
from .runner import RunOptions, Runner

log = logging.getLogger("natoua.preview")


# --- the engine: one refresh = validate, execute what changed, assemble, export HTML --------------

@dataclass
class Refresh:
    """What one refresh did (the tests and the status bar read it)."""

    version: int
    ok: bool
    executed: list[str] = field(default_factory=list)  # sections re-executed
    reworded: list[str] = field(default_factory=list)  # sections whose prose alone changed (nothing ran)
    failed: list[str] = field(default_factory=list)  # sections showing an error
    problems: list[str] = field(default_factory=list)  # data validation problems (file:row:column: message)
    seconds: float = 0.0
    finished: float = 0.0  # time.time() when done
    phases: dict = field(default_factory=dict)  # seconds: validate, sections, html
    error: str = ""  # the preview itself failed (shown in the bar; the last page stays)


class Engine:
    """Builds the preview page; keeps its worker processes (and their warm kernels) between refreshes."""

    def __init__(self, options: RunOptions, notebooks: Path | None = None):
        self.options = options
        self.out = Path(options.out).resolve()
        self.folder = self.out / ".preview"
        self.notebooks = Path(notebooks or paths.NOTEBOOKS)
        # Scratch runs in the private folder: a build's clean-up never touches them (the preview takes no lock).
        self.runner = Runner(options, self.out, scratch=self.folder / "runs")
        self.failures: dict[str, tuple[str, dict, dict]] = {}  # section -> (key, reads, error), until fixed
        self.last: Refresh | None = None
        self.version = 0
        self.busy = False
        self._exporter = None
        self.report = None  # the last assembled report notebook (the PDF's source)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def page(self) -> Path:
        return self.folder / "index.html"

    @property
    def pdf(self) -> Path:
        return self.folder / "report.pdf"

    def start_workers(self) -> None:
        """Fork the worker processes now, before any thread starts (forking a threaded process is unsafe)."""
        if self.runner.pool is None:
            import signal

            # Ctrl-C is for this process: workers and kernels ignore it and are stopped by close().
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.runner.start_workers(len(self._notebooks()))
            finally:
                signal.signal(signal.SIGINT, previous)

    def close(self) -> None:
        self.runner.close()

    def _notebooks(self) -> dict[str, Path]:
        return section_notebooks(self.options.sections, self.notebooks)

    def refresh(self) -> Refresh:
        started = time.perf_counter()
        self.busy = True
        try:
            result = self._refresh()
        except Exception as exc:  # keep serving: say what broke, keep the last page
            log.exception("preview refresh failed")
            if isinstance(exc, BuildError):  # the workers died: start new ones next time
                self.close()
            self.version += 1
            result = Refresh(self.version, False, error=f"{type(exc).__name__}: {first_line(str(exc))}")
        finally:
            self.busy = False
        result.seconds = time.perf_counter() - started
        result.finished = time.time()
        self.last = result
        return result

    def _refresh(self) -> Refresh:
        tasks, broken = [], {}
        for sid, nb_path in self._notebooks().items():
            try:
                tasks.append(self.runner.task(load_section(sid, nb_path, parameters_memo(self.out))))
            except Exception as exc:  # half-saved or broken notebook file, bad parameters cell
                broken[sid] = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
        run = self.runner.prepare(tasks, skip=self._known_failure)
        problems = [str(p) for p in self.runner.validate(run)]
        if problems:  # the last good page stays; the bar lists every problem
            self.version += 1
            return Refresh(self.version, False, problems=problems, phases=dict(run.timings))
        self.runner.execute(run, keep_failed=self.folder / "failed")
        for o in run.executed():
            sid = o.task.name
            if o.ok:
                self.failures.pop(sid, None)
            else:
                error = dict(o.error or {})
                error["source"] = failed_cell_source(o.result.output, error.get("cell_index"))
                self.failures[sid] = (o.key, o.reads, error)

        phases = dict(run.timings)
        t0 = time.perf_counter()
        import nbformat

        from . import changes

        parts, failed = [], []
        for sid, nb_path in self._notebooks().items():
            outcome = run.outcomes.get(sid)
            if outcome is None or not outcome.ok:
                error = broken.get(sid) or self.failures.get(sid, (None, None, {"ename": "Error", "evalue": "no result"}))[2]
                title = outcome.task.section.title if outcome is not None else nb_path.stem
                parts.append(error_part(assemble.Part(section=sid, title=title), error))
                failed.append(sid)
                continue
            part = assemble.Part(section=sid, title=outcome.task.section.title,
                                 nb=nbformat.read(str(outcome.notebook), as_version=4))
            part.freshness, part.stale = changes.freshness(sorted(outcome.reads), self.options.as_of,
                                                           self.options.stale_months)
            parts.append(part)

        page, prose_failed = self._render(parts)
        failed += prose_failed
        write_atomic(self.page, page.encode("utf-8"))
        phases["html"] = time.perf_counter() - t0
        self.version += 1
        executed = [o.task.name for o in run.executed()]
        reworded = [name for name, o in run.outcomes.items() if o.status == "reworded"]
        return Refresh(self.version, not failed, executed=sorted(executed), reworded=sorted(reworded),
                       failed=sorted(set(failed)), phases=phases)

    def _known_failure(self, task, key: str) -> bool:
        """A section that failed with this key and unchanged data fails again: not worth re-running."""
        known = self.failures.get(task.name)
        if known is None or known[0] != key:
            return False
        from . import data

        try:
            return all(data.dataset_digest(name) == digest for name, digest in known[1].items())
        except data.DataError:
            return False

    def _render(self, parts: list[assemble.Part]) -> tuple[str, list[str]]:
        from .edition import EditionError, collect_ledger, file_stem
        from .export import ReportHTMLExporter

        failed = []
        try:
            ledger = collect_ledger(parts)
        except EditionError as exc:
            ledger = {}
            parts = [error_part(p, {"ename": "EditionError", "evalue": str(exc)}) for p in parts]
            failed = [p.section for p in parts]
        for i, part in enumerate(parts):
            if part.nb is None or part.nb.metadata.get("preview_error"):
                part.title = claims.PLACEHOLDER.sub(lambda m: ledger.get(m.group(1), {}).get("text", m.group(0)), part.title)
                continue
            try:
                part.title = claims.substitute(part.title, ledger, f"section {part.section} title", plain=True)
                for index, cell in enumerate(part.nb.cells):
                    if cell.cell_type == "markdown":
                        claims.substitute(cell.source, ledger, f"section {part.section}, cell {index}")
            except claims.ClaimError as exc:  # prose naming a claim nobody made: this section only
                parts[i] = error_part(part, {"ename": "ClaimError", "evalue": str(exc), "cell_index": None})
                failed.append(part.section)
        ed = assemble.Edition(as_of=self.options.as_of, params=self.options.common_parameters(), parts=parts,
                              ledger=ledger)
        report = assemble.assemble(ed)
        self.report = report  # what the PDF is typeset from (its section form), see PdfMaker
        if self._exporter is None:
            self._exporter = _preview_exporter(ReportHTMLExporter)()
        page, _ = self._exporter.from_notebook_node(report, resources={"metadata": {"name": file_stem(self.options.as_of, self.options.currency)}})
        return page, failed


def _preview_exporter(base):
    """The report's HTML exporter minus two costs that change nothing in a page we assembled ourselves
    (about half of its time, measured): nbformat validation after each of its dozen preprocessors, and
    nbconvert's BeautifulSoup pass (it adds alt text to images lacking it, which ours never do, and
    tabindex to JupyterLab classes the report template does not use), which re-serialises the page."""
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class PreviewHTMLExporter(base):
        def _validate_preprocessor(self, nbc, preprocessor):
            pass

        def from_notebook_node(self, nb, resources=None, **kw):
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return PreviewHTMLExporter
