"""The deletion request and the erasure certificate as command-line options: one form, whether the
city's console enters it from the contractor's paper (`gateway deletion`) or the contractor files it
signed with its own key (`gateway-client deletion`). A field added to the form appears on both."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gateway.attestations.document import SANITISATION

F = TypeVar("F", bound=Callable[..., Any])



def _apply(fn: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        fn = option(fn)
    return fn


def request_options(fn: F) -> F:
    """消去依頼 / the deletion request's fields."""
    return _apply(fn, [
        click.option("--items", required=True, help="消去する項目 / what is erased"),
        click.option("--media", required=True, help="媒体・場所 / media and where"),
        click.option("--quantity", required=True, type=click.IntRange(min=1)),
        click.option("--method", required=True, help="消去方法 / how"),
        click.option("--planned-date", required=True, type=click.DateTime(["%Y-%m-%d"])),
    ])


def certificate_options(fn: F) -> F:
    """消去証明書 / the erasure certificate's fields."""
    return _apply(fn, [
        click.option("--erased-at", required=True,
                     help="消去日時（時差の指定がなければ日本時間） / when (JST unless a zone is given)"),
        click.option("--media-manufacturer", required=True),
        click.option("--media-model", required=True),
        click.option("--media-serial", required=True, help="製造番号または保管場所 / serial or storage location"),
        click.option("--sanitisation", required=True, type=click.Choice(SANITISATION)),
        click.option("--technique", required=True, help="例: 上書き 1 回 / e.g. single overwrite, crypto erase"),
        click.option("--tool", required=True, help="ツール名と版 / tool and version"),
        click.option("--verification", required=True, help="確認方法 / how it was verified"),
        click.option("--sanitised-by", required=True, help="氏名,役職 / name,title"),
        click.option("--verified-by", required=True, help="氏名,役職 / name,title"),
        click.option("--place", required=True),
    ])
