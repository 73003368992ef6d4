"""The live preview's web server and the `natoua preview` command (the engine is in preview).

    natoua preview [--port 8765] [--as-of 2026-03-31] [--sections 02,07] [--no-pdf]

Security: it listens on 127.0.0.1 only and refuses connections from other machines (`--host` with another
address needs `--allow-remote`), answers only requests addressed to localhost (a DNS-rebinding page gets 403),
and has no endpoint that writes. The files the engine writes stay exactly what the build exports (no scripts);
the small reload script and the status bar are added only to the page as it is served.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import paths
from .errors import EXIT_BAD_INPUT, BuildError
from .plan import check_currency
from .preview import Engine, Refresh
from .preview_pdf import PdfMaker
from .preview_watch import Watcher
from .runner import RunOptions, check

log = logging.getLogger("natoua.preview")

DEFAULT_PORT = 8765
POLL_SECONDS = 0.25  # watcher poll interval
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


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
            prose = f"; prose only: {e(', '.join(last.reworded))}" if last.reworded else ""
            bits.append(f"built {when} in {last.seconds:.1f} s; re-executed: {e(ran)}{prose}")
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
    ran += f"; prose only {', '.join(r.reworded)}" if r.reworded else ""
    failed = f"; FAILED: {', '.join(r.failed)}" if r.failed else ""
    phases = ", ".join(f"{k} {v:.1f}" for k, v in r.phases.items())
    print(f"  refreshed in {r.seconds:.1f} s ({phases}; re-executed {ran}){failed}", flush=True)
    if pdf_maker:
        pdf_maker.request()
