"""Turn a pytest-benchmark run into `results/latest.json`, `results/latest.md` and a plot.

`make bench` runs every benchmark with `--benchmark-json=benchmarks/results/raw.json` and then
this script. Every ratio compares two measurements of the same run on the same machine.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TARGETS = {
    "e2e_ratio_sftp": ("<=", 1.5), "e2e_ratio_portal": ("<=", 2.0), "validation_ratio": (">=", 0.5),
    "rss_mb_3m": ("<=", 200), "rss_growth_300k_3m": ("<=", 1.2),
}


def main(raw_path: Path = RESULTS / "raw.json") -> None:
    raw = json.loads(raw_path.read_text())
    by_name = {b["name"]: b for b in raw["benchmarks"]}
    info = {name: b.get("extra_info", {}) for name, b in by_name.items()}
    scaling = sorted((i for n, i in info.items() if n.startswith("test_handover_scaling")),
                     key=lambda i: i["records"])
    at = {i["records"]: i for i in scaling}
    latest: dict[str, Any] = {
        "validation_ratio": info.get("test_scan", {}).get("ratio_to_csv_reader"),
        "rss_mb_3m": at.get(3_000_000, {}).get("peak_rss_mb"),
        "rss_growth_300k_3m": (round(at[3_000_000]["peak_rss_mb"] / at[300_000]["peak_rss_mb"], 3)
                               if 3_000_000 in at and 300_000 in at else None),
        "rss_mb_kdf_floor": info.get("test_kdf_floor", {}).get("peak_rss_mb"),
        "e2e_ratio_sftp": _first(info, "e2e_ratio_sftp"),
        "e2e_ratio_portal": _first(info, "e2e_ratio_portal"),
        "scaling": [{k: i[k] for k in ("records", "seconds", "records_per_second", "peak_rss_mb")} for i in scaling],
        "machine": {k: raw["machine_info"].get(k) for k in ("node", "processor", "python_version", "system")}
        | {"cpu": raw["machine_info"].get("cpu", {}).get("brand_raw")},
        "datetime": raw.get("datetime"),
        "benchmarks": info,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(latest, ensure_ascii=False, indent=2))
    _plot(scaling)
    (RESULTS / "latest.md").write_text(_markdown(latest))
    print((RESULTS / "latest.md").read_text())


def _first(info: dict[str, dict[str, Any]], key: str) -> Any:
    return next((i[key] for i in info.values() if key in i), None)


def _verdict(key: str, value: Any) -> str:
    if value is None:
        return "not measured in this run"
    op, limit = TARGETS[key]
    ok = value <= limit if op == "<=" else value >= limit
    return f"{'met' if ok else 'MISSED'} (target {op} {limit})"


def _markdown(latest: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run {latest['datetime']} on {latest['machine']['cpu']} ({latest['machine']['system']}, "
        f"Python {latest['machine']['python_version']}). Produced by `make bench`; every ratio compares two "
        "measurements of this run.",
        "",
        "| key | value | |",
        "|---|---|---|",
    ]
    for key in TARGETS:
        lines.append(f"| `{key}` | {latest[key]} | {_verdict(key, latest[key])} |")
    lines.append(f"| `rss_mb_kdf_floor` | {latest['rss_mb_kdf_floor']} | scrypt 2^18 alone (256 MiB by definition) |")
    lines += ["", "## A whole hand-over by batch size", "", "![time and peak RSS](latest.png)", "",
              "| records | seconds | records/s | peak RSS (MB) |", "|---:|---:|---:|---:|"]
    for row in latest["scaling"]:
        lines.append(f"| {row['records']:,} | {row['seconds']} | {row['records_per_second']:,} | {row['peak_rss_mb']} |")
    return "\n".join(lines) + "\n"


def _plot(scaling: list[dict[str, Any]]) -> None:
    if not scaling:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r["records"] for r in scaling]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(records, [r["seconds"] for r in scaling], "o-", color="tab:blue", label="seconds")
    left.set_xscale("log")
    left.set_xlabel("records")
    left.set_ylabel("seconds (send to receipt)", color="tab:blue")
    right = left.twinx()
    right.plot(records, [r["peak_rss_mb"] for r in scaling], "s--", color="tab:red", label="peak RSS")
    right.set_ylabel("peak RSS (MB)", color="tab:red")
    right.set_ylim(bottom=0)
    fig.suptitle("One hand-over: time grows with records, memory stays flat")
    fig.tight_layout()
    fig.savefig(RESULTS / "latest.png", dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "raw.json")
