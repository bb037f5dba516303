"""`gateway package encrypt|decrypt`: age v1 files with a passphrase recipient."""
from __future__ import annotations

import os
import sys

import click

from gateway.cli.common import echo_json, json_option, refusals_exit_1
from gateway.crypto import age
from gateway.crypto.unpack import decrypt_refusal
from gateway.errors import GatewayError, Invalid
from gateway.fsutil import atomic_output


@click.group()
def package() -> None:
    """暗号化パッケージ / encrypted packages (age v1)."""


def _read_passphrase(path: str) -> bytes:
    from gateway.crypto.secret_input import read_secret_file

    return read_secret_file(path)


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
        raise decrypt_refusal(err, source) from None
    except OSError as err:
        raise _io_error(err) from None
    _report(digest, output, as_json, records, decrypted=True)


def _decrypt_and_count(source: str, output: str, passphrase: bytes, max_work_factor: int) -> tuple[age.Digest, int | None]:
    """Decrypt, hash and count in one pass (gateway.crypto.unpack); the output appears only once
    the whole file has authenticated."""
    from gateway.crypto.passphrase import TypedPassphrase
    from gateway.crypto.unpack import decrypt_count_hash

    with open(source, "rb") as src, atomic_output(output) as out:
        return decrypt_count_hash(src, out, TypedPassphrase(passphrase, max_work_factor), os.path.basename(output))


def _io_error(err: OSError) -> GatewayError:
    where = err.filename or ""
    return Invalid(
        f"ファイルの読み書きに失敗しました: {where} ({err.strerror})。場所・権限・空き容量を確認してください。",
        f"file read/write failed: {where} ({err.strerror}); check the path, permissions and free space.",
    )


def register(group: click.Group) -> None:
    group.add_command(package)
