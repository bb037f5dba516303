"""`[directory]` in `$GATEWAY_HOME/gateway.toml`: where city staff and officers log in.

```toml
[directory]
url = "ldaps://dc1.city.kurume.lg.jp"          # ldaps://, or ldap:// which always runs StartTLS first
cafile = "/etc/gateway/directory-ca.pem"       # the directory's CA; else the system's trust store
organisation = "kurume"                        # the city whose accounts the directory holds
bind_dn = "uid={login},ou=people,dc=city,dc=kurume,dc=lg,dc=jp"   # AD: "{login}@city.kurume.local"
user_base = ""                                 # with user_filter: find the entry after the bind (AD)
user_filter = ""                               #   e.g. "(sAMAccountName={login})"
group_base = "ou=groups,dc=city,dc=kurume,dc=lg,dc=jp"
group_filter = "(member={dn})"                 # AD nested groups: "(member:1.2.840.113556.1.4.1941:={dn})"
timeout_seconds = 5

[directory.groups]                             # group DN -> the gateway's role
"cn=gateway-staff,ou=groups,dc=city,dc=kurume,dc=lg,dc=jp" = "staff"
"cn=gateway-officers,ou=groups,dc=city,dc=kurume,dc=lg,dc=jp" = "security-officer"
```

There is no setting for a plain connection: a password never crosses the network in clear, so
`ldap://` means StartTLS, always, and the certificate is always verified. There is no service
account either: the gateway binds as the person logging in and reads their groups with their own
rights, so it holds no directory password of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.core import tomlfile
from gateway.errors import Invalid

CONFIG_FILE = "gateway.toml"
# Contractors are never in the city's directory: their accounts stay local (issue 22, item 4). No
# group maps to the administrator either: the installation's administrator (the /admin pages, the
# console as a named operator) may serve several cities, and one city's directory must not be able
# to make someone administrator of all of them by adding them to a group.
ROLES = ("staff", "security-officer")


@dataclass(frozen=True)
class DirectoryConfig:
    url: str
    organisation: str
    bind_dn: str
    group_base: str
    cafile: str | None = None
    user_base: str = ""
    user_filter: str = ""
    group_filter: str = "(member={dn})"
    timeout_seconds: int = 5
    groups: dict[str, str] = field(default_factory=dict)  # normalised group DN -> role

    @property
    def starttls(self) -> bool:
        return self.url.lower().startswith("ldap://")

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "organisation": self.organisation, "bind_dn": self.bind_dn,
                "cafile": self.cafile, "starttls": self.starttls, "user_base": self.user_base,
                "user_filter": self.user_filter, "group_base": self.group_base, "group_filter": self.group_filter,
                "timeout_seconds": self.timeout_seconds, "groups": dict(self.groups)}


def normalise_dn(dn: str) -> str:
    """A DN as compared with the mapping: case and the spaces around separators do not matter
    (the directory may answer `CN=Staff, OU=Groups` for what the file calls `cn=staff,ou=groups`)."""
    return ",".join("=".join(part.strip() for part in rdn.split("=", 1)) for rdn in dn.split(",")).lower()


def load(home_root: Path) -> DirectoryConfig | None:
    """The directory login configuration, or None when every account is local."""
    path = home_root / CONFIG_FILE
    if not path.exists():
        return None
    doc = tomlfile.parse(tomlfile.read_text(path), path)
    if "directory" not in doc:
        return None
    if isinstance(doc["directory"], dict) and any("password" in str(k) for k in doc["directory"]):
        raise Invalid(f"{path}: [directory] にパスワードを書かないでください。ゲートウェイは利用者本人として接続します。",
                      f"{path}: no password belongs in [directory]: the gateway binds as the person logging in.")
    table = tomlfile.Table(doc["directory"], "directory", path)
    url = table.text("url")
    assert url is not None
    if not url.lower().startswith(("ldaps://", "ldap://")) or " " in url:
        raise Invalid(f"{path}: [directory] url は ldaps://ホスト名 または ldap://ホスト名（StartTLS）で書いてください。",
                      f"{path}: [directory] url must be ldaps://HOST or ldap://HOST (always with StartTLS).")
    if table.raw("starttls") is False:
        raise Invalid(f"{path}: [directory] starttls = false は使えません。平文の接続ではパスワードが読まれます。",
                      f"{path}: [directory] starttls = false is not allowed: a plain connection exposes passwords.")
    bind_dn = table.text("bind_dn")
    assert bind_dn is not None
    if "{login}" not in bind_dn:
        raise Invalid(f"{path}: [directory] bind_dn には {{login}} を含めてください（例 uid={{login}},ou=people,...）。",
                      f"{path}: [directory] bind_dn must contain {{login}} (e.g. uid={{login}},ou=people,...).")
    user_base = table.text("user_base", required=False) or ""
    user_filter = table.text("user_filter", required=False) or ""
    if bool(user_base) != bool(user_filter):
        raise Invalid(f"{path}: [directory] user_base と user_filter は両方書くか、両方省いてください。",
                      f"{path}: [directory] give both user_base and user_filter, or neither.")
    groups_table = table.table("groups")
    assert groups_table is not None
    groups: dict[str, str] = {}
    for dn, role in groups_table.rest().items():
        if role not in ROLES:
            raise Invalid(f"{path}: [directory.groups] {dn!r} の役割 {role!r} は使えません（使える役割: {', '.join(ROLES)}）。",
                          f"{path}: [directory.groups] {dn!r} maps to {role!r}; use one of {', '.join(ROLES)}.")
        groups[normalise_dn(str(dn))] = role
    if not groups:
        raise Invalid(f"{path}: [directory.groups] にグループと役割の対応を 1 つ以上書いてください。",
                      f"{path}: [directory.groups] must map at least one group to a role.")
    config = DirectoryConfig(
        url=url,
        organisation=table.text("organisation") or "",
        bind_dn=bind_dn,
        group_base=table.text("group_base") or "",
        cafile=table.text("cafile", required=False),
        user_base=user_base,
        user_filter=user_filter,
        group_filter=table.text("group_filter", required=False) or "(member={dn})",
        timeout_seconds=table.integer("timeout_seconds", required=False, minimum=1, maximum=120) or 5,
        groups=groups,
    )
    table.flag("starttls")  # read above; only the default (true) is accepted
    table.done()
    return config
