"""Fixtures for the browser tests: the system Chromium (via Playwright) against a real ComfyUI server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
for extra in (HERE, REPO / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import frontend  # noqa: E402


@pytest.fixture(scope="module")
def browser(comfy_server):
    """Headless system Chromium for one test module.

    Playwright's sync API keeps an asyncio loop current in this thread while it is open, and ComfyUI's
    in-process boot calls asyncio.run(): so the server fixture (and the boot it depends on) comes
    first, and the browser is closed when the module ends, before other folders' tests run.
    """
    if frontend.chromium_path() is None:
        pytest.fail("no system Chromium found (looked for " + ", ".join(frontend.CHROMIUM_CANDIDATES)
                    + "): apt-get install -y --no-install-recommends chromium fonts-dejavu-core")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = frontend.launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def app_session(comfy_server, browser):
    """One page with the ComfyUI app loaded, shared by the tests of a module (loading takes seconds)."""
    context = browser.new_context(viewport=frontend.VIEWPORT)
    page = context.new_page()
    log = frontend.PageLog().attach(page)
    page.set_default_timeout(60_000)
    frontend.open_app(page, comfy_server.url)
    try:
        yield frontend.AppPage(page=page, log=log, url=comfy_server.url)
    finally:
        context.close()


@pytest.fixture()
def app_page(app_session):
    """The shared app page; the test fails on uncaught page errors and on console errors that name this
    pack, logged while it ran (or, for the module's first test, while the app started)."""
    log = app_session.log
    if log.checked:
        log.console.clear()
        log.page_errors.clear()
    yield app_session
    log.checked = True
    assert not log.page_errors, f"uncaught errors in the page: {log.page_errors}"
    assert not log.pack_errors(), f"console errors naming the pack: {log.pack_errors()}"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
