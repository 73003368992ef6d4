"""NATO summits and Ukraine: the summit list, the commitment-level coding rule, brief corrections.

Shared by the accession-timeline section (02), the summit key-decisions section (11)
and the Nordic-expansion section (06, which reuses `brief_notes` and `days_between`).

    frame = summits.listing(as_of)          # one row per summit up to as_of, with display columns
    rule = summits.coding_rule()            # the commitment-level rule, read from datapackage.json
    items = summits.brief_notes(frame, "label")  # [(label, "what the data say against the brief"), ...]

The coding rule and the MAP-status meanings are read from the field descriptions in
data/datapackage.json, so the report shows exactly what the descriptor says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pandas as pd

from . import data

#: Short labels for the commitment levels (axis labels, table cells). Their meaning is the
#: condition in the descriptor's coding rule; tests check the keys match the rule's levels.
LEVEL_SHORT = {
    0: "No Ukraine decision",
    1: "Partnership only",
    2: "Bucharest reaffirmed",
    3: "MAP requirement dropped",
    4: "Irreversible path",
    5: "Invitation to accession talks",
}

_SUFFIXES = (" Summit", " Leaders' Meeting")


def level_text(level) -> str:
    """A level's short label for use inside a sentence: the first word in lower case unless it is a
    name or an acronym ('irreversible path', 'no Ukraine decision', 'Bucharest reaffirmed',
    'MAP requirement dropped'). Never lower-cases proper nouns, unlike `LEVEL_SHORT[...].lower()`."""
    label = LEVEL_SHORT.get(int(level), str(level))
    first, _, rest = label.partition(" ")
    if first.isupper() or first in _PROPER:
        return label
    return f"{first.lower()} {rest}".strip()


_PROPER = {"Bucharest", "Ukraine", "Vilnius", "Washington"}


# --- descriptor text -------------------------------------------------------------------------

def field_description(resource: str, field: str) -> str:
    """The description of one field of a resource, as written in datapackage.json."""
    for f in data.resource(resource).get("schema", {}).get("fields", []):
        if f.get("name") == field:
            return str(f.get("description", ""))
    raise data.DataError(f"datapackage.json: resource {resource!r} has no field {field!r}")


@dataclass(frozen=True)
class CodingRule:
    """The commitment-level rule: an introduction, one condition per level, a closing note."""

    intro: str
    levels: dict[int, str]
    footnote: str

    def level_of(self, word: str) -> int:
        """The level whose condition mentions `word` (e.g. 'invitation', 'irreversible')."""
        hits = [lvl for lvl, text in self.levels.items() if word.lower() in text.lower()]
        if not hits:
            raise KeyError(f"no commitment level mentions {word!r}")
        return hits[0]


def coding_rule() -> CodingRule:
    """Parse the commitment_level field description into its levels.

    The description reads '<intro>: 0 = ...; 1 = ...; ... 5 = .... <footnote>'.
    """
    desc = field_description("summits", "commitment_level")
    intro, sep, rest = desc.partition(":")
    if not sep:
        raise data.DataError("summits.commitment_level: description has no coding rule ('...: 0 = ...')")
    parts = re.split(r"(?:^|;)\s*(\d+)\s*=\s*", rest.strip())
    # parts = ['', '0', text0, '1', text1, ...]
    levels = {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if not levels:
        raise data.DataError("summits.commitment_level: no 'N = condition' levels in the description")
    last = max(levels)
    text, dot, footnote = levels[last].partition(". ")
    levels[last] = text.strip().rstrip(".")
    return CodingRule(intro=intro.strip(), levels=levels, footnote=footnote.strip())


def map_meanings() -> dict[str, str]:
    """map_status code -> its meaning, parsed from the field description ('code (meaning), ...')."""
    desc = field_description("summits", "map_status")
    found = dict(re.findall(r"\b([a-z]+_[a-z_]+)\s*\(([^)]*)\)", desc))
    if not found:
        raise data.DataError("summits.map_status: no 'code (meaning)' pairs in the description")
    return found


# --- dates -------------------------------------------------------------------------------------

def _as_date(value) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def date_range(start, end) -> str:
    """'2–4 April 2008', '14 June 2021', '30 June – 1 July 2022', '31 December 2024 – 1 January 2025'."""
    a, b = _as_date(start), _as_date(end)
    if b < a:
        raise ValueError(f"date range ends before it starts: {a} to {b}")
    if a == b:
        return f"{a.day} {a:%B %Y}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}–{b.day} {b:%B %Y}"
    if a.year == b.year:
        return f"{a.day} {a:%B} – {b.day} {b:%B %Y}"
    return f"{a.day} {a:%B %Y} – {b.day} {b:%B %Y}"


def days_between(start, end) -> int:
    """Calendar days from start to end (end minus start)."""
    return (_as_date(end) - _as_date(start)).days


# --- the summit list -------------------------------------------------------------------------

def short_name(name: str) -> str:
    """'Strasbourg / Kehl Summit' -> 'Strasbourg / Kehl'; "London Leaders' Meeting" -> 'London'."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def listing(as_of=None) -> pd.DataFrame:
    """Every summit that had started by as_of, in date order, with display columns added:

    year, label ('Bucharest 2008'), dates ('2–4 April 2008'), level_label, map_meaning,
    has_phrase (a verified key phrase exists).
    """
    frame = data.load("summits", as_of).sort_values("start_date").reset_index(drop=True)
    meanings = map_meanings()
    frame["year"] = frame["start_date"].dt.year.astype(int)
    frame["label"] = [f"{short_name(n)} {y}" for n, y in zip(frame["name"], frame["year"])]
    frame["dates"] = [date_range(a, b) for a, b in zip(frame["start_date"], frame["end_date"])]
    frame["level_label"] = frame["commitment_level"].map(lambda v: LEVEL_SHORT.get(int(v), str(v)))
    frame["map_meaning"] = frame["map_status"].map(lambda v: meanings.get(str(v), str(v)))
    frame["has_phrase"] = frame["key_phrase"].notna() & (frame["key_phrase"].fillna("").str.strip() != "")
    return frame


