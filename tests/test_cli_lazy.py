"""Subcommands load on first use: `gateway package decrypt` (the contractor's one command, run per
file) must not pay for the database, the portal or the SFTP server, and loading lazily must give
the same command tree as registering every module at once."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from gateway.crypto import age

HEAVY = ("sqlalchemy", "fastapi", "paramiko", "uvicorn", "argon2")

# Runs the real console entry point in a fresh interpreter, then reports which heavy packages it
# imported; the file written by the decryption is checked too, so the command really ran.
_PROBE = """
import json, sys
from gateway.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def test_package_decrypt_imports_no_database_web_or_ssh(tmp_path: Path) -> None:
    plain, enc, out, passfile = (tmp_path / n for n in ("in.csv", "in.csv.age", "out.csv", "pass.txt"))
    plain.write_bytes("氏名,生年月日\r\n久留米 太郎,1980-01-01\r\n".encode("cp932"))
    passfile.write_text("K7QM2-XR9TD-4HFJW-8PZNC-3VAYE-6GBKS\n")
    age.encrypt_file(plain, enc, passphrase="K7QM2-XR9TD-4HFJW-8PZNC-3VAYE-6GBKS", work_factor=10)
    proc = subprocess.run([sys.executable, "-c", _PROBE, "package", "decrypt", str(enc), "-o", str(out),
                           "--passphrase-file", str(passfile)], capture_output=True, text=True)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert out.read_bytes() == plain.read_bytes()
    assert report["loaded"] == []


def _tree(cmd: click.Command) -> dict[str, object]:
    if not isinstance(cmd, click.Group):
        return {"params": sorted(p.name or "" for p in cmd.params)}
    ctx = click.Context(cmd)
    return {name: _tree(cmd.get_command(ctx, name)) for name in cmd.list_commands(ctx)}  # type: ignore[arg-type]


# Each top-level command resolved on its own, as a process that runs only it would: the cli
# modules are imported afresh for each (register() of one module may add subcommands to another's
# group, which would otherwise hide an entry missing from the table).
_LAZY_TREES = """
import json, sys
from gateway.cli import COMMANDS, LazyGroup
from tests.test_cli_lazy import _tree
out = {}
for name in sorted(COMMANDS):
    for module in [m for m in sys.modules if m.startswith("gateway.cli.") and m != "gateway.cli.common"]:
        del sys.modules[module]
    group = LazyGroup(lazy=COMMANDS)
    out[name] = _tree(group.get_command(None, name))
print(json.dumps(out))
"""


def test_lazy_table_matches_registering_everything() -> None:
    import importlib

    from gateway.cli import COMMANDS, MODULES

    lazy = json.loads(subprocess.run([sys.executable, "-c", _LAZY_TREES], capture_output=True, text=True,
                                     check=True, cwd=Path(__file__).resolve().parents[1]).stdout)
    eager = click.Group()
    for name in MODULES:
        importlib.import_module(f"gateway.cli.{name}").register(eager)
    assert set(MODULES) == {m for mods in COMMANDS.values() for m in mods}
    assert lazy == _tree(eager)
    assert {"add-key", "issue-password"} <= set(lazy["user"])  # the `user` group is built by three modules
