"""docs/operator-guide.md (issue 22, item 5) names only commands and options that exist: a guide
that tells an operator at 2 a.m. to type something the gateway does not know is worse than none."""
from __future__ import annotations

import re
import shlex

import click

from gateway.cli import main
from tests.conftest import REPO

GUIDE = REPO / "docs" / "operator-guide.md"


def invocations() -> list[list[str]]:
    """Every `gateway ...` command line in the guide (code blocks and inline code), as words."""
    text = GUIDE.read_text(encoding="utf-8")
    snippets = re.findall(r"`([^`\n]*gateway [^`\n]*)`", text)
    snippets += [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]
    out = []
    for snippet in snippets:
        for part in re.split(r"&&|\|", snippet):
            words = shlex.split(part.split("#")[0], posix=True) if part.count("'") % 2 == 0 else part.split()
            starts = [i for i, w in enumerate(words) if (w == "gateway" or w.endswith("/bin/gateway"))
                      and not (i and words[i - 1].startswith("-"))]  # not `journalctl -u gateway`
            if starts and len(words) > starts[0] + 1:
                out.append(words[starts[0] + 1:])
    return out


def test_every_command_and_option_in_the_guide_exists():
    ctx = click.Context(main)
    seen = 0
    for words in invocations():
        command: click.Command = main
        options = {o for p in main.params for o in getattr(p, "opts", [])}
        rest = list(words)
        while rest and isinstance(command, click.Group):
            if rest[0].startswith("-"):  # a group option such as --home
                rest = rest[2:] if rest[0] in options else rest[1:]
                continue
            sub = command.get_command(ctx, rest[0])
            assert sub is not None, f"`gateway {' '.join(words)}`: no command {rest[0]!r}"
            command, rest = sub, rest[1:]
            options = {o for p in command.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"`gateway {' '.join(words)}`: no option {word}"
        seen += 1
    assert seen >= 15


def test_the_guide_covers_what_the_issue_asks():
    text = GUIDE.read_text(encoding="utf-8")
    for needle in ("sslmode=verify-full", "CREATE ROLE", "What stays on local disk", "Backup", "Restore", "KEK",
                   "Renewal", "rotate-kek", "rotate-signing", "tls import", "deploy/gateway.service"):
        assert needle in text, needle
