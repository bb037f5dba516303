"""One directory login: bind as the person over TLS, then read their groups with their own rights.

The client is python-ldap, i.e. OpenLDAP's own libldap, the library `ldapsearch` uses and that has
been kept up for decades (python-ldap's releases follow CPython's; ldap3, the pure-Python
alternative, has had no release since 2021). It needs libldap's headers to build, which
`scripts/install-system-packages` installs, and it is an optional extra (`lgwan-gateway[directory]`):
an installation whose accounts are all local never loads it.

Nothing here decides who may log in: the answer says what the directory said, and the portal's
login (channels/lgwan_asp/auth.py) turns it into a login or a logged refusal.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.directory.config import DirectoryConfig, normalise_dn


@dataclass(frozen=True)
class Answer:
    """What the directory said about one login attempt."""

    outcome: str  # "ok" | "rejected" (the person's credentials) | "unavailable" (the directory or its TLS)
    detail: str  # for the log: which check failed; never the password
    dn: str = ""
    roles: tuple[str, ...] = ()  # the gateway roles the person's groups map to (ok only)


def authenticate(config: DirectoryConfig, login: str, password: str) -> Answer:
    """Bind as `login` with `password` over LDAPS or StartTLS and map the person's groups."""
    if not password:
        # An empty password is an "unauthenticated bind" (RFC 4513, 5.1.2) that many servers
        # answer with success: it must never reach the directory as a login.
        return Answer("rejected", "empty password (an unauthenticated bind is never tried)")
    try:
        import ldap
        from ldap.dn import escape_dn_chars
        from ldap.filter import escape_filter_chars
    except ImportError:
        return Answer("unavailable", "python-ldap is not installed (pip install 'lgwan-gateway[directory]')")
    dn = config.bind_dn.replace("{login}", escape_dn_chars(login))
    try:
        with _session(ldap, config) as conn:
            conn.simple_bind_s(dn, password)
            if config.user_filter:
                found = conn.search_s(config.user_base, ldap.SCOPE_SUBTREE,
                                      config.user_filter.replace("{login}", escape_filter_chars(login)), ["1.1"])
                entries = [entry_dn for entry_dn, _ in found if entry_dn]
                if len(entries) != 1:
                    return Answer("rejected", f"bound, but user_filter found {len(entries)} entries for the login")
                dn = entries[0]
            found = conn.search_s(config.group_base, ldap.SCOPE_SUBTREE,
                                  config.group_filter.replace("{dn}", escape_filter_chars(dn))
                                  .replace("{login}", escape_filter_chars(login)), ["1.1"])
            groups = [normalise_dn(group_dn) for group_dn, _ in found if group_dn]
    except ldap.INVALID_CREDENTIALS:
        # Also what OpenLDAP's ppolicy and Active Directory answer for a locked or disabled account.
        return Answer("rejected", "the directory refused the credentials (wrong password, or account disabled)")
    except _Unavailable as outage:
        return outage.answer
    roles = tuple(sorted({config.groups[g] for g in groups if g in config.groups}))
    if not roles:
        return Answer("rejected", f"bound as {dn}, but in no group mapped to a role ({len(groups)} groups)", dn)
    return Answer("ok", f"directory {config.url}: {dn} in {', '.join(g for g in groups if g in config.groups)}",
                  dn, roles)


def probe(config: DirectoryConfig) -> Answer:
    """Whether the directory answers over TLS with a certificate `cafile` trusts (`gateway doctor`):
    an anonymous "Who am I?" (RFC 4532) after the handshake; no password is sent."""
    try:
        import ldap
    except ImportError:
        return Answer("unavailable", "python-ldap is not installed (pip install 'lgwan-gateway[directory]')")
    try:
        with _session(ldap, config) as conn:
            conn.whoami_s()
    except _Unavailable as outage:
        return outage.answer
    return Answer("ok", f"{config.url}: TLS {'(StartTLS)' if config.starttls else '(LDAPS)'} with a trusted certificate")


class _Unavailable(Exception):
    """The directory, or the TLS to it, failed: not a verdict on the person."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.detail)
        self.answer = answer


@contextmanager
def _session(ldap: Any, config: DirectoryConfig) -> Iterator[Any]:
    """A connection that is always unbound, with every outage told as `_Unavailable`; a refused
    bind (INVALID_CREDENTIALS) passes through, as only the caller knows what it means."""
    conn: Any = None
    try:
        conn = _connect(ldap, config)
        yield conn
    except ldap.INVALID_CREDENTIALS:
        raise
    except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT) as err:
        # libldap says "Can't contact LDAP server" for a closed port and for a certificate it
        # rejects alike; whether the port answers tells the administrator which of the two it is.
        if _port_answers(config):
            raise _Unavailable(Answer("unavailable", f"directory {config.url} answered, but TLS failed (its "
                                      f"certificate is not trusted by cafile, or StartTLS was refused): {_info(err)}")) from err
        raise _Unavailable(Answer("unavailable", f"directory {config.url} unreachable: {_info(err)}")) from err
    except ldap.LDAPError as err:
        raise _Unavailable(Answer("unavailable", f"directory {config.url} answered {type(err).__name__}: {_info(err)}")) from err
    finally:
        if conn is not None:
            try:
                conn.unbind_s()
            except ldap.LDAPError:
                pass


def _connect(ldap: Any, config: DirectoryConfig) -> Any:
    conn = ldap.initialize(config.url, bytes_mode=False)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
    conn.set_option(ldap.OPT_REFERRALS, 0)  # a referral would take the password to another server
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, config.timeout_seconds)
    conn.set_option(ldap.OPT_TIMEOUT, config.timeout_seconds)
    conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    conn.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, ldap.OPT_X_TLS_PROTOCOL_TLS1_2)
    if config.cafile:
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, config.cafile)
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: builds the TLS context from the options above
    if config.starttls:
        conn.start_tls_s()
    return conn


def _port_answers(config: DirectoryConfig) -> bool:
    parsed = urlsplit(config.url)
    try:
        port = parsed.port or (389 if config.starttls else 636)
        with socket.create_connection((parsed.hostname or "", port), timeout=config.timeout_seconds):
            return True
    except (OSError, ValueError):
        return False


def _info(err: Exception) -> str:
    """python-ldap's own words (`desc`, `info`): the server and the TLS library's reason, no secret."""
    args = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
    text = "; ".join(str(args[k]) for k in ("desc", "info") if args.get(k))
    return (text or type(err).__name__)[:300]
