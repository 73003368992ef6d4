"""Live preview of the report while editing (`natoua preview`, `make preview`): the engine that rebuilds the
page, the background PDF and the watcher; preview_server serves the page and runs the command.

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

import hashlib
import html
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import assemble, cache, claims, paths
from .errors import BuildError, first_line, strip_ansi
from .files import write_atomic
from .plan import load_section, parameters_memo, section_notebooks
from .runner import RunOptions, Runner

log = logging.getLogger("natoua.preview")

SETTLE_SECONDS = 0.15  # a change is acted on once files have stopped changing for this long


# --- the engine: one refresh = validate, execute what changed, assemble, export HTML --------------

@dataclass
class Refresh:
    """What one refresh did (the tests and the status bar read it)."""

    version: int
    ok: bool
    executed: list[str] = field(default_factory=list)  # sections re-executed
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
                error["source"] = _failed_cell_source(o.result.output, error.get("cell_index"))
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
                parts.append(_error_part(assemble.Part(section=sid, title=title), error))
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
        return Refresh(self.version, not failed, executed=sorted(executed), failed=sorted(set(failed)), phases=phases)

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
            parts = [_error_part(p, {"ename": "EditionError", "evalue": str(exc)}) for p in parts]
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
                parts[i] = _error_part(part, {"ename": "ClaimError", "evalue": str(exc), "cell_index": None})
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


def _failed_cell_source(executed: Path, cell_index) -> str:
    """The source of the cell that raised: the one with an error output in the notebook Papermill left
    behind (its index shifts by the error-marker cell Papermill adds at the top)."""
    try:
        nb = json.loads(Path(executed).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                src = cell.get("source", "")
                return "".join(src) if isinstance(src, list) else src
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return ""


def _error_part(part: assemble.Part, error: dict) -> assemble.Part:
    """A part whose only content is the error box (the rest of the report is unaffected)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["preview_error"] = True
    nb.cells = [assemble._raw(error_html(part.section, error))]
    return assemble.Part(section=part.section, title=part.title, nb=nb)


def error_html(section: str, error: dict) -> str:
    e = html.escape
    cell = error.get("cell")
    where = f"cell [{cell}]" if cell is not None else "before any cell ran"
    evalue = strip_ansi(str(error.get("evalue") or "")).strip()
    head, _, rest = evalue.partition("\n")
    source = error.get("source") or ""
    trace = error.get("trace") or ""
    return (
        '<div class="preview-error" role="alert" style="border:2px solid #D55E00;background:#FFF4EE;'
        'padding:0.6rem 0.9rem;margin:0.8rem 0;font-family:DejaVu Sans,sans-serif">'
        f'<p style="margin:0 0 0.4rem"><strong>Section {e(section)} failed</strong> in {e(where)}: '
        f"<code>{e(str(error.get('ename') or 'Error'))}</code>: {e(head)}</p>"
        + (f'<pre style="white-space:pre-wrap;font-size:0.8rem;margin:0.3rem 0">{e(rest.strip())}</pre>' if rest.strip() else "")
        + (f'<p style="margin:0.4rem 0 0.1rem;font-size:0.8rem">The cell:</p>'
           f'<pre style="white-space:pre-wrap;font-size:0.8rem;background:#fff;padding:0.3rem;margin:0">{e(source)}</pre>'
           if source else "")
        + (f'<pre style="white-space:pre-wrap;font-size:0.75rem">{e(strip_ansi(trace))}</pre>' if trace else "")
        + '<p style="margin:0.4rem 0 0;font-size:0.8rem">Fix the notebook and save it: this page rebuilds by itself.</p>'
        "</div>"
    )


# --- the PDF, in the background ------------------------------------------------------------------

