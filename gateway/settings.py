"""The installation's settings: one object, read from `$GATEWAY_HOME/gateway.toml`, each value
overridable by an environment variable named after it (`GATEWAY_<SECTION>_<KEY>`, e.g.
`GATEWAY_DB_URL`, `GATEWAY_PORTAL_MAX_UPLOAD_BYTES`). `gateway settings show --json` prints what
is in force and where each value came from.

The file is read with the same strict reader as the approvals: an unknown section or key is an
error with a suggestion, never a silently ignored typo. Values are range-checked. Nothing here
imports a channel: the portal and the SFTP server take their sections from here.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gateway.core import tomlfile
from gateway.core.records.linebound import DEFAULT_MAX_LINE_BYTES
from gateway.crypto.kek import config as kek_config
from gateway.crypto.kek.config import KekConfig
from gateway.directory import config as directory_config
from gateway.directory.config import DirectoryConfig
from gateway.errors import Invalid

FILE = "gateway.toml"
_NODE = re.compile(r"(?:[a-z0-9][a-z0-9-]{0,62})?")


@dataclass(frozen=True)
class DbSettings:
    # Any SQLAlchemy URL (PostgreSQL: postgresql+psycopg://...); empty means SQLite in the home.
    # `gateway init` records the URL it ran with (without its password), so a later command that
    # forgets $GATEWAY_DB_URL opens the same database instead of creating a new SQLite one.
    url: str = ""
    # How long a SQLite writer waits for the write lock; past it the portal answers 503.
    busy_timeout_ms: int = 10_000
    # The url above is the only database of this home: $GATEWAY_DB_URL is ignored. Written by
    # `gateway simulate` and `gateway demo` into their rehearsal homes, so that a rehearsal run in
    # a shell that names the production database never writes into it. Read from the file only.
    sealed: bool = False


@dataclass(frozen=True)
class BlobsSettings:
    # Where the encrypted packages are kept. Empty: the home's blobs/ directory (one node). For
    # several nodes, one S3-compatible bucket they share:
    # "s3://BUCKET/PREFIX?endpoint=https://HOST:PORT&region=REGION" (the access key comes from
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws, never from this file).
    url: str = ""
    # How long an operation waits for an object store that does not answer before it is refused
    # as unavailable (nothing recorded, the sender's file unchanged).
    outage_wait_seconds: int = 30


@dataclass(frozen=True)
class ClusterSettings:
    # This node's name when several `gateway serve` nodes share one database and one object store
    # (lowercase letters, digits and hyphens): recorded in every log entry it appends. Empty: one node.
    node: str = ""
    # The balancer's address when it sends the PROXY protocol v2 header (HAProxy's send-proxy-v2):
    # the portal and SFTP then read the client's address from connections coming from there, and
    # only from there. Empty: no header is read (a direct connection, or a balancer without it).
    proxy_protocol_from: str = ""


@dataclass(frozen=True)
class RecordsSettings:
    # The longest line a recipient file may have, in bytes. A line is read whole before it is
    # checked, so this bounds the memory of every reader of an uploaded file (README, "Bounded
    # memory"); real rows are a few hundred bytes.
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True)
class PortalSettings:
    max_upload_bytes: int = 2 * 1024**3
    reminder_days: int = 7  # staff see deadlines this many days ahead (as `gateway retention due`)
    login_account_failures: int = 5  # failed logins within the window that lock the account
    login_source_failures: int = 20  # ... that lock the source address
    login_window_minutes: int = 15
    login_lock_minutes: int = 15
    max_connections_per_source: int = 32  # open at once from one address, counted before the TLS handshake
    max_connections: int = 512  # open at once in all
    # Whom a browser without a terminal certificate is told to ask (`serve --help-port`): a
    # section and its extension, never a person's name.
    help_contact: str = ""


@dataclass(frozen=True)
class SftpSettings:
    max_failures: int = 10  # failed logins within failure_window_seconds that lock the source
    failure_window_seconds: int = 600
    lockout_seconds: int = 900
    max_connections: int = 10  # open at once from one source
    max_total: int = 200  # open at once in all


@dataclass(frozen=True)
class RetentionSettings:
    log_years: int = 10  # logs and evidence are kept this long after their case closed
    sweep_interval_seconds: int = 60


@dataclass(frozen=True)
class ScryptSettings:
    # 2^18 costs about 1 s and 256 MiB, as `age` itself uses. Lower only for tests.
    work_factor: int = 18


@dataclass(frozen=True)
class WitnessSettings:
    # How the gateway talks to its witnesses; which witnesses it has is in the database
    # (`gateway witness add`), because who vouches for the log belongs to the log's own story.
    timeout_seconds: int = 5  # one add-checkpoint request
    poll_seconds: int = 5  # `gateway serve` looks for new checkpoints this often
    round_seconds: int = 30  # at most this long on one witness per round in the background
    backoff_max_seconds: int = 300  # a witness that keeps failing is retried at least this often
    # At export: how long the export waits for the witnesses to cosign its final checkpoint. A
    # witness that does not answer in time leaves the bundle's tail unwitnessed (and says so).
    export_wait_seconds: int = 10


@dataclass(frozen=True)
class SecondCheckSettings:
    # City-wide: which sends wait for a second person (core/second_check.py); the approvers are
    # those the approval names. 0 records: no threshold.
    always: bool = False
    above_records: int = 0
    bank_accounts: bool = False


@dataclass(frozen=True)
class DownloadSettings:
    # City-wide limit on complete downloads of one package: by default the first complete one
    # (issue 20: 複写及び複製の禁止); 0 lifts the city's limit (the approval's still applies).
    # Retries: the broken downloads that may be tried again unless the approval says.
    max_complete: int = 1
    retries: int = 3


@dataclass(frozen=True)
class RecallSettings:
    # A recall after a download: the contractor must erase its copies, and report, within this.
    deletion_hours: int = 24


# The bounds each value must lie in: (minimum, maximum). A value outside is refused with its name.
BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("db", "busy_timeout_ms"): (1, 600_000),
    ("portal", "max_upload_bytes"): (1024, 64 * 1024**3),
    ("portal", "reminder_days"): (0, 365),
    ("portal", "login_account_failures"): (1, 1000),
    ("portal", "login_source_failures"): (1, 100_000),
    ("portal", "login_window_minutes"): (1, 24 * 60),
    ("portal", "login_lock_minutes"): (1, 24 * 60),
    ("portal", "max_connections_per_source"): (1, 100_000),
    ("portal", "max_connections"): (1, 1_000_000),
    ("sftp", "max_failures"): (1, 1000),
    ("sftp", "failure_window_seconds"): (1, 86_400),
    ("sftp", "lockout_seconds"): (1, 86_400),
    ("sftp", "max_connections"): (1, 10_000),
    ("sftp", "max_total"): (1, 100_000),
    ("retention", "log_years"): (1, 100),
    ("retention", "sweep_interval_seconds"): (1, 86_400),
    ("scrypt", "work_factor"): (1, 22),
    ("records", "max_line_bytes"): (1024, 16 * 1024 * 1024),
    ("second_check", "above_records"): (0, 100_000_000),
    ("downloads", "max_complete"): (0, 1000),
    ("downloads", "retries"): (0, 1000),
    ("recall", "deletion_hours"): (1, 24 * 30),
    ("blobs", "outage_wait_seconds"): (1, 3600),
    ("witness", "timeout_seconds"): (1, 300),
    ("witness", "poll_seconds"): (1, 3600),
    ("witness", "round_seconds"): (1, 3600),
    ("witness", "backoff_max_seconds"): (1, 86_400),
    ("witness", "export_wait_seconds"): (0, 600),
}
# Values only the file may set: an environment variable must not unseal a sealed home.
FILE_ONLY = frozenset({("db", "sealed")})


@dataclass(frozen=True)
class Settings:
    db: DbSettings = field(default_factory=DbSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    sftp: SftpSettings = field(default_factory=SftpSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    scrypt: ScryptSettings = field(default_factory=ScryptSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)
    blobs: BlobsSettings = field(default_factory=BlobsSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    witness: WitnessSettings = field(default_factory=WitnessSettings)
    second_check: SecondCheckSettings = field(default_factory=SecondCheckSettings)
    downloads: DownloadSettings = field(default_factory=DownloadSettings)
    recall: RecallSettings = field(default_factory=RecallSettings)
    # `[kek]`, where the key-encryption key lives: read (strictly) by crypto/kek/config.py, which
    # also writes it at `gateway init --kek-backend ...`; never a PIN, only where to find it.
    kek: KekConfig = field(default_factory=KekConfig)
    # `[directory]`, LDAP login for city staff and officers: read (strictly) by directory/config.py;
    # None when every account is local.
    directory: DirectoryConfig | None = None
    # Where each value came from: "default", the file's path, or the environment variable's name.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for section in _SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            if section == "db" and values["url"]:
                values["url"] = without_password(values["url"])
            out[section] = values
        kek = {k: v for k, v in dataclasses.asdict(self.kek).items() if k != "source" and v is not None}
        directory = self.directory.to_json() if self.directory is not None else None
        return {**out, "kek": kek, "directory": directory, "sources": {**self.sources, "kek": self.kek.source}}


_SECTIONS = ("db", "portal", "sftp", "retention", "scrypt", "records", "blobs", "cluster", "witness", "second_check",
             "downloads", "recall")
_OWNED_ELSEWHERE = ("kek", "mail", "directory")  # [mail]: gateway/mail/config.py; [directory]: directory/config.py


def env_name(section: str, key: str) -> str:
    return f"GATEWAY_{section}_{key}".upper()


def load(home_root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings in force for the installation at `home_root` (the file may be absent)."""
    environ = os.environ if environ is None else environ
    path = home_root / FILE
    doc: dict[str, Any] = {}
    if path.exists():
        doc = tomlfile.parse(tomlfile.read_text(path), path)
        known = _SECTIONS + _OWNED_ELSEWHERE
        unknown = sorted(set(doc) - set(known))
        if unknown:
            raise tomlfile.DefinitionError(
                f"{path}: 不明な表です: {', '.join(unknown)}（使える表: {', '.join(known)}）",
                f"{path}: unknown tables: {', '.join(unknown)} (known: {', '.join(known)})")
    sources: dict[str, str] = {}
    sections: dict[str, Any] = {}
    defaults = Settings()
    for section in _SECTIONS:
        default = getattr(defaults, section)
        values = dataclasses.asdict(default)
        if section in doc:
            table = tomlfile.Table(doc[section], section, path)
            for f in fields(default):
                value: Any
                if f.type == "bool":
                    value = table.flag(f.name) if f.name in doc[section] else None
                else:
                    value = (table.text if f.type == "str" else table.integer)(f.name, required=False)
                if value is not None:
                    values[f.name] = value
                    sources[f"{section}.{f.name}"] = str(path)
            table.done()
        for f in fields(default):
            raw = environ.get(env_name(section, f.name))
            if raw is None or raw == "" or (section, f.name) in FILE_ONLY:
                continue
            if section == "db" and f.name == "url" and values["sealed"]:
                continue  # a sealed home's database is the one its file names
            values[f.name] = raw if f.type == "str" else _int_from_env(env_name(section, f.name), raw)
            sources[f"{section}.{f.name}"] = env_name(section, f.name)
        for name, value in values.items():
            _check_bounds(section, name, value, sources.get(f"{section}.{name}", "default"))
        if section == "db" and values["url"]:
            from gateway import dburl  # SQLAlchemy only for commands that have a database

            values["url"] = dburl.normalise(values["url"])  # postgres:// as PostgreSQL, or what to write
        if section == "cluster" and not _NODE.fullmatch(values["node"]):
            raise Invalid(f"設定 cluster.node = {values['node'][:64]!r} は英小文字・数字・ハイフンの 63 文字以内で指定してください"
                          f"（{sources.get('cluster.node', 'default')}）。例: node-a",
                          f"setting cluster.node = {values['node'][:64]!r} must be lowercase letters, digits and hyphens, "
                          f"at most 63 (from {sources.get('cluster.node', 'default')}); for example node-a.")
        if section == "cluster" and values["proxy_protocol_from"]:
            _check_address("cluster.proxy_protocol_from", values["proxy_protocol_from"],
                           sources.get("cluster.proxy_protocol_from", "default"))
        if section == "blobs" and values["url"]:
            from gateway.bloburl import S3Location

            S3Location.parse(values["url"])  # a mistyped URL is refused here, with an example
        sections[section] = type(default)(**values)
    return Settings(**sections, kek=kek_config.load(home_root), directory=directory_config.load(home_root),
                    sources=sources)


