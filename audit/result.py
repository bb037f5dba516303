"""What verification found: named failures, each pinned to a file and a place in it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "log-unwitnessed" is a warning: entries no quorum of the policy's witnesses covered. It keeps
# the verdict from "verified" (the policy asked for witnesses) without claiming tampering.
FailureKind = Literal["log-tampered", "evidence-forged", "bundle", "log-unwitnessed"]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    file: str
    where: str | None
    detail: str
    # Set when the failing document names them, so the report can file the finding under them.
    approval: str | None = None
    transfer: str | None = None

    def line(self) -> str:
        place = f"{self.file}:{self.where}" if self.where else self.file
        return f"{place}: {self.detail}"

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "file": self.file, "where": self.where, "detail": self.detail}


class Failures(list[Failure]):
    def add(self, kind: FailureKind, file: str, where: str | int | None, detail: str,
            approval: str | None = None, transfer: str | None = None) -> None:
        self.append(Failure(kind, file, None if where is None else str(where), detail, approval, transfer))


def kind_for_file(path: str) -> FailureKind:
    """A byte changed in the log is log tampering; anywhere else it is forged evidence."""
    return "log-tampered" if path.startswith(("log/", "checkpoints/")) else "evidence-forged"
