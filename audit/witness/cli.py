"""`audit witness serve` and `audit witness keygen`."""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from audit.note import SIG_ED25519, NoteError, VerifierKey, parse_verifier_key


def _log_key(value: str) -> VerifierKey:
    try:
        key = parse_verifier_key(value.strip())
    except NoteError as exc:
        raise click.BadParameter(f"not a C2SP verifier key: {exc}", param_hint="--log") from None
    if key.type != SIG_ED25519:
        raise click.BadParameter("a log's key is an Ed25519 (type 0x01) note key", param_hint="--log")
    return key


@click.group()
def witness() -> None:
    """ウィットネス（C2SP tlog-witness） / a C2SP tlog-witness that cosigns consistent checkpoints."""


@witness.command()
@click.option("--name", required=True, help="ウィットネスの名前（例: council.example.jp/witness） / the key name.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="秘密鍵ファイル（0600で作成、上書きしない） / the private key file to create.")
def keygen(name: str, output: Path) -> None:
    """鍵を生成し、検証鍵を表示 / create a witness key; print its verifier key for trust policies."""
    from audit.witness import keyfile

    try:
        cosigner = keyfile.create(output, name)
    except keyfile.KeyFileError as exc:
        click.echo(f"鍵を作成できません / cannot create the key: {exc}", err=True)
        sys.exit(1)
    click.echo(str(cosigner.verifier))


@witness.command()
@click.option("--listen", required=True, metavar="HOST:PORT",
              help="待ち受けるアドレス（これだけに bind） / the one address to bind, e.g. 127.0.0.1:8380 "
                   "(port 0: any free port).")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="秘密鍵ファイル（keygen で作成） / the witness key file from `audit witness keygen`.")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="状態ディレクトリ（ログごとの最新の連署済みヘッド） / "
                   "state directory: the last cosigned head per log.")
@click.option("--log", "logs", multiple=True, required=True, metavar="VKEY",
              help="扱うログの検証鍵（C2SP 形式、名前 = origin、複数可） / a log's verifier key; its key name is the "
                   "log's origin. Repeat for several logs, or for a log's old and new key after a rotation.")
def serve(listen: str, key_file: Path, state_dir: Path, logs: tuple[str, ...]) -> None:
    """C2SP tlog-witness を HTTP で提供 / serve POST /add-checkpoint.

    The logs this witness follows are given only with --log (no other configuration is read).
    It prints one line, `listening on http://HOST:PORT/ as <verifier key>`, once it accepts requests.
    """
    from audit.witness import keyfile
    from audit.witness.core import Witness
    from audit.witness.server import WitnessServer, parse_listen
    from audit.witness.state import State, StateError

    try:
        address = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    by_origin: dict[str, list[VerifierKey]] = {}
    for value in logs:
        key = _log_key(value)
        by_origin.setdefault(key.name, []).append(key)
    try:
        cosigner = keyfile.load(key_file)
        state = State(state_dir)
    except (keyfile.KeyFileError, StateError, OSError) as exc:
        click.echo(f"ウィットネスを起動できません / cannot start the witness: {exc}", err=True)
        sys.exit(1)
    try:
        server = WitnessServer(address, Witness(cosigner, by_origin, state))
    except OSError as exc:
        click.echo(f"{listen} で待ち受けできません / cannot listen on {listen}: {exc.strerror or exc}", err=True)
        sys.exit(1)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"listening on http://{shown}:{port}/ as {cosigner.verifier}")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        state.close()
