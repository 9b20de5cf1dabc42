"""The browser tests: Debian's chromium driven by Playwright against a real `intercept serve`.

One browser and one server per module; each test opens its own context (its own cookies).
Chromium is installed when missing (`make test` does it first; running this folder alone
does it here), never downloaded by Playwright.
"""

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMAGES = Path(__file__).parents[2] / "docs" / "images"
"""Where the screenshots the README shows are saved."""


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "chromium", "fonts-wqy-microhei"],
        check=True,
        env=env,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator:
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator:
    from tests.e2e.api_server import start

    running = start(tmp_path_factory.mktemp("web") / "home")
    yield running
    running.stop()


@pytest.fixture
def page(browser, server) -> Iterator:
    context = browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page, key: str, merchant: str = "") -> None:
    page.goto("/signin")
    page.get_by_label("API 密钥").fill(key)
    if merchant:
        page.get_by_label("商家（管理员和审计密钥）").fill(merchant)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")


def recorded(server) -> int:
    """How many events the engine has recorded, read from its event store."""
    with sqlite3.connect(server.home / "events.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]


def shown(server, key, intercept_id: str) -> dict:
    """The intercept's projection row and timeline, as the API answers them."""
    with server.client(key) as client:
        answer = client.get(f"/v1/intercepts/{intercept_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()
