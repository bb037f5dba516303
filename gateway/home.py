"""Where one gateway installation keeps its database, blobs, keys and exports."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, option: str | os.PathLike[str] | None = None) -> Home:
        """`--home`, else `$GATEWAY_HOME`, else `./var` (INTERFACE.md)."""
        chosen = option or os.environ.get("GATEWAY_HOME") or "var"
        return cls(Path(chosen).absolute())

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def sqlite_url(self) -> str:
        """The embedded default database (settings `[db] url` names another)."""
        return f"sqlite:///{self.root / 'gateway.db'}"
