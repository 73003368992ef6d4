"""The project's own rules on the data, beyond the Table Schemas: text that is inert wherever it is pasted,
finite numbers, dates no more precise than they say, facts that agree across tables, cited sources that
exist, and how each source was read."""

from __future__ import annotations

import re
from pathlib import Path

from . import regular
from .data_problem import Problem, shown_path

FORMULA_PREFIXES = ("=", "+", "-", "@")
HTML_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!]")
NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"}


def text_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """Text cells must be inert wherever they are pasted: no formulas, no markup."""
    file = shown_path(base / res["path"], base)
    header = rows[0]
    string_cols = [i for i, f in enumerate(res["schema"]["fields"]) if f.get("type", "string") == "string"]
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        for i in string_cols:
            if i >= len(row):
                continue
            cell = row[i]
            first = cell.lstrip()[:1]  # a spreadsheet ignores leading spaces: " =HYPERLINK(...)" is a formula too
            if first in FORMULA_PREFIXES:
                lead = "" if cell[:1] == first else " after leading whitespace"
                problems.append(Problem(file, line, header[i], f"text starts with {first!r}{lead} (spreadsheet formula "
                                                               f"injection risk); reword it"))
            if HTML_MARKUP.search(cell):
                tag = HTML_MARKUP.search(cell).group(0)
                problems.append(Problem(file, line, header[i], f"text contains HTML markup ({tag!r}...); datasets hold plain text"))
    return problems


def number_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """inf and nan parse as numbers but are not figures: rejected unless the field declares
    `"nonFinite": true`."""
    file = shown_path(base / res["path"], base)
    header = rows[0]
    fields = {f["name"]: f for f in res["schema"]["fields"]}
    problems = []
    for i, col in enumerate(header):
        field = fields.get(col, {})
        if field.get("type") != "number" or field.get("nonFinite") is True:
            continue
        for line, row in enumerate(rows[1:], start=2):
            if i < len(row) and row[i].strip().lower() in NON_FINITE:
                problems.append(Problem(file, line, col, f"{row[i]!r} is not a finite number (a field must declare "
                                                         f"\"nonFinite\": true to allow inf or nan)"))
    return problems


def precision_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """A date whose precision is month/year must not carry an invented day/month."""
    file = shown_path(base / res["path"], base)
    header = rows[0]
    problems = []
    for i, col in enumerate(header):
        if not col.endswith("_precision") or col[: -len("_precision")] not in header:
            continue
        date_i = header.index(col[: -len("_precision")])
        for line, row in enumerate(rows[1:], start=2):
            if max(i, date_i) >= len(row):
                continue
            value, precision = row[date_i], row[i]
            if precision == "month" and value[8:10] not in ("", "01"):
                problems.append(Problem(file, line, header[date_i], f"{value!r} has a day but its precision is 'month' (use the 1st)"))
            if precision == "year" and value[5:10] not in ("", "01-01"):
                problems.append(Problem(file, line, header[date_i], f"{value!r} has a month/day but its precision is 'year' (use January 1st)"))
    return problems


def cross_table_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """Facts held in two tables must agree (NATO accession dates)."""
    if "countries" not in texts or "nato_enlargement" not in texts:
        return []
    by_name = {r["name"]: r for r in resources}

    def table(name):
        rows = texts[name]
        return [dict(zip(rows[0], r)) for r in rows[1:] if r]

    joined = {r["iso3"]: r.get("accession_date", "") for r in table("nato_enlargement")}
    file = shown_path(base / by_name["countries"]["path"], base)
    problems = []
    for line, row in enumerate(table("countries"), start=2):
        date, iso = row.get("nato_accession_date", ""), row.get("iso3", "")
        if iso in joined and joined[iso] != date:
            problems.append(Problem(file, line, "nato_accession_date", f"{date!r} disagrees with nato_enlargement.csv ({joined[iso]!r})"))
        if date and iso not in joined:
            problems.append(Problem(file, line, "nato_accession_date", f"{iso} has an accession date but no row in nato_enlargement.csv"))
    return problems


# --- provenance (issue 12) ---------------------------------------------------------------

# A source id cited in free text ("per kyivindependent-madrid-2022"): lower-case, two or more hyphens, a digit,
# not part of a URL or file name.
CITED_ID = re.compile(r"(?<![\w/.-])([a-z][a-z0-9]*(?:-[a-z0-9]+){2,})(?![\w/-])(?!\.[a-z])")
NEEDS_VIA = {"official-via-reprint", "transcription", "compiled-list"}


