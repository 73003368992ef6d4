"""The validator's own rules and messages (the malformed-input corpus is in test_bad_input)."""

from __future__ import annotations

from natoua.validate import Problem, validate_package
from natoua.validate_rules import CITED_ID


def test_problem_format_is_file_row_column_message():
    assert str(Problem("data/a.csv", 3, "date", "bad")) == "data/a.csv:3:date: bad"
    assert str(Problem("data/a.csv", None, None, "missing")) == "data/a.csv:-:-: missing"


def test_every_fact_row_cites_a_known_source():
    from natoua import data

    known = set(data.load("sources")["source_id"])
    for name in data.resource_names():
        frame = data.load(name)
        for col in [c for c in frame.columns if c.endswith("source_id") and name != "sources"]:
            missing = set(frame[col].dropna()) - known
            assert not missing, f"{name}.{col} cites unknown sources {missing}"
            if col == "source_id":
                assert frame[col].notna().all(), f"{name} has rows without a source"


def test_every_listed_source_is_cited_by_some_row():
    """The sources appendix lists sources.csv; each entry must be one the data actually cite."""
    from natoua import data

    cited = set()
    for name in data.resource_names():
        if name == "sources":
            continue
        frame = data.load(name)
        for col in [c for c in frame.columns if c.endswith("source_id")]:
            cited |= set(frame[col].dropna())
        for col in [c for c in frame.columns if c in ("notes", "via")]:  # "date per <source id>" in a row's notes
            for text in frame[col].dropna():
                cited |= set(CITED_ID.findall(text))
    uncited = set(data.load("sources")["source_id"]) - cited
    assert not uncited, f"sources nobody cites: {sorted(uncited)}"


def test_a_source_cited_only_in_notes_must_exist(data_copy):
    """Row notes that cite a source id ("per kyivindependent-madrid-2022") are checked like source_id columns."""
    path = data_copy / "support_structures.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("per kyivindependent-madrid-2022",
                                                             "per kyivindependent-madrid-2099"), encoding="utf-8")
    problems = [str(p) for p in validate_package(data_copy)]
    assert any(p.startswith("data/support_structures.csv:8:notes: cites source 'kyivindependent-madrid-2099'")
               for p in problems), problems


def test_every_source_says_how_it_was_read(data_copy):
    import csv
    import io

    path = data_copy / "sources.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[0]["read_as"] = ""
    rows[1]["read_as"], rows[1]["via"] = "official-via-reprint", ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    problems = [str(p) for p in validate_package(data_copy)]
    assert any(p.startswith("data/sources.csv:2:read_as: ") for p in problems), problems
    assert any(p.startswith("data/sources.csv:3:via: read_as is 'official-via-reprint'") for p in problems), problems
