"""Fixtures for the browser tests: the system Chromium (via Playwright) against a real ComfyUI server.

Every test module runs once per frontend configuration of the host under test (frontend.FRONTEND_CONFIGS:
on ComfyUI 0.3.75 the 1.32.9 it pins, classic; on 0.8.0 the 1.35.9 it pins, classic, and the newest one,
classic and with Nodes 2.0). One server per frontend version serves the whole session (`--front-end-root`
for the newest); the renderer is a user setting, written over HTTP before the module's page opens.
"""

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
import requests  # noqa: E402


@pytest.fixture(scope="session")
def frontend_servers(comfy_base, tiny_model_files):
    """Start (once per session) and return the ComfyUI server that serves a frontend version."""
    from comfy_host import ComfyServer
    from demo import demo_inputs

    data, name = demo_inputs()  # the example workflows' LoadImage image (scripts/demo.py uploads it)
    (comfy_base / "input" / name).write_bytes(data)
    servers: dict[str, ComfyServer] = {}

    def server_for(config: frontend.FrontendConfig) -> ComfyServer:
        if config.version not in servers:
            servers[config.version] = ComfyServer(comfy_base, extra_args=config.server_args()).start()
        return servers[config.version]

    try:
        yield server_for
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module", params=frontend.FRONTEND_CONFIGS, ids=lambda c: c.id)
def frontend_config(request) -> frontend.FrontendConfig:
    return request.param


@pytest.fixture(scope="module")
def comfy_server(frontend_config, frontend_servers):
    """The server of this module's frontend (overrides the session server of tests/conftest.py)."""
    return frontend_servers(frontend_config)


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
def app_session(comfy_server, browser, frontend_config):
    """One page with the ComfyUI app loaded, shared by the tests of a module (loading takes seconds)."""
    set_renderer(comfy_server.url, frontend_config.vue)
    context = browser.new_context(viewport=frontend.VIEWPORT)
    page = context.new_page()
    log = frontend.PageLog().attach(page)
    page.set_default_timeout(60_000)
    frontend.open_app(page, comfy_server.url)
    version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__ ?? null")
    assert version == frontend_config.version, f"expected frontend {frontend_config.version}, got {version}"
    vue = page.evaluate('app.extensionManager.setting.get("Comfy.VueNodes.Enabled") === true')
    assert vue == frontend_config.vue
    try:
        yield frontend.AppPage(page=page, log=log, url=comfy_server.url, config=frontend_config)
    finally:
        context.close()


def set_renderer(url: str, vue: bool) -> None:
    """Nodes 2.0 on or off for the pages opened next (a user setting on the server)."""
    response = requests.post(f"{url}/settings/Comfy.VueNodes.Enabled", json=vue, timeout=30)
    response.raise_for_status()


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
