"""What a recipient file holds, described without any personal data: the manifest travels in logs,
evidence and receipts, and the contractor's confirmation (count and SHA-256) is checked against it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Header:
    """The header row of a recipient file, read without scanning the rows."""

    source_name: str  # file name only: paths can reveal a person's home directory or a case
    encoding: str  # a Python codec name: "utf-8", "utf-8-sig" (with BOM) or "cp932"
    columns: tuple[str, ...]  # canonical ids in file order, control columns included
    source_headers: tuple[str, ...]  # the headers as written in the file, same order

    def source_header(self, field_id: str) -> str:
        return self.source_headers[self.columns.index(field_id)]


@dataclass(frozen=True)
class Manifest:
    source_name: str
    encoding: str
    columns: tuple[str, ...]
    source_headers: tuple[str, ...]
    record_count: int
    sha256: str  # hex digest of the exact bytes of the file
    size_bytes: int
    excluded: Mapping[str, int] = field(default_factory=dict)  # population id -> persons flagged
    removed: Mapping[str, int] = field(default_factory=dict)  # reason -> rows removed, e.g. "excluded:dv-evacuee"
    # What was written for the contractor: "neutralised" (formula cells got a leading apostrophe,
    # formulas.py) or "kept" (the approval turned that off); "" for a file as it was read.
    formulas: str = ""
    neutralised: Mapping[str, int] = field(default_factory=dict)  # column id -> cells neutralised
    # An opaque payload (records/opaque.py): its media type and what record_count counts.
    media_type: str = ""
    unit: str = ""
    # Of `excluded`, the persons found on a list the city keeps apart (keyed_lists.py), not flagged
    # in the file: screening them out is the designed step, not a slip of the export.
    listed: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "source_name": self.source_name,
            "encoding": self.encoding,
            "columns": list(self.columns),
            "source_headers": list(self.source_headers),
            "record_count": self.record_count,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "excluded": dict(sorted(self.excluded.items())),
            "removed": dict(sorted(self.removed.items())),
        }
        if self.formulas:
            out["formulas"] = self.formulas_dict()
        if self.media_type:
            out["payload"] = {"media_type": self.media_type, "unit": self.unit}
        if self.listed:
            out["listed"] = dict(sorted(self.listed.items()))
        return out

    def formulas_dict(self) -> dict[str, Any]:
        """How formula cells were treated, for the manifest in the log, evidence and receipts."""
        return {"neutralised": self.formulas == "neutralised", "cells": sum(self.neutralised.values()),
                "columns": dict(sorted(self.neutralised.items()))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            source_name=str(data["source_name"]),
            encoding=str(data["encoding"]),
            columns=tuple(data["columns"]),
            source_headers=tuple(data["source_headers"]),
            record_count=int(data["record_count"]),
            sha256=str(data["sha256"]),
            size_bytes=int(data["size_bytes"]),
            excluded={str(k): int(v) for k, v in dict(data.get("excluded", {})).items()},
            removed={str(k): int(v) for k, v in dict(data.get("removed", {})).items()},
            formulas=_formulas(data.get("formulas")),
            neutralised={str(k): int(v) for k, v in dict((data.get("formulas") or {}).get("columns", {})).items()},
            media_type=str((data.get("payload") or {}).get("media_type", "")),
            unit=str((data.get("payload") or {}).get("unit", "")),
            listed={str(k): int(v) for k, v in dict(data.get("listed", {})).items()},
        )


def _formulas(data: Any) -> str:
    if not data:
        return ""
    return "neutralised" if data.get("neutralised") else "kept"
