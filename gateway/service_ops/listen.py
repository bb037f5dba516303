"""A port the service cannot have, told as what it is instead of a traceback.

`gateway serve` binds every port before anything else starts (issue 22): a start that fails on a
port in use must leave nothing behind, and above all must not have run the retention sweep,
which crypto-erases.
"""
from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from gateway.errors import Unavailable

_WHY = {
    errno.EADDRINUSE: ("既に別のプログラムが使っています", "is already in use by another program"),
    errno.EACCES: ("使う権限がありません（1024 未満のポートは特権が必要です）",
                   "may not be used by this account (ports below 1024 need privileges)"),
    errno.EADDRNOTAVAIL: ("このマシンのアドレスではありません", "is not an address of this machine"),
}


@contextlib.contextmanager
def binding(what_ja: str, what_en: str, bind: str, port: int) -> Iterator[None]:
    """Around the construction of a listener: a refused bind becomes Unavailable, naming it."""
    try:
        yield
    except OSError as err:
        why = _WHY.get(err.errno or 0)
        if why is None:
            raise
        raise Unavailable(
            f"{what_ja}を {bind}:{port} で待ち受けできません。そのアドレスまたはポートは{why[0]}。"
            "別のポートを指定するか、使っているプログラムを止めてください。何も起動していません。",
            f"cannot listen for {what_en} on {bind}:{port}: the address or port {why[1]}. "
            "Choose another port or stop the program using it. Nothing was started.",
        ) from None
