"""A problem found in the data package, and how it is shown: `file:row:column: message`, with control and
bidi characters escaped (a terminal must never receive them raw)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# C0 and C1 control characters other than tab and newline (NUL, ANSI escapes, ...): never data, never printed raw.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional controls (embeddings, overrides, isolates, marks): invisible, and they reorder how the text
# around them is shown ("TAHW" shown as "WHAT"), so what a reader sees is not what the data say.
BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text with control and bidi characters shown as escapes (a terminal must never receive them raw)."""
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))
    return BIDI.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        row = self.row if self.row is not None else "-"
        return printable(f"{self.file}:{row}:{self.column or '-'}: {self.message}")


def shown_path(path: Path, base: Path) -> str:
    """A path as the analyst knows it: relative to the folder holding data/."""
    try:
        return str(path.resolve().relative_to(base.parent))
    except ValueError:
        return str(path)

