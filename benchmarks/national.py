"""The national day as a rehearsal (issue 24, item 5): many cities, small files each, one shared
contractor, on one gateway node and then on two, behind HAProxy, on one PostgreSQL and one object
store (SeaweedFS). Also the rate of the one thing that does not scale with nodes: the serialised
log append.

Run: .venv/bin/python benchmarks/national.py --cities 40 --records 300 --concurrency 4

Every city gets its own approval (the Kurume 2020 approval with the city's id, name and case
number), a staff account and a designated-terminal certificate; each city sends one file through
HAProxy's port to /api/v1/transfers (profile lgwan-asp), `--concurrency` cities at a time. Latency
is one upload's request-to-answer time; records/s is all records over the phase's wall time. The
scrypt work factor is the product's default (18: about 1 s and 256 MiB per package), as on the day.
The figures are printed as JSON and written to benchmarks/results/national-<cities>x<records>.json;
benchmarks/results/national.md reads them and projects the national day.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.cluster import haproxy, postgres, seaweedfs  # noqa: E402
from tests.service.conftest import Service, start  # noqa: E402

BIN = Path(sys.executable).parent
TEMPLATE = REPO / "gateway" / "data" / "simulations" / "approvals" / "kurume-2020-teigaku.toml"
PASSWORD = "national-day-2020-benchmark"
REHEARSAL_START = "2019-04-01T09:00:00+09:00"
NOW = "2020-06-01T10:00:00+09:00"


def gateway(*args: str, env: dict[str, str]) -> str:
    return subprocess.run([str(BIN / "gateway"), *args], env=env, check=True, capture_output=True, text=True).stdout


def city_approval(i: int, out: Path) -> Path:
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace('id = "kurume-2020-teigaku"', f'id = "city{i:04d}-2020-teigaku"', 1)
    text = text.replace('id = "kurume"', f'id = "city{i:04d}"', 1).replace('name = "久留米市"', f'name = "市{i:04d}"', 1)
    text = text.replace('case_number = "2総政第158号"', f'case_number = "2総政第{i}号"', 1)
    path = out / f"city{i:04d}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def prepare(home: Path, env: dict[str, str], cities: int, work: Path, init: bool = True) -> dict[str, tuple[Path, Path]]:
    """Each city's approval, staff account (password PASSWORD) and terminal certificate; `init`
    first makes the home (`make cluster-demo` runs on homes `gateway cluster up` made)."""
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.auth import HASHER, issue_initial_password
    from gateway.clock import FixedClock
    from gateway.home import Home
    from gateway.ledger.log import Actor
    from gateway.service import Gateway
    from gateway.store import models as m

    if init:
        gateway("init", "--rehearsal", env={**env, "GATEWAY_FAKE_NOW": REHEARSAL_START})
    for i in range(1, cities + 1):
        gateway("approval", "add", str(city_approval(i, work)), env=env)
        gateway("user", "add", f"st-city{i:04d}", "--org", f"city{i:04d}", "--role", "staff", "--name", f"職員 {i}", env=env)
    saved = dict(os.environ)
    os.environ.update(env)
    gw = Gateway.open(Home(home), FixedClock(datetime.fromisoformat(NOW)))
    certs = {}
    try:
        admin = Actor(user="cli:benchmark", role="admin")
        hashed = HASHER.hash(PASSWORD)
        for i in range(1, cities + 1):
            login = f"st-city{i:04d}"
            issue_initial_password(gw, login, actor=admin)
            with gw.unit() as s:
                u = s.query(m.User).filter_by(login=login).one()
                u.password_hash, u.must_change_password = hashed, False
            t = terminals.issue(gw, login, work / "certs", actor=admin)
            certs[login] = (t.cert, t.key)
    finally:
        gw.engine.dispose()
        os.environ.clear()
        os.environ.update(saved)
    return certs


def upload(port: int, ca: Path, login: str, cert: tuple[Path, Path], approval: str, data: bytes) -> float:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(*cert)
    with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ctx, timeout=600) as c:
        answer = c.post("/api/v1/tokens", json={"login": login, "password": PASSWORD})
        if answer.status_code != 200:
            raise RuntimeError(f"{login}: login {answer.status_code} {answer.text[:300]}")
        token = answer.json()["token"]
        began = time.perf_counter()
        r = c.post("/api/v1/transfers", headers={"authorization": f"Bearer {token}"},
                   data={"approval": approval, "recipient": "chikugo-print", "profile": "lgwan-asp",
                         "password_delivery": "registered-mail"},
                   files={"file": ("recipients.csv", data, "text/csv")})
        took = time.perf_counter() - began
    if r.status_code != 200:
        raise RuntimeError(f"{login}: {r.status_code} {r.text[:300]}")
    return took


def phase(nodes: dict[str, int], ca: Path, certs: dict[str, tuple[Path, Path]], data: bytes, records: int,
          concurrency: int) -> dict[str, float]:
    proxy = haproxy.start(nodes)
    try:
        jobs = [(login, cert, login.replace("st-", "") + "-2020-teigaku") for login, cert in certs.items()]
        began = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(lambda j: upload(proxy.port, ca, j[0], j[1], j[2], data), jobs))
        wall = time.perf_counter() - began
    finally:
        proxy.remove()
    latencies.sort()
    return {"nodes": len(nodes), "uploads": len(jobs), "records_per_upload": records, "wall_seconds": round(wall, 2),
            "records_per_second": round(len(jobs) * records / wall, 1),
            "uploads_per_second": round(len(jobs) / wall, 3),
            "p50_seconds": round(statistics.median(latencies), 2),
            "p95_seconds": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2)}


_APPENDER = """
import os, sys, time
from datetime import datetime
from pathlib import Path
from gateway.clock import FixedClock
from gateway.home import Home
from gateway.ledger.log import Event
from gateway.service import Gateway
gw = Gateway.open(Home(Path(sys.argv[1])), FixedClock(datetime.fromisoformat(sys.argv[3])))
n = int(sys.argv[2])
gw.record(Event(action="benchmark.append", channel="system", reason="warm-up"))
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # all processes begin together
start = time.time()
for i in range(n):
    gw.record(Event(action="benchmark.append", channel="system", reason=f"append {i}"))
