"""Watching the hot folder: when a file is complete, claim it and hand it to a bounded pool.

A file is complete when it arrived by rename (the producer wrote `name.tmp` and renamed it), or
when its writer closed it and its size and mtime then stayed the same for `settle` seconds, or,
without any event (a network share, a missed event), when they stayed the same for `settle`
seconds across scans. watchdog's created event fires when writing starts, so it only starts the
clock. A periodic scan backs up the events: nothing depends on an event being delivered.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from gateway.channels.hotfolder.layout import Take, scan
from gateway.channels.hotfolder.processor import Claim, HotFolder
from gateway.ledger.log import Event


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float
    renamed_in: bool = False


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event, renamed: set[str], lock: threading.Lock) -> None:
        self.wake, self.renamed, self.lock = wake, renamed, lock

    def on_moved(self, event: FileSystemEvent) -> None:
        with self.lock:
            self.renamed.add(str(event.dest_path))
        self.wake.set()

    def on_closed(self, event: FileSystemEvent) -> None:
        self.wake.set()

    def on_created(self, event: FileSystemEvent) -> None:
        self.wake.set()


class Watcher:
    def __init__(self, folder: HotFolder, *, workers: int = 2, settle: float = 2.0, interval: float = 1.0,
                 echo: Callable[[str], None] = print) -> None:
        self.folder = folder
        self.settle = settle
        self.interval = interval
        self.echo = echo
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotfolder")
        self.stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._renamed: set[str] = set()
        self._seen: dict[Path, _Seen] = {}
        self._inflight: set[Future[str]] = set()

    def run(self, *, once: bool = False) -> dict[str, int]:
        """Process until stopped; with `once`, until the folder holds nothing complete to take."""
        counts = {"done": 0, "rejected": 0, "failed": 0}
        for claim in self.folder.recover():
            self._submit(claim, counts)
        observer = Observer()
        observer.schedule(_Wake(self._wake, self._renamed, self._lock), str(self.folder.root), recursive=True)
        observer.start()
        try:
            while not self.stop.is_set():
                waiting = self._tick(counts)
                self._reap(counts)
                if once and not waiting and not self._inflight:
                    break
                self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            observer.stop()
            observer.join()
            self.pool.shutdown(wait=True)
            self._reap(counts)
        return counts

    def _tick(self, counts: dict[str, int]) -> int:
        """Claim what is complete; returns how many files are still settling."""
        takes, rejects = scan(self.folder.root)
        for entry in rejects:
            self.folder.reject_entry(entry)
            counts["rejected"] += 1
            self.echo(f"却下 / rejected: {'/'.join(entry.parts)}")
        now = time.monotonic()
        with self._lock:
            renamed, self._renamed = self._renamed, set()
        present = set()
        waiting = 0
        for take in takes:
            present.add(take.path)
            if self._ready(take, now, str(take.path) in renamed):
                self._seen.pop(take.path, None)
                claim = self.folder.claim(take)
                if claim is not None:
                    self.echo(f"受付 / taken: {take.folder}/{take.name}")
                    self._submit(claim, counts)
            else:
                waiting += 1
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return waiting

    def _ready(self, take: Take, now: float, renamed_in: bool) -> bool:
        seen = self._seen.get(take.path)
        if seen is None or (seen.size, seen.mtime_ns) != (take.size, take.mtime_ns):
            self._seen[take.path] = seen = _Seen(take.size, take.mtime_ns, now, renamed_in)
        seen.renamed_in |= renamed_in
        return seen.renamed_in or now - seen.since >= self.settle

    def _submit(self, claim: Claim, counts: dict[str, int]) -> None:
        self._inflight.add(self.pool.submit(self._process, claim))

    def _process(self, claim: Claim) -> str:
        try:
            outcome = self.folder.process(claim)
        except Exception as err:  # a fault of ours or the disk's, not of the file: keep it claimed
            self.folder.gw.record(Event(action="hotfolder.process", channel="hotfolder", outcome="failed",
                                        approval=claim.approval, reason=f"{type(err).__name__}: kept in "
                                        ".processing and retried at the next start"))
            self.echo(f"失敗 / failed: {claim.folder}/{claim.name}: {type(err).__name__}")
            return "failed"
        self.echo(f"{'送付 / sent' if outcome == 'done' else '却下 / rejected'}: {claim.folder}/{claim.name}")
        return outcome

    def _reap(self, counts: dict[str, int]) -> None:
        for future in [f for f in self._inflight if f.done()]:
            self._inflight.discard(future)
            counts[future.result()] += 1