def provenance_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """Every source id cited in notes exists; every source says how it was read, naming the reprint or list."""
    if "sources" not in texts:
        return []
    by_name = {r["name"]: r for r in resources}
    header, *body = texts["sources"]
    ids = {row[header.index("source_id")] for row in body if row}
    problems = []
    if "read_as" in header:
        file = shown_path(base / by_name["sources"]["path"], base)
        for line, row in enumerate(body, start=2):
            rec = dict(zip(header, row))
            if rec.get("read_as") in NEEDS_VIA and not rec.get("via", "").strip():
                problems.append(Problem(file, line, "via", f"read_as is {rec['read_as']!r}: name the reprint, "
                                                           "transcription or list in via"))
            if rec.get("read_as") == "news-report" and not (rec.get("via", "").strip() or rec.get("url", "").strip()):
                problems.append(Problem(file, line, "via", "read_as is 'news-report': name the report in via "
                                                           "(or give the news article's url)"))
    for name, rows in texts.items():
        head, *data = rows
        cols = [i for i, c in enumerate(head) if c in ("notes", "via")]
        file = shown_path(base / by_name[name]["path"], base)
        for line, row in enumerate(data, start=2):
            for i in cols:
                for cited in CITED_ID.findall(row[i] if i < len(row) else ""):
                    if any(ch.isdigit() for ch in cited) and cited not in ids:
                        problems.append(Problem(file, line, head[i], f"cites source {cited!r}, which is not in "
                                                                     "sources.csv (add it or drop the citation)"))
    return problems


# --- how a source was read agrees with what it names (issue 18) ----------------------------------

# `via` wording that says the figures came from a news report; such a source is read_as 'news-report'.
NEWS_VIA = re.compile(r"\b(reported by|as reported|news report|press coverage|press reports?)\b", re.I)


def reading_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """`read_as` and `via` agree: an official file names the copy it came through (or says it came from the
    publisher) and is a raw snapshot under data/raw/; a snapshot's source is read as 'official-file'; a source
    whose via names a news report is never read as the official page or file."""
    import json

    if "sources" not in texts or "read_as" not in texts["sources"][0]:
        return []
    by_name = {r["name"]: r for r in resources}
    file = shown_path(base / by_name["sources"]["path"], base)
    header, *body = texts["sources"]
    snapshots: dict[str, str] = {}  # source id -> metadata file
    for meta_path in sorted((base / "raw").glob("*/*.meta.json")):
        try:
            meta = json.loads(regular.read_text(meta_path))  # a FIFO here is refused, never waited on
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # reported by the snapshot rules
        if isinstance(meta, dict) and isinstance(meta.get("source_id"), str):
            snapshots[meta["source_id"]] = shown_path(meta_path, base)
    problems = []
    for line, row in enumerate(body, start=2):
        rec = dict(zip(header, row))
        sid, read_as, via = rec.get("source_id", ""), rec.get("read_as", ""), rec.get("via", "").strip()
        if read_as == "official-file":
            if not via:
                problems.append(Problem(file, line, "via", "read_as is 'official-file': name in via the copy the file "
                                                           "came through (or say it was downloaded from the publisher)"))
            if sid not in snapshots:
                problems.append(Problem(file, line, "read_as", f"read_as is 'official-file' but no raw snapshot under "
                                                               f"data/raw/ has source_id {sid!r}"))
        elif sid in snapshots:
            problems.append(Problem(file, line, "read_as", f"{read_as!r}, but {snapshots[sid]} makes {sid!r} a raw "
                                                           "snapshot: read_as is 'official-file'"))
        if read_as in ("official-page", "official-file") and NEWS_VIA.search(via):
            problems.append(Problem(file, line, "read_as", f"read_as is {read_as!r} but via names a news report "
                                                           f"({NEWS_VIA.search(via).group(0)!r}): a figure taken from "
                                                           "a news report is read_as 'news-report'"))
    return problems


def snapshot_rules(base: Path) -> list[Problem]:
    """Raw release files under data/raw/ match the sha256 in the metadata beside them."""
    from .importers import snapshot_problems

    return [Problem(file, None, column, message) for file, column, message in snapshot_problems(base)]
