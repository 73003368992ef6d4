"""Scheduled regeneration: bad input never publishes, failures are loud and harmless, one build at a time,
killed builds leave the last good edition, and editions say what changed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from natoua import paths

from conftest import apply_case, bad_cases, cli_env, expected_lines

pytestmark = pytest.mark.slow
NATOUA = [sys.executable, "-m", "natoua.cli"]


def natoua(*args, data_dir=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(NATOUA + list(args), capture_output=True, text=True, env=cli_env(data_dir),
                          timeout=timeout, cwd=paths.ROOT)


def tree_state(root: Path) -> dict:
    """Every published file's bytes (hashed) and every link's target, under reports/ (caches excluded)."""
    state = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.startswith((".cache", ".build.lock", "_failed")) or "/.tmp-" in rel or rel.startswith(".link-"):
            continue  # caches, failure reports and unpublished staging folders are not the published edition
        if p.is_symlink():
            state[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            state[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return state


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A reports folder with one small published edition (section 11, no PDF)."""
    out = tmp_path_factory.mktemp("published")
    proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
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


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", bad_cases())
def test_bad_input_never_publishes(case, published, tmp_path):
    data_dir = apply_case(case, tmp_path)
    expected = expected_lines(case)
    if expected == ["VALID"]:  # odd but valid input is accepted
        proc = natoua("validate", "--data", str(data_dir))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    before = tree_state(published)
    proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(published), data_dir=data_dir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    for line in expected:
        assert any(l.startswith(line) for l in lines), f"{case}: {line!r} not in:\n{proc.stderr}"
    assert "nothing was built or published" in proc.stderr
    assert tree_state(published) == before, "the published edition or latest changed"


def test_bad_parameters_are_rejected_before_anything_runs(published):
    before = tree_state(published)
    for args in (["--as-of", "../../etc"], ["--as-of", "2026-02-30"], ["--sections", "../07"],
                 ["--sections", "99"], ["--currency", "GBP"], ["-p", "07.no_such_param=1", "--sections", "07"]):
        proc = natoua("build", "--out", str(published), *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ")
    assert tree_state(published) == before


# --- failures during execution -------------------------------------------------------------------

@pytest.fixture
def contradicted_data(data_copy) -> Path:
    """Data in which ten allies met 2% in 2021, contradicting section 7's checked claim."""
    path = data_copy / "defence_expenditure.csv"
    for iso in ("BEL", "CAN", "CZE", "DNK", "FRA", "DEU", "ITA", "NLD", "PRT", "ESP"):
        edit_csv(path, {"iso3": iso, "year": "2021", "edition": "nato-2025-08"}, {"pct_gdp": "2.50"})
    return data_copy


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


def test_keep_going_publishes_a_marked_degraded_edition(contradicted_data, tmp_path):
    proc = natoua("build", "--sections", "07,11", "--no-pdf", "--keep-going", "--out", str(tmp_path),
                  data_dir=contradicted_data)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    html = next((tmp_path / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Degraded edition" in html and "Build status" in html
    assert "This section failed to build" in html
    manifest = json.loads((tmp_path / "latest" / "manifest.json").read_text())
    assert manifest["degraded"] == ["07"]


def test_second_build_waits_or_exits_with_distinct_code(published):
    held = FileLock(str(published / ".build.lock"))
    with held:
        proc = natoua("build", "--sections", "11", "--no-pdf", "--out", str(published), "--no-wait")
        assert proc.returncode == 3 and "another build is running" in proc.stderr
        waiting = subprocess.Popen(NATOUA + ["build", "--sections", "11", "--no-pdf", "--out", str(published)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=paths.ROOT)
        time.sleep(2)
        assert waiting.poll() is None, "a build with --wait waits for the lock"
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, out + err
    assert out.startswith("waiting for another build to finish"), out


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

def test_dataset_text_is_escaped_in_html_and_pdf(data_copy, tmp_path):
    edit_csv(data_copy / "summits.csv", {"summit_id": "vilnius-2023"},
             {"ukraine_decision": "Allies & partners agreed <5 steps; see \"x\" > y."})
    proc = natoua("build", "--sections", "11", "--out", str(tmp_path), data_dir=data_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = next((tmp_path / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Allies &amp; partners agreed &lt;5 steps" in html
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(next((tmp_path / "latest").glob("*.pdf"))).pages)
    assert "Allies & partners agreed <5 steps" in " ".join(text.split())


def test_new_edition_says_what_changed(tmp_path):
    for as_of in ("2024-12-31", "2026-03-31"):
        proc = natoua("build", "--sections", "07", "--no-pdf", "--as-of", as_of, "--out", str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    changes = (tmp_path / "2026-03-31" / "changes.md").read_text(encoding="utf-8")
    assert changes.startswith("# What changed since the 31 December 2024 edition")
    old = json.loads((tmp_path / "2024-12-31" / "claims.json").read_text())
    new = json.loads((tmp_path / "2026-03-31" / "claims.json").read_text())
    moved = [n for n in new if n in old and new[n]["text"] != old[n]["text"]]
    assert moved
    for name in moved:
        assert f"`{name}` | {old[name]['text']} | {new[name]['text']}" in changes
    html = next((tmp_path / "2026-03-31").glob("*.html")).read_text(encoding="utf-8")
    assert "What changed since the 31 December 2024 edition" in html
    assert (tmp_path / "latest").resolve() == (tmp_path / "2026-03-31").resolve()


def test_stale_data_is_flagged_in_report_and_log(tmp_path):
    proc = natoua("build", "--sections", "07", "--no-pdf", "--as-of", "2027-12-31", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = next((tmp_path / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert 'class="freshness stale"' in html and "more than 9 months before the cut-off" in html
    assert "WARNING section 07" in (tmp_path / "latest" / "build.log").read_text()


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
    "infinite_output": ("while True:\n    print('x' * 200)", ["--cell-timeout", "3"],
                        "CellTimeoutError: timed out after 3 s"),
}


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


def test_dead_kernel_with_keep_going_publishes_a_degraded_edition(tmp_path):
    notebooks = scratch_notebooks(tmp_path / "notebooks", "import os\nos._exit(3)", also=("11",))
    out = tmp_path / "reports"
    proc, left = run_scratch_build(notebooks, out, "--sections", "11,13", "--keep-going")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "DeadKernelError: kernel died" in proc.stdout
    manifest = json.loads((out / "2026-03-31" / "manifest.json").read_text())
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


def test_injected_links_in_dataset_text_never_reach_html_or_pdf(data_copy, tmp_path):
    from pypdf import PdfReader

    edit_csv(data_copy / "security_agreements.csv", {"partner_iso3": "ALB"},
             {"partner_name": "Albania [official text](javascript:alert(document.domain)) [doc](file:///etc/passwd) "
                              "![seal](http://127.0.0.1:9/seal.png)"})
    proc = natoua("build", "--sections", "01,03", "--out", str(tmp_path), data_dir=data_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = next((tmp_path / "latest").glob("*.html")).read_text(encoding="utf-8")
    assert "Albania [official text](javascript:alert(document.domain))" in html, "the text is shown as text"
    assert "javascript:" not in html.replace("(javascript:alert(document.domain))", "")
    assert not re.search(r"<img\b[^>]*\bsrc=\"(?!data:)", html), "no remote image"
    assert "href=\"file:" not in html and "href=\"javascript:" not in html
    reader = PdfReader(next((tmp_path / "latest").glob("*.pdf")))
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            uri = (annot.get_object().get("/A") or {}).get("/URI")
            assert uri is None or str(uri).startswith(("https://", "http://", "#")), uri
