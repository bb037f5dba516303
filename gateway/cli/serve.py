"""`gateway serve`: the channels, the retention scheduler and the witness submitter, until
SIGTERM or Ctrl-C.

The order of a start makes a failed one harmless: every port is bound first (a port in use stops
the start before anything ran), then the channels serve, then the scheduler (whose sweep
crypto-erases) starts, and only then is systemd told READY=1. A stop is graceful: the scheduler
stops, no new connection is accepted, transfers in flight get `--grace` seconds to finish.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.common import home_option, open_gateway, refusals_exit_1
from gateway.errors import Invalid
from gateway.service import Gateway
from gateway.service_ops import oplog
from gateway.service_ops.listen import binding
from gateway.service_ops.sdnotify import notify

if TYPE_CHECKING:  # the channels are imported when serve runs: `gateway --help` stays light
    from gateway.channels.lgwan_asp.server import PortalServer
    from gateway.channels.vpn_sftp.server import SftpServer
    from gateway.service_ops.monitor import Monitor


@click.command()
@click.option("--portal-port", type=click.IntRange(0, 65535), help="LGWAN-ASP ポータル / the portal (0: any free port)")
@click.option("--sftp-port", type=click.IntRange(0, 65535), help="VPN（SFTP） / the SFTP server (0: any free port)")
@click.option("--hotfolder", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="ホットフォルダー / a registered hot folder to watch")
@click.option("--bind", default="127.0.0.1", show_default=True)
@click.option("--sweep-interval", type=click.FloatRange(1.0), default=None,
              help="保管期間の確認間隔（秒） / seconds between retention sweeps (settings: [retention])")
@click.option("--metrics-port", type=click.IntRange(0, 65535),
              help="/healthz と /metrics（127.0.0.1 のみ） / health and Prometheus metrics, on 127.0.0.1 only")
@click.option("--help-port", type=click.IntRange(0, 65535),
              help="端末証明書のないブラウザー向けの案内ページ（HTTPS） / the page for a browser without a terminal certificate")
@click.option("--log-level", type=click.Choice(oplog.LEVELS), default="info", show_default=True,
              help="運用ログ（標準エラーに JSON 行） / operational log level (JSON lines on stderr)")
@click.option("--grace", type=click.FloatRange(0.0, 3600.0), default=30.0, show_default=True,
              help="停止時に転送の完了を待つ秒数 / seconds a stop waits for transfers in flight")
@home_option
@click.pass_context
@refusals_exit_1
def serve(ctx: click.Context, portal_port: int | None, sftp_port: int | None, hotfolder: Path | None, bind: str,
          sweep_interval: float | None, metrics_port: int | None, help_port: int | None, log_level: str, grace: float,
          home: str | None) -> None:
    """ポータル・SFTP・ホットフォルダーを起動 / run the portal, the SFTP server and the hot folder."""
    from gateway.retention.scheduler import Scheduler
    from gateway.witnessing.background import Submitter

    if portal_port is None and sftp_port is None and hotfolder is None:
        raise Invalid("--portal-port、--sftp-port、--hotfolder のいずれかを指定してください。",
                      "name at least one of --portal-port, --sftp-port, --hotfolder.")
    if not (home or (ctx.find_root().obj or {}).get("home") or os.environ.get("GATEWAY_HOME")):
        # A service started from some directory must not make a new installation in ./var there.
        raise Invalid("サービスのホームを --home または環境変数 GATEWAY_HOME で指定してください"
                      "（例: /var/lib/gateway）。現在のディレクトリの ./var は使いません。",
                      "say where the service's home is, with --home or $GATEWAY_HOME (e.g. /var/lib/gateway); "
                      "serve never uses ./var of the current directory.")
    log = oplog.configure(log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with open_gateway(ctx, home) as gw:
        stoppers: list[Callable[[], None]] = []
        try:
            # Every port is bound before anything starts: a start that fails on a port in use
            # must not have run the retention sweep, which crypto-erases (issue 22).
            sftp = portal = monitor = help_page = None
            if sftp_port is not None:
                from gateway.channels.vpn_sftp.server import SftpServer

                with binding("SFTP サーバー", "the SFTP server", bind, sftp_port):
                    sftp = SftpServer(gw, bind, sftp_port)
                stoppers.append(sftp.sock.close)  # bound, not yet started
            if portal_port is not None:
                with binding("ポータル", "the portal", bind, portal_port):
                    portal = _portal(gw, bind, portal_port)
                stoppers.append(portal.sock.close)
            if help_port is not None:
                from gateway.service_ops.helppage import HelpPage

                with binding("案内ページ", "the help page", bind, help_port):
                    help_page = HelpPage(gw.home.keys, bind, help_port, portal.port if portal else portal_port,
                                         gw.settings.portal.help_contact)
                stoppers.append(help_page.stop)
            scheduler = Scheduler(gw, sweep_interval or gw.settings.retention.sweep_interval_seconds)
            if metrics_port is not None:
                monitor = _monitor(gw, metrics_port, sftp, portal, scheduler)
                stoppers.append(monitor.stop)  # the last to go: /healthz answers while transfers finish
            draining: list[Callable[[float], None]] = []  # each started channel's graceful stop
            stoppers.append(lambda: _drain(draining, grace))
            if sftp is not None:
                sftp.start()
                draining.append(functools.partial(_drain_sftp, sftp))
                _listening(log, "vpn-sftp", f"{bind}:{sftp.port}", f"SFTP: {bind}:{sftp.port}")
            if portal is not None:
                portal.start()
                draining.append(portal.stop)  # uvicorn finishes the requests in flight, up to the grace
                _listening(log, "lgwan-asp", f"{bind}:{portal.port}", f"ポータル / portal: https://{bind}:{portal.port}/")
            if help_page is not None:
                help_page.start()
                _listening(log, "help", f"{bind}:{help_page.port}", f"案内 / help: https://{bind}:{help_page.port}/")
            if hotfolder is not None:
                stoppers.append(_hotfolder(gw, hotfolder))
            scheduler.start()
            stoppers.append(scheduler.stop)
            # Checkpoints go to the witnesses from this thread only, never from a hand-over's.
            stoppers.append(Submitter(gw).start().stop)
            stoppers.append(_mailer(gw, log))
            if monitor is not None:
                monitor.start()
                _listening(log, "monitor", f"127.0.0.1:{monitor.port}", f"監視 / monitor: http://127.0.0.1:{monitor.port}/healthz")
            notify("READY=1", "STATUS=serving")
            log.info("ready", extra={"home": str(gw.home.root), "pid": os.getpid()})
            click.echo("起動しました / serving（停止: Ctrl-C / stop: Ctrl-C or SIGTERM）", err=True)
            stop.wait()
            notify("STOPPING=1", "STATUS=finishing transfers in flight")
            log.info("stopping", extra={"grace_seconds": grace})
        finally:
            for stopper in reversed(stoppers):
                stopper()
    log.info("stopped")


def _mailer(gw: Gateway, log: logging.Logger) -> Callable[[], None]:
    """Notifications by e-mail, when gateway.toml has a [mail] table (gateway/mail)."""
    from gateway.mail import config

    settings = config.load(gw.home.root)
    if settings is None:
        return lambda: None
    from gateway.mail.sender import Mailer

    mailer = Mailer(gw, settings)
    mailer.start()
    log.info("mailing", extra={"relay": f"{settings.host}:{settings.port}", "interval_seconds": mailer.interval})
    return mailer.stop


def _listening(log: logging.Logger, channel: str, address: str, line: str) -> None:
    log.info("listening", extra={"channel": channel, "address": address})
    click.echo(line, err=False)


def _drain(channels: list[Callable[[float], None]], grace: float) -> None:
    """Every channel stops accepting at once; then their transfers in flight finish side by side,
    each within `grace` seconds."""
    threads = [threading.Thread(target=stop, args=(grace,), name="drain") for stop in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _drain_sftp(sftp: SftpServer, grace: float) -> None:
    left = sftp.drain(grace)
    if left:
        oplog.get("serve").warning("sessions cut at the end of the grace period", extra={"sessions": left})
    sftp.stop()


def _monitor(gw: Gateway, port: int, sftp: SftpServer | None, portal: PortalServer | None,
             scheduler: threading.Thread) -> Monitor:
    from sqlalchemy import text

    from gateway.service_ops.metrics import Metrics
    from gateway.service_ops.monitor import Monitor as MonitorServer

    def database() -> bool:
        with gw.read() as session:
            return session.execute(text("SELECT 1")).scalar() == 1

    checks = {"database": database, "scheduler": scheduler.is_alive}
    if sftp is not None:
        checks["vpn-sftp"] = sftp.alive
    if portal is not None:
        checks["lgwan-asp"] = portal.thread.is_alive
    with binding("監視ポート", "the monitor", "127.0.0.1", port):
        return MonitorServer(Metrics(gw), checks, port)


def _hotfolder(gw: Gateway, root: Path) -> Callable[[], None]:
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


def _portal(gw: Gateway, bind: str, port: int) -> PortalServer:
    """The portal, bound and not yet started."""
    try:
        from gateway.channels.lgwan_asp.server import PortalServer
    except ImportError:
        raise Invalid("ポータルはこの版ではまだ利用できません。", "the portal is not available in this release.") from None
    return PortalServer(gw, bind, port)


def register(group: click.Group) -> None:
    group.add_command(serve)
