"""What the gateway ships besides code: transfer profiles, scenarios and their approvals.

Found through importlib.resources, never relative to a checkout, so an installed wheel finds them
wherever it lives (issue 22: a wheel without them registered no profiles and found no scenario).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from gateway.errors import Unavailable


def _directory(name: str) -> Path:
    found = resources.files(__name__).joinpath(name)
    # The code reads these as files on disk (glob, open, the TOML reader's error positions); a wheel
    # is always unpacked by pip, so only a zip import could land here, which we do not support.
    if not isinstance(found, Path) or not found.is_dir():
        raise Unavailable(f"同梱データ {name} が見つかりません。パッケージを入れ直してください。",
                          f"the shipped data {name} is missing; reinstall the package.")
    return found


def profiles_dir() -> Path:
    """`transfer_profiles/*.toml`: how each channel is used, registered by `gateway init`."""
    return _directory("transfer_profiles")


def simulations_dir() -> Path:
    """`simulations/*.toml`: the scenarios `gateway simulate` and `gateway demo` replay."""
    return _directory("simulations")


def approvals_dir() -> Path:
    """`simulations/approvals/*.toml`: the council approvals behind the scenarios."""
    return simulations_dir() / "approvals"


def approval_file(name: str) -> Path:
    """`name` as given when it is a path; otherwise the shipped approval of that id, so that an
    installed gateway can register the seed approvals without a checkout (`approval add kurume-2020-teigaku`)."""
    given = Path(name)
    if given.exists() or given.suffix == ".toml" or "/" in name:
        return given
    shipped = approvals_dir() / f"{name}.toml"
    return shipped if shipped.exists() else given
