"""docs/interface.md is the contract users' scripts read: every command of `gateway` is in it."""
from __future__ import annotations

import click

from tests.conftest import REPO


def leaf_commands() -> list[str]:
    from gateway.cli import main

    ctx = click.Context(main)
    out: list[str] = []

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")
            else:
                out.append(f"{prefix}{name}")

    walk(main, "")
    return out


def test_every_command_is_in_the_contract() -> None:
    doc = (REPO / "docs" / "interface.md").read_text(encoding="utf-8")
    missing = []
    for command in leaf_commands():
        group, _, leaf = command.rpartition(" ")
        # A table row may list a group's leaves together: `gateway keys show` \| `rotate-signing`.
        if f"gateway {command}" not in doc and not (group and f"gateway {group} " in doc and leaf in doc):
            missing.append(command)
    assert not missing, f"not in docs/interface.md: {missing}"


def test_the_refusal_shape_and_the_categories_are_the_code_s() -> None:
    from gateway.errors import Category, Refused

    doc = (REPO / "docs" / "interface.md").read_text(encoding="utf-8")
    for category in Category:
        assert f"| `{category.value}` |" in doc
    assert set(Refused.one(None, "ja", "en").to_json()) == {"error", "category", "kinds", "ja", "en", "refusals"}