print(start, time.time())
gw.engine.dispose()
"""


def append_rate(home: Path, env: dict[str, str], processes: int, per_process: int) -> dict[str, float]:
    """Entries appended per second by `processes` processes at once, each its own transaction."""
    at = time.time() + 8  # after every interpreter has started and opened its gateway
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(home), str(per_process), NOW, str(at)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    spans = [tuple(map(float, p.communicate()[0].split())) for p in procs]
    wall = max(end for _, end in spans) - min(begin for begin, _ in spans)
    return {"processes": processes, "appends": processes * per_process, "wall_seconds": round(wall, 2),
            "appends_per_second": round(processes * per_process / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cities", type=int, default=40)
    ap.add_argument("--records", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--appends", type=int, default=500)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gateway-national-"))
    pg = s3 = None
    services: list[Service] = []
    try:
        pg = postgres.start()
        s3 = seaweedfs.start()
        db_url = pg.new_database()
        home_a, home_b = work / "node-a", work / "node-b"
        env = {**os.environ, "GATEWAY_HOME": str(home_a), "GATEWAY_DB_URL": db_url, "GATEWAY_FAKE_NOW": NOW,
               **s3.environ}
        env.pop("GATEWAY_SCRYPT_WORK_FACTOR", None)  # the product's 18, as on the day
        certs = prepare(home_a, env, args.cities, work)
        with (home_a / "gateway.toml").open("a", encoding="utf-8") as f:
            f.write(f'\n[blobs]\nurl = "{s3.url("national")}"\n')
        shutil.copytree(home_a, home_b, ignore=shutil.ignore_patterns("blobs", "work", "exports"))
        source = work / "recipients.csv"
        gateway("generate", "recipients", "--count", str(args.records), "--schema", "kurume-2020", "--seed", "7",
                "-o", str(source), env=env)
        data = source.read_bytes()
        ports = {}
        for name, home in (("node-a", home_a), ("node-b", home_b)):
            (work / f"run-{name}").mkdir()
            svc = start(home, work / f"run-{name}", "--portal-port", "0", env={**env, "GATEWAY_CLUSTER_NODE": name})
            services.append(svc)
            ports[name] = svc.ports["portal"]
        ca = home_a / "keys" / "ca.crt"
        one = phase({"node-a": ports["node-a"]}, ca, certs, data, args.records, args.concurrency)
        two = phase(ports, ca, certs, data, args.records, args.concurrency)
        for svc in services:
            svc.terminate()
            svc.proc.communicate(timeout=60)
        appends = [append_rate(home_a, env, n, args.appends) for n in (1, 2)] if args.appends else []
        result = {"measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                  "machine": {"cores": os.cpu_count()}, "cities": args.cities, "concurrency": args.concurrency,
                  "one_node": one, "two_nodes": two, "serialised_append": appends,
                  "command": " ".join(["benchmarks/national.py", *sys.argv[1:]])}
        print(json.dumps(result, ensure_ascii=False, indent=2))
        out = REPO / "benchmarks" / "results" / f"national-{args.cities}x{args.records}.json"
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    finally:
        for svc in services:
            if svc.proc.poll() is None:
                svc.proc.kill()
                _, err = svc.proc.communicate()
                errors = [line for line in err.splitlines() if '"level": "ERROR"' in line or "Traceback" in line
                          or "Error" in line]
                if errors:
                    print("\n".join(errors[-20:]), file=sys.stderr)
            svc.notify.close()
        if s3 is not None:
            s3.remove()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    threading.current_thread().name = "national"
    main()