def summit(frame: pd.DataFrame, summit_id: str) -> pd.Series | None:
    """One summit's row from a listing, or None when it is not in the frame (e.g. after as_of)."""
    row = frame.loc[frame["summit_id"] == summit_id]
    return None if row.empty else row.iloc[0]


def required(frame: pd.DataFrame, summit_id: str, as_of) -> pd.Series:
    """One summit's row that a section's prose depends on; a clear error when the cut-off excludes it."""
    row = summit(frame, summit_id)
    if row is None:
        raise data.DataError(f"summits: {summit_id} is not in the data up to {as_of}; this section's prose needs it")
    return row


def peak(frame: pd.DataFrame) -> pd.Series:
    """The first summit at the highest commitment level in the frame."""
    if frame.empty:
        raise ValueError("no summits in the frame")
    top = int(frame["commitment_level"].max())
    return frame.loc[frame["commitment_level"] == top].iloc[0]


# --- where the data correct the brief --------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PREFIX = re.compile(r"^brief contradicted:\s*", re.IGNORECASE)


def brief_sentences(note) -> list[str]:
    """The sentences of a notes cell that speak about the brief, made readable.

    'Brief contradicted: the brief says X.' -> 'The brief says X.', 'Brief says X.' ->
    'The brief says X.'; column names in
    the notes ('key_phrase') are written as words.
    """
    if note is None or (not isinstance(note, str) and pd.isna(note)):
        return []
    out = []
    for sentence in _SENTENCE.split(str(note).strip()):
        if "brief" not in sentence.lower():
            continue
        text = _PREFIX.sub("", sentence.strip()).replace("key_phrase", "quoted key phrase")
        text = text[:1].upper() + text[1:]
        if re.match(r"Brief\b", text):
            text = "The b" + text[1:]
        if not text.endswith((".", "!", "?")):
            text += "."
        out.append(text)
    return out


def brief_notes(frame: pd.DataFrame, label_col: str, notes_col: str = "notes") -> list[tuple[str, str]]:
    """(label, text) for every row whose notes mention the brief, in frame order."""
    items = []
    for label, note in zip(frame[label_col], frame[notes_col]):
        sentences = brief_sentences(note)
        if sentences:
            items.append((str(label), " ".join(sentences)))
    return items
