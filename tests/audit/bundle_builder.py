"""An independent writer of evidence bundles, from audit/FORMAT.md alone.

It shares nothing with the gateway: the auditor's tests must not pass because both sides share a
bug. It reuses only `audit.jcs` for canonical JSON (itself tested against RFC 8785 vectors).

`build_bundle(dir, faults=...)` writes a realistic bundle for the flows of up to three
approvals: staff log in, send under an approval (transfer evidence), dispatch the password notice,
the contractor downloads and confirms receipt, the gateway erases its copy, the city requests
deletion and the contractor certifies erasure; a relay to the subcontractor by security courier
and a courier CD-R hand-over with custody records; a refused attempt; checkpoints every N entries
and a final one at export; a signed MANIFEST. Each `faults` kind makes the flow commit exactly
that after-the-fact fault.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit import checkpoint as c2sp
from audit.cosignature import Cosigner
from audit.jcs import canonical
from audit.note import Ed25519Signer, generate_key
from audit.note import sign as sign_note
from audit.tlog import CompactTree

ZERO = "0" * 64
UTC = UTC
JST = timezone(timedelta(hours=9))


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jst(y: int, mo: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=JST)


@dataclass
class Signer:
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @property
    def raw(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def signature(self, body: dict[str, Any]) -> dict[str, str]:
        sig = self.private.sign(canonical(body))
        return {"alg": "Ed25519", "key_id": self.id, "value": base64.b64encode(sig).decode("ascii")}

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in document.items() if k != "signature"}
        return {**body, "signature": self.signature(body)}


def leaf_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + canonical(entry)).hexdigest()


def node_hash(structure: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x01" + canonical(structure)).hexdigest()


def merkle_tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, recursively, over leaves that are already leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_tree_hash(leaves[:k]) + merkle_tree_hash(leaves[k:])).digest()


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in document.items() if k != "signature"})).hexdigest()


def actor(user: str | None = None, org: str | None = None, role: str | None = None,
          terminal: str | None = None, ssh_key: str | None = None) -> dict[str, str | None]:
    return {"user": user, "org": org, "role": role, "terminal": terminal, "ssh_key": ssh_key}


SYSTEM = actor(role="system")


ORIGIN = "kurume.example.jp/gateway"


def trust_path(bundle: Path) -> Path:
    """Where the builder leaves the trust policy a verifier of `bundle` would hold (beside it)."""
    return bundle.parent / f"{bundle.name}.trust.toml"


def policy_toml(origin: str, log_keys: Iterable[str], witnesses: Iterable[str], quorum: int) -> str:
    q = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"  # noqa: E731
    return (f'format = "audit-trust-policy/1"\n\n[log]\norigin = "{origin}"\nkeys = {q(log_keys)}\n\n'
            f"[witnesses]\nquorum = {quorum}\nkeys = {q(witnesses)}\n")


@dataclass
class Builder:
    installation: str = "kurume-gw-01"
    checkpoint_every: int = 10
    seed: int = 1
    genesis: Signer = field(default_factory=Signer.generate)
    # Format 2 (FORMAT.md): C2SP checkpoints in checkpoints/<size>.note, cosigned by `witnesses`.
    format: int = 1
    origin: str = ORIGIN
    witnesses: list[Cosigner] = field(default_factory=list)
    quorum: int = 0
    witnessed_until: int | None = None  # witnesses cosign no checkpoint beyond this size (they were down)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.current = self.genesis
        self.keys: dict[str, str] = {self.genesis.id: self.genesis.public_b64}
        self.rotations: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.hashes: list[str] = []
        self.last_at: datetime | None = None
        self.checkpoints: list[dict[str, Any]] = []
        self.documents: dict[str, dict[str, Any]] = {}
        self.approvals: dict[str, str] = {}
        self.profiles: dict[str, str] = {}
        self.last_checkpoint_size = 0
        self.last_checkpoint_hash: str | None = None
        self.pruned = 0  # entries 1..pruned were removed under the statements below
        self.statements: list[dict[str, Any]] = []
        self.notes: dict[int, bytes] = {}  # format 2: size -> signed note with cosignatures

    def note_signer(self, signer: Signer | None = None) -> Ed25519Signer:
        """The gateway's evidence key as a C2SP note key named after the log's origin."""
        return Ed25519Signer(self.origin, (signer or self.current).private)

    def vkey(self, signer: Signer | None = None) -> str:
        return str(self.note_signer(signer or self.genesis).verifier)

    def tree_root(self, size: int) -> bytes:
        tree = CompactTree()
        for h in self.hashes[:size]:
            tree.append(bytes.fromhex(h))
        return tree.root()

    def note(self, size: int, at: datetime, *, cosign: bool = True) -> bytes:
        text = c2sp.checkpoint(self.origin, size, self.tree_root(size)).text()
        signed = sign_note(text, [self.note_signer()])
        if cosign and (self.witnessed_until is None or size <= self.witnessed_until):
            stamp = int(at.timestamp())
            signed += "".join(w.cosign(text, stamp).line() + "\n" for w in self.witnesses).encode()
        return signed

    # -- keys ---------------------------------------------------------------------------------

    def rotate(self, at: datetime) -> Signer:
        new = Signer.generate()
        statement = {"type": "key-rotation", "old_key_id": self.current.id,
                     "old_public_key": self.current.public_b64, "new_key_id": new.id,
                     "new_public_key": new.public_b64, "at": ts(at)}
        self.rotations.append({**statement, "signature": self.current.signature(statement),
                               "countersignature": new.signature(statement)})
        self.keys[new.id] = new.public_b64
        self.current = new
        return new

    # -- log ----------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.getrandbits(80):020x}"

    def record(self, action: str, at: datetime, *, channel: str = "system", who: dict[str, Any] = SYSTEM,
               source: str | None = None, approval: str | None = None, transfer: str | None = None,
               blob: str | None = None, outcome: str = "ok", kinds: Iterable[str] = (),
               reason: str | None = None, evidence_type: str | None = None,
               evidence: dict[str, Any] | None = None, signer: Signer | None = None,
               evidence_ref: dict[str, Any] | None = None) -> dict[str, Any] | None:
        seq = len(self.entries) + 1
        document = None
        ref = evidence_ref
        if evidence_type is not None:
            document = (signer or self.current).sign({
                **(evidence or {}), "type": evidence_type, "id": self.new_id(evidence_type),
                "approval": approval, "log_seq": seq, "issued_at": ts(at),
            })
            ref = {"id": document["id"], "sha256": document_hash(document)}
            self.documents[document["id"]] = document
        # Entries are appended in the order the builder is told, and like the gateway's their times
        # never go back (FORMAT.md): one told an earlier time than the last is written at the last.
        # Documents keep the times they were given, which are what the findings read.
        self.last_at = at if self.last_at is None or at > self.last_at else self.last_at
        entry = {"seq": seq, "at": ts(self.last_at), "actor": who, "source": source, "channel": channel,
                 "action": action,
                 "object": {"approval": approval, "transfer": transfer, "blob_sha256": blob},
                 "outcome": outcome, "kinds": list(kinds), "reason": reason, "evidence": ref,
                 "prev": self.hashes[-1] if self.hashes else ZERO}
        self.entries.append(entry)
        self.hashes.append(leaf_hash(entry))
        if seq - self.last_checkpoint_size >= self.checkpoint_every:
            self.checkpoint(at)
        return document

    def checkpoint(self, at: datetime) -> None:
        size = len(self.entries)
        if size == self.last_checkpoint_size:
            return
        if self.format == 2:
            self.notes[size] = self.note(size, at)
            self.last_checkpoint_size = size
            return
        cp = self.current.sign({"type": "checkpoint", "installation": self.installation, "size": size,
                                "head": self.hashes[-1], "prev": self.last_checkpoint_hash, "at": ts(at)})
        self.checkpoints.append(cp)
        self.last_checkpoint_size, self.last_checkpoint_hash = size, node_hash(cp)

    # -- pruning (FORMAT.md, log/prunings.jsonl) ------------------------------------------------

    def prune(self, cut: int, at: datetime, *, signer: Signer | None = None, statement: bool = True,
              bind: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Remove entries up to the checkpoint at `cut` with a signed statement and its `log.prune`
        entry. `statement=False` removes them without one (what an attacker would do); `signer`
        signs the statement with another key; `bind` overrides what the log entry records."""
        if self.format == 2:
            assert cut in self.notes, f"no checkpoint of size {cut} to prune at"
            checkpoint: Any = self.note(cut, at, cosign=False).decode("utf-8")
            self.notes = {size: n for size, n in self.notes.items() if size > cut}
            tree = CompactTree()
            for h in self.hashes[:cut]:
                tree.append(bytes.fromhex(h))
            frontier: list[str] | None = [f.hex() for f in tree.frontier]
        else:
            checkpoint = next(cp for cp in self.checkpoints if cp["size"] == cut)
            frontier = None
        first = self.pruned + 1
        removed = self.entries[first - 1:cut]
        gone_docs = [d for d in self.documents.values() if d["log_seq"] <= cut]
        for d in gone_docs:
            del self.documents[d["id"]]
        gone_cps = [cp for cp in self.checkpoints if cp["size"] <= cut]
        self.checkpoints = [cp for cp in self.checkpoints if cp["size"] > cut]
        self.pruned = cut
        if not statement:
            return None
        by_action: dict[str, int] = {}
        for e in removed:
            by_action[e["action"]] = by_action.get(e["action"], 0) + 1
        body = {
            "type": "log-pruning", "id": self.new_id("log-pruning"), "installation": self.installation,
            "log_seq": len(self.entries) + 1, "issued_at": ts(at),
            "range": {"first": first, "last": cut},
            "first_prev": self.hashes[first - 2] if first > 1 else ZERO,
            "head": self.hashes[cut - 1],
            "tree_hash": merkle_tree_hash([bytes.fromhex(h) for h in self.hashes[first - 1:cut]]).hex(),
            "checkpoint": checkpoint,
            **({"frontier": frontier} if frontier is not None else {}),
            "prev": node_hash(self.statements[-1]) if self.statements else None,
            "removed": {"entries": len(removed), "by_action": by_action, "checkpoints": len(gone_cps),
                        "evidence_documents": len(gone_docs)},
            "retention": {"log_years": 10, "rule": "closed-cases/1"},
            "process": {"program": "bundle_builder"},
        }
        signed = (signer or self.current).sign(body)
        self.statements.append(signed)
        self.record("log.prune", at, channel="cli",
                    evidence_ref=bind or {"id": signed["id"], "sha256": document_hash(signed)})
        return signed

    # -- writing ------------------------------------------------------------------------------

    def write(self, out: Path, *, created_at: datetime, scope: str | None = None) -> Path:
        """Export as the gateway does: log the export, checkpoint, then write and sign the files."""
        self.record("evidence.export", created_at, channel="cli", who=actor("auditor", "kurume", "security"),
                    approval=scope)
        self.checkpoint(created_at)
        out.mkdir(parents=True, exist_ok=False)
        files: dict[str, bytes] = {}
        for approval_id, text in self.approvals.items():
            if scope is None or approval_id == scope:
                files[f"approvals/{approval_id}.toml"] = text.encode("utf-8")
        for profile_id, text in self.profiles.items():
            files[f"profiles/{profile_id}.toml"] = text.encode("utf-8")
        lines = []
        for entry, entry_hash in zip(self.entries[self.pruned:], self.hashes[self.pruned:]):
            if scope is None or entry["object"]["approval"] == scope:
                lines.append(canonical(entry))
            else:
                lines.append(canonical({"seq": entry["seq"], "redacted": True, "hash": entry_hash}))
        files["log/entries.jsonl"] = b"".join(line + b"\n" for line in lines)
        if self.format == 2:
            for size, note in self.notes.items():
                files[f"checkpoints/{size}.note"] = note
        else:
            files["log/checkpoints.jsonl"] = b"".join(canonical(cp) + b"\n" for cp in self.checkpoints)
        if self.statements:
            files["log/prunings.jsonl"] = b"".join(canonical(st) + b"\n" for st in self.statements)
        for doc_id, doc in self.documents.items():
            if scope is None or doc["approval"] == scope:
                files[f"evidence/{doc_id}.json"] = canonical(doc)
        files["keys.json"] = canonical({"format": "gateway-keys/1", "genesis": self.genesis.id,
                                        "keys": self.keys, "rotations": self.rotations})
        for path, data in files.items():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_bytes(data)
        manifest = {
            "format": f"gateway-evidence-bundle/{self.format}", "installation": self.installation,
            "created_at": ts(created_at), "scope": {"approval": scope},
            "log": {"size": len(self.entries), "head": self.hashes[-1]},
            "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                      for p, d in sorted(files.items())],
        }
        (out / "MANIFEST.json").write_bytes(canonical(self.current.sign(manifest)))
        trust_path(out).write_text(policy_toml(self.origin, [self.vkey()], [str(w.verifier) for w in self.witnesses],
                                               self.quorum), encoding="utf-8")
        return out


