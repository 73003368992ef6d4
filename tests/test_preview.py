"""The live preview: what a change re-executes, errors shown in the page, recovery, the local-only server.

Runs the engine on copies of two real section notebooks (09: EU accession, reads eu_enlargement; 11:
summit decisions, does not) and a copy of the real data, so edits never touch the repository.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from natoua import paths
from natoua.errors import EXIT_BAD_INPUT, BuildError
from natoua.runner import RunOptions
from natoua.preview import Engine
from natoua.preview_watch import Watcher
from natoua.preview_server import is_loopback, make_server



def _notebook(folder: Path, sid: str) -> Path:
    return next(folder.glob(f"{sid}_*.ipynb"))


def _edit(path: Path, change) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    change(nb["cells"])
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Notebooks 09 and 11, a data copy, a reports folder; one engine (and its workers) for the module."""
    root = tmp_path_factory.mktemp("preview")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for sid in ("09", "11"):
        src = _notebook(paths.NOTEBOOKS, sid)
        shutil.copyfile(src, notebooks / src.name)
    data_dir = root / "data"
    shutil.copytree(paths.ROOT / "data", data_dir)
    mp = pytest.MonkeyPatch()
    mp.setenv("NATOUA_DATA_DIR", str(data_dir))
    options = RunOptions(as_of="2026-03-31", out=root / "reports", jobs=2)
    engine = Engine(options, notebooks=notebooks)
    engine.start_workers()
    first = engine.refresh()
    yield {"engine": engine, "notebooks": notebooks, "data": data_dir, "first": first, "reports": root / "reports"}
    engine.close()
    mp.undo()


@pytest.mark.full
def test_first_refresh_builds_both_sections_into_the_private_folder(world):
    first, engine = world["first"], world["engine"]
    assert first.ok and first.executed == ["09", "11"]
    page = engine.page.read_text(encoding="utf-8")
    assert engine.page.parent == world["reports"] / ".preview"
    assert not (world["reports"] / "latest").exists()  # nothing published
    assert "<script" not in page.lower()  # the file is what the build exports; the script is added when served
    assert 'id="sec-09"' in page and 'id="sec-11"' in page


@pytest.mark.full
def test_nothing_changed_re_executes_nothing(world):
    r = world["engine"].refresh()
    assert r.ok and r.executed == []


@pytest.mark.full
def test_a_notebook_change_re_executes_exactly_that_section(world):
    nb = _notebook(world["notebooks"], "11")
    sentence = "An editor's sentence added while previewing."

    def add(cells):
        cells.append({"cell_type": "markdown", "id": "preview-test-md", "metadata": {}, "source": sentence})

    _edit(nb, add)
    r = world["engine"].refresh()
    assert r.ok and r.executed == ["11"]
    assert sentence in world["engine"].page.read_text(encoding="utf-8")


@pytest.mark.full
def test_a_prose_edit_runs_nothing_and_shows_the_new_text(world):
    nb = _notebook(world["notebooks"], "11")
    sentence = "A sentence an editor typed into existing prose."

    def reword(cells):
        cell = [c for c in cells if c["cell_type"] == "markdown"][-1]
        cell["source"] = "".join(cell["source"]) + "\n\n" + sentence

    _edit(nb, reword)
    r = world["engine"].refresh()
    assert r.ok and r.executed == [] and r.reworded == ["11"]
    assert sentence in world["engine"].page.read_text(encoding="utf-8")


@pytest.mark.full
def test_a_csv_change_re_executes_its_readers_only(world):
    path = world["data"] / "eu_enlargement.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # new bytes, same rows
    r = world["engine"].refresh()
    assert r.ok and r.executed == ["09"]  # 11 does not read eu_enlargement


