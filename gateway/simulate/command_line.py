"""The gateway's command line, typed by the scenario's people the way an operator types it.

Each call runs the `gateway` click entry point in-process with an argv (`--home` of the simulated
installation first), `--json` where the command has it, and reads what it printed. In-process, not
a subprocess: one CLI command is then tens of milliseconds, not a second of interpreter start-up,
and a scenario runs hundreds. The command opens the installation itself (its own database engine,
keys and ledger, as a separate process would); the ledger's head row serialises its entries with
the servers' entries.

The fake clock reaches the command through `$GATEWAY_FAKE_NOW`, which every command reads
(`gateway.clock.from_environment`), set to the scenario's time for the length of the call.

A refusal is the command's exit 1 and its bilingual message on stderr; which finding kinds it was
refused for is in the log entry the refusal wrote, so the simulation reads them there, as a
security officer would.
"""
from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import click
from gateway.errors import GatewayError
from gateway.service import Gateway
from gateway.simulate import logged


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise GatewayError("コマンドの出力が JSON ではありません。",
                               f"`gateway {' '.join(self.argv[:2])}` printed no JSON: {self.stdout[:200]!r}") from None


class CommandRefused(GatewayError):
    """A command's exit 1, with the finding kinds its refusal was logged with (if any)."""

    def __init__(self, ja: str, en: str, kinds: list[str]) -> None:
        super().__init__(ja, en, kind=kinds[0] if kinds else None)
        self.refusals = tuple(SimpleNamespace(kind=k) for k in kinds)  # as TransferRefused carries them


class CommandLine:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def __call__(self, *args: str, ok: tuple[int, ...] = (0,)) -> Ran:
        """Run `gateway ARGS...`; an exit code not in `ok` raises the refusal it printed."""
        from gateway.cli import main  # the whole command line is only loaded by a run that uses it

        argv = ("--home", str(self.gw.home.root), *args)
        before = logged.last_seq(self.gw)
        out, err = io.StringIO(), io.StringIO()
        saved = os.environ.get("GATEWAY_FAKE_NOW")
        os.environ["GATEWAY_FAKE_NOW"] = self.gw.clock.now().isoformat()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = _invoke(main, list(argv), err)
        finally:
            if saved is None:
                os.environ.pop("GATEWAY_FAKE_NOW", None)
            else:
                os.environ["GATEWAY_FAKE_NOW"] = saved
        ran = Ran(tuple(args), code, out.getvalue(), err.getvalue())
        if code not in ok:
            raise self._refusal(ran, before)
        return ran

    def _refusal(self, ran: Ran, before: int) -> CommandRefused:
        entries = logged.entries_since(self.gw, before, ("refused", "failed"))
        kinds = list(dict.fromkeys(k for entry in entries for k in entry.get("kinds") or ()))
        ja, en = _halves(ran.stderr)
        what = " ".join(ran.argv[:2])
        return CommandRefused(f"`gateway {what}` が終了コード {ran.code} で終わりました: {ja}",
                              f"`gateway {what}` exited {ran.code}: {en or ja}", kinds)


def _halves(stderr: str) -> tuple[str, str]:
    """A GatewayError's message is its Japanese lines, then as many English ones (one each, or one
    per reason of a refused send); click's usage errors are English only."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if len(lines) >= 2 and len(lines) % 2 == 0:
        half = len(lines) // 2
        return "\n".join(lines[:half]), "\n".join(lines[half:])
    if len(lines) >= 2:
        return lines[0], "\n".join(lines[1:])
    return (lines[0], lines[0]) if lines else ("（出力なし）", "(no message)")


def _invoke(main: click.Group, argv: list[str], err: io.StringIO) -> int:
    """The exit code the console script would have ended with."""
    try:
        result = main.main(args=argv, prog_name="gateway", standalone_mode=False)
    except SystemExit as exit_:  # refusals_exit_1: message printed, sys.exit(1)
        return exit_.code if isinstance(exit_.code, int) else 1
    except click.ClickException as usage:  # a usage error: the simulation wrote a wrong argv
        usage.show(file=err)
        return usage.exit_code
    except click.exceptions.Abort:
        return 1
    return result if isinstance(result, int) else 0  # ctx.exit(n) comes back as n
