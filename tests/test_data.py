"""Loading datasets: types, the as_of filter, recorded reads, refusing unsafe paths."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from natoua import analysis, data


def test_load_types_follow_the_schema():
    summits = data.load("summits")
    assert pd.api.types.is_datetime64_any_dtype(summits["start_date"])
    assert str(summits["commitment_level"].dtype) == "Int64"
    countries = data.load("countries")
    assert str(countries["nato_member"].dtype) == "boolean"
    assert not bool(countries.loc[countries.iso3 == "ISL", "has_armed_forces"].item())


def test_as_of_drops_later_rows_by_date_and_by_year():
    summits = data.load("summits", "2024-12-31")
    assert summits["start_date"].max() <= pd.Timestamp("2024-12-31")
    assert "hague-2025" not in set(summits["summit_id"])
    spending = data.load("defence_expenditure", "2023-12-31")
    assert spending["year"].max() == 2023
    assert len(data.load("summits", "2026-03-31")) > len(summits)


def test_reads_are_recorded_with_content_digest(data_copy, tmp_path, monkeypatch):
    log = tmp_path / "reads.jsonl"
    monkeypatch.setenv(data.RUN_LOG_ENV, str(log))
    data.load("territory")
    entries = [json.loads(l) for l in log.read_text().splitlines()]
    assert entries == [{"dataset": "territory", "digest": data.dataset_digest("territory")}]
    before = entries[0]["digest"]
    (data_copy / "territory.csv").write_text((data_copy / "territory.csv").read_text() + "2026-02-01,month,19,,true,online-ua-deepstate-2026-01-02,\n")
    assert data.dataset_digest("territory") != before


def test_resource_path_outside_data_folder_is_refused(data_copy):
    descriptor = json.loads((data_copy / "datapackage.json").read_text())
    descriptor["resources"][0]["path"] = "../../etc/passwd"
    (data_copy / "datapackage.json").write_text(json.dumps(descriptor))
    with pytest.raises(data.DataError, match="outside the data folder"):
        data.load(descriptor["resources"][0]["name"])


def test_unknown_dataset_is_named():
    with pytest.raises(data.DataError, match="no dataset named 'nope'"):
        data.load("nope")


def test_source_line_names_publisher_and_edition():
    line = data.source_line(data.load("nato_targets").head(1))
    assert line.startswith("Source: NATO, ") and line.endswith(".")


def test_latest_spending_uses_newest_edition_known_on_as_of():
    spring = analysis.latest_spending("2026-03-31").set_index("iso3")
    end_2024 = analysis.latest_spending("2024-12-31").set_index("iso3")
    # End of 2024: only the June 2024 edition was out, so its 2024 estimates are the latest.
    assert set(end_2024["edition"]) == {"nato-2024-06"}
    assert (end_2024["year"] == 2024).all()
    # Spring 2026: the Secretary General's report (one decimal) gives 2025 figures.
    assert spring.loc["POL", "year"] == 2025 and spring.loc["POL", "decimals"] == 1
    assert "ISL" not in spring.index  # no armed forces, no NATO figure


def test_series_edition_is_a_single_edition_and_says_when_it_postdates_as_of():
    assert analysis.series_edition("2026-03-31") == "nato-2025-08"
    assert analysis.edition_published_by("nato-2025-08", "2026-03-31")
    # No full series was published by the end of 2024: the earliest full one is used, flagged as later.
    assert analysis.series_edition("2024-12-31") == "nato-2025-08"
    assert not analysis.edition_published_by("nato-2025-08", "2024-12-31")
    series = analysis.spending_series("2024-12-31", "nato-2025-08")
    assert set(series["edition"]) == {"nato-2025-08"} and series["year"].max() == 2024


def test_targets_are_known_only_once_agreed():
    assert analysis.target("hague-2025-3-5pct-core", "2024-12-31") is None
    assert float(analysis.target("hague-2025-3-5pct-core", "2026-03-31")["pct_gdp"]) == 3.5
    assert analysis.target("wales-2014-dip-2pct", "2024-12-31") is not None


def test_a_source_is_looked_up_by_id_and_follows_an_edited_sources_file(data_copy, tmp_path, monkeypatch):
    log = tmp_path / "reads.jsonl"
    monkeypatch.setenv(data.RUN_LOG_ENV, str(log))
    table = pd.read_csv(data_copy / "sources.csv", dtype=str, keep_default_na=False)
    first = table.iloc[0]
    src = data.source(first["source_id"])
    assert (src.publisher, src.title, src.edition, src.url) == (first["publisher"], first["title"], first["edition"],
                                                                first["url"])
    for _ in range(3):
        data.source(first["source_id"])
    # read once, recorded once: the log is read as a set of (dataset, digest)
    assert [json.loads(l) for l in log.read_text().splitlines()] == [
        {"dataset": "sources", "digest": data.dataset_digest("sources")}]
    table.loc[0, "publisher"] = "A renamed publisher"
    table.to_csv(data_copy / "sources.csv", index=False, lineterminator="\n")
    assert data.source(first["source_id"]).publisher == "A renamed publisher"  # a new version, not the old index
    entries = [json.loads(l) for l in log.read_text().splitlines()]
    assert entries[-1] == {"dataset": "sources", "digest": data.dataset_digest("sources")} and len(entries) == 2
    with pytest.raises(data.DataError, match=r"sources.csv:-:source_id: unknown source 'no-such-source'"):
        data.source("no-such-source")


def test_preloaded_datasets_are_read_again_once_changed_and_record_nothing(data_copy, tmp_path, monkeypatch):
    log = tmp_path / "reads.jsonl"
    monkeypatch.setenv(data.RUN_LOG_ENV, str(log))
    (data_copy / "sources.csv").write_text("not,a,valid\n\"sources file\n")  # a broken dataset: skipped, no crash
    data.preload()
    assert not log.exists()  # parsing ahead of time is not a read by a notebook
    before = data.load("territory")
    (data_copy / "territory.csv").write_text((data_copy / "territory.csv").read_text()
                                             + "2026-02-01,month,19,,true,online-ua-deepstate-2026-01-02,\n")
    data.preload()
    assert len(data.load("territory")) == len(before) + 1  # the new version, not the preloaded one
    with pytest.raises(data.DataError, match="sources.csv"):
        data.load("sources")