@pytest.mark.full
def test_a_broken_notebook_shows_its_error_in_the_page_and_recovers(world):
    import html

    from natoua import data

    engine = world["engine"]
    nb = _notebook(world["notebooks"], "11")
    original = nb.read_bytes()
    first_two = list(data.load("countries")["iso3"].head(2))
    broken = ("from natoua import claims, data\n"
              "rows = data.load('countries').head(2)[['iso3', 'name']]\n"
              "claims.require(False, 'the preview test check holds', rows)")

    def breaks(cells):
        at = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        cells.insert(at + 2, {"cell_type": "code", "id": "preview-test-bad", "metadata": {}, "execution_count": None,
                              "outputs": [], "source": broken})

    _edit(nb, breaks)
    r = engine.refresh()
    assert not r.ok and r.failed == ["11"] and r.executed == ["11"]
    page = html.unescape(engine.page.read_text(encoding="utf-8"))
    error = page[page.index("Section 11 failed"):]
    assert "ClaimError" in error and "the preview test check holds" in error
    assert "Contradicting data" in error and all(code in error for code in first_two)  # the offending rows
    assert "claims.require(False" in error  # the cell that raised
    assert 'id="sec-09"' in page and "Figure 9.1" in page  # the rest of the report stays visible

    r = engine.refresh()  # unchanged and still broken: not re-run
    assert r.executed == [] and r.failed == ["11"]

    nb.write_bytes(original)  # fixed
    r = engine.refresh()
    assert r.ok and r.failed == [] and r.executed == []  # the fixed notebook is back to a cached version
    assert "preview-error" not in engine.page.read_text(encoding="utf-8")


