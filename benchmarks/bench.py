"""Benchmark the build on the project's real notebooks and data (`make bench`).

Times, side by side, each repeated (default 3 times) and reported as medians:
  a  naive: `papermill` CLI per notebook, then `jupyter nbconvert` CLI to HTML and to PDF per notebook
  b  `natoua build` cold (empty cache, fresh reports folder)
  c  `natoua build` with nothing changed
  d  `natoua build` after changing one dataset (counts the sections re-executed, and checks they are
     exactly the sections that read it)
  e  `natoua briefs` for all allies, cold
and writes the table into README.md between the performance markers.

    .venv/bin/python benchmarks/bench.py [--repeat 3] [--dataset nato_targets] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NATOUA = [sys.executable, "-m", "natoua.cli"]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def run(cmd, env=None, cwd=ROOT) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc


def change_one_note(path: Path) -> None:
    """Edit the notes cell of the last row: a real content change that moves no figure."""
    import csv
    import io

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("notes")
    rows[-1][col] = (rows[-1][col] + " (benchmark edit)").strip()
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def naive(work: Path, env: dict) -> float:
    """What a team without this build would run: one CLI call per notebook and per format."""
    from natoua import paths

    out = work / "naive"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for nb in paths.section_notebooks():
        executed = out / nb.name
        run([BIN / "papermill", str(nb), str(executed), "-p", "as_of", "2026-03-31", "--cwd", str(paths.NOTEBOOKS),
             "--log-level", "ERROR", "--no-progress-bar"], env=env)
        run([BIN / "jupyter", "nbconvert", "--to", "html", "--no-input", str(executed), "--output-dir", str(out)], env=env)
        run([BIN / "jupyter", "nbconvert", "--to", "natoua_pdf", str(executed), "--output-dir", str(out)], env=env)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dataset", default="nato_targets", help="dataset changed for measurement d")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "lib"))
    from natoua import data

    times: dict[str, list[float]] = {k: [] for k in "abcde"}
    reexecuted, expected_readers = [], None
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="natoua-bench-") as tmp:
            work = Path(tmp)
            data_dir = work / "data"
            shutil.copytree(ROOT / "data", data_dir)
            env = dict(os.environ, NATOUA_DATA_DIR=str(data_dir))
            reports = work / "reports"
            print(f"run {i + 1}/{args.repeat}", flush=True)

            times["a"].append(naive(work, env))
            print(f"  a naive            {times['a'][-1]:6.1f} s", flush=True)
            t, _ = run(NATOUA + ["build", "--out", str(reports)], env=env)
            times["b"].append(t)
            print(f"  b build cold       {times['b'][-1]:6.1f} s", flush=True)
            t, proc = run(NATOUA + ["build", "--out", str(reports)], env=env)
            assert "up to date" in proc.stdout, proc.stdout
            times["c"].append(t)
            print(f"  c nothing changed  {times['c'][-1]:6.2f} s", flush=True)

            manifest = json.loads((reports / "latest" / "manifest.json").read_text())
            expected_readers = sorted(s["section"] for s in manifest["sections"] if args.dataset in s["datasets"])
            change_one_note(data_dir / data.resource(args.dataset)["path"])
            t, proc = run(NATOUA + ["build", "--out", str(reports)], env=env)
            times["d"].append(t)
            ran = sorted(l.split()[0] for l in proc.stdout.splitlines() if l.startswith("  ") and " ok " in l)
            reexecuted.append(ran)
            print(f"  d one dataset      {times['d'][-1]:6.1f} s  re-executed {ran}", flush=True)

            t, _ = run(NATOUA + ["briefs", "--out", str(reports), "--force"], env=env)
            times["e"].append(t)
            print(f"  e briefs (32) cold {times['e'][-1]:6.1f} s", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    same = all(r == expected_readers for r in reexecuted)
    table = render(med, times, reexecuted[-1], expected_readers, same, args)
    print(table)
    if not args.no_readme:
        readme = ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        if START in text and END in text:
            before, rest = text.split(START, 1)
            _, after = rest.split(END, 1)
            readme.write_text(before + START + "\n" + table + END + after, encoding="utf-8")
            print("README.md performance section updated")
    return 0 if same else 1


def render(med, times, ran, expected, same, args) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Measured {date.today().isoformat()} on this machine kind ({os.cpu_count()} cores, {cpu}, Python "
        f"{platform.python_version()}), {args.repeat} runs each, medians (all runs in seconds):",
        "",
        "| | what | median | runs |",
        "|---|---|---|---|",
        f"| a | naive: papermill CLI + nbconvert CLI (HTML, PDF) per notebook | {med['a']:.1f} s | {_runs(times['a'])} |",
        f"| b | `natoua build`, cold | {med['b']:.1f} s | {_runs(times['b'])} |",
        f"| c | `natoua build`, nothing changed | {med['c']:.2f} s | {_runs(times['c'], 2)} |",
        f"| d | `natoua build` after changing `{args.dataset}` | {med['d']:.1f} s | {_runs(times['d'])} |",
        f"| e | `natoua briefs`, all 32 allies, cold | {med['e']:.1f} s | {_runs(times['e'])} |",
        "",
        f"Ratios: a/b = {med['a'] / med['b']:.1f}, a/c = {med['a'] / med['c']:.0f}. "
        f"In d, {len(ran)} section(s) re-executed ({', '.join(ran) or 'none'}); the sections that read "
        f"`{args.dataset}` are {', '.join(expected) or 'none'} ({'match' if same else 'MISMATCH'}).",
        "",
    ]
    return "\n".join(lines)


def _runs(values, decimals=1) -> str:
    return ", ".join(f"{v:.{decimals}f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
