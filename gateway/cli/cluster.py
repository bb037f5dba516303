"""`gateway cluster up|status|down`: the several-node set-up on this machine (issue 24), for the
demo, rehearsals and the tests: etcd, Patroni with two PostgreSQL instances, SeaweedFS, the nodes
and HAProxy, on 127.0.0.1, their data and state under `--dir`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway.cli.common import echo_json, json_option, refusals_exit_1

dir_option = click.option("--dir", "directory", required=True, type=click.Path(path_type=Path),
                          help="データと状態ファイルの置き場所 / where the servers' data and the state file live")


@click.group()
def cluster() -> None:
    """複数ノード構成をこの機械で起動・停止 / run the several-node set-up on this machine."""


@cluster.command()
@dir_option
@click.option("--nodes", "count", type=click.IntRange(1, 26), default=2, show_default=True,
              help="gateway serve のノード数 / how many gateway nodes")
@click.option("--rehearsal", is_flag=True,
              help="ノードのホームをリハーサル用に作成（GATEWAY_FAKE_NOW を受け付ける） / make the nodes' homes "
                   "rehearsal homes (they accept GATEWAY_FAKE_NOW)")
@json_option
@refusals_exit_1
def up(directory: Path, count: int, rehearsal: bool, as_json: bool) -> None:
    """全部を起動し、健全になったら終了（サーバーは動き続ける） / start everything; exits once all are healthy,
    leaving them running."""
    from gateway.cluster import supervisor

    state = supervisor.up(directory, count, rehearsal)
    found = supervisor.addresses(state)
    if as_json:
        echo_json(found)
        return
    _print(found)
    click.echo(f"停止 / stop: gateway cluster down --dir {directory}")


def _print(found: dict[str, Any]) -> None:
    click.echo(f"ポータル（HAProxy） / portal (HAProxy): {found['portal']}")
    click.echo(f"SFTP（HAProxy） / SFTP (HAProxy): {found['sftp']}")
    click.echo(f"データベース / database: {found['db_url']}")
    click.echo(f"オブジェクトストア / S3 endpoint: {found['s3_endpoint']}  ([blobs] url = \"{found['blobs_url']}\")")
    for name, node in found["nodes"].items():
        click.echo(f"{name}: portal {node['portal']}  SFTP {node['sftp']}  /healthz {node['monitor']}  home {node['home']}")
    click.echo("ノードの環境 / a node's environment (GATEWAY_CLUSTER_NODE=<name> too):")
    for key, value in found["environment"].items():
        click.echo(f"  export {key}='{value}'")


@cluster.command()
@dir_option
@json_option
@refusals_exit_1
def status(directory: Path, as_json: bool) -> None:
    """各サーバーの状態（すべて健全なら終了コード 0） / each server's state; exit 0 when all are healthy."""
    from gateway.cluster import supervisor

    found = supervisor.status(directory)
    if as_json:
        echo_json(found)
    else:
        _print(found)
        for part in found["parts"]:
            state = "healthy" if part["healthy"] else ("running, not healthy" if part["alive"] else "stopped")
            roles = f"  {part['roles']}" if part.get("roles") else ""
            click.echo(f"{part['part']}: {state}{roles}")
    if not found["healthy"]:
        sys.exit(1)


@cluster.command()
@dir_option
@json_option
@refusals_exit_1
def down(directory: Path, as_json: bool) -> None:
    """起動したものをすべて停止（何度実行しても安全） / stop everything `up` started; idempotent."""
    from gateway.cluster import supervisor
    from gateway.errors import Unavailable

    stopped = supervisor.down(directory)
    if stopped is None:
        if as_json:
            echo_json({"stopped": {}})
        else:
            click.echo(f"{directory} で起動しているものはありません / nothing is up in {directory}")
        return
    left = [label for label, ok in stopped.items() if not ok]
    if left:
        raise Unavailable(f"停止できなかったもの: {', '.join(left)}。状態ファイルは残しました。もう一度実行してください。",
                          f"would not stop: {', '.join(left)}; the state file is kept: run `down` again.")
    if as_json:
        echo_json({"stopped": stopped})
    else:
        click.echo(f"停止しました / stopped: {', '.join(stopped)}")


def register(group: click.Group) -> None:
    group.add_command(cluster)
