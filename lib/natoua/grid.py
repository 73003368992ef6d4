"""Parameter grids for `natoua sweep`: `-p SECTION.NAME=v1,v2,...` options, their cross product, and the
grid's name.

    axes = [parse_axis("12.ceasefire_year=2026,2027,2029"), parse_axis("12.p_consensus_per_year=0.05,0.3")]
    combos = cross(axes)              # [{"ceasefire_year": 2026, "p_consensus_per_year": 0.05}, ...]
    digest(section, axes, extra)      # 12 hex digits naming the grid's folder

Values are Python literals, read like `natoua build -p` reads one value (a word that is not a literal is
a string); they are separated by commas outside brackets and quotes, so a list parameter takes several
lists: `-p 12.accession_process_years=[1, 2],[0.8, 1.2]`. Problems raise GridError with a one-line
message naming the option; the values' types and ranges are checked against the notebook's declaration
by the caller (`plan.section_parameters`), like `-p`.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
from dataclasses import dataclass


class GridError(ValueError):
    """A malformed -p option of a sweep (message: one line, naming the option)."""


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its section, name and the values tried, in the order given."""

    section: str
    name: str
    values: tuple

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


def split_values(text: str) -> list[str]:
    """'2026,2027' -> ['2026', '2027']; '[1, 2],[3, 4]' -> ['[1, 2]', '[3, 4]']: commas inside brackets,
    braces, parentheses or quotes do not separate values."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
            if depth < 0:
                raise GridError(f"unbalanced {ch!r}")
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if quote or depth:
        raise GridError("unbalanced quote or bracket")
    parts.append("".join(current).strip())
    return parts


def parse_value(raw: str):
    """One value as `-p` reads it: a Python literal, else the text itself."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw


def parse_axis(option: str) -> Axis:
    """'12.ceasefire_year=2026,2027' -> Axis('12', 'ceasefire_year', (2026, 2027))."""
    try:
        target, raw = option.split("=", 1)
        section, name = target.split(".", 1)
    except ValueError:
        raise GridError(f"-p {option!r}: expected SECTION.NAME=VALUE[,VALUE...], "
                        f"e.g. 12.ceasefire_year=2026,2029") from None
    section, name = section.strip(), name.strip()
    if not section or not name.isidentifier():
        raise GridError(f"-p {option!r}: expected SECTION.NAME=VALUE[,VALUE...], e.g. 12.ceasefire_year=2026,2029")
    try:
        texts = split_values(raw)
    except GridError as exc:
        raise GridError(f"-p {option!r}: {exc}") from None
    if any(t == "" for t in texts):
        raise GridError(f"-p {option!r}: an empty value (two commas in a row, or one at either end)")
    values = tuple(parse_value(t) for t in texts)
    seen = []
    for text, value in zip(texts, values):
        if any(_same(value, s) for s in seen):
            raise GridError(f"-p {option!r}: the value {text} is given twice")
        seen.append(value)
    return Axis(section, name, values)


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def check_axes(axes: list[Axis], section: str) -> None:
    """All axes belong to `section` and each parameter is swept once."""
    for axis in axes:
        if axis.section != section:
            raise GridError(f"-p {axis.section}.{axis.name}: a sweep varies one section's parameters; "
                            f"this sweep is of section {section}")
    names = [a.name for a in axes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GridError(f"-p {section}.{twice[0]}: the parameter is given twice (list all its values in one -p)")
    if not axes:
        raise GridError("give at least one -p SECTION.NAME=VALUE[,VALUE...] to sweep")


def cross(axes: list[Axis]) -> list[dict]:
    """Every combination of the axes' values (the first axis varies slowest), as {name: value}."""
    return [dict(zip([a.name for a in axes], combo)) for combo in itertools.product(*[a.values for a in axes])]


def digest(section: str, axes: list[Axis], extra: dict | None = None) -> str:
    """12 hex digits naming the grid (section, parameters and values in order, and `extra`, e.g. the
    currency): the same grid always gets the same folder, any other grid another."""
    payload = json.dumps({"section": section, "axes": [[a.name, list(a.values)] for a in axes],
                          "extra": extra or {}}, sort_keys=True, ensure_ascii=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def label(combo: dict) -> str:
    """'ceasefire_year=2026 p_consensus_per_year=0.05' (a parameter set, for progress lines and tables)."""
    return " ".join(f"{k}={_text(v)}" for k, v in combo.items())


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else repr(value)
