"""Decrypt an age package, hash and count its records in one pass (`gateway package decrypt`,
`gateway-client receive`): each authenticated chunk is written to the output and read by the
record scanner on its way there, so the plaintext is never read back and memory stays flat.

The count is the one a contractor confirms receipt with, when the plaintext is a recipient file
(its rows, not checked again: rowcount.count_stream says why); anything else (a deliverable, a file
that is not CSV) decrypts all the same, with no count (None).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, cast

from gateway.crypto import age
from gateway.errors import GatewayError, Invalid


def decrypt_count_hash(src: BinaryIO, out: BinaryIO, identity: age.Identity, name: str) -> tuple[age.Digest, int | None]:
    """Plaintext of `src` into `out`; its SHA-256 and size, and its record count (or None)."""
    from gateway.core.records.rowcount import count_stream
    from gateway.core.records.streams import HashingReader

    plain = HashingReader(cast(BinaryIO, _Tee(age.decrypt_chunks(src, [identity]), out)))
    records: int | None
    try:
        records = count_stream(plain, name)
    except GatewayError:
        records = None
    plain.drain()  # a file that is not a recipient file is counted no further; it goes on to the end
    return age.Digest(plain.sha256.hexdigest(), plain.size), records


class _Tee(io.RawIOBase):
    """Reads ``chunks`` as a stream, writing each one to ``out`` as it is first read."""

    def __init__(self, chunks: Iterator[bytes], out: BinaryIO) -> None:
        self._chunks = chunks
        self._out = out
        self._rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._out.write(chunk)
            self._rest = memoryview(chunk)
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def decrypt_refusal(err: age.AgeError, source: str | None) -> GatewayError:
    """What to tell the person whose package does not open (`source`: the file, if there is one)."""
    detail = str(err)  # names what failed; never holds key material or the passphrase
    if isinstance(err, age.NoMatchError):
        if source is not None and not _is_passphrase_file(source):
            return Invalid(
                "このファイルはパスワードで暗号化されていません(公開鍵あての暗号化です)。秘密鍵で復号してください。",
                "this file is not passphrase-encrypted (it is encrypted to a public key); decrypt it with the key.",
            )
        return Invalid(
            "パスワードが違います。パスワード通知書の文字を確かめて入力し直してください"
            "（区切りのハイフンは空白でも省略しても構いません）。",
            "wrong passphrase: check the characters against the password notice and retry"
            " (the hyphens between groups may also be typed as spaces or left out).",
        )
    if isinstance(err, age.WorkFactorTooHigh):
        return Invalid(
            f"パスワードの計算量が上限を超えるため復号を中止しました: {detail}",
            f"refused: {detail}. The file asks for more scrypt work than allowed (--max-work-factor).",
        )
    what = {
        age.HeaderError: ("ヘッダーが壊れているか age v1 形式ではありません", "the header is malformed or not age v1"),
        age.HmacError: ("ヘッダーが改ざんされているか壊れています", "the header MAC does not match (altered or damaged)"),
        age.PayloadError: ("暗号文の本体が壊れているか、切り詰め・追記・並べ替えがあります",
                           "the encrypted payload is damaged, truncated, extended or reordered"),
    }
    ja, en = next((v for k, v in what.items() if isinstance(err, k)),
                  ("ファイルを処理できません", "the file could not be processed"))
    return Invalid(
        f"復号できません: {ja}({detail})。出力ファイルは作成していません。送付元に再送を依頼してください。",
        f"cannot decrypt: {en} ({detail}). No output was written; ask the sender to send the file again.",
    )


def _is_passphrase_file(source: str) -> bool:
    try:
        return age.is_passphrase_file(source)
    except (age.AgeError, OSError):
        return True
