"""The gateway's command line, typed by the scenario's people the way an operator types it.

Each call runs the `gateway` click entry point in-process with an argv (`--home` of the simulated
installation first), `--json` where the command has it, and reads what it printed. In-process, not
a subprocess: one CLI command is then tens of milliseconds, not a second of interpreter start-up,
and a scenario runs hundreds. The command opens the installation itself (its own database engine,
keys and ledger, as a separate process would); the ledger's head row serialises its entries with
the servers' entries.

The scenario's clock and the operating-system user its person works as reach the command as the
root command's object (`obj={"clock": ..., "os_user": ...}`, read by `cli.common.open_gateway`),
and what the command prints is captured for this thread only
(`thread_output`): the portal and SFTP servers run in other threads of the same process meanwhile,
and neither the environment nor their output is touched.

A refusal is the command's exit 1; with `--json` (which the simulation passes wherever a command
has it) the command also prints the refusal as JSON (`{"error", "category", "kinds", "ja", "en"}`),
which is what the simulation reads. Without it, only the log entry the refusal wrote says which
finding kinds it was refused for, and the simulation reads them there, as a security officer would.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import click

from gateway.clock import FixedClock
from gateway.errors import GatewayError, Invalid, error_from_json
from gateway.findings import Kind
from gateway.service import Gateway
from gateway.simulate import logged, thread_output


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
            raise Invalid("コマンドの出力が JSON ではありません。",
                               f"`gateway {' '.join(self.argv[:2])}` printed no JSON: {self.stdout[:200]!r}") from None


# The rehearsal's own operator (its frame: operators, pinned hosts), mapped to the administrator
# account when the simulation's home is initialised.
OPERATOR = "simulator"


class CommandLine:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def __call__(self, *args: str, ok: tuple[int, ...] = (0,), as_user: str = OPERATOR) -> Ran:
        """Run `gateway ARGS...` as the operating-system user `as_user` (a named operator: the
        simulation's own `simulator`, or a staff member's); an exit code not in `ok` raises the
        refusal it printed."""
        from gateway.cli import main  # the whole command line is only loaded by a run that uses it

        argv = ("--home", str(self.gw.home.root), *args)
        before = logged.last_seq(self.gw)
        with thread_output.captured() as (out, err):
            code = _invoke(main, list(argv), err, clock=FixedClock(self.gw.clock.now()), os_user=as_user)
        ran = Ran(tuple(args), code, out.getvalue(), err.getvalue())
        if code not in ok:
            raise self._refusal(ran, before)
        return ran

    def _refusal(self, ran: Ran, before: int) -> GatewayError:
        what = " ".join(ran.argv[:2])
        answer = _json_answer(ran.stdout)
        if answer is not None:
            return error_from_json(answer, fallback_ja=f"`gateway {what}` が拒否されました。",
                                   fallback_en=f"`gateway {what}` was refused.")
        entries = logged.entries_since(self.gw, before, ("refused", "failed"))
        kinds = [Kind(k) for k in dict.fromkeys(k for entry in entries for k in entry.get("kinds") or ())]
        text = ran.stderr.strip() or "(no message)"
        return Invalid(f"`gateway {what}` が終了コード {ran.code} で終わりました: {text}",
                       f"`gateway {what}` exited {ran.code}: {text}", kinds=kinds)


def _json_answer(stdout: str) -> dict[str, Any] | None:
    """The refusal a `--json` command printed: its last line that is a JSON object with a category."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "category" in value:
            return value
    return None


def _invoke(main: click.Group, argv: list[str], err: io.StringIO, *, clock: FixedClock, os_user: str) -> int:
    """The exit code the console script would have ended with."""
    try:
        result = main.main(args=argv, prog_name="gateway", standalone_mode=False,
                           obj={"clock": clock, "os_user": os_user})
    except SystemExit as exit_:  # refusals_exit_1: message printed, sys.exit(1)
        return exit_.code if isinstance(exit_.code, int) else 1
    except click.ClickException as usage:  # a usage error: the simulation wrote a wrong argv
        usage.show(file=err)
        return usage.exit_code
    except click.exceptions.Abort:
        return 1
    return result if isinstance(result, int) else 0  # ctx.exit(n) comes back as n
