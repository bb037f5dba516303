"""Secrets a person hands a command: from a file (scripts, the simulator) or typed without echo.

Used by `gateway package decrypt` and by the contractor's `gateway-client` (the package's
passphrase, a PKCS#12 password, the portal password, an SSH key's passphrase). A secret never
appears in a message or an exception.
"""
from __future__ import annotations

import getpass
from pathlib import Path

from gateway.errors import Invalid


def read_secret_file(path: str | Path, what_ja: str = "パスワード", what_en: str = "passphrase") -> bytes:
    """The file's content with one trailing newline (LF or CRLF) removed."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise Invalid(
            f"{what_ja}のファイルを読めません: {path} ({err.strerror})。ファイルの場所と権限を確認してください。",
            f"cannot read the {what_en} file {path} ({err.strerror}); check its path and permissions.",
        ) from None
    for newline in (b"\r\n", b"\n"):
        if data.endswith(newline):
            data = data[: -len(newline)]
            break
    if not data:
        raise Invalid(
            f"{what_ja}のファイルが空です: {path}。{what_ja}を1行で書いてください。",
            f"the {what_en} file {path} is empty; write the {what_en} on one line.",
        )
    return data


def secret(path: str | Path | None, prompt: str, what_ja: str, what_en: str) -> bytes:
    """From `path` if given, else typed at the terminal without echo."""
    if path is not None:
        return read_secret_file(path, what_ja, what_en)
    try:
        typed = getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        typed = ""
    if not typed:
        raise Invalid(f"{what_ja}が入力されませんでした。", f"no {what_en} was entered.")
    return typed.encode("utf-8")
