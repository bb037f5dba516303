"""`gateway command-server [--home]`: a warm parent that runs this home's scripted commands
(gateway/command_server). Runs until SIGTERM or SIGINT; commands still running are waited for."""
from __future__ import annotations

import os
from pathlib import Path

import click

from gateway.cli.common import home_option, refusals_exit_1, resolve_home
from gateway.errors import Invalid


@click.command("command-server")
@home_option
@click.pass_context
@refusals_exit_1
def command_server(ctx: click.Context, home: str | None) -> None:
    """スクリプトから実行するコマンドを起動済みのプロセスから実行 / run scripted commands from a warm process.

    端末のないコマンド（スクリプト・cron・テスト）だけがこのサーバーを通ります。
    Only commands without a controlling terminal (scripts, cron, tests) go through it; each is a
    process of its own, forked with the modules already imported (about 0.45 s less per command).
    """
    import gateway
    from gateway.cli import main
    from gateway.command_server import server, wire

    root = resolve_home(ctx, home).root
    if not root.is_dir():
        raise Invalid(f"ホーム {root} がありません。先に gateway init を実行してください。",
                      f"no home at {root}; run gateway init first.")
    package = os.path.dirname(os.path.abspath(gateway.__file__))
    code = wire.code_identity(package)  # before importing: an edit made meanwhile is then seen
    skipped = server.preload()
    for line in skipped:
        click.echo(f"事前読み込みせず / not preloaded: {line}", err=True)

    def run(argv: list[str]) -> int:
        try:
            main.main(argv, prog_name="gateway", standalone_mode=True)
        except SystemExit as exit_:
            code = exit_.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        return 0

    path = Path(wire.socket_path(str(root)))
    served = server.CommandServer(path=path, run=run, code=code)
    command = served.serve(ready=lambda: click.echo(f"コマンドサーバー起動 / command server ready: {path}", err=True))
    if command is not None:  # this is a forked child: the client's command, then this process ends
        command.run_and_exit()


def register(group: click.Group) -> None:
    group.add_command(command_server)
