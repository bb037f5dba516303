"""The error a recipient file can cause, located by file, row and column, never quoting a value."""
from __future__ import annotations

import os

from gateway.errors import Invalid
from gateway.findings import Kind


def shown_name(file: str | os.PathLike[str]) -> str:
    """The file's name as its owner knows it: an upload staged under a name of the server's own
    carries the person's filename as `shown_as` (crypto/sealed.py); any other path its basename."""
    shown = getattr(file, "shown_as", None)
    return shown if isinstance(shown, str) and shown else os.path.basename(os.fspath(file))


class RecordFileError(Invalid):
    """A recipient file that cannot be accepted as it is.

    ``file`` is the path given, ``row`` the 1-based row (the header is row 1) or None,
    ``column`` the header as written in the file or None, ``field`` its canonical id when known.
    """

    def __init__(
        self,
        file: str | os.PathLike[str],
        ja: str,
        en: str,
        *,
        row: int | None = None,
        column: str | None = None,
        field: str | None = None,
        kind: Kind | None = None,
    ) -> None:
        name = shown_name(file)
        where_ja, where_en = name, name
        if row is not None:
            where_ja += f": {row}行目"
            where_en += f": row {row}"
        if column is not None:
            where_ja += f"「{column}」"
            where_en += f", column {column}"
        super().__init__(f"{where_ja}: {ja}", f"{where_en}: {en}", kinds=[kind] if kind else ())
        self.file = os.fspath(file)
        self.row = row
        self.column = column
        self.field = field