# -- approvals and profiles (TOML as registered; see simulations/approvals/README.md) ------------

def approval_toml(approval_id: str, *, decision: str = "approved", start: str = "2020-05-15",
                  end: str = "2020-08-31", profiles: Iterable[str] = ("lgwan-asp", "subcontract-courier"),
                  recipient: str = "chikugo-print", subcontractor: str | None = "ariake-fuunyu",
                  city: str = "kurume", title: str = "特別定額給付金の申請書送付業務の委託に伴う外部結合") -> str:
    sub = "" if subcontractor is None else f'''
[[recipients.subcontractors]]
id = "{subcontractor}"
name = "有明封入封緘株式会社"
certifications = ["iso27001"]

[[recipients.subcontractors.handlers]]
login = "y.hirano"
name = "平野 祐介"
role = "responsible"
'''
    profile_list = ", ".join(f'"{p}"' for p in profiles)
    return f'''# Written by tests/audit/bundle_builder.py: a plausible council approval (諮問 → 答申).
id = "{approval_id}"
case_number = "2総政第158号"
title = "{title}"
department = "総務部"
legal_basis = ["online-link", "outsourcing"]

[city]
id = "{city}"
name = "久留米市"

[council]
session = "令和2年度第3回（書面決議）"
date = 2020-05-07
decision = "{decision}"

[data]
fields = ["name", "birth_date", "address", "postal_code"]
population = "基準日において住民基本台帳に記録されている支給対象者"
max_records = 310000

[[data.excluded]]
population = "dv-evacuee"
handling = "remove"

[transfer]
profiles = [{profile_list}]

[period]
start = {start}
end = {end}

[retention]
gateway_days = 7
contractor_deletion_days = 30

[[recipients]]
id = "{recipient}"
name = "筑後セキュアプリント株式会社"
certifications = ["privacy-mark", "iso27001", "lgwan-asp"]
required_certifications = ["privacy-mark"]

[[recipients.handlers]]
login = "k.tanaka"
name = "田中 和也"
role = "responsible"

[[recipients.handlers]]
login = "m.mori"
name = "森 美咲"
role = "handler"
{sub}
[[conditions]]
text = "ゲートウェイ上のデータは 7 日以内に消去すること"
rule = "gateway-retention-max-days"
value = 7

[[conditions]]
text = "パスワードは手渡し又は簡易書留で通知すること"
rule = "password-delivery"
value = ["hand", "registered-mail"]
'''


