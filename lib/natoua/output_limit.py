"""A cap on what one cell may print, enforced in the kernel.

A cell that prints hundreds of megabytes floods the messages between kernel and build: the build runs
out of time draining them (and used to report it as a cell time limit) or out of memory keeping them.
In the build's kernels, the text a cell writes to stdout and stderr is counted per cell (per execute
request); past MAX_CELL_OUTPUT the write raises OutputLimitError, so the cell fails at once, at the line
that printed, with a message naming the limit. The report never shows printed text that long anyway.
"""

from __future__ import annotations

MAX_CELL_OUTPUT = 20 * 1024 * 1024  # characters of printed text per cell (real cells print a few kB)


class OutputLimitError(Exception):
    """A cell printed more than the output limit."""


_counts: dict = {}


def install(limit: int = MAX_CELL_OUTPUT) -> None:
    """Patch ipykernel's output streams (idempotent)."""
    from ipykernel.iostream import OutStream

    if getattr(OutStream.write, "_natoua_limited", False):
        return
    original = OutStream.write

    def write(self, string):
        parent = (self.parent_header or {}).get("msg_id")
        if _counts.get("parent") != parent:
            _counts.clear()
            _counts["parent"] = parent
        key = id(self)
        _counts[key] = _counts.get(key, 0) + len(string)
        if sum(v for k, v in _counts.items() if k != "parent") > limit:
            raise OutputLimitError(f"the cell printed more than the output limit of {limit // 2**20} MB "
                                   f"(natoua.output_limit.MAX_CELL_OUTPUT); print less, or write to a file")
        return original(self, string)

    write._natoua_limited = True
    OutStream.write = write
