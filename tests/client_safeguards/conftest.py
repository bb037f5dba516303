"""A gateway of its own for the safeguards' client tests: tests/client's world, instantiated for
this package. Its sends happen on the 2020 clock before anything runs on the real one; sharing
tests/client's world, real-clock entries written here would come before that package's 2020 sends,
whose log times would then go back (refused as ClockBehind)."""
from __future__ import annotations

from tests.client.conftest import _commands_on_the_worlds_home, world  # noqa: F401  (fixtures)
