"""`[mail]` in `$GATEWAY_HOME/gateway.toml`: the SMTP relay and the role mailboxes.

```toml
[mail]
host = "smtp.city.kurume.lg.jp"
port = 587
starttls = true                         # required unless the relay is on this machine
cafile = "/etc/gateway/smtp-ca.pem"     # else the system's trust store
sender = "gateway@city.kurume.lg.jp"
username = "gateway"                    # optional; the password from password_env, never here
password_env = "GATEWAY_SMTP_PASSWORD"
interval_seconds = 300

[mail.to]                               # "<organisation>.<role>" -> mailboxes
"kurume.staff" = ["kikaku@city.kurume.lg.jp"]
"kurume.security-officer" = ["joho-security@city.kurume.lg.jp"]
"chikugo-print.contractor" = ["lgwan-desk@chikugo-print.example.jp"]
```

Role mailboxes, not people: a mail names no person and a mailbox outlives a transfer of staff.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.core import tomlfile
from gateway.errors import Invalid

CONFIG_FILE = "gateway.toml"
ROLES = ("staff", "contractor", "security-officer", "admin")


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int = 587
    starttls: bool = True
    cafile: str | None = None
    sender: str = "gateway@localhost"
    username: str | None = None
    password_env: str | None = None
    interval_seconds: int = 300
    to: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def mailboxes(self, organisation: str, role: str) -> tuple[str, ...]:
        return self.to.get(f"{organisation}.{role}", ())


def load(home_root: Path) -> MailConfig | None:
    """The mail configuration, or None when the home sends no mail."""
    path = home_root / CONFIG_FILE
    if not path.exists():
        return None
    doc = tomlfile.parse(tomlfile.read_text(path), path)
    if "mail" not in doc:
        return None
    table = tomlfile.Table(doc["mail"], "mail", path)
    if "password" in doc["mail"]:
        raise Invalid(f"{path}: [mail] にパスワードを書かないでください。password_env で環境変数名を指定してください。",
                      f"{path}: never write the password in [mail]; name an environment variable with password_env.")
    host = table.text("host")
    assert host is not None
    to: dict[str, tuple[str, ...]] = {}
    recipients = table.table("to", required=False)
    if recipients is not None:
        for key in [str(k) for k in recipients.rest()]:
            org, _, role = key.rpartition(".")
            if not org or role not in ROLES:
                raise Invalid(f"{path}: [mail.to] のキー {key!r} は「組織.役割」で書いてください（役割: {', '.join(ROLES)}）。",
                              f"{path}: [mail.to] key {key!r} must be \"<organisation>.<role>\" (roles: {', '.join(ROLES)}).")
            value = doc["mail"]["to"][key]
            boxes = (value,) if isinstance(value, str) else tuple(value)
            if not boxes or not all(isinstance(b, str) and "@" in b and "\n" not in b and "\r" not in b for b in boxes):
                raise Invalid(f"{path}: [mail.to] {key} にはメールアドレスを書いてください。",
                              f"{path}: [mail.to] {key} must list e-mail addresses.")
            to[key] = boxes
    config = MailConfig(
        host=host,
        port=table.integer("port", required=False) or 587,
        starttls=table.flag("starttls", default=True),
        cafile=table.text("cafile", required=False),
        sender=table.text("sender", required=False) or "gateway@localhost",
        username=table.text("username", required=False),
        password_env=table.text("password_env", required=False),
        interval_seconds=table.integer("interval_seconds", required=False, minimum=1) or 300,
        to=to,
    )
    table.done()
    return config
