"""What can go wrong with a key-encryption key, said to the operator."""
from __future__ import annotations

from gateway.errors import Unavailable


class KekUnavailable(Unavailable):
    """A key-encryption key cannot be used: its backend is unreachable or misconfigured."""


class KekGenerationGone(KekUnavailable):
    """The generation a wrapped key names has been destroyed (by a rotation, or never existed here)."""

    def __init__(self, backend: str, generation: int) -> None:
        super().__init__(
            f"鍵暗号化鍵（{backend} の世代 {generation}）がありません。鍵ストアかトークンを確認してください。",
            f"the key-encryption key ({backend} generation {generation}) does not exist; check the key store or token.",
        )
        self.backend = backend
        self.generation = generation


class WrongKek(KekUnavailable):
    def __init__(self) -> None:
        super().__init__("保管データの鍵を開けません（鍵暗号化鍵が違います）。",
                         "cannot unwrap the blob's data key (wrong key-encryption key).")