@pytest.mark.full
def test_a_half_saved_notebook_is_an_error_for_its_section_only(world):
    nb = _notebook(world["notebooks"], "11")
    original = nb.read_bytes()
    nb.write_bytes(original[: len(original) // 2])
    try:
        r = world["engine"].refresh()
        assert r.failed == ["11"] and r.executed == []
        page = world["engine"].page.read_text(encoding="utf-8")
        assert "Section 11 failed" in page and "not a valid notebook: invalid JSON" in page and 'id="sec-09"' in page
    finally:
        nb.write_bytes(original)
    assert world["engine"].refresh().ok


@pytest.fixture
def server(world):
    srv = make_server(world["engine"], port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _get(srv, path, method="GET", host=None):
    url = f"http://127.0.0.1:{srv.server_address[1]}{path}"
    req = urllib.request.Request(url, method=method, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.mark.full
def test_invalid_data_shows_the_validator_messages_in_the_page(world, server):
    path = world["data"] / "eu_enlargement.csv"
    original = path.read_bytes()
    lines = original.decode("utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    col = header.index("date")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(original.decode("utf-8"))))
    rows[3][col] = "next spring"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        r = world["engine"].refresh()
        assert not r.ok and r.executed == []
        assert "data/eu_enlargement.csv:4:date: 'next spring' is not a valid date" in " ".join(r.problems)
        status, _, body = _get(server, "/")
        text = body.decode("utf-8")
        assert status == 200 and "The data are invalid" in text
        assert "data/eu_enlargement.csv:4:date:" in text
        assert 'id="sec-09"' in text  # the last good report stays below the messages
    finally:
        path.write_bytes(original)
    assert world["engine"].refresh().ok


@pytest.mark.full
def test_the_served_page_reloads_itself_and_the_server_only_reads(world, server):
    status, headers, body = _get(server, "/")
    text = body.decode("utf-8")
    assert status == 200 and "<script>" in text and 'fetch("/version"' in text and 'id="sec-11"' in text
    status, _, body = _get(server, "/version")
    assert status == 200 and json.loads(body)["version"] == world["engine"].version
    for method in ("POST", "PUT", "DELETE"):
        assert _get(server, "/", method=method)[0] == 405
    assert _get(server, "/../../etc/passwd")[0] == 404


@pytest.mark.full
def test_non_local_connections_are_refused(world, server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.verify_request(None, ("127.0.0.1", 50000))
    assert not server.verify_request(None, ("192.168.1.20", 50000))  # another machine
    assert not server.verify_request(None, ("10.0.0.7", 50000))
    assert _get(server, "/", host="attacker.example:8765")[0] == 403  # a rebinding page's request
    assert _get(server, "/", host="localhost:8765")[0] == 200
    assert is_loopback("::1") and not is_loopback("0.0.0.0")
    with pytest.raises(BuildError) as err:
        make_server(world["engine"], host="0.0.0.0", port=0)
    assert err.value.code == EXIT_BAD_INPUT


@pytest.mark.full
def test_the_pdf_is_rendered_in_the_background_on_request(world, server):
    started = time.monotonic()
    status, headers, body = _get(server, "/report.pdf")
    assert status == 200 and headers["Content-Type"].startswith("text/html")  # answered at once: a waiting page
    assert b"Rendering the PDF" in body
    deadline = started + 600  # generous: the machine may be busy; the behaviour is that it arrives
    while time.monotonic() < deadline:
        status, headers, body = _get(server, "/report.pdf")
        if headers["Content-Type"] == "application/pdf":
            break
        time.sleep(1)
    assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF")
    assert not (world["reports"] / "latest").exists()


@pytest.mark.full
def test_the_pdf_follows_each_change_without_being_asked(world, server):
    """`natoua preview` (unless --no-pdf) typesets the PDF after every refresh; /pdf shows it and reloads
    itself when a newer one is ready (its script watches pdf_version)."""
    from natoua.preview_server import _report

    engine, maker = world["engine"], server.pdf
    maker.follow = True
    try:
        nb = _notebook(world["notebooks"], "11")
        cells = json.loads(nb.read_text(encoding="utf-8"))
        cells["cells"].append({"cell_type": "markdown", "id": "pdf-follows", "metadata": {}, "source": "A sentence the PDF must follow."})
        nb.write_text(json.dumps(cells), encoding="utf-8")
        _report(engine.refresh(), maker)  # what the preview loop does after each change
        deadline = time.monotonic() + 600  # generous: the machine may be busy; the behaviour is that it arrives
        while time.monotonic() < deadline and not maker.ready:
            time.sleep(0.5)
        assert maker.ready and maker.version == engine.version
        status, headers, body = _get(server, "/report.pdf")
        assert headers["Content-Type"] == "application/pdf"
        from pypdf import PdfReader

        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
        assert "A sentence the PDF must follow." in " ".join(text.split())
        status, headers, page = _get(server, "/pdf")
        assert status == 200 and b'src="/report.pdf?v=' in page and b"pdf_version" in page
        state = json.loads(_get(server, "/version")[2])
        assert state["pdf_version"] == engine.version
    finally:
        maker.follow = False


def test_the_watcher_sees_content_changes_not_touches_or_outputs(tmp_path):
    nbdir, datadir = tmp_path / "notebooks", tmp_path / "data"
    nbdir.mkdir(), datadir.mkdir()
    nb = nbdir / "01_x.ipynb"
    cell = {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None, "outputs": [], "source": "x = 1"}
    nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    csv = datadir / "a.csv"
    csv.write_text("a\n1\n")
    w = Watcher([nbdir, datadir])
    assert w.changed() == []
    time.sleep(0.01)
    csv.write_text("a\n1\n")  # same content, new mtime
    assert w.changed() == []
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]  # Lab saved outputs
    nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert w.changed() == []
    csv.write_text("a\n2\n")
    assert w.changed() == [csv]
    cell["source"] = "x = 2"
    nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (datadir / ".~lock.a.csv#").write_text("editor lock")  # hidden files are ignored
    assert w.changed() == [nb]


@pytest.mark.full  # a process per case; the rules themselves are the build's (runner.check, tested in-process)
@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "--host '0.0.0.0' is not this machine"),
    (["--port", "70000"], "--port 70000 must be between"),
    (["--sections", "99"], "--sections: no section 99"),
    (["-p", "12.nope=1"], "section 12 has no parameter 'nope'"),
    (["--as-of", "2026-13-01"], "--as-of '2026-13-01' is not a date"),
])
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "natoua.cli", "preview", "--out", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=120, cwd=paths.ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {proc.stderr.strip()[7:]}"] and message in proc.stderr


def test_a_failed_section_whose_title_names_a_claim_still_shows_its_own_error(tmp_path):
    from natoua import assemble
    from natoua.preview_error import error_part

    engine = Engine(RunOptions(as_of="2026-03-31", out=tmp_path))
    part = error_part(assemble.Part("02", "{{ acc_first_summit }} to {{ acc_last_summit }}: the timeline"),
                      {"cell": 3, "ename": "ValueError", "evalue": "boom"})
    page, failed = engine._render([part])
    assert "Section 02 failed" in page and "ValueError" in page and "boom" in page
    assert "{{ acc_first_summit }} to {{ acc_last_summit }}: the timeline" in page  # unresolved, but visible


def test_a_preview_that_breaks_keeps_serving_and_says_why(tmp_path, monkeypatch):
    engine = Engine(RunOptions(as_of="2026-03-31", out=tmp_path))

    def broken():
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(engine, "_refresh", broken)
    r = engine.refresh()
    assert not r.ok and r.error == "RuntimeError: exporter exploded" and engine.version == 1 and not engine.busy
