"""Checks a release file must pass before any importer parses it: bounded size, and for a zip (an .xlsx is one)
bounded member sizes and compression ratios, so a hostile or damaged file stops with one line (LayoutError, exit
code 2) instead of exhausting memory.

Python's zipfile never inflates a member past the size its header declares (it stops there and reports a bad
CRC), so checking the declared sizes bounds what openpyxl or the csv reader can be handed. The limits are far
above the publishers' files (SIPRI's workbook: 0.9 MB, members up to 0.6 MB, ratio at most 7; NATO's tables:
0.2 MB, ratio at most 16; the ECB zip: 0.6 MB, ratio 3) and far below what would hurt a 2-core machine.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from .tidy import LayoutError

MAX_FILE_BYTES = 64 * 2**20  # the release file itself
MAX_MEMBER_BYTES = 64 * 2**20  # one member of a zip, uncompressed
MAX_TOTAL_BYTES = 256 * 2**20  # all members together, uncompressed
MAX_MEMBERS = 2000
MAX_RATIO = 100  # uncompressed / compressed, for members large enough to matter
RATIO_FROM_BYTES = 2**20  # smaller members cannot hurt, whatever their ratio

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # Compound File: legacy .xls, or an encrypted (password) workbook


def check(path: Path, expect_zip: bool = True, limits: dict | None = None) -> None:
    """Raise LayoutError (one line naming the file) unless `path` is safe to parse.

    expect_zip: the importer needs a zip (an .xlsx); otherwise a plain text file is accepted too.
    limits: override the module's limits (tests use small ones)."""
    lim = {"file": MAX_FILE_BYTES, "member": MAX_MEMBER_BYTES, "total": MAX_TOTAL_BYTES, "members": MAX_MEMBERS,
           "ratio": MAX_RATIO, "ratio_from": RATIO_FROM_BYTES} | (limits or {})
    path = Path(path)
    name = path.name
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block the read below, or never end
            raise LayoutError(name, "not a regular file (a pipe, device or folder); give the release file itself")
        size = info.st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise LayoutError(name, f"cannot be read ({exc.strerror or exc})") from None
    if size > lim["file"]:
        raise LayoutError(name, f"file is {size:,} bytes, over the {lim['file']:,}-byte limit for a release file")
    if size == 0:
        raise LayoutError(name, "file is empty")
    if head == OLE2_MAGIC:
        raise LayoutError(name, "an encrypted (password-protected) or legacy .xls Office file, not an .xlsx workbook; "
                                "save it without a password as .xlsx")
    if not head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        if expect_zip:
            raise LayoutError(name, "not an .xlsx workbook (not a zip file)")
        return
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise LayoutError(name, f"not a valid zip file, truncated or damaged ({exc})") from None
    if len(infos) > lim["members"]:
        raise LayoutError(name, f"the zip holds {len(infos):,} members, over the limit of {lim['members']:,}")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise LayoutError(name, f"member {info.filename!r} is encrypted (password-protected); save the file "
                                    "without a password")
        if info.file_size > lim["member"]:
            raise LayoutError(name, f"member {info.filename!r} expands to {info.file_size:,} bytes, over the "
                                    f"{lim['member']:,}-byte limit")
        if info.file_size >= lim["ratio_from"] and info.file_size > lim["ratio"] * max(info.compress_size, 1):
            raise LayoutError(name, f"member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):,.0f} "
                                    f"times ({info.compress_size:,} to {info.file_size:,} bytes), over the limit of "
                                    f"{lim['ratio']} (a zip bomb?)")
        total += info.file_size
    if total > lim["total"]:
        raise LayoutError(name, f"the zip's members expand to {total:,} bytes in all, over the {lim['total']:,}-byte limit")
