"""Reading the project's own inputs (data, datapackage.json, raw metadata, notebooks): regular files only.

`open()` on a FIFO blocks until something writes to it, a character device can be read forever, and a
socket cannot be read at all. None of them is data. A path that is not a regular file is refused before
it is read (stat first, then opened non-blocking and checked again on the open descriptor, so a file
swapped for a FIFO in between is refused too). `NotRegularFile` is an `OSError`, so callers that already
treat an unreadable file as "invalid" keep doing so, with a message that says what the file is.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class NotRegularFile(OSError):
    """The path exists but is not a regular file (FIFO, device, socket, folder)."""

    def __init__(self, path, what: str):
        super().__init__(f"{path} is {what}, not a regular file; the build reads regular files only")
        self.path, self.what = str(path), what

    def __str__(self) -> str:
        return self.args[0]


def kind(mode: int) -> str | None:
    """What a file of this mode is, when it is not a regular file."""
    for test, what in _KINDS:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def not_regular(path) -> str | None:
    """What the path is if it exists and is not a regular file (following links), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return kind(mode)


def check_regular(path) -> None:
    """Raise NotRegularFile for a FIFO, device, socket or folder (a missing path is the caller's concern)."""
    what = not_regular(path)
    if what:
        raise NotRegularFile(path, what)


def read_bytes(path) -> bytes:
    """The bytes of a regular file; NotRegularFile (never a hang) for anything else."""
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO swapped in now opens at once
    try:
        what = kind(os.fstat(fd).st_mode)
        if what:
            raise NotRegularFile(path, what)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path, encoding: str = "utf-8") -> str:
    return read_bytes(path).decode(encoding)


def regular_files(folder: Path):
    """Every path under `folder` that is a regular file, and every one that is something else (to refuse)."""
    regular, other = [], []
    for p in sorted(Path(folder).rglob("*")):
        what = not_regular(p)
        if what is None:
            if p.exists():
                regular.append(p)
        elif what != "a folder":
            other.append((p, what))
    return regular, other
