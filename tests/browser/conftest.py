"""Browser fixtures: Debian's Chromium driven by playwright's sync API.

Chromium is the distro package at /usr/bin/chromium (`./dev test` installs
it when missing); playwright never downloads a browser of its own here.
CI runs as root, hence --no-sandbox.

    def test_x(page, js_errors):            # a fresh context per test, 1280×800
        page.goto(url)
        shot(page, "x")                     # tests/artifacts/x.png (gitignored)
        assert js_errors == []

    @pytest.mark.parametrize("viewport", [{"width": 375, "height": 700}])
    def test_narrow(page): ...              # another window size

`js_errors` gets every console.error and uncaught exception of the page and
of its frames, as "<kind> <frame url>: <text>".
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def shot(page: Page, name: str, full_page: bool = True) -> Path:
    """A PNG of the page as it is now, at tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `./dev test` installs it as root "
                    "(apt-get install --no-install-recommends chromium)", pytrace=False)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def viewport() -> dict:
    """The window size of `page`; parametrize `viewport` to change it."""
    return {"width": 1280, "height": 800}


@pytest.fixture
def js_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, viewport: dict, js_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    pg = context.new_page()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            js_errors.append(f"console {where}: {msg.text}")

    def on_error(err: Error) -> None:
        js_errors.append(f"pageerror: {err.name}: {err.message}")

    pg.on("console", on_console)
    pg.on("pageerror", on_error)
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