PROFILES = {
    "lgwan-asp": ("lgwan-asp", 72, 14),
    "vpn-sftp": ("vpn-sftp", 48, 7),
    "courier-cdr": ("courier", 24, 7),
    "subcontract-courier": ("courier", 48, 7),
}


def profile_toml(profile_id: str) -> str:
    channel, receipt_hours, retention_days = PROFILES[profile_id]
    return (f'id = "{profile_id}"\ntitle = "{profile_id}"\nchannel = "{channel}"\n'
            f'receipt_window_hours = {receipt_hours}\ngateway_retention_days = {retention_days}\n')


# -- the flows ------------------------------------------------------------------------------------

STAFF = actor("s.yamada", "kurume", "staff", terminal="a1" * 32)
STAFF2 = actor("h.inoue", "kurume", "staff", terminal="a2" * 32)
PRINTER = actor("k.tanaka", "chikugo-print", "contractor", ssh_key="SHA256:" + "Q" * 43)
PRINTER2 = actor("m.mori", "chikugo-print", "contractor")
SUB = actor("y.hirano", "ariake-fuunyu", "subcontractor")
AFTER_THE_FACT = ("receipt-mismatch", "receipt-missing", "deletion-overdue", "gateway-retention-overrun",
                  "media-not-returned", "custody-gap", "unapproved-transfer", "log-tampered", "evidence-forged")
