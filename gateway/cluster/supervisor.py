"""Starts the whole set-up in order under one directory, waits for each part to be healthy, and
records it in `DIR/cluster.json` (after every step, so that `down` finds whatever was started even
when `up` itself was killed); stops everything it started, also when a step fails or Ctrl-C comes.

Order: etcd and Patroni with two PostgreSQL instances; SeaweedFS; the nodes' homes and the nodes;
HAProxy. `down` stops in the reverse order.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.cluster import haproxy, nodes, patroni, procs, seaweedfs
from gateway.errors import Conflict, GatewayError, NotFound, Unavailable

STATE = "cluster.json"
PARTS = ("pg", "s3", "nodes", "haproxy")  # the directories `up` makes under DIR, one per server


def node_names(count: int) -> list[str]:
    return [f"node-{chr(ord('a') + i)}" for i in range(count)]


def _write(directory: Path, state: dict[str, Any]) -> None:
    path = directory / STATE
    tmp = path.with_suffix(".tmp")
    # It holds the object store's secret key made up for this run: readable by its owner only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False, indent=2)
    os.replace(tmp, path)


def read_state(directory: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((directory / STATE).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise Unavailable(f"{directory / STATE} を読めません（{type(err).__name__}）。",
                          f"cannot read {directory / STATE} ({type(err).__name__}).") from None


@contextmanager
def _no_interrupt() -> Iterator[None]:
    """A second Ctrl-C must not cut the clean-up of the first one short."""
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM or SIGHUP (a `timeout`, a closed terminal) while `up` runs: as Ctrl-C, so that what
    was started is stopped, not left behind by a process that vanished."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    saved = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def up(directory: Path, count: int = 2, rehearsal: bool = False) -> dict[str, Any]:
    """Starts everything; returns the state (also in DIR/cluster.json) once all parts are healthy."""
    if count < 1 or count > 26:
        raise GatewayError("ノードの数は 1 から 26 までです。", "--nodes must be between 1 and 26.")
    _refuse_busy(directory)
    with _terminate_as_interrupt():
        return _up(directory, count, rehearsal)


def _up(directory: Path, count: int, rehearsal: bool) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"dir": str(directory.resolve()), "rehearsal": rehearsal, "nodes": []}
    try:
        _check_binaries()

        def record(key: str) -> Callable[[Any], None]:
            # Each process is in the state file from its start: a `down` after an `up` that was
            # killed outright (SIGKILL) still finds it.
            def write(part: Any) -> None:
                state[key] = part.to_json()
                _write(directory, state)
            return write

        db = patroni.start(_database_dir(directory), started=record("patroni"))
        state["db_url"] = db.url
        _write(directory, state)
        s3 = seaweedfs.start(directory / "s3", started=record("seaweedfs"))
        state["blobs_url"] = s3.url("gateway")
        _write(directory, state)
        env = {**os.environ, **nodes.node_environ(db.url, s3.environ)}
        # HAProxy tells the nodes each client's address (PROXY v2), so that per-source throttles,
        # lockouts and the log see the client, not the balancer.
        homes = nodes.make_homes(directory / "nodes", node_names(count), env, state["blobs_url"], rehearsal,
                                 proxy_from="127.0.0.1")
        for name, home in homes.items():
            def add(node: nodes.Node) -> None:
                state["nodes"].append(node.to_json())
                _write(directory, state)
            nodes.start(name, home, env, started=add)
        proxy = haproxy.start({n["name"]: n["portal_port"] for n in state["nodes"]}, directory / "haproxy",
                              sftp={n["name"]: n["sftp_port"] for n in state["nodes"]}, send_proxy=True,
                              started=record("haproxy"))
        state["haproxy"] = proxy.to_json()
        _write(directory, state)
    except BaseException as err:
        with _no_interrupt():
            stopped = _stop_all(state)
            if stopped:
                _remove(directory)
        if isinstance(err, procs.Missing):
            raise _missing(str(err)) from None
        if isinstance(err, (RuntimeError, OSError, ValueError)):
            raise Unavailable("クラスターを起動できませんでした。起動したものはすべて停止しました。原因: "
                              f"{str(err)[-800:]}",
                              "the cluster did not start; everything started was stopped again. Cause: "
                              f"{str(err)[-800:]}") from None
        raise
    return state


def _database_dir(directory: Path) -> Path:
    """DIR/pg, or when we are root and the `postgres` user cannot reach DIR (under a private
    directory such as /root or pytest's), a directory of its own in the temporary directory, which
    DIR/pg then points to (and `down` removes with it)."""
    inside = directory / "pg"
    if os.geteuid() != 0 or subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(directory)],
                                           capture_output=True).returncode == 0:
        return inside
    outside = Path(tempfile.mkdtemp(prefix="gateway-cluster-pg-"))
    inside.symlink_to(outside, target_is_directory=True)
    return outside


def _check_binaries() -> None:
    """Before anything starts: every program, so that a missing one is told at once, not half-way."""
    for path, package in ((patroni.ETCD, "etcd-server"), (patroni.PATRONI, "patroni"), (haproxy.HAPROXY, "haproxy")):
        if not Path(path).exists():
            raise procs.Missing(f"{path} ({package})")
    from gateway.cluster.postgres import bindir

    bindir()
    seaweedfs.weed()


def _missing(what: str) -> GatewayError:
    return Unavailable(f"必要なプログラムがありません: {what}。`make setup`（scripts/install-system-packages）で"
                       "インストールしてください。",
                       f"a program the cluster needs is missing: {what}. Install it with `make setup` "
                       "(scripts/install-system-packages).")


def _refuse_busy(directory: Path) -> None:
    if (directory / STATE).exists():
        raise Conflict(f"{directory} ではクラスターがすでに起動しています（または停止に失敗しました）。"
                       f"`gateway cluster down --dir {directory}` で停止してください。",
                       f"a cluster is already up in {directory} (or did not stop): run "
                       f"`gateway cluster down --dir {directory}` first.")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise Conflict(f"{directory} は空のディレクトリではありません。空のディレクトリか、まだないパスを指定してください。",
                       f"{directory} is not an empty directory: name an empty or new one.")


def _parts(state: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, part) in the order they stop: the front first, the database last."""
    found: list[tuple[str, Any]] = []
    if "haproxy" in state:
        found.append(("haproxy", haproxy.Haproxy.from_json(state["haproxy"])))
    for n in reversed(state.get("nodes", [])):
        found.append((n["name"], nodes.Node.from_json(n)))
    if "seaweedfs" in state:
        found.append(("seaweedfs", seaweedfs.SeaweedServer.from_json(state["seaweedfs"])))
    if "patroni" in state:
        found.append(("patroni", patroni.PatroniCluster.from_json(state["patroni"])))
    return found


def _stop_all(state: dict[str, Any]) -> dict[str, bool]:
    return {label: bool(part.stop()) for label, part in _parts(state)}


def _remove(directory: Path) -> None:
    for name in PARTS:
        part = directory / name
        if part.is_symlink():
            shutil.rmtree(part.resolve(), ignore_errors=True)
            part.unlink()
        shutil.rmtree(part, ignore_errors=True)
    (directory / STATE).unlink(missing_ok=True)


def status(directory: Path) -> dict[str, Any]:
    state = read_state(directory)
    if state is None:
        raise NotFound(f"{directory} で起動しているクラスターはありません（`gateway cluster up --dir {directory}`）。",
                       f"no cluster is up in {directory} (start one with `gateway cluster up --dir {directory}`).")
    parts = []
    for label, part in _parts(state):
        if isinstance(part, patroni.PatroniCluster):
            alive = part.etcd.alive() and all(m.process is not None and m.process.alive() for m in part.members.values())
            healthy = alive and part.etcd_healthy() and part.streaming()
            roles = {name: role for name, (role, _) in part.roles().items()}
            parts.append({"part": label, "alive": alive, "healthy": healthy, "roles": roles})
        elif isinstance(part, nodes.Node):
            parts.append({"part": label, "alive": part.alive(), "healthy": part.alive() and part.healthy()})
        elif isinstance(part, seaweedfs.SeaweedServer):
            parts.append({"part": label, "alive": part.process is not None, "healthy": part.healthy()})
        else:
            parts.append({"part": label, "alive": part.alive(), "healthy": part.healthy()})
    return {**addresses(state), "parts": list(reversed(parts)), "healthy": all(p["healthy"] for p in parts)}


def down(directory: Path) -> dict[str, bool] | None:
    """Stops everything the state names; None when nothing was up. The directory's data goes once
    all have stopped; while something would not stop, state and data stay for another try."""
    state = read_state(directory)
    if state is None:
        return None
    with _no_interrupt():
        stopped = _stop_all(state)
        if all(stopped.values()):
            _remove(directory)
    return stopped


def pids(state: dict[str, Any]) -> list[int]:
    """Every process the state names that still runs (postmasters included): for the tests."""
    found: list[int] = []
    for _, part in _parts(state):
        if isinstance(part, patroni.PatroniCluster):
            found += [p.pid for p in part.processes() if p.alive()]
        elif isinstance(part, seaweedfs.SeaweedServer):
            found += [part.process] if part.process is not None else []
        elif part.alive():
            found.append(part.pid)
    return found


def addresses(state: dict[str, Any]) -> dict[str, Any]:
    """What clients and a node's operator need: the balancer's addresses, the database URL, the S3
    endpoint, and a node's environment and home."""
    s3 = state.get("seaweedfs", {})
    proxy = state.get("haproxy", {})
    first = state["nodes"][0] if state.get("nodes") else {}
    return {
        "portal": f"https://127.0.0.1:{proxy['port']}" if proxy else None,
        "sftp": f"127.0.0.1:{proxy['sftp_port']}" if proxy.get("sftp_port") else None,
        "db_url": state.get("db_url"),
        "s3_endpoint": f"http://127.0.0.1:{s3['s3_port']}" if s3 else None,
        "blobs_url": state.get("blobs_url"),
        "nodes": {n["name"]: {"home": n["home"], "portal": f"127.0.0.1:{n['portal_port']}",
                              "sftp": f"127.0.0.1:{n['sftp_port']}", "monitor": f"127.0.0.1:{n['monitor_port']}"}
                  for n in state.get("nodes", [])},
        "environment": {"GATEWAY_HOME": first.get("home"), "GATEWAY_DB_URL": state.get("db_url"),
                        "AWS_ACCESS_KEY_ID": s3.get("access_key"), "AWS_SECRET_ACCESS_KEY": s3.get("secret_key")},
        "rehearsal": state.get("rehearsal", False),
    }
