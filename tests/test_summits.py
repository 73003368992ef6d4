"""Tests for natoua.summits on the real data package."""

from datetime import date

import pandas as pd
import pytest

from natoua import data, summits


# --- the coding rule and MAP meanings come from the descriptor --------------------------------

def test_coding_rule_has_every_level_of_the_field_constraints():
    rule = summits.coding_rule()
    field = next(f for f in data.resource("summits")["schema"]["fields"] if f["name"] == "commitment_level")
    lo, hi = field["constraints"]["minimum"], field["constraints"]["maximum"]
    assert sorted(rule.levels) == list(range(lo, hi + 1))
    assert set(summits.LEVEL_SHORT) == set(rule.levels)


def test_coding_rule_texts_are_the_descriptor_texts():
    rule = summits.coding_rule()
    desc = summits.field_description("summits", "commitment_level")
    for text in rule.levels.values():
        assert text and text in desc
    assert rule.intro in desc and rule.footnote in desc
    # no level text swallowed the next level or the closing note
    assert all(" = " not in t for t in rule.levels.values())
    assert not rule.levels[max(rule.levels)].endswith(".")
    assert "key_phrase" in rule.footnote


def test_level_of_finds_invitation_and_irreversible():
    rule = summits.coding_rule()
    assert rule.level_of("invitation") == max(rule.levels)
    assert rule.level_of("irreversible") == 4
    with pytest.raises(KeyError):
        rule.level_of("no such wording anywhere")


def test_map_meanings_cover_the_enum():
    field = next(f for f in data.resource("summits")["schema"]["fields"] if f["name"] == "map_status")
    meanings = summits.map_meanings()
    assert set(meanings) == set(field["constraints"]["enum"])
    assert meanings["map_waived"] == "MAP no longer required"


# --- dates -------------------------------------------------------------------------------------

@pytest.mark.parametrize("start,end,expected", [
    ("2008-04-02", "2008-04-04", "2–4 April 2008"),
    ("2021-06-14", "2021-06-14", "14 June 2021"),
    ("2022-06-30", "2022-07-01", "30 June – 1 July 2022"),
    ("2024-12-31", "2025-01-01", "31 December 2024 – 1 January 2025"),
    (pd.Timestamp("2024-07-09"), pd.Timestamp("2024-07-11"), "9–11 July 2024"),
])
def test_date_range(start, end, expected):
    assert summits.date_range(start, end) == expected


def test_date_range_rejects_reversed_range():
    with pytest.raises(ValueError):
        summits.date_range("2024-07-11", "2024-07-09")


def test_days_between():
    assert summits.days_between("2022-05-18", "2023-04-04") == 321
    assert summits.days_between(pd.Timestamp("2022-05-18"), date(2024, 3, 7)) == 659


# --- the listing ---------------------------------------------------------------------------------

def test_listing_default_runs_bucharest_to_the_hague_in_order():
    frame = summits.listing("2026-03-31")
    assert frame["summit_id"].iloc[0] == "bucharest-2008"
    assert frame["summit_id"].iloc[-1] == "the-hague-2025"
    assert frame["start_date"].is_monotonic_increasing
    assert len(frame) == len(data.load("summits"))


def test_listing_respects_as_of():
    frame = summits.listing("2024-12-31")
    assert "the-hague-2025" not in set(frame["summit_id"])
    assert frame["summit_id"].iloc[-1] == "washington-2024"
    assert (frame["start_date"] <= pd.Timestamp("2024-12-31")).all()


def test_listing_display_columns():
    frame = summits.listing()
    row = summits.summit(frame, "strasbourg-kehl-2009")
    assert row["label"] == "Strasbourg / Kehl 2009"
    assert summits.summit(frame, "london-2019")["label"] == "London 2019"
    assert summits.summit(frame, "bucharest-2008")["dates"] == "2–4 April 2008"
    assert summits.summit(frame, "vilnius-2023")["map_meaning"] == "MAP no longer required"
    assert summits.summit(frame, "washington-2024")["level_label"] == summits.LEVEL_SHORT[4]
    # has_phrase is true exactly where the key phrase is non-empty
    assert frame["has_phrase"].sum() == frame["key_phrase"].notna().sum()
    assert summits.summit(frame, "nonexistent-1900") is None


def test_peak_is_washington_and_below_invitation():
    frame = summits.listing("2026-03-31")
    top = summits.peak(frame)
    assert top["summit_id"] == "washington-2024"
    assert int(top["commitment_level"]) < summits.coding_rule().level_of("invitation")
    # before Washington the peak is Vilnius
    assert summits.peak(summits.listing("2024-01-01"))["summit_id"] == "vilnius-2023"
    with pytest.raises(ValueError):
        summits.peak(frame.iloc[0:0])


# --- brief corrections from notes ---------------------------------------------------------------

def test_brief_sentences_keeps_only_sentences_about_the_brief():
    note = "31st member. Brief contradicted: brief says March 2023."
    assert summits.brief_sentences(note) == ["The brief says March 2023."]
    assert summits.brief_sentences("Declaration issued 3 April 2008.") == []
    assert summits.brief_sentences(None) == []
    assert summits.brief_sentences(pd.NA) == []


def test_brief_notes_from_the_summit_notes():
    items = dict(summits.brief_notes(summits.listing("2026-03-31"), "label"))
    assert set(items) >= {"Bucharest 2008", "Wales 2014", "Brussels 2021", "Vilnius 2023", "Washington 2024"}
    assert "NATO-Ukraine Council" in items["Vilnius 2023"]
    assert "key_phrase" not in " ".join(items.values())
    assert all(text[0].isupper() for text in items.values())
    assert "Declaration issued" not in items["Bucharest 2008"]


@pytest.mark.parametrize("level,expected", [
    (0, "no Ukraine decision"),
    (1, "partnership only"),
    (2, "Bucharest reaffirmed"),
    (3, "MAP requirement dropped"),
    (4, "irreversible path"),
])
def test_level_text_keeps_names_and_acronyms(level, expected):
    assert summits.level_text(level) == expected


def test_required_summit_names_what_is_missing():
    frame = data.load("summits", "2023-06-30")
    assert summits.required(frame, "bucharest-2008", "2023-06-30")["summit_id"] == "bucharest-2008"
    with pytest.raises(data.DataError, match="vilnius-2023 is not in the data up to 2023-06-30"):
        summits.required(frame, "vilnius-2023", "2023-06-30")