CREATED_AT = jst(2021, 3, 31, 17)


def _party(a: dict[str, Any]) -> dict[str, Any]:
    return {"person": a["user"], "org": a["org"]}


class Flow:
    def __init__(self, b: Builder, faults: set[str]) -> None:
        self.b, self.faults = b, faults

    def send(self, approval: str, profile: str, sent: datetime, *, sender: dict[str, Any], recipient: str,
             records: int, parent: str | None = None, deletion_due: datetime,
             fault_target: bool = False) -> tuple[str, dict[str, Any]]:
        b = self.b
        channel, receipt_hours, retention_days = PROFILES[profile]
        transfer = b.new_id("t")
        plain = hashlib.sha256(f"{transfer}-plain".encode()).hexdigest()
        package = hashlib.sha256(f"{transfer}-package".encode()).hexdigest()
        doc = b.record("transfer.send", sent, channel=channel, who=sender, source="10.20.0.15", approval=approval,
                       transfer=transfer, blob=package, evidence_type="transfer", evidence={
                           "transfer": transfer, "profile": profile, "channel": channel,
                           "sender": {"user": sender["user"], "org": sender["org"]}, "recipient": {"org": recipient},
                           "parent_transfer": parent,
                           "manifest": {"record_count": records, "columns": ["name", "birth_date", "address", "postal_code"],
                                        "sha256": plain, "size_bytes": records * 187, "removed": {"dv-evacuee": 3}},
                           "package_sha256": package, "sent_at": ts(sent),
                           "receipt_due": ts(sent + timedelta(hours=receipt_hours)),
                           "gateway_erase_due": ts(sent + timedelta(days=retention_days)),
                           "contractor_deletion_due": ts(deletion_due)})
        assert doc is not None
        return transfer, doc

    def lifecycle(self, approval: str, transfer: str, doc: dict[str, Any], *, channel: str, recipient: dict[str, Any],
                  sent: datetime, fault_target: bool) -> None:
        """Everything after a send: notice, download, receipt, gateway erasure, deletion, certificate."""
        b, faults = self.b, self.faults if fault_target else set()
        m = doc["manifest"]
        b.record("notice.dispatch", sent + timedelta(hours=20), channel="cli", who=STAFF2, approval=approval,
                 transfer=transfer, evidence_type="password-notice", evidence={
                     "transfer": transfer, "notice": b.new_id("n"), "method": "registered-mail",
                     "dispatched_at": ts(sent + timedelta(hours=20)), "dispatched_by": {"user": STAFF2["user"], "org": "kurume"}})
        if channel != "courier":
            b.record("transfer.download", sent + timedelta(hours=21), channel=channel, who=recipient,
                     source="10.30.0.8", approval=approval, transfer=transfer, blob=doc["package_sha256"])
        if "receipt-missing" not in faults:
            mismatch = "receipt-mismatch" in faults
            b.record("receipt.confirm", sent + timedelta(hours=22), channel=channel if channel != "courier" else "cli",
                     who=recipient, approval=approval, transfer=transfer, evidence_type="receipt", evidence={
                         "transfer": transfer, "confirmed_by": {"user": recipient["user"], "org": recipient["org"]},
                         "record_count": m["record_count"] - (1 if mismatch else 0), "sha256": m["sha256"],
                         "matches": not mismatch})
        erased = sent + timedelta(days=20 if "gateway-retention-overrun" in faults else 3)
        b.record("gateway.erase", erased, approval=approval, transfer=transfer, blob=doc["package_sha256"],
                 evidence_type="gateway-erasure", evidence={
                     "transfer": transfer, "blob_sha256": doc["package_sha256"], "method": "overwrite-and-unlink",
                     "erased_at": ts(erased), "process": "gateway-retention", "verified_by": "system"})
        due = datetime.strptime(doc["contractor_deletion_due"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        b.record("deletion.request", due - timedelta(days=25), channel="cli", who=STAFF, approval=approval,
                 transfer=transfer, evidence_type="deletion-request", evidence={
                     "transfer": transfer, "items": ["申請書送付対象者データ"], "media": "サーバー及び作業端末",
                     "quantity": 1, "method": "専用ソフトウェアによる上書き消去", "planned_date": ts(due - timedelta(days=10)),
                     "requested_by": {"user": STAFF["user"], "org": "kurume"}})
        if "deletion-overdue" not in faults:
            b.record("erasure.certify", due - timedelta(days=8), channel=channel if channel != "courier" else "cli",
                     who=recipient, approval=approval, transfer=transfer, evidence_type="erasure-certificate", evidence={
                         "transfer": transfer, "erased_at": ts(due - timedelta(days=9)), "method": "上書き消去",
                         "technique": "NIST SP 800-88 Clear", "tool": "DataEraser 5", "verification": "読み出し確認",
                         "sanitised_by": {"person": recipient["user"], "org": recipient["org"]},
                         "verified_by": {"person": "w.shima", "org": recipient["org"]}, "place": "本社データセンター"})

    def custody(self, approval: str, transfer: str, *, item: str, kind: str, frm: dict[str, Any],
                to: dict[str, Any] | None, at: datetime, event: str, return_due: datetime | None = None) -> None:
        self.b.record("custody.record", at, channel="courier", who=STAFF, approval=approval, transfer=transfer,
                      evidence_type="custody", evidence={
                          "transfer": transfer, "item": item, "item_kind": kind, "from": _party(frm),
                          "to": _party(to) if to else None, "at": ts(at), "place": "本庁舎 3 階 受渡室", "quantity": 1,
                          "cabinet": "施錠保管庫 B" if kind == "media" else "施錠保管庫 C", "event": event,
                          "return_due": ts(return_due) if return_due else None})


def build_bundle(out: Path, *, faults: Iterable[str] = (), scope: str | None = None, rotate: bool = True,
                 checkpoint_every: int = 10, noise: int = 12, seed: int = 1,
                 genesis: Signer | None = None, refusals: bool = True, prune: Iterable[int] = (),
                 format: int = 1, witnesses: int = 0, quorum: int | None = None) -> Path:
    """A realistic bundle; each of `faults` (after-the-fact kinds) is committed exactly once.
    `prune` are checkpoint sizes up to which the log is pruned, in order, before the export.
    Format 2 writes C2SP checkpoints cosigned by `witnesses` fresh witness keys (quorum: all of
    them unless given); the `log-unwitnessed` fault makes the witnesses go down before the end."""
    faults = set(faults)
    unknown = faults - set(AFTER_THE_FACT) - {"log-unwitnessed"}
    assert not unknown, unknown
    assert "log-unwitnessed" not in faults or (format == 2 and witnesses), "log-unwitnessed needs witnesses"
    cosigners = [Cosigner.from_signer(generate_key(f"witness{n}.example.jp/w")) for n in range(witnesses)]
    b = Builder(checkpoint_every=checkpoint_every, seed=seed, format=format, witnesses=cosigners,
                quorum=len(cosigners) if quorum is None else quorum, **({"genesis": genesis} if genesis else {}))
    flow = Flow(b, faults)
    a, c = "kurume-2020-teigaku", "shinjuku-2020-nhi-cdr"
    b.approvals[a] = approval_toml(a)
    b.approvals[c] = approval_toml(c, profiles=["courier-cdr"], recipient="kanto-print", subcontractor=None,
                                   city="shinjuku", start="2020-04-01", end="2021-03-31",
                                   title="帳票作成等業務の委託に係るデータ授受")
    for p in PROFILES:
        b.profiles[p] = profile_toml(p)
    period_end = jst(2020, 8, 31, 23, 59)
    deletion_due = period_end + timedelta(days=30)

    t0 = jst(2020, 5, 18, 9)
    b.record("system.start", t0 - timedelta(days=3), channel="system")
    for n in range(noise // 2):
        b.record("auth.login", t0 + timedelta(minutes=n), channel="lgwan-asp", who=STAFF, source="10.20.0.15")
    # The gateway refused a file with an unapproved column before anything was sent.
    if refusals:
        b.record("transfer.send", t0 + timedelta(minutes=30), channel="lgwan-asp", who=STAFF, source="10.20.0.15",
                 approval=a, outcome="refused", kinds=["unapproved-field"],
                 reason="column 'bank_account' is not in the approval's field list")
    sent = t0 + timedelta(hours=1)
    t1, d1 = flow.send(a, "lgwan-asp", sent, sender=STAFF, recipient="chikugo-print", records=305115,
                       deletion_due=deletion_due)
    flow.lifecycle(a, t1, d1, channel="lgwan-asp", recipient=PRINTER, sent=sent, fault_target=True)
    if rotate:
        b.rotate(sent + timedelta(days=2))

    # Relay to the approved subcontractor by security courier, with media custody.
    relay_at = sent + timedelta(days=4)
    t2, d2 = flow.send(a, "subcontract-courier", relay_at, sender=PRINTER, recipient="ariake-fuunyu",
                       records=305115, parent=t1, deletion_due=deletion_due)
    media = "CDR-2020-0042"
    flow.custody(a, t2, item=media, kind="media", frm=PRINTER, to=SUB, at=relay_at + timedelta(hours=2),
                 event="handover", return_due=relay_at + timedelta(days=30))
    flow.custody(a, t2, item="N-0042", kind="notice", frm=PRINTER2, to=SUB, at=relay_at + timedelta(hours=20),
                 event="handover")
    flow.lifecycle(a, t2, d2, channel="courier", recipient=SUB, sent=relay_at, fault_target=False)
    if "custody-gap" in faults:
        flow.custody(a, t2, item=media, kind="media", frm=actor("x.unknown", "unknown-courier"), to=PRINTER,
                     at=relay_at + timedelta(days=10), event="return")
    elif "media-not-returned" not in faults:
        flow.custody(a, t2, item=media, kind="media", frm=SUB, to=PRINTER, at=relay_at + timedelta(days=10),
                     event="return")

    # Shinjuku: encrypted CD-R handed over by staff; the password notice on another day.
    for n in range(noise - noise // 2):
        b.record("auth.login", jst(2020, 6, 1, 9, n), channel="lgwan-asp", who=STAFF2, source="10.20.0.16")
    sent3 = jst(2020, 6, 2, 10)
    shinjuku_staff = actor("r.sato", "shinjuku", "staff")
    kanto = actor("t.ishii", "kanto-print", "contractor")
    t3, d3 = flow.send(c, "courier-cdr", sent3, sender=shinjuku_staff, recipient="kanto-print", records=120000,
                       deletion_due=jst(2021, 3, 31, 23, 59) - timedelta(days=1))
    flow.custody(c, t3, item="CDR-SJ-0007", kind="media", frm=shinjuku_staff, to=kanto, at=sent3 + timedelta(hours=1),
                 event="handover", return_due=sent3 + timedelta(days=30))
    flow.custody(c, t3, item="N-SJ-0007", kind="notice", frm=shinjuku_staff, to=kanto, at=sent3 + timedelta(hours=20),
                 event="handover")
    flow.lifecycle(c, t3, d3, channel="courier", recipient=kanto, sent=sent3, fault_target=False)
    flow.custody(c, t3, item="CDR-SJ-0007", kind="media", frm=kanto, to=shinjuku_staff, at=sent3 + timedelta(days=7),
                 event="return")
    # A password-guessing attempt the gateway locked out.
    if refusals:
        b.record("auth.login", jst(2020, 6, 3, 2), channel="lgwan-asp", who=actor("k.tanaka", "chikugo-print"),
                 source="203.0.113.9", outcome="refused", kinds=["brute-force"],
                 reason="account locked after 5 failures")

    if "unapproved-transfer" in faults:
        # Sent under an approval the council deferred: nothing covers this hand-over.
        d = "kurume-2021-deferred"
        b.approvals[d] = approval_toml(d, decision="deferred", start="2021-01-01", end="2021-03-31",
                                       title="審議継続となった案件")
        sent4 = jst(2021, 1, 12, 10)
        t4, d4 = flow.send(d, "lgwan-asp", sent4, sender=STAFF, recipient="chikugo-print", records=1000,
                           deletion_due=jst(2021, 3, 1))
        flow.lifecycle(d, t4, d4, channel="lgwan-asp", recipient=PRINTER, sent=sent4, fault_target=False)

    if "log-unwitnessed" in faults:
        b.witnessed_until = b.last_checkpoint_size  # the witnesses stop answering from here on
        for n in range(3):
            b.record("auth.login", CREATED_AT - timedelta(days=1, minutes=n), channel="lgwan-asp", who=STAFF,
                     source="10.20.0.15")
    cuts = list(prune)
    for n, cut in enumerate(cuts):
        b.prune(cut, CREATED_AT - timedelta(hours=len(cuts) - n))
    out = b.write(out, created_at=CREATED_AT, scope=scope)
    if "log-tampered" in faults:
        edit_entry(out, 3, lambda e: e.update(source="192.0.2.1"))
    if "evidence-forged" in faults:
        notice = next(p for p in sorted((out / "evidence").glob("password-notice-*.json")))
        doc = json.loads(notice.read_bytes())
        doc["method"] = "email"
        notice.write_bytes(canonical(doc))
    return out


# -- tampering helpers (what an attacker without the signing key can do) ------------------------

def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def edit_entry(bundle: Path, seq: int, change: Any) -> None:
    path = bundle / "log" / "entries.jsonl"
    lines = read_lines(path)
    entry = json.loads(lines[seq - 1])
    change(entry)
    lines[seq - 1] = canonical(entry)
    write_lines(path, lines)


def update_manifest_hash(bundle: Path, rel: str) -> None:
    """The attacker's best move without the key: fix the manifest's hash, keep the old signature."""
    manifest = json.loads((bundle / "MANIFEST.json").read_bytes())
    data = (bundle / rel).read_bytes()
    for item in manifest["files"]:
        if item["path"] == rel:
            item["sha256"] = hashlib.sha256(data).hexdigest()
            item["size"] = len(data)
    (bundle / "MANIFEST.json").write_bytes(canonical(manifest))


def genesis_public_b64(bundle: Path) -> str:
    keys = json.loads((bundle / "keys.json").read_bytes())
    return keys["keys"][keys["genesis"]]
