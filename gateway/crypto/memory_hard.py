"""One bound on the memory-hard derivations a process runs at once: scrypt for a package's
passphrase (256 MiB at work factor 18) and argon2id for its stored verifier (64 MiB, RFC 9106's
low-memory defaults).

Each derivation holds its memory and a core for its whole run, so more at once than there are
cores only adds memory and makes each slower. Sixteen portal sends at once started sixteen
verifiers beside the two scrypt runs the old scrypt-only bound allowed, and the server's peak
resident set went past a gigabyte; with both kinds under one bound it stays near two scrypt
runs. Derivations never nest (each takes its slot alone, in its own thread), so waiting for a
slot cannot deadlock.
"""
from __future__ import annotations

import os
import threading

SLOTS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
slot = threading.BoundedSemaphore(SLOTS)  # `with slot:` around one derivation