def _render_pdf(source: str, pdf_path: str) -> None:
    """Typeset the report notebook snapshot `source` (or, failing one, the page) into `pdf_path`. Runs in the
    PdfMaker's worker process, which stays up between renders: Typst keeps its fonts and memoised layout, so a
    PDF after an edit costs a fraction of the first one."""
    if source.endswith(".ipynb"):
        import nbformat

        from .export import notebook_to_pdf

        pdf = notebook_to_pdf(nbformat.read(source, as_version=4), name=Path(source).stem)
    else:
        from .pdf_form import html_to_pdf

        pdf = html_to_pdf(Path(source).read_text(encoding="utf-8"))
    write_atomic(Path(pdf_path), pdf)


class PdfMaker:
    """Renders the current report to PDF in a worker process (kept warm between renders); one at a time, the
    newest version wins."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.version = 0  # version of the page the PDF on disk was made from
        self.running: int | None = None  # version being rendered
        self.error = ""
        self.follow = False  # render again whenever the page changed while a render ran (the PDF follows edits)
        self._lock = threading.Lock()
        self._pool = None  # one warm worker process, started on the first render

    def request(self) -> None:
        with self._lock:
            wanted = self.engine.version
            if self.running is not None or self.version == wanted or not self.engine.page.exists():
                return
            self.running = wanted
        threading.Thread(target=self._run, args=(wanted,), daemon=True).start()

    def _run(self, wanted: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        import nbformat

        report = getattr(self.engine, "report", None)
        if report is not None:
            snapshot = self.engine.folder / f"pdf-source-{wanted}.ipynb"
            snapshot.write_text(nbformat.writes(report), encoding="utf-8")
        else:
            snapshot = self.engine.folder / f"pdf-source-{wanted}.html"
            snapshot.write_bytes(self.engine.page.read_bytes())
        error = ""
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
            self._pool.submit(_render_pdf, str(snapshot), str(self.engine.pdf)).result()
        except BrokenProcessPool:
            self._pool = None  # the worker died (killed, out of memory): a new one next time
            error = "PDF rendering failed: its process died"
        except Exception as exc:  # noqa: BLE001 (any error of the typesetter is shown, the preview goes on)
            error = f"PDF rendering failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        snapshot.unlink(missing_ok=True)
        with self._lock:
            self.running = None
            if not error:
                self.version, self.error = wanted, ""
            else:
                self.error = error
            again = self.follow and not error and self.engine.version != wanted
        if again:  # the page changed while this one rendered: the newest version wins
            self.request()

    @property
    def ready(self) -> bool:
        return self.version == self.engine.version and self.engine.pdf.exists()


# --- watching notebooks/ and data/ ---------------------------------------------------------------

class Watcher:
    """Polls the watched folders; `changed()` is true once a file's content (not just its mtime) changed."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.stats = self._stat()
        self.digests = {p: _content_digest(p) for p in self.stats}

    def _stat(self) -> dict[Path, tuple[int, int]]:
        found = {}
        for folder in self.folders:
            for p in folder.rglob("*"):
                rel = p.relative_to(folder).parts
                if any(part.startswith(".") for part in rel) or not p.is_file():
                    continue  # editor swap files, .ipynb_checkpoints
                try:
                    st = p.stat()
                except OSError:
                    continue
                found[p] = (st.st_mtime_ns, st.st_size)
        return found

    def changed(self) -> list[Path]:
        """Files whose content changed since the last call (added and removed files count)."""
        stats = self._stat()
        if stats == self.stats:
            return []
        time.sleep(SETTLE_SECONDS)  # let an editor finish writing
        stats = self._stat()
        touched = [p for p in stats.keys() | self.stats.keys() if stats.get(p) != self.stats.get(p)]
        self.stats = stats
        out = []
        for p in touched:
            digest = _content_digest(p) if p in stats else None
            if digest != self.digests.get(p):
                out.append(p)
            if digest is None:
                self.digests.pop(p, None)
            else:
                self.digests[p] = digest
        return sorted(out)


def _content_digest(path: Path) -> str | None:
    """What matters in a file: a notebook's cells without outputs (Lab saving outputs rebuilds nothing)."""
    try:
        if path.suffix == ".ipynb":
            return cache.notebook_digest(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return hashlib.sha256(str(time.time()).encode()).hexdigest()  # unreadable mid-save: try again
