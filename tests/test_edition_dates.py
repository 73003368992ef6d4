"""Honest dates: the edition date is the data cut-off, releases read are listed with their publication dates,
and the PDF attaches only the rows the edition read."""

from __future__ import annotations

import csv
import re
import io
from types import SimpleNamespace

from natoua import assemble, data, edition, releases


def test_attached_csv_holds_only_rows_up_to_the_cut_off_as_written():
    entries = {"01": SimpleNamespace(reads={"exchange_rates": "x"})}
    files = {name: content for name, content, _ in edition.pdf_attachments("{}", entries, "2026-03-31")}
    rows = list(csv.DictReader(io.StringIO(files["exchange_rates.csv"].decode("utf-8"))))
    assert rows and max(r["date"] for r in rows) <= "2026-03-31"
    assert len(rows) == len(data.load("exchange_rates", "2026-03-31"))
    # every attached line is a line of the committed file (values as written, nothing re-formatted)
    written = set((data.resource_path(data.resource("exchange_rates"))).read_text(encoding="utf-8").splitlines())
    assert set(files["exchange_rates.csv"].decode("utf-8").splitlines()) <= written


def test_releases_published_after_the_cut_off_are_named_with_their_date():
    found = {r.dataset: r for r in releases.edition_releases("2026-03-31", ["support_tracker", "events"])}
    kiel = found["support_tracker"]
    assert "Release 28" in kiel.release and kiel.published_iso > "2026-03-31"
    assert kiel.after_cutoff and "April 2026" in kiel.after_cutoff[0]
    assert found["events"].published_iso <= "2026-03-31" and not found["events"].after_cutoff


def test_title_page_gives_the_cut_off_as_edition_date_and_never_says_published():
    rel = [r.to_json() for r in releases.edition_releases("2026-03-31", ["support_tracker", "summits"])]
    ed = assemble.Edition(as_of="2026-03-31", params={"currency": "EUR"}, parts=[], ledger={}, releases=rel)
    page = assemble.title_page(ed)
    assert "published" not in page.replace("published after the cut-off", "")
    assert "31 March 2026" in page and "the data cut-off" in page
    assert "Kiel Institute for the World Economy" in page  # the release read though published after the cut-off
    about = assemble.about_edition(ed)
    assert "Release 28" in about and "after the cut-off" in about and "25 June 2025" in about


def test_title_page_names_each_late_publication_once_with_its_date_in_plain_words():
    rel = [r.to_json() for r in releases.edition_releases("2026-03-31", ["support_tracker", "support_relative",
                                                                          "exchange_rates", "countries", "summits"])]
    ed = assemble.Edition(as_of="2026-03-31", params={"currency": "EUR"}, parts=[], ledger={}, releases=rel)
    page = assemble.title_page(ed)
    late = sorted({item for r in rel for item in r["after_cutoff"]})
    assert len(late) >= 2  # Kiel's Release 28 (two datasets, one publication) and the ECB's file
    assert page.count("Release 28") == 1  # a publication read by several datasets is named once
    assert "published" not in page and ") (" not in page  # no date given twice, nothing the contents contradict
    for item in late:
        assert re.search(r"\b20\d\d\)?$", item), item  # each ends with the date it appeared
        assert item.replace("'", "&#x27;") in page
    assert "only what they report up to the cut-off is used" in page and "period up to the cut-off" in page
