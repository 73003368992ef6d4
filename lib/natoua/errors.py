"""What a command's failure looks like to an operator: one line and an exit code (see README).

Exit codes: 0 built or up to date, 1 a section or the export failed, 2 bad input (data or arguments),
3 another build holds the lock, 4 a degraded edition was published (--keep-going with failed sections),
130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import re

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_DEGRADED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM killed

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # colours in tracebacks and exception values from a kernel


class BuildError(Exception):
    """A command stops: `message` is its one line on stderr, `code` its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text or "")


def first_line(text: str) -> str:
    """The first non-empty line of an error text, without terminal colours (for a console line)."""
    text = strip_ansi(text).strip()
    return text.splitlines()[0] if text else ""
