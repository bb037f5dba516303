"""The verifier's trust policy: the only place the auditor's roots of trust come from.

A small TOML file the verifier holds, completed from what the city publishes (`gateway keys
publish`) and from the witnesses' own verifier keys:

```toml
format = "audit-trust-policy/1"

[log]
origin = "kurume.example.jp/gateway"                       # the checkpoints' first line
keys = ["kurume.example.jp/gateway+1a2b3c4d+AX...="]      # the city's C2SP verifier key(s), type 0x01

[witnesses]
quorum = 1                                                 # cosignatures the latest checkpoint must carry
keys = ["council.kurume.example.jp/witness+5e6f7a8b+BA...="]  # type 0x04 (tlog-cosignature/v1) keys
```

Read strictly: an unknown table or key, a wrong type, a key that does not parse or a quorum larger
than the witnesses listed is refused, because a policy that says less than its reader thinks is
worse than none. Nothing in a bundle ever adds to it.
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.note import SIG_COSIGNATURE_V1, SIG_ED25519, NoteError, VerifierKey, parse_verifier_key

FORMAT = "audit-trust-policy/1"
MAX_POLICY = 64 << 10
MAX_KEYS = 64


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str                      # of the file, so a report can say exactly which policy it rests on
    origin: str
    log_keys: tuple[VerifierKey, ...]
    witnesses: tuple[VerifierKey, ...]
    quorum: int

    @property
    def log_public_keys(self) -> list[bytes]:
        return [k.public for k in self.log_keys]

    def summary(self) -> str:
        witnesses = ", ".join(w.name for w in self.witnesses) or "none"
        return (f"policy {self.path} (sha256 {self.sha256[:16]}): log {self.origin}, "
                f"{len(self.log_keys)} log key(s), witnesses {witnesses}, quorum {self.quorum}")

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "origin": self.origin,
                "log_keys": [str(k) for k in self.log_keys], "witnesses": [str(w) for w in self.witnesses],
                "quorum": self.quorum}


def load(path: Path) -> Policy:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_POLICY + 1)
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_POLICY:
        raise PolicyError(f"{path} is larger than {MAX_POLICY} bytes")
    return parse(data, str(path))


def parse(data: bytes, path: str = "<policy>") -> Policy:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path} is not UTF-8 TOML: {exc}") from None
    _only(doc, {"format", "log", "witnesses"}, "the policy")
    if doc.get("format") != FORMAT:
        raise PolicyError(f"format must be {FORMAT!r}")
    log = _table(doc, "log")
    _only(log, {"origin", "keys"}, "[log]")
    origin = log.get("origin")
    if type(origin) is not str or not origin or "\n" in origin:
        raise PolicyError("[log] origin must be the non-empty first line of the log's checkpoints")
    log_keys = _keys(log, "[log]", SIG_ED25519)
    if not log_keys:
        raise PolicyError("[log] keys must name at least one of the city's verifier keys")
    for key in log_keys:
        if key.name != origin:
            raise PolicyError(f"[log] key {key.name}+{key.key_id:08x} is not named after the origin {origin!r}")
    witnesses = _table(doc, "witnesses")
    _only(witnesses, {"quorum", "keys"}, "[witnesses]")
    witness_keys = _keys(witnesses, "[witnesses]", SIG_COSIGNATURE_V1)
    if len({k.name for k in witness_keys}) != len(witness_keys):
        raise PolicyError("[witnesses] two keys share a name: a quorum counts distinct witnesses")
    if {k.public for k in witness_keys} & {k.public for k in log_keys}:
        raise PolicyError("a witness key is also a log key: a witness must be another party")
    quorum = witnesses.get("quorum")
    if type(quorum) is not int or not 0 <= quorum <= len(witness_keys):
        raise PolicyError(f"[witnesses] quorum must be an integer from 0 to the {len(witness_keys)} keys listed")
    return Policy(path, hashlib.sha256(data).hexdigest(), origin, tuple(log_keys), tuple(witness_keys), quorum)


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if type(value) is not dict:
        raise PolicyError(f"[{name}] is missing")
    return value


def _keys(table: dict[str, Any], where: str, sig_type: int) -> list[VerifierKey]:
    values = table.get("keys")
    if type(values) is not list or not all(type(v) is str for v in values) or len(values) > MAX_KEYS:
        raise PolicyError(f"{where} keys must be a list of at most {MAX_KEYS} verifier key strings")
    keys: list[VerifierKey] = []
    for value in values:
        try:
            key = parse_verifier_key(value)
        except NoteError as exc:
            raise PolicyError(f"{where} key {value[:60]!r}: {exc}") from None
        if key.type != sig_type:
            raise PolicyError(f"{where} key {key.name}+{key.key_id:08x} is type 0x{key.type:02x}, "
                              f"expected 0x{sig_type:02x}")
        if any(k.public == key.public for k in keys):
            raise PolicyError(f"{where} lists the key {key.name}+{key.key_id:08x} twice")
        keys.append(key)
    return keys
