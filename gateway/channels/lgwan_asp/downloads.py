"""Streaming a package out: the download operation writes into a bounded pipe from a worker
thread while the response reads from it, so memory stays at a few chunks whatever the size.

The operation logs the download only after the last byte went through; if the client goes away
the writer fails, the operation raises and no successful download is recorded. A refusal
(another organisation's id, not a designated handler, erased copy) happens before the first
byte, so it becomes an ordinary error answer rather than a broken stream.
"""
from __future__ import annotations

import asyncio
import io
import re
from typing import AsyncIterator, Callable

_DONE = object()
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class _Failed:
    def __init__(self, err: BaseException) -> None:
        self.err = err


class ClientGone(OSError):
    pass


class _Pipe(io.RawIOBase):
    def __init__(self, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[object]") -> None:
        self.loop, self.queue = loop, queue
        self.cancelled = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.cancelled:
            raise ClientGone("the client closed the connection")
        n = len(data)
        if n:
            asyncio.run_coroutine_threadsafe(self.queue.put(bytes(data)), self.loop).result()
        if self.cancelled:
            raise ClientGone("the client closed the connection")
        return n


def content_disposition(name: str) -> str:
    """An attachment header that cannot carry a header break or a path: ids are checked, else a fixed name."""
    safe = name if _SAFE_NAME.match(name) else "package.age"
    return f'attachment; filename="{safe}"'


async def start(run: Callable[[io.RawIOBase], object]) -> tuple[object, AsyncIterator[bytes]]:
    """Run `run(pipe)` in a worker thread. Returns its result if it finished before writing
    (a refusal raises here), else a marker and the body iterator."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=16)
    pipe = _Pipe(loop, queue)

    def work() -> object:
        try:
            result = run(pipe)
        except BaseException as err:  # handed to the reader, which re-raises it
            asyncio.run_coroutine_threadsafe(queue.put(_Failed(err)), loop).result()
            raise
        asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop).result()
        return result

    task = loop.run_in_executor(None, work)
    first = await queue.get()
    if isinstance(first, _Failed):
        with _suppress():
            await task
        raise first.err

    async def body() -> AsyncIterator[bytes]:
        item = first
        try:
            while True:
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.err
                yield item  # type: ignore[misc]
                item = await queue.get()
        finally:
            pipe.cancelled = True
            while not task.done():  # unblock a writer waiting on a full queue
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.01)
            with _suppress():
                await task

    return task, body()


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], Exception)  # type: ignore[arg-type]