def _check_address(name: str, value: str, source: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"設定 {name} = {value[:64]!r} は IP アドレスで指定してください（{source}）。例: 10.0.0.5",
                      f"setting {name} = {value[:64]!r} must be an IP address (from {source}); "
                      "for example 10.0.0.5.") from None


def _int_from_env(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise Invalid(f"環境変数 {name} は整数で指定してください（値: {raw[:40]!r}）。",
                      f"the environment variable {name} must be a whole number (got {raw[:40]!r}).") from None


def _check_bounds(section: str, name: str, value: object, source: str) -> None:
    bounds = BOUNDS.get((section, name))
    if bounds is None or not isinstance(value, int):
        return
    low, high = bounds
    if not low <= value <= high:
        raise Invalid(f"設定 {section}.{name} = {value} は {low}〜{high} の範囲で指定してください（{source}）。",
                      f"setting {section}.{name} = {value} must be within {low}..{high} (from {source}).")


def without_password(url: str) -> str:
    """The URL as it may be written down: its password (if any) left to the environment or .pgpass."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False) if parsed.password else url


def record_db_url(home_root: Path, url: str, *, sealed: bool = False) -> bool:
    """Write `[db] url` into the home's settings file, once; True when it was written. A file that
    already names a database keeps it: `gateway init` never moves an installation silently."""
    path = home_root / FILE
    doc = tomlfile.parse(tomlfile.read_text(path), path) if path.exists() else {}
    if doc.get("db", {}).get("url"):
        return False
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "db" in doc:
        raise Invalid(f"{path} の [db] 表に url を書き加えてください: {without_password(url)}",
                      f"add url = \"{without_password(url)}\" to the [db] table of {path}.")
    if sealed:
        block = ("# Written by `gateway simulate` / `gateway demo`: the only database of this rehearsal home.\n"
                 "# sealed: $GATEWAY_DB_URL is ignored here.\n"
                 f"[db]\nurl = {_toml_string(without_password(url))}\nsealed = true\n")
    else:
        block = ("# Written by `gateway init`: the database of this installation. $GATEWAY_DB_URL overrides it.\n"
                 f"[db]\nurl = {_toml_string(without_password(url))}\n")
    from gateway.fsutil import atomic_output

    with atomic_output(path) as out:
        out.write(((text.rstrip("\n") + "\n\n") if text.strip() else "").encode("utf-8") + block.encode("utf-8"))
    return True


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
