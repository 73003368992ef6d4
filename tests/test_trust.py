"""Scheduled regeneration: bad input never publishes, failures are loud and harmless, one build at a time,
killed builds leave the last good edition, and editions say what changed."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from filelock import FileLock

from natoua import cli, paths

from conftest import NATOUA, natoua, seeded_reports, tree_state


@pytest.fixture(scope="module")
def published(tmp_path_factory, default_edition) -> Path:
    """A reports folder with one small published edition (section 11 from the shared edition's cache, no PDF)."""
    out = seeded_reports(tmp_path_factory.mktemp("published"), default_edition)
    natoua("build", "--sections", "11", "--no-pdf", "--out", out, check=True)
    return out


def edit_csv(path: Path, where: dict, changes: dict) -> None:
    """Change cells of the rows matching `where` (column -> value) in a CSV."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        header = list(rows[0].keys())
    for row in rows:
        if all(row[k] == v for k, v in where.items()):
            row.update(changes)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


# --- bad arguments -------------------------------------------------------------------------

@pytest.mark.full
def test_bad_parameters_are_rejected_before_anything_runs(published, capsys):
    """The command's own entry point, in this process (arguments are refused before any notebook or process)."""
    before = tree_state(published)
    for args in (["--as-of", "../../etc"], ["--as-of", "2026-02-30"], ["--sections", "../07"],
                 ["--sections", "99"], ["--currency", "GBP"], ["-p", "07.no_such_param=1", "--sections", "07"]):
        code = cli.main(["build", "--out", str(published), *args])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert err.startswith("error: "), (args, err)
    assert tree_state(published) == before


# --- failures during execution -------------------------------------------------------------------

@pytest.fixture
def contradicted_data(data_copy) -> Path:
    """Data in which ten allies met 2% in 2021, contradicting section 7's checked claim."""
    path = data_copy / "defence_expenditure.csv"
    for iso in ("BEL", "CAN", "CZE", "DNK", "FRA", "DEU", "ITA", "NLD", "PRT", "ESP"):
        edit_csv(path, {"iso3": iso, "year": "2021", "edition": "nato-2025-08"}, {"pct_gdp": "2.50"})
    return data_copy


@pytest.mark.full
def test_contradicted_check_fails_the_section_and_publishes_nothing(contradicted_data, published):
    before = tree_state(published)
    proc = natoua("build", "--sections", "07", "--no-pdf", "--out", str(published), data_dir=contradicted_data)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "07 07_defence_spending" in out and "FAILED" in out
    assert "ClaimError" in out and "allies_2pct_pre_invasion" in out
    assert "fewer than 10 allies met 2% before February 2022" in out
    assert "nothing published" in out
    kept = list((published / "_failed").glob("*/07.ipynb"))
    assert kept, "the failed notebook is kept"
    nb = json.loads(kept[-1].read_text())
    assert any("papermill-error-cell-tag" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert tree_state(published) == before


@pytest.mark.full
def test_keep_going_publishes_a_marked_degraded_edition(contradicted_data, tmp_path):
    proc = natoua("build", "--sections", "07,11", "--no-pdf", "--keep-going", "--out", str(tmp_path),
                  data_dir=contradicted_data)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    html = next((tmp_path / "partial" / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Degraded edition" in html and "Build status" in html
    assert "This section failed to build" in html
    manifest = json.loads((tmp_path / "partial" / "latest" / "manifest.json").read_text())
    assert manifest["degraded"] == ["07"]


@pytest.mark.full
def test_second_build_waits_or_exits_with_distinct_code(published):
    held = FileLock(str(published / ".build.lock"))
    with held:
        proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(published), "--no-wait")
        assert proc.returncode == 3 and "another build is running" in proc.stderr
        waiting = subprocess.Popen(NATOUA + ["build", "--sections", "11", "--no-pdf", "--out", str(published)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=paths.ROOT)
        # No clock: the build says it waits (its first line) while the lock is still held here.
        first = waiting.stdout.readline()
        assert first.startswith("waiting for another build to finish"), first + waiting.stderr.read()
        assert waiting.poll() is None, "a build with --wait waits for the lock"
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, first + out + err


@pytest.mark.full
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_build_leaves_last_good_edition(sig, published):
    before = tree_state(published)
    proc = subprocess.Popen(NATOUA + ["build", "--sections", "02,07,11,A2", "--force", "--out", str(published)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=paths.ROOT,
                            start_new_session=True)
    first = proc.stdout.readline()  # the first section finished: kernels and workers are running
    assert " ok " in first or "cached" in first, first
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    assert tree_state(published) == before
    staged = list((published / "_editions").glob(".tmp-*"))
    assert staged or sig == signal.SIGTERM, "a SIGKILL mid-build leaves a staging folder behind"
    rerun = natoua("build", "--sections", "11", "--no-pdf", "--out", str(published))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert not list((published / "_editions").glob(".tmp-*")), f"leftovers not cleaned: {staged}"


# --- content safety, what changed, freshness -------------------------------------------------------

@pytest.mark.full
def test_dataset_text_is_escaped_in_html_and_pdf(data_copy, tmp_path):
    edit_csv(data_copy / "summits.csv", {"summit_id": "vilnius-2023"},
             {"ukraine_decision": "Allies & partners agreed <5 steps; see \"x\" > y."})
    proc = natoua("build", "--sections", "11", "--out", str(tmp_path), data_dir=data_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = next((tmp_path / "partial" / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Allies &amp; partners agreed &lt;5 steps" in html
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(next((tmp_path / "partial" / "latest").glob("*.pdf"))).pages)
    assert "Allies & partners agreed <5 steps" in " ".join(text.split())


@pytest.mark.full
def test_new_edition_says_what_changed(tmp_path, default_edition):
    seeded_reports(tmp_path, default_edition)  # 07 on 2026-03-31 from the cache: what changed is not about executing
    for as_of in ("2024-12-31", "2026-03-31"):
        proc = natoua("build", "--sections", "07", "--no-pdf", "--as-of", as_of, "--out", str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    changes = (tmp_path / "partial" / "2026-03-31" / "changes.md").read_text(encoding="utf-8")
    assert changes.startswith("# What changed since the 31 December 2024 edition")
    old = json.loads((tmp_path / "partial" / "2024-12-31" / "claims.json").read_text())
    new = json.loads((tmp_path / "partial" / "2026-03-31" / "claims.json").read_text())
    moved = [n for n in new if n in old and new[n]["text"] != old[n]["text"]]
    assert moved
    import mistune

    import html as html_

    # changes.md escapes data text for Markdown: compare what a reader sees
    rendered = re.sub(r"\s*\n\s*", "", mistune.html(changes))

    def shown(text):
        return html_.escape(str(text), quote=False).replace('"', "&quot;")

    for name in moved:
        assert f"<td><code>{name}</code></td><td>{shown(old[name]['text'])}</td><td>{shown(new[name]['text'])}</td>" in rendered
    html = next((tmp_path / "partial" / "2026-03-31").glob("*.html")).read_text(encoding="utf-8")
    assert "What changed since the 31 December 2024 edition" in html
    assert (tmp_path / "partial" / "latest").resolve() == (tmp_path / "partial" / "2026-03-31").resolve()


@pytest.mark.full
def test_stale_data_is_flagged_in_report_and_log(range_end):
    """Read from the edition at the last cut-off the data support (test_the_stated_as_of_range_builds_every_section
    builds it): two years after the newest data, section 07's figures are stale."""
    _, day, reports, proc = range_end("last")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    edition = reports / "partial" / str(day)
    html = next(edition.glob("*.html")).read_text(encoding="utf-8")
    section = html[html.index('id="sec-07"'):]
    section = section[:section.index('id="sec-08"')]
    assert 'class="freshness stale"' in section and "more than 9 months before the cut-off" in section
    assert "WARNING section 07" in (edition / "build.log").read_text()


# --- every wait has a deadline (issue 10, case 1) ---------------------------------------------------

def scratch_notebooks(folder: Path, code: str, metadata: dict | None = None, also: tuple = ()) -> Path:
    """A notebooks folder holding section 13, a scratch notebook whose last cell runs `code`
    (plus copies of the real sections named in `also`)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        **(metadata or {})})
    params = nbformat.v4.new_code_cell('as_of: str = "2026-03-31"  # data cut-off\n'
                                       'currency: str = "EUR"  # display currency')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Scratch section"), params,
                nbformat.v4.new_code_cell("ready = True"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(folder / "13_scratch.ipynb"))
    for name in also:
        src = next(paths.NOTEBOOKS.glob(f"{name}_*.ipynb"))
        (folder / src.name).write_bytes(src.read_bytes())
    return folder


def session_processes(sid: int) -> list[str]:
    """Processes still alive in a session (a build started with start_new_session: its workers, zygotes,
    kernels and anything a kernel started)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            found.append(f"{stat.parent.name}: {text[:80]}")
    return found


def run_scratch_build(notebooks: Path, out: Path, *args) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = dict(os.environ, NATOUA_NOTEBOOKS_DIR=str(notebooks))
    proc = subprocess.Popen(NATOUA + ["build", "--no-pdf", "--out", str(out), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=paths.ROOT, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)  # a guard only: the limits under test are seconds
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the build hung")
    left = session_processes(proc.pid)
    for _ in range(50):  # SIGKILLed kernels may take a moment to disappear
        if not left:
            break
        time.sleep(0.2)
        left = session_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), left


DEAD_OR_STUCK = {
    "os_exit": ("import os\nos._exit(3)", [], "DeadKernelError: kernel died"),
    "segfault": ("import ctypes\nctypes.string_at(0)", [], "DeadKernelError: kernel died"),
    # the notebook's own limit (metadata), and a child process that must not outlive the kernel
    "sleep": ("import subprocess, time\nsubprocess.Popen(['sleep', '100000'])\ntime.sleep(10**6)", "metadata",
              "CellTimeoutError: timed out after 3 s"),
    # endless output at a bounded rate (never near the output limit, which test_hostile covers)
    "infinite_output": ("import time\nwhile True:\n    print('x' * 200)\n    time.sleep(0.001)", ["--cell-timeout", "3"],
                        "CellTimeoutError: timed out after 3 s"),
}


@pytest.mark.full
@pytest.mark.parametrize("case", sorted(DEAD_OR_STUCK))
def test_dead_or_stuck_kernel_fails_the_section_and_leaves_nothing_running(case, tmp_path):
    code, args, message = DEAD_OR_STUCK[case]
    metadata = {"natoua": {"cell_timeout": 3}} if args == "metadata" else None
    notebooks = scratch_notebooks(tmp_path / "notebooks", code, metadata)
    out = tmp_path / "reports"
    proc, left = run_scratch_build(notebooks, out, "--sections", "13", *([] if args == "metadata" else args))
    console = proc.stdout + proc.stderr
    assert proc.returncode == 1, console
    assert "13 13_scratch" in console and "FAILED" in console
    assert f"cell 4: {message}" in console, console  # cell 1 is Papermill's injected parameters
    assert "nothing published" in proc.stderr and not (out / "latest").exists()
    kept = list((out / "_failed").glob("*/13.ipynb"))
    assert len(kept) == 1
    nb = json.loads(kept[0].read_text())
    assert any("papermill-error-cell-tag" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert len(kept[0].read_bytes()) < 2_000_000, "a runaway cell's output is cut"
    assert not left, f"processes left behind: {left}"
    with FileLock(str(out / ".build.lock")).acquire(timeout=0):
        pass  # the lock was released


@pytest.mark.full
def test_dead_kernel_with_keep_going_publishes_a_degraded_edition(tmp_path):
    notebooks = scratch_notebooks(tmp_path / "notebooks", "import os\nos._exit(3)", also=("11",))
    out = tmp_path / "reports"
    proc, left = run_scratch_build(notebooks, out, "--sections", "11,13", "--keep-going")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "DeadKernelError: kernel died" in proc.stdout
    # built without a PDF (run_scratch_build passes --no-pdf): published, as a partial build
    manifest = json.loads((out / "partial" / "2026-03-31" / "manifest.json").read_text())
    assert manifest["degraded"] == ["13"]
    assert not left, f"processes left behind: {left}"


# --- text from data is text (issue 10, case 2) -------------------------------------------------------

HOSTILE_TEXTS = [
    "Albania [official text](javascript:alert(document.domain)) ![seal](http://127.0.0.1:9/seal.png)",
    "[doc](file:///etc/passwd) <https://evil.example> <b>bold</b> <img src=x onerror=alert(1)>",
    "*em* _em_ **strong** `code` ~~gone~~ $x^2$ | a | b |",
    "&#106;avascript:alert(1) &lt;script&gt; &amp;",
    "# heading\n\n    indented code\n1. list\n> quote",
    "[ref]: http://evil.example\n[ref] and http://evil.example/x www.evil.example",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_claim_text_renders_as_literal_text(text):
    """A claim's text (which may come from a dataset) renders as exactly that text: no link, image,
    emphasis, markup, entity or block."""
    import html as htmlmod

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from natoua import claims

    rendered = markdown2html_mistune(claims.substitute("Before {{ name }} after.", {"name": {"text": text}}))
    inner = rendered.strip()
    assert inner.startswith("<p>") and inner.endswith("</p>") and inner.count("<") == 2, rendered
    assert htmlmod.unescape(inner[3:-4]) == "Before " + " ".join(text.split()) + " after."


def test_safe_url_allows_only_http_and_https():
    from natoua.safety import safe_url

    for good in ("https://www.nato.int/cps/en/natohq/official_texts_227678.htm", "http://example.org/a?b=1#c"):
        assert safe_url(good) == good
    for bad in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "file:///etc/passwd", "data:text/html,<b>x",
                "ftp://example.org/x", "//example.org/x", "https://", "https://user:pw@example.org/",
                "https://exa mple.org", "https://example.org/\x00", "https://example.org:99999/", "vbscript:x",
                " javascript:alert(1)", "https:\\\\evil", None, 3):
        assert safe_url(bad) is None, bad


@pytest.mark.full
def test_injected_links_in_dataset_text_never_reach_html_or_pdf(data_copy, tmp_path):
    from pypdf import PdfReader

    edit_csv(data_copy / "security_agreements.csv", {"partner_iso3": "ALB"},
             {"partner_name": "Albania [official text](javascript:alert(document.domain)) [doc](file:///etc/passwd) "
                              "![seal](http://127.0.0.1:9/seal.png)"})
    proc = natoua("build", "--sections", "01,03", "--out", str(tmp_path), data_dir=data_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = next((tmp_path / "partial" / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Albania [official text](javascript:alert(document.domain))" in html, "the text is shown as text"
    assert "javascript:" not in html.replace("(javascript:alert(document.domain))", "")
    assert not re.search(r"<img\b[^>]*\bsrc=\"(?!data:)", html), "no remote image"
    assert "href=\"file:" not in html and "href=\"javascript:" not in html
    reader = PdfReader(next((tmp_path / "partial" / "latest").glob("*.pdf")))
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            uri = (annot.get_object().get("/A") or {}).get("/URI")
            assert uri is None or str(uri).startswith(("https://", "http://", "#")), uri


# --- arguments and parameters are checked before work (issue 10, cases 4 and 6) ----------------------

@pytest.mark.parametrize("args, says", [
    (["--as-of", "2026-W13-2"], "is not a date YYYY-MM-DD"),
    (["--as-of", "2026-091"], "is not a date YYYY-MM-DD"),
    (["--as-of", "2008-01-01"], "outside the range the data support"),
    (["--as-of", "2100-01-01"], "outside the range the data support"),
    (["--out", "/dev/null"], "--out /dev/null: not a folder"),
    (["--out", "/sys/natoua-reports"], "not a writable folder"),
    (["--cell-timeout", "0"], "not a whole number of seconds"),
    (["-p", "11.as_of=2199-12-31", "--sections", "11"], "as_of is common to every section; use --as-of"),
    (["-p", "11.currency=GBP", "--sections", "11"], "currency is common to every section; use --currency"),
    (["-p", "09.brief_window_years=[10, 5]"], "must be in increasing order"),
    (["-p", "09.brief_window_years=[5]"], "expected 2 item(s)"),
    (["-p", "12.seed=abc"], "'abc' is not an int"),
    (["-p", "12.p_consensus_per_year=1.5"], "above the maximum 1"),
    (["-p", "12.n_simulations=1e9"], "is not an int"),
    (["-p", "05.top_n=0"], "below the minimum 1"),
    (["-p", "07.focus_allies=POL"], "expected a list of str"),
    (["-p", "12.seed=1", "--sections", "11"], "section 12 is not among the sections being built"),
])
def test_bad_arguments_exit_2_with_one_line(args, says, tmp_path, capsys):
    """The command's own entry point, in this process (no notebook is reached: arguments come first)."""
    out = tmp_path / "reports"
    try:
        code = cli.main(["build", "--no-pdf", *(["--out", str(out)] if "--out" not in args else []), *args])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], err
    assert not (out / "_editions").exists() and not (out / "partial").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    proc = natoua("build", "--sections", "11", "--out", str(target))
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: --out {target}: not a folder"
    assert target.read_text() == "not a folder"


@pytest.fixture(scope="module")
def range_end(tmp_path_factory):
    """Every section built (no PDF) at one end of the --as-of range, once per module and end:
    end -> (range, day, reports folder, the build's process)."""
    from natoua.plan import as_of_range

    built = {}

    def build(end: str):
        if end not in built:
            first, last = as_of_range()
            day = first if end == "first" else last
            reports = tmp_path_factory.mktemp(f"as-of-{end}")
            built[end] = ((first, last), day, reports,
                          natoua("build", "--as-of", str(day), "--no-pdf", "--out", str(reports)))
        return built[end]

    return build


@pytest.mark.full
@pytest.mark.parametrize("end", ["first", "last"])
def test_the_stated_as_of_range_builds_every_section(end, range_end):
    """The range --as-of accepts is the range the data support: both ends build every section, and the
    edition states its cut-off."""
    (first, last), day, reports, proc = range_end(end)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" ok ") == len(paths.section_notebooks())
    html = next((reports / "partial" / str(day)).glob("*.html")).read_text(encoding="utf-8")  # no PDF: partial
    assert f"Edition date</dt><dd>{day.day} {day:%B} {day.year}" in html
    outside = first.replace(day=first.day - 1) if end == "first" else last.replace(year=last.year + 1)
    proc = natoua("build", "--as-of", str(outside), "--no-pdf", "--out", str(reports))
    assert proc.returncode == 2 and f"{first} to {last}" in proc.stderr


def test_every_parameters_cell_is_typed_commented_and_checked():
    import papermill

    from natoua.plan import parameter_specs

    for nb_path in paths.section_notebooks() + [paths.ally_brief_notebook()]:
        specs = parameter_specs(nb_path)
        assert {"as_of", "currency"} <= set(specs), nb_path.name
        shown = papermill.inspect_notebook(str(nb_path))
        for name, spec in specs.items():
            assert shown[name]["inferred_type_name"] not in ("None", None), f"{nb_path.name}: {name} has no type"
            assert shown[name]["help"], f"{nb_path.name}: {name} has no comment"
            assert spec.check(spec.default) is None, f"{nb_path.name}: default of {name} breaks its own rule"
    twelve = parameter_specs(next(paths.NOTEBOOKS.glob("12_*.ipynb")))
    assert twelve["p_consensus_per_year"].check(1.5) and twelve["report_years"].check([2035, 2030])


def test_parameters_are_remembered_by_the_parameters_cell_not_the_prose(tmp_path, monkeypatch):
    """A prose edit does not make a build inspect the notebook again (Papermill's import is most of a small
    build's start); an edit of the parameters cell does, and its new rule holds."""
    import papermill

    from natoua.plan import load_section

    nb_path = tmp_path / "12_assessment.ipynb"
    nb = json.loads(next(paths.NOTEBOOKS.glob("12_*.ipynb")).read_text(encoding="utf-8"))
    nb_path.write_text(json.dumps(nb), encoding="utf-8")
    memo = tmp_path / "memo"
    first = load_section("12", nb_path, memo).specs

    prose = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    prose["source"] = "".join(prose["source"]) + "\n\nA sentence added by the test."
    nb_path.write_text(json.dumps(nb), encoding="utf-8")

    def not_again(*args, **kwargs):
        raise AssertionError("the notebook was inspected again after a prose edit")

    monkeypatch.setattr(papermill, "inspect_notebook", not_again)
    assert load_section("12", nb_path, memo).specs == first
    monkeypatch.undo()

    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    assert "p_consensus_per_year" in source
    cell["source"] = re.sub(r"(p_consensus_per_year\b.*?#[^\n]*?)max 1\b", r"\1max 0.5", source, count=1)
    assert cell["source"] != source, "the test expects a 'max 1' rule on p_consensus_per_year"
    nb_path.write_text(json.dumps(nb), encoding="utf-8")
    again = load_section("12", nb_path, memo).specs
    assert again["p_consensus_per_year"].check(0.6) and not first["p_consensus_per_year"].check(0.6)
    assert len(list(memo.glob("*.json"))) == 2


# --- the data a build validated is the data it uses (case 5) --------------------------------------------

@pytest.mark.full
def test_data_changed_during_the_build_is_not_published(data_copy, tmp_path):
    code = ("from natoua import data, paths\n"
            "p = paths.data_dir() / 'summits.csv'\n"
            "p.write_text(p.read_text().replace('Bucharest Summit', '=HYPERLINK(\"http://evil.example\",\"x\")', 1))\n"
            "data.load('summits', as_of)")
    notebooks = scratch_notebooks(tmp_path / "notebooks", code, also=("11",))
    out = tmp_path / "reports"
    proc, left = run_scratch_build(notebooks, out, "--sections", "11,13", "--jobs", "1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "data/summits.csv changed while the build ran" in proc.stderr
    assert "Traceback" not in proc.stderr and "AttributeError" not in proc.stderr
    assert not (out / "partial").exists() and not (out / "latest").exists()


# --- publishing never loses or lies (cases 3, 8, 9) ---------------------------------------------------------

def fake_build(reports: Path, name: str, linked_as: str | None = None) -> Path:
    build = reports / "_editions" / name
    build.mkdir(parents=True)
    (build / "manifest.json").write_text(json.dumps({"as_of": name.split("--")[0]}))
    if linked_as:
        link = reports / linked_as
        link.unlink(missing_ok=True)
        link.symlink_to(Path("_editions") / name)
    return build


@pytest.mark.full
def test_rollback_keeps_every_build_until_prune(tmp_path):
    reports = tmp_path / "reports"
    builds = [fake_build(reports, f"2026-03-31--2026112{i}T060000000000-1") for i in range(1, 5)]
    (reports / "2026-03-31").symlink_to(Path("_editions") / builds[0].name)  # rolled back to the oldest
    (reports / "latest").symlink_to("2026-03-31")
    proc = natoua("build", "--sections", "11", "--no-pdf", "--as-of", "2024-12-31", "--out", str(reports))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(b.is_dir() for b in builds), "a build was deleted"
    assert os.readlink(reports / "2026-03-31") == f"_editions/{builds[0].name}"
    proc = natoua("prune", "--keep", "1", "--out", str(reports))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert builds[0].is_dir() and builds[3].is_dir(), "the linked and the newest build stay"
    assert not builds[1].exists() and not builds[2].exists()
    assert (reports / "partial" / "2024-12-31").is_dir(), "prune keeps linked partial builds"
    assert natoua("prune", "--keep", "0", "--out", str(reports)).returncode == 2


@pytest.fixture(scope="module")
def after_a_crash(tmp_path_factory):
    """One partial build (section 11, no PDF) into a reports folder as a killed run left it: a full edition
    published as 2026-03-31, `latest` still on the older 2024-12-31 (killed after switching one link, before
    the other; its new link left as .link-latest-999), a run folder and a truncated cache file.
    -> (reports, the full edition, the leftovers, the build's process)."""
    reports = tmp_path_factory.mktemp("after-a-crash") / "reports"
    fake_build(reports, "2024-12-31--20261120T060000000000-1", linked_as="2024-12-31")
    full = fake_build(reports, "2026-03-31--20261121T060000000000-1", linked_as="2026-03-31")
    (reports / "latest").symlink_to("2024-12-31")
    (reports / ".link-latest-999").symlink_to("2026-03-31")
    run = reports / ".cache" / "runs" / "20261120T060000000000-1"
    run.mkdir(parents=True)
    (run / "07_defence_spending.ipynb").write_text("{")
    (reports / ".cache" / "sections" / "11").mkdir(parents=True)
    truncated = reports / ".cache" / "sections" / "11" / ".abc.ipynb.4242.tmp"
    truncated.write_text('{"cells": [')
    proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(reports))
    return reports, full, (run, truncated), proc


@pytest.mark.full
def test_crash_between_link_switches_is_repaired_by_the_next_run(after_a_crash):
    reports, _, _, proc = after_a_crash
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "repaired" in proc.stdout
    assert os.readlink(reports / "latest") == "2026-03-31"
    assert not (reports / ".link-latest-999").is_symlink()


@pytest.mark.full
def test_partial_build_never_becomes_the_edition_or_latest(after_a_crash):
    reports, full, _, proc = after_a_crash
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "partial build" in proc.stdout
    assert (reports / "latest").resolve() == full and (reports / "2026-03-31").resolve() == full
    manifest = json.loads((reports / "partial" / "latest" / "manifest.json").read_text())
    assert manifest["partial"] is True and [s["section"] for s in manifest["sections"]] == ["11"]


@pytest.mark.full
def test_latest_as_a_real_folder_is_refused_before_anything_is_written(tmp_path):
    reports = tmp_path / "reports"
    (reports / "latest").mkdir(parents=True)
    (reports / "latest" / "keep.txt").write_text("operator's file")
    before = tree_state(reports)
    proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(reports))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is a real folder, not a link" in proc.stderr and "nothing was built or published" in proc.stderr
    assert tree_state(reports) == before and not (reports / "_editions").exists()


@pytest.mark.full
def test_leftover_run_folders_and_truncated_cache_files_are_removed(after_a_crash):
    reports, _, (run, truncated), proc = after_a_crash
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not run.exists() and not truncated.exists()
    assert list((reports / ".cache" / "runs").iterdir()) == []


@pytest.mark.full
def test_a_worker_killed_mid_section_fails_the_section_instead_of_hanging(tmp_path):
    """The pool watches its workers: a worker that dies while running a section (here the kernel kills its
    own worker, as the out-of-memory killer might) fails that section."""
    # the kernel finds its worker through its parent chain: kernel -> zygote -> worker
    code = ("import os, signal\n"
            "worker = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])\n"
            "os.kill(worker, signal.SIGKILL)")
    notebooks = scratch_notebooks(tmp_path / "notebooks", code)
    proc, left = run_scratch_build(notebooks, tmp_path / "reports", "--sections", "13", "--jobs", "1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "13 13_scratch" in proc.stdout and "FAILED" in proc.stdout
    assert "WorkerError: the worker process running it died" in proc.stdout
    assert not left, f"processes left behind: {left}"
