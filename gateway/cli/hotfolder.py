"""`gateway hotfolder register|run`."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from gateway.channels.hotfolder import registry
from gateway.channels.hotfolder.processor import HotFolder
from gateway.channels.hotfolder.watcher import Watcher
from gateway.cli.common import cli_actor, console_command, echo_json, home_option, open_gateway, refusals_exit_1


@click.group()
def hotfolder() -> None:
    """ホットフォルダー / the watched folder for core-system exports."""


@hotfolder.command("register")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--owner", required=True, help="送付者となる職員アカウント / the staff account that sends")
@console_command
def register_cmd(ctx: click.Context, directory: Path, owner: str, home: str | None, as_json: bool) -> None:
    """フォルダーの所有者を登録 / register a folder and the staff account it sends as."""
    with open_gateway(ctx, home) as gw:
        registry.register(gw, directory, owner, cli_actor())
    if as_json:
        echo_json({"directory": str(directory.resolve()), "owner": owner})
        return
    click.echo(f"登録しました / registered: {directory.resolve()} → {owner}")


@hotfolder.command("run")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--settle", type=click.FloatRange(0.0), default=2.0, show_default=True,
              help="サイズが変わらない秒数 / seconds a file must stay unchanged")
@click.option("--once", is_flag=True, help="今あるものを処理して終了 / process what is there, then exit")
@home_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@refusals_exit_1
def run_cmd(ctx: click.Context, directory: Path, workers: int, settle: float, once: bool, home: str | None,
            as_json: bool) -> None:
    """フォルダーを監視して送付 / watch the folder and send what arrives."""
    with open_gateway(ctx, home) as gw:
        watcher = Watcher(HotFolder(gw, directory, registry.owner_of(gw, directory)), workers=workers,
                          settle=settle, echo=(lambda _: None) if as_json else click.echo)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: watcher.stop.set())
        if not once:
            click.echo(f"監視中 / watching {directory.resolve()}（停止: Ctrl-C / stop: Ctrl-C）", err=as_json)
        counts = watcher.run(once=once)
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(f"送付 / sent: {counts['done']}　却下 / rejected: {counts['rejected']}　失敗 / failed: {counts['failed']}")


def register(group: click.Group) -> None:
    group.add_command(hotfolder)
