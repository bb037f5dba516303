"""The witness's decision on one add-checkpoint request, with the status codes tlog-witness fixes.

| answer | when |
|---|---|
| 400 | malformed body or note, or old size larger than the checkpoint's size |
| 403 | no signature by a key this witness was configured with for the origin (or a bad one) |
| 404 | an origin this witness does not follow |
| 409 | the old size is not the size it last cosigned (body: that size, `text/x.tlog.size`), |
|     | or the same size with another root (a fork) |
| 422 | the consistency proof does not verify |
| 200 | the cosignature line(s) |

The check of the old size and the storing of the new head happen under one per-log lock, and the
head is on disk before the cosignature is made, so no crash and no race can make the witness
cosign two heads that are not consistent with each other.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from audit import checkpoint as cp
from audit.cosignature import Cosigner
from audit.note import NoteError, VerifierKey, parse, verify
from audit.tlog import EMPTY_ROOT, ProofError, verify_consistency
from audit.witness import request
from audit.witness.state import Head, State

# A named fault point for tests: the process kills itself after the new head is durable and
# before anyone is answered, the worst moment for a witness to crash.
FAULT_ENV = "AUDIT_WITNESS_FAULT"
FAULT_KILL_AFTER_PERSIST = "kill-after-persist"

TEXT = "text/plain; charset=utf-8"
SIZE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = TEXT

    @classmethod
    def refuse(cls, status: int, ja: str, en: str) -> Answer:
        return cls(status, f"{ja}\n{en}\n".encode())


class Witness:
    def __init__(self, cosigner: Cosigner, logs: Mapping[str, Sequence[VerifierKey]], state: State,
                 clock: Callable[[], float] = time.time) -> None:
        self.cosigner = cosigner
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.state = state
        self.clock = clock
        self.fault = os.environ.get(FAULT_ENV, "")

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            req = request.parse(body)
            note = parse(req.note)
            head = cp.parse(note.text)
        except (request.RequestError, NoteError, cp.CheckpointError) as exc:
            return Answer.refuse(400, "要求の形式が正しくありません。", f"malformed request: {exc}")
        keys = self.logs.get(head.origin)
        if keys is None:
            return Answer.refuse(404, f"このウィットネスはログ {head.origin} を扱っていません。",
                                 f"unknown log origin {head.origin!r}")
        try:
            signed = verify(note, keys)
        except NoteError as exc:
            return Answer.refuse(403, "ログの署名を検証できません。", f"log signature: {exc}")
        if not signed:
            return Answer.refuse(403, "設定されたログの鍵による署名がありません。",
                                 f"no signature by a key configured for {head.origin!r}")
        if req.old_size > head.size:
            return Answer.refuse(400, "old のサイズがチェックポイントのサイズを超えています。",
                                 f"old size {req.old_size} is larger than the checkpoint's size {head.size}")

        with self.state.lock(head.origin):
            current = self.state.head(head.origin)
            size, root = (current.size, current.root) if current else (0, EMPTY_ROOT)
            if req.old_size != size:
                return Answer(409, f"{size}\n".encode("ascii"), SIZE)
            if head.size == 0 and head.root != EMPTY_ROOT:
                return Answer.refuse(422, "空のツリーのルートが正しくありません。",
                                     "the root of an empty tree is wrong")
            if head.size == size and head.root != root:
                self._keep(head.origin, "fork: same size, another root", req.note)
                return Answer.refuse(409, f"サイズ {size} で別のルートに署名済みです（分岐）。",
                                     f"fork: size {size} was cosigned with another root hash")
            try:
                verify_consistency(size, head.size, root, head.root, req.proof)
            except ProofError as exc:
                self._keep(head.origin, f"inconsistent: {exc}", req.note)
                return Answer.refuse(422, "一貫性証明を検証できません。", f"consistency proof: {exc}")
            now = int(self.clock())
            if current is None or head.size != current.size:
                self.state.store(Head(head.origin, head.size, head.root, note.text.decode("utf-8"), now))
            if self.fault == FAULT_KILL_AFTER_PERSIST:
                os.kill(os.getpid(), signal.SIGKILL)
            line = self.cosigner.cosign(note.text, now).line()
        return Answer(200, (line + "\n").encode("utf-8"))

    def _keep(self, origin: str, reason: str, note: bytes) -> None:
        try:
            self.state.keep_refused(origin, reason, note, int(self.clock()))
        except OSError as exc:
            # Evidence is kept when the disk allows; the refusal itself never depends on it.
            print(f"witness: could not keep the refused checkpoint of {origin!r}: {exc}", file=sys.stderr)
