"""`gateway package encrypt|decrypt`: age v1 files with a passphrase recipient."""
from __future__ import annotations

import os

import click

from gateway.cli.common import refusals_exit_1
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


def _require_input(path: str) -> None:
    if not os.path.isfile(path):
        raise Invalid(
            f"入力ファイルがありません: {path}",
            f"input file not found: {path}",
        )


def _report(digest: age.Digest) -> None:
    click.echo(f"sha256: {digest.sha256}")
    click.echo(f"bytes: {digest.size}")


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", required=True, type=click.Path())
@refusals_exit_1
def encrypt(source: str, output: str, passphrase_file: str) -> None:
    """age v1 で暗号化 / encrypt to an age v1 file (scrypt passphrase recipient).

    Prints the SHA-256 and size of the plaintext for the manifest.
    """
    passphrase = _read_passphrase(passphrase_file)
    _require_input(source)
    try:
        digest = age.encrypt_file(source, output, passphrase=passphrase)
    except OSError as err:
        raise _io_error(err) from None
    _report(digest)


@package.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", required=True, type=click.Path())
@click.option("--max-work-factor", type=click.IntRange(1, 30), default=age.DEFAULT_MAX_WORK_FACTOR,
              show_default=True, help="refuse scrypt work factors above this (log2 N)")
@refusals_exit_1
def decrypt(source: str, output: str, passphrase_file: str, max_work_factor: int) -> None:
    """age v1 を復号 / decrypt an age v1 file.

    The output appears only once the whole file has authenticated. Prints the plaintext's
    SHA-256 and size, to compare with the manifest and to confirm receipt.
    """
    passphrase = _read_passphrase(passphrase_file)
    _require_input(source)
    try:
        digest, records = _decrypt_and_count(source, output, passphrase, max_work_factor)
    except age.AgeError as err:
        raise decrypt_refusal(err, source) from None
    except OSError as err:
        raise _io_error(err) from None
    _report(digest)
    if records is not None:
        click.echo(f"records: {records}")


def _decrypt_and_count(source: str, output: str, passphrase: bytes, max_work_factor: int) -> tuple[age.Digest, int | None]:
    """Decrypt, hash and count in one pass (gateway.crypto.unpack); the output appears only once
    the whole file has authenticated."""
    from gateway.crypto.unpack import decrypt_count_hash

    with open(source, "rb") as src, atomic_output(output) as out:
        return decrypt_count_hash(src, out, age.ScryptIdentity(passphrase, max_work_factor), os.path.basename(output))


def _io_error(err: OSError) -> GatewayError:
    where = err.filename or ""
    return Invalid(
        f"ファイルの読み書きに失敗しました: {where} ({err.strerror})。場所・権限・空き容量を確認してください。",
        f"file read/write failed: {where} ({err.strerror}); check the path, permissions and free space.",
    )


def register(group: click.Group) -> None:
    group.add_command(package)
