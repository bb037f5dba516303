"""Memory-hard derivations (scrypt for packages, argon2id for their verifiers) run at most one per
core at once in a process, together: sixteen portal sends at once must not hold sixteen of them.

Measured, not inspected: a fresh interpreter starts sixteen derivations of 64 MiB each at once
(eight scrypt at work factor 16, eight argon2id verifiers) and reports its peak resident set;
unbounded it would hold about a gigabyte."""
from __future__ import annotations

import json
import subprocess
import sys

from gateway.crypto import memory_hard

MIB = 1024 * 1024
_RUN = """
import json, threading
from pathlib import Path
def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
from gateway.crypto import passphrase
from gateway.crypto.age.scrypt import ScryptRecipient
secret = passphrase.generate()
passphrase.make_verifier(secret)  # argon2's import and first allocation in the baseline
base = peak()
jobs = [threading.Thread(target=ScryptRecipient(secret, 16).wrap, args=(bytes(16),)) for _ in range(8)]
jobs += [threading.Thread(target=passphrase.make_verifier, args=(secret,)) for _ in range(8)]
for job in jobs:
    job.start()
for job in jobs:
    job.join()
print(json.dumps({"base": base, "peak": peak()}))
"""


def test_at_most_one_memory_hard_derivation_per_core_at_once() -> None:
    out = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    above = got["peak"] - got["base"]
    # One 64 MiB derivation per slot, and a little for the threads' stacks and allocator slack.
    assert above <= memory_hard.SLOTS * 64 * MIB + 48 * MIB, (above / MIB, memory_hard.SLOTS)
    assert above >= 60 * MIB  # the derivations did run (and were measured)
