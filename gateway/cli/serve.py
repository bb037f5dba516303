"""`gateway serve`: the channels and the retention scheduler, until SIGTERM or Ctrl-C."""
from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from gateway.cli.common import home_option, open_gateway, refusals_exit_1
from gateway.errors import Invalid
from gateway.service import Gateway
from gateway.service_ops.listen import binding


@click.command()
@click.option("--portal-port", type=click.IntRange(0, 65535), help="LGWAN-ASP ポータル / the portal (0: any free port)")
@click.option("--sftp-port", type=click.IntRange(0, 65535), help="VPN（SFTP） / the SFTP server (0: any free port)")
@click.option("--hotfolder", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="ホットフォルダー / a registered hot folder to watch")
@click.option("--bind", default="127.0.0.1", show_default=True)
@click.option("--sweep-interval", type=click.FloatRange(1.0), default=None,
              help="保管期間の確認間隔（秒） / seconds between retention sweeps (settings: [retention])")
@home_option
@click.pass_context
@refusals_exit_1
def serve(ctx: click.Context, portal_port: int | None, sftp_port: int | None, hotfolder: Path | None, bind: str,
          sweep_interval: float | None, home: str | None) -> None:
    """ポータル・SFTP・ホットフォルダーを起動 / run the portal, the SFTP server and the hot folder."""
    from gateway.retention.scheduler import Scheduler

    if portal_port is None and sftp_port is None and hotfolder is None:
        raise Invalid("--portal-port、--sftp-port、--hotfolder のいずれかを指定してください。",
                           "name at least one of --portal-port, --sftp-port, --hotfolder.")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with open_gateway(ctx, home) as gw:
        stoppers = []
        try:
            # Every port is bound before anything starts: a start that fails on a port in use
            # must not have run the retention sweep, which crypto-erases (issue 22).
            sftp = portal = None
            if sftp_port is not None:
                from gateway.channels.vpn_sftp.server import SftpServer

                with binding("SFTP サーバー", "the SFTP server", bind, sftp_port):
                    sftp = SftpServer(gw, bind, sftp_port)
                stoppers.append(sftp.sock.close)  # bound, not yet started
            if portal_port is not None:
                with binding("ポータル", "the portal", bind, portal_port):
                    portal = _portal(gw, bind, portal_port)
                stoppers.append(portal.sock.close)
            if sftp is not None:
                sftp.start()
                stoppers.append(sftp.stop)
                click.echo(f"SFTP: {bind}:{sftp.port}", err=False)
            if portal is not None:
                portal.start()
                stoppers.append(portal.stop)
                click.echo(f"ポータル / portal: https://{bind}:{portal.port}/", err=False)
            if hotfolder is not None:
                stoppers.append(_hotfolder(gw, hotfolder))
            scheduler = Scheduler(gw, sweep_interval or gw.settings.retention.sweep_interval_seconds)
            scheduler.start()
            stoppers.append(scheduler.stop)
            click.echo("起動しました / serving（停止: Ctrl-C / stop: Ctrl-C or SIGTERM）", err=True)
            stop.wait()
        finally:
            for stopper in reversed(stoppers):
                stopper()


def _hotfolder(gw: Gateway, root: Path):  # type: ignore[no-untyped-def]
    from gateway.channels.hotfolder import registry
    from gateway.channels.hotfolder.processor import HotFolder
    from gateway.channels.hotfolder.watcher import Watcher

    watcher = Watcher(HotFolder(gw, root, registry.owner_of(gw, root)), echo=lambda line: click.echo(line, err=True))
    thread = threading.Thread(target=watcher.run, name="hotfolder", daemon=True)
    thread.start()
    click.echo(f"ホットフォルダー / hot folder: {root.resolve()}", err=False)

    def stop() -> None:
        watcher.stop.set()
        thread.join(timeout=60)
    return stop


def _portal(gw: Gateway, bind: str, port: int):  # type: ignore[no-untyped-def]
    """The portal, bound and not yet started."""
    try:
        from gateway.channels.lgwan_asp.server import PortalServer
    except ImportError:
        raise Invalid("ポータルはこの版ではまだ利用できません。", "the portal is not available in this release.") from None
    return PortalServer(gw, bind, port)


def register(group: click.Group) -> None:
    group.add_command(serve)
