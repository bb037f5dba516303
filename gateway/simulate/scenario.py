"""Scenario files (`gateway/data/simulations/*.toml`, format in its README.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.clock import JST
from gateway.core.tomlfile import DefinitionError, Table, parse, read_text
from gateway.data import simulations_dir
from gateway.findings import Kind

ACTIONS = ("send", "notice", "download", "confirm", "relay", "push", "courier", "deliver", "confirm-condition",
           "duty", "exclusion-import", "delete", "sweep", "declare", "leave",
           "export", "check", "recall", "incident", "external", "regularise")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Step:
    action: str
    after: timedelta
    params: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True)
class User:
    login: str
    org: str
    role: str
    name: str


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    approvals: tuple[str, ...]
    start: datetime
    records: int
    schema: str
    encoding: str
    excluded_rate: float
    columns: tuple[str, ...]  # the headers the city's export keeps; empty: the whole schema
    users: tuple[User, ...]
    steps: tuple[Step, ...]
    faults: tuple[str, ...] = field(default=())


def locate(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".toml" or "/" in name:
        return path
    return simulations_dir() / f"{name}.toml"


def load(name: str) -> Scenario:
    path = locate(name)
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in simulations_dir().glob("*.toml")))
        raise DefinitionError(f"シナリオ「{name}」がありません。使えるもの: {known}",
                              f"no scenario '{name}'; available: {known}")
    doc = Table(parse(read_text(path), path), "", path)
    population = doc.table("population")
    assert population is not None
    rate = population.raw("excluded_rate")
    scenario = Scenario(
        name=doc.text("name") or "",
        title=doc.text("title") or "",
        approvals=doc.texts("approvals"),
        start=doc.instant("start"),  # type: ignore[arg-type]
        records=population.integer("records", minimum=1) or 0,
        schema=population.choice("schema", ("kurume-2020", "shinjuku-2020", "scanned-pdf")) or "",
        encoding=population.choice("encoding", ("cp932", "utf-8")) or "",
        excluded_rate=float(rate) if isinstance(rate, (int, float)) else 0.0,
        columns=population.texts("columns", required=False),
        users=tuple(_user(t) for t in doc.tables("users", required=False)),
        steps=tuple(_step(t) for t in doc.tables("steps")),
        faults=tuple(f.choice("kind", _fault_kinds()) or "" for f in doc.tables("faults", required=False)),
    )
    doc.text("seed_document", required=False)
    population.done()
    doc.done()
    if scenario.steps[-1].action != "export":
        raise DefinitionError(f"{path}: 最後の手順は export です。", f"{path}: the last step must be 'export'.")
    return scenario


def _user(t: Table) -> User:
    user = User(login=t.text("login") or "", org=t.text("org") or "", role=t.text("role") or "",
                name=t.text("name") or "")
    t.done()
    return user


def _step(t: Table) -> Step:
    action = t.choice("action", ACTIONS) or ""
    after_text = t.text("after", required=False, default="0s") or "0s"
    match = _DURATION.match(after_text)
    if match is None:
        raise DefinitionError(f"{t.path}: {t.where}.after「{after_text}」は 10m, 2h, 3d の形で書いてください。",
                              f"{t.path}: {t.where}.after '{after_text}' must look like 10m, 2h or 3d.")
    after = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    params = t.rest()
    return Step(action, after, params)


def _fault_kinds() -> tuple[str, ...]:
    return tuple(Kind)  # every finding kind can be injected (simulate/faults.py)


def at_jst(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=JST)
