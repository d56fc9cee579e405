"""The text of a CSV file a person gave (bars, orders): UTF-8, a BOM allowed, and a file in
another encoding named with the line its first foreign byte is on.

Decoding as the csv module reads hides where it failed (the decoder works a chunk at a time) and
raised from the middle of a loop; decoding the whole file first knows the line.
"""

from __future__ import annotations

import io
from pathlib import Path


class CsvTextError(ValueError):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.detail = detail


def csv_text(path: Path) -> io.StringIO:
    """The file's text for ``csv.reader``; raises :class:`CsvTextError` for a file that is not
    UTF-8 text, :class:`OSError` for one that cannot be read."""
    raw = path.read_bytes()
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise CsvTextError(line, "not a text file (it holds NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvTextError(
            line,
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8 (files saved by "
            "Excel on a Chinese Windows are often GBK)",
        ) from None
    return io.StringIO(text, newline="")
