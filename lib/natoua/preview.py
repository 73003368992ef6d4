"""Live preview of the report while editing: `natoua preview` (`make preview`).

    natoua preview [--port 8765] [--as-of 2026-03-31] [--sections 02,07] [--no-pdf]

A local web server (127.0.0.1 only; nothing it serves writes to the project) shows the HTML edition,
built into a private folder (`reports/.preview/`, never `reports/latest` or a published edition). A
watcher polls `notebooks/` and `data/` (mtime and size, then a content hash, so a save that changes
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
import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import assemble, cache, claims, paths
from .errors import EXIT_BAD_INPUT, BuildError, first_line, strip_ansi
from .files import write_atomic
from .plan import check_currency, load_section, parameters_memo, section_notebooks
from .runner import RunOptions, Runner, check

log = logging.getLogger("natoua.preview")

DEFAULT_PORT = 8765
POLL_SECONDS = 0.25  # watcher poll interval
SETTLE_SECONDS = 0.15  # a change is acted on once files have stopped changing for this long
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


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
        from .typst_pdf import html_to_pdf

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


# --- the server ------------------------------------------------------------------------------------

def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


MAX_CONNECTIONS = 32  # connections served at once (each holds a thread); more are closed at once
CONNECTION_TIMEOUT = 10  # seconds a connection may stay silent (a slow or idle client) before it is closed


class PreviewServer(ThreadingHTTPServer):
    """One thread per connection, at most MAX_CONNECTIONS of them, each closed after CONNECTION_TIMEOUT
    seconds of silence: a client holding hundreds of connections open holds a bounded number of threads."""

    daemon_threads = True
    allow_remote = False
    engine: Engine
    pdf: PdfMaker

    def __init__(self, *args, **kwargs):
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def verify_request(self, request, client_address) -> bool:
        """Refuse connections from anywhere but this machine (unless --allow-remote)."""
        return self.allow_remote or is_loopback(client_address[0])

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):  # every slot busy: close this one, hold no thread
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


RELOAD_SCRIPT = """<script>
(function () {
  var seen = %(version)d, bar = document.getElementById("natoua-preview-state");
  function poll() {
    fetch("/version", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.version !== seen%(pdf_check)s) { location.reload(); return; }
      if (bar) { bar.textContent = s.busy ? "rebuilding\\u2026" : ""; }
      setTimeout(poll, 400);
    }).catch(function () { if (bar) { bar.textContent = "preview server stopped"; } setTimeout(poll, 2000); });
  }
  setTimeout(poll, 400);
})();
</script>"""


PDF_PAGE_CSP = ("default-src 'none'; frame-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                "connect-src 'self'; frame-ancestors 'none'")
PDF_RELOAD_SCRIPT = """<script>
(function () {
  var seen = %(version)d, bar = document.getElementById("natoua-preview-state");
  function poll() {
    fetch("/version", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.pdf_version !== seen && s.pdf_ready) { location.reload(); return; }
      if (bar) { bar.textContent = (s.busy || s.pdf_running) ? "typesetting\\u2026" : ""; }
      setTimeout(poll, 400);
    }).catch(function () { if (bar) { bar.textContent = "preview server stopped"; } setTimeout(poll, 2000); });
  }
  setTimeout(poll, 400);
})();
</script>"""


class Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "natoua-preview"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT  # socket timeout on every read and write of the connection

    def log_message(self, format, *args):  # noqa: A002 (quiet console; requests are not news)
        log.debug("%s " + format, self.client_address[0], *args)

    def _host_ok(self) -> bool:
        """Refuse requests addressed to another host name (a DNS-rebinding page in the browser)."""
        if self.server.allow_remote:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return name in LOCAL_HOSTS

    def _send(self, status: int, body: bytes, ctype: str, head_only: bool = False, csp: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", csp or
                         "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                         "connect-src 'self'; frame-ancestors 'none'")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET(head_only=True)

    def do_GET(self, head_only: bool = False):
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"forbidden: the preview answers only on localhost\n",
                              "text/plain; charset=utf-8", head_only)
        path = self.path.split("?", 1)[0]
        engine, pdf = self.server.engine, self.server.pdf
        if path == "/version":
            state = {"version": engine.version, "busy": engine.busy, "pdf_ready": pdf.ready,
                     "pdf_running": pdf.running is not None, "pdf_version": pdf.version}
            return self._send(200, json.dumps(state).encode(), "application/json", head_only)
        if path == "/status":
            last = engine.last
            state = {"version": engine.version, "busy": engine.busy,
                     "last": last.__dict__ if last else None, "pdf_ready": pdf.ready, "pdf_error": pdf.error}
            return self._send(200, json.dumps(state).encode(), "application/json", head_only)
        if path == "/":
            return self._send(200, self._page().encode("utf-8"), "text/html; charset=utf-8", head_only)
        if path == "/pdf":
            return self._send(200, self._pdf_page().encode("utf-8"), "text/html; charset=utf-8", head_only,
                              csp=PDF_PAGE_CSP)
        if path == "/report.pdf":
            if pdf.ready or (pdf.follow and engine.pdf.exists() and not pdf.error):
                # following edits, the last PDF is shown while the next one renders (/pdf reloads when it is ready)
                return self._send(200, engine.pdf.read_bytes(), "application/pdf", head_only,
                                  csp="default-src 'none'; frame-ancestors 'self'")
            if not head_only:
                pdf.request()  # renders into the private preview folder, in the background
            return self._send(200, self._pdf_wait_page().encode("utf-8"), "text/html; charset=utf-8", head_only)
        return self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head_only)

    def _refuse(self):
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"the preview is read-only\n", "text/plain; charset=utf-8")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _bar(self) -> str:
        last = self.server.engine.last
        e = html.escape
        bits = []
        if last is not None and last.error:
            bits.append(f"<strong>preview error</strong>: {e(last.error)} (showing the last page; see the console)")
        elif last is not None and last.problems:
            when = time.strftime("%H:%M:%S", time.localtime(last.finished))
            bits.append(f"<strong>data invalid</strong> (checked {when}); showing the last good build")
        elif last is not None:
            when = time.strftime("%H:%M:%S", time.localtime(last.finished))
            ran = ", ".join(last.executed) or "none (all cached)"
            bits.append(f"built {when} in {last.seconds:.1f} s; re-executed: {e(ran)}")
            if last.failed:
                bits.append(f"<strong>failed: {e(', '.join(last.failed))}</strong>")
        bits.append('<a href="/pdf" style="color:#fff">PDF</a>')
        problems = ""
        if last is not None and last.error:
            bits.append(f"<strong>preview error</strong>: {e(last.error)} (showing the last page; see the console)")
        elif last is not None and last.problems:
            items = "".join(f"<li><code>{e(p)}</code></li>" for p in last.problems[:200])
            more = f"<li>… and {len(last.problems) - 200} more</li>" if len(last.problems) > 200 else ""
            problems = (
                '<div role="alert" style="background:#FFF4EE;border:2px solid #D55E00;padding:0.5rem 0.9rem;'
                'font:0.85rem DejaVu Sans,sans-serif;color:#1A1A1A"><p style="margin:0"><strong>The data are invalid'
                f"</strong> ({len(last.problems)} problem(s)); the report below is the last good build.</p>"
                f'<ul style="margin:0.3rem 0">{items}{more}</ul></div>')
        return (
            '<div id="natoua-preview-bar" role="region" aria-label="Preview status" style="position:sticky;top:0;z-index:10;background:#1A1A1A;color:#fff;'
            'font:0.8rem DejaVu Sans,sans-serif;padding:0.3rem 0.8rem">Preview (not published) · '
            f'{" · ".join(bits)} <span id="natoua-preview-state"></span></div>{problems}'
        )

    def _page(self) -> str:
        engine = self.server.engine
        try:
            body = engine.page.read_text(encoding="utf-8")
        except OSError:
            body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview</title></head><body>" \
                   "<p>Building the first preview…</p></body></html>"
        script = RELOAD_SCRIPT % {"version": engine.version, "pdf_check": ""}
        body = body.replace("<body>", "<body>" + self._bar(), 1)
        return body.replace("</body>", script + "</body>", 1)

    def _pdf_page(self) -> str:
        """The PDF as it follows the edits: embedded, and reloaded when a newer one has been typeset."""
        pdf = self.server.pdf
        script = PDF_RELOAD_SCRIPT % {"version": pdf.version}
        note = html.escape(pdf.error) if pdf.error else ""
        return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>PDF preview</title></head>"
                '<body style="margin:0;font:0.8rem DejaVu Sans,sans-serif">'
                '<div role="region" aria-label="Preview status" style="background:#1A1A1A;color:#fff;padding:0.3rem 0.8rem">'
                f'PDF preview (not published) · <a href="/" style="color:#fff">HTML</a> · <span id="natoua-preview-state">{note}</span></div>'
                f'<iframe title="The report as PDF" src="/report.pdf?v={pdf.version}" '
                'style="border:0;width:100%;height:calc(100vh - 2rem)"></iframe>'
                f"{script}</body></html>")

    def _pdf_wait_page(self) -> str:
        pdf = self.server.pdf
        note = html.escape(pdf.error) if pdf.error else "Rendering the PDF in the background; this page opens it when it is ready."
        script = RELOAD_SCRIPT % {"version": self.server.engine.version, "pdf_check": " || s.pdf_ready"}
        return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>PDF preview</title></head>"
                f"<body><p id=\"natoua-preview-state\"></p><p>{note}</p>{script}</body></html>")


def make_server(engine: Engine, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                allow_remote: bool = False) -> PreviewServer:
    if not 0 <= port <= 65535:
        raise BuildError(f"--port {port} must be between 1 and 65535", EXIT_BAD_INPUT)
    check_currency(engine.options.currency)
    if not allow_remote and not (host in LOCAL_HOSTS or is_loopback(host)):
        raise BuildError(f"--host {host!r} is not this machine; the preview serves 127.0.0.1 only "
                               "(add --allow-remote to serve other machines)", EXIT_BAD_INPUT)
    try:
        server = PreviewServer((host, port), Handler)
    except OSError as exc:
        raise BuildError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port",
                               EXIT_BAD_INPUT) from None
    server.allow_remote = allow_remote
    server.engine = engine
    server.pdf = PdfMaker(engine)
    return server


# --- the command -----------------------------------------------------------------------------------

def serve(options: RunOptions, host: str = "127.0.0.1", port: int = DEFAULT_PORT, pdf: bool = False,
          allow_remote: bool = False) -> int:
    """Serve the preview until interrupted (Ctrl-C)."""
    check(options)  # --as-of, --currency, --sections and -p, before anything starts
    engine = Engine(options)
    server = make_server(engine, host, port, allow_remote)
    server.pdf.follow = pdf
    url = f"http://{'localhost' if is_loopback(server.server_address[0]) else host}:{server.server_address[1]}/"
    engine.start_workers()  # fork before any thread
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # `kill` stops it as cleanly as Ctrl-C
    watcher = Watcher([engine.notebooks, paths.data_dir()])
    try:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        print(f"preview: {url}  (building; the page reloads itself after each change; Ctrl-C to stop)", flush=True)
        _report(engine.refresh(), pdf and server.pdf)
        while True:
            changed = watcher.changed()
            if changed:
                names = ", ".join(str(p.relative_to(paths.ROOT)) if p.is_relative_to(paths.ROOT) else str(p)
                                  for p in changed[:4])
                print(f"changed: {names}{' …' if len(changed) > 4 else ''}", flush=True)
                _report(engine.refresh(), pdf and server.pdf)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        print("preview stopped", flush=True)
        return 0
    finally:
        server.shutdown()
        server.server_close()
        engine.close()


def _report(r: Refresh, pdf_maker) -> None:
    if r.error:
        print(f"  preview error: {r.error}", flush=True)
        return
    if r.problems:
        print(f"  data invalid: {len(r.problems)} problem(s); first: {r.problems[0]}", flush=True)
        return
    ran = ", ".join(r.executed) or "nothing (cached)"
    failed = f"; FAILED: {', '.join(r.failed)}" if r.failed else ""
    phases = ", ".join(f"{k} {v:.1f}" for k, v in r.phases.items())
    print(f"  refreshed in {r.seconds:.1f} s ({phases}; re-executed {ran}){failed}", flush=True)
    if pdf_maker:
        pdf_maker.request()
