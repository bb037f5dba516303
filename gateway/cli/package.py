"""`gateway package encrypt|decrypt`: age v1 files with a passphrase recipient."""
from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import click

from gateway.cli.common import echo_json, json_option, refusals_exit_1
from gateway.crypto import age
from gateway.errors import GatewayError, Invalid
from gateway.fsutil import atomic_output


@click.group()
def package() -> None:
    """暗号化パッケージ / encrypted packages (age v1)."""


def _read_passphrase(path: str) -> bytes:
    """The file's content with one trailing newline (LF or CRLF) removed."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise Invalid(
            f"パスワードファイルを読めません: {path} ({err.strerror})。ファイルの場所と権限を確認してください。",
            f"cannot read the passphrase file {path} ({err.strerror}); check its path and permissions.",
        ) from None
    for newline in (b"\r\n", b"\n"):
        if data.endswith(newline):
            data = data[: -len(newline)]
            break
    if not data:
        raise Invalid(
            f"パスワードファイルが空です: {path}。パスワードを1行で書いてください。",
            f"the passphrase file {path} is empty; write the passphrase on one line.",
        )
    return data


def _prompt_passphrase() -> bytes:
    """The passphrase typed at the terminal, not echoed (never on the command line, where `ps` and
    the shell's history would show it). Without a terminal, a script must give a file."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise Invalid("パスワードを --passphrase-file で指定してください（端末から実行すると入力を求めます）。",
                      "give the passphrase with --passphrase-file (run at a terminal, the command asks for it).")
    typed = click.prompt("パスワード（通知書のとおり、表示されません） / passphrase (as on the notice; not shown)",
                         hide_input=True, err=True, default="", show_default=False)
    if not typed.strip():
        raise Invalid("パスワードが入力されませんでした。", "no passphrase was typed.")
    return typed.strip().encode("utf-8")


def _require_input(path: str) -> None:
    if not os.path.isfile(path):
        raise Invalid(
            f"入力ファイルがありません: {path}",
            f"input file not found: {path}",
        )


def _report(digest: age.Digest, output: str, as_json: bool, records: int | None = None, decrypted: bool = False) -> None:
    if as_json:
        echo_json({"output": output, "sha256": digest.sha256, "bytes": digest.size,
                   **({"records": records} if decrypted else {})})
        return
    click.echo(f"sha256: {digest.sha256}")
    click.echo(f"bytes: {digest.size}")
    if records is not None:
        click.echo(f"records: {records}")


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", required=True, type=click.Path())
@json_option
@refusals_exit_1
def encrypt(source: str, output: str, passphrase_file: str, as_json: bool) -> None:
    """age v1 で暗号化 / encrypt to an age v1 file (scrypt passphrase recipient).

    Prints the SHA-256 and size of the plaintext for the manifest.
    """
    passphrase = _read_passphrase(passphrase_file)
    _require_input(source)
    try:
        digest = age.encrypt_file(source, output, passphrase=passphrase)
    except OSError as err:
        raise _io_error(err) from None
    _report(digest, output, as_json)


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", type=click.Path(),
              help="パスワードを書いたファイル（省略すると端末で入力） / file holding the passphrase (else asked for, not echoed)")
@click.option("--max-work-factor", type=click.IntRange(1, 30), default=age.DEFAULT_MAX_WORK_FACTOR,
              show_default=True, help="refuse scrypt work factors above this (log2 N)")
@json_option
@refusals_exit_1
def decrypt(source: str, output: str, passphrase_file: str | None, max_work_factor: int, as_json: bool) -> None:
    """age v1 を復号 / decrypt an age v1 file.

    The output appears only once the whole file has authenticated. Prints the plaintext's
    SHA-256 and size, to compare with the manifest and to confirm receipt.
    """
    _require_input(source)
    passphrase = _read_passphrase(passphrase_file) if passphrase_file else _prompt_passphrase()
    try:
        digest, records = _decrypt_and_count(source, output, passphrase, max_work_factor)
    except age.AgeError as err:
        raise _decrypt_refusal(err, source) from None
    except OSError as err:
        raise _io_error(err) from None
    _report(digest, output, as_json, records, decrypted=True)


def _decrypt_and_count(source: str, output: str, passphrase: bytes, max_work_factor: int) -> tuple[age.Digest, int | None]:
    """Decrypt, hash and count the records in one pass: each authenticated chunk is written to the
    output and read by the record scanner on its way there, so the plaintext is never read back.

    The count is the one a contractor confirms receipt with, when the plaintext is a recipient
    file; anything else (a deliverable, a file that is not CSV) decrypts all the same, with no
    count (None). The output appears only once the whole file has authenticated.
    """
    from gateway.core.records.reader import scan_stream
    from gateway.core.records.streams import HashingReader
    from gateway.crypto.passphrase import TypedPassphrase

    identity = TypedPassphrase(passphrase, max_work_factor)
    with open(source, "rb") as src, atomic_output(output) as out:
        plain = HashingReader(cast(BinaryIO, _Tee(age.decrypt_chunks(src, [identity]), out)))
        records: int | None
        try:
            records = scan_stream(plain, os.path.basename(output)).record_count
        except GatewayError:
            records = None
        plain.drain()  # the scanner stops at the first invalid row; the file goes on to the end
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


def _decrypt_refusal(err: age.AgeError, source: str) -> GatewayError:
    detail = str(err)  # names what failed; never holds key material or the passphrase
    if isinstance(err, age.NoMatchError):
        if not _is_passphrase_file(source):
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


def _io_error(err: OSError) -> GatewayError:
    where = err.filename or ""
    return Invalid(
        f"ファイルの読み書きに失敗しました: {where} ({err.strerror})。場所・権限・空き容量を確認してください。",
        f"file read/write failed: {where} ({err.strerror}); check the path, permissions and free space.",
    )


def register(group: click.Group) -> None:
    group.add_command(package)
