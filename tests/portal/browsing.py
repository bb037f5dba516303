"""Headless Chromium for the portal's browser tests: a context per person with their terminal
certificate, screenshots kept as test output, and the accessibility check (axe-core, run in the
page) every page must pass with no serious or critical violation."""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from tests.portal.conftest import SHOTS

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]
SERIOUS = ("serious", "critical")
NEEDS = pytest.mark.skipif(shutil.which("age") is None or not shutil.os.path.exists("/usr/bin/chromium"),
                           reason="needs /usr/bin/chromium and age")


def chromium() -> Iterator[tuple]:
    """The launcher the `browser` fixture (conftest.py) yields."""
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_api.sync_playwright() as p:
        # A persistent context is the only way to give Chromium a user-data-dir of our own; one per
        # user is opened from a fresh directory, so here we only keep the launcher.
        yield p, profile
    shutil.rmtree(profile, ignore_errors=True)


def open_context(browser, portal, login: str):  # type: ignore[no-untyped-def]
    p, _ = browser
    t = portal.terminals[login]
    data_dir = tempfile.mkdtemp(prefix=f"chromium-{login}-")
    ctx = p.chromium.launch_persistent_context(
        data_dir, executable_path="/usr/bin/chromium", headless=True, args=ARGS, ignore_https_errors=True,
        accept_downloads=True, locale="ja-JP",
        client_certificates=[{"origin": portal.url, "certPath": str(t.cert), "keyPath": str(t.key)}])
    return ctx, data_dir


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, portal, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{portal.url}/login")
    page.get_by_label("ID").fill(user)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


AXE_CHECKED: dict[str, int] = {}


def accessible(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """axe-core (WCAG 2.0–2.2 A and AA rules) on the page as it stands: no serious or critical
    violation. The script is evaluated by Playwright, outside the page's CSP, which stays strict."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    serious = [v for v in violations if v.get("impact") in SERIOUS]
    AXE_CHECKED[name] = len(violations)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{name}.axe.json").write_text(json.dumps(
        [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
         for v in violations], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert not serious, f"{name} ({page.url}): " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in serious)


def visit(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page as it is now: kept as a screenshot and checked for accessibility."""
    shot(page, name)
    accessible(page, name)
