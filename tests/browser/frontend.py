"""Drive the real ComfyUI frontend (comfyui-frontend-package) in the system's headless Chromium.

Shared by the browser tests and scripts/make_thumbnails.py. Playwright's own browser download is
never used: Chromium comes from the Debian package (`apt-get install chromium`).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from comfy_host import comfyui_path, comfyui_version
from host import NEWEST_FRONTEND, frontend_root, pinned_frontend

PACK_MODULE = "custom_nodes.fluxfill_inpainter"
PACK_FOLDER = "fluxfill_inpainter"
EXTENSION_NAME = "FluxFill.Inpainter"
# The nodes the pack must always have (it may have more: tests read the rest from /object_info).
CORE_NODES = ("FFI_FluxFillInpainter", "FFI_InpaintOptions", "FFI_InpaintCrop", "FFI_InpaintStitch")
# Words that identify console lines coming from this pack (its JS logs with "[FluxFill.Inpainter]").
PACK_MARKERS = ("fluxfill", "ffi_", "fluxfill_inpainter")

# Lines naming the pack that are the frontend's own probing, not failures, as (text, url) patterns:
# 1.5x looks a help page up at docs/<Node>/<locale>.md first and falls back to docs/<Node>.md (which
# the pack serves); node-registry lookups at api.comfy.org fail offline (the tests have no network).
PACK_NOISE = (
    (re.compile(r"^Failed to load resource: .*404"), re.compile(r"/docs/FFI_\w+/[A-Za-z_-]+\.md(\?.*)?$")),
    (re.compile(r"^Failed to load resource: net::ERR_NAME_NOT_RESOLVED"), re.compile(r"^https://api\.comfy\.org/")),
)


@dataclass(frozen=True)
class FrontendConfig:
    """One frontend the browser suite runs against: a comfyui-frontend-package version and renderer."""

    version: str
    vue: bool  # Nodes 2.0 (setting Comfy.VueNodes.Enabled)

    @property
    def renderer(self) -> str:
        return "vue" if self.vue else "classic"

    @property
    def id(self) -> str:
        return f"{self.version}-{self.renderer}"

    def server_args(self) -> list[str]:
        """`--front-end-root` for a frontend outside the venv (none for the one ComfyUI pins)."""
        root = frontend_root(self.version, comfyui_path())
        if root is None:
            return []
        if not (root / "index.html").exists():
            raise RuntimeError(f"frontend {self.version} is not installed at {root}: run `python3 scripts/host.py`")
        return ["--front-end-root", str(root)]


PINNED_FRONTEND = pinned_frontend(comfyui_path())  # 1.32.9 on ComfyUI 0.3.75, 1.35.9 on 0.8.0
PINNED_CONFIG = FrontendConfig(PINNED_FRONTEND, False)
NEWEST_CONFIGS = (FrontendConfig(NEWEST_FRONTEND, False), FrontendConfig(NEWEST_FRONTEND, True))
# The oldest host runs the frontend it pins; the newest host runs its pinned one and the newest frontend
# with Nodes 2.0 off and on (a newer frontend on the old backend would repeat the newest host's modules).
FRONTEND_CONFIGS = (PINNED_CONFIG,) if comfyui_version() < (0, 8, 0) else (PINNED_CONFIG, *NEWEST_CONFIGS)

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1600, "height": 1000}

APP_READY = "() => !!(window.app && app.graph && app.extensionManager?.workflow?.activeWorkflow)"

# Load a UI-format workflow the way the frontend does, recording the node types it reports missing
# (1.32.9 calls app.showMissingNodesError; 1.58.1 reports them elsewhere, so the node types the
# frontend has no definition for are counted too: it registers every type the server declares).
LOAD_WORKFLOW = """async ([workflow, name]) => {
    const missing = [];
    const original = app.showMissingNodesError;
    app.showMissingNodesError = function (types, ...rest) {
        for (const t of types ?? []) missing.push(typeof t === "string" ? t : t?.type);
    };
    try {
        await app.loadGraphData(workflow, true, true, name);
    } finally {
        app.showMissingNodesError = original;
    }
    const subgraphs = new Set((workflow.definitions?.subgraphs ?? []).map((g) => g.id));
    for (const node of workflow.nodes ?? []) {
        const t = node.type;
        if (t && !subgraphs.has(t) && !LiteGraph.registered_node_types[t] && !missing.includes(t)) missing.push(t);
    }
    return missing;
}"""


def chromium_path() -> str | None:
    """The system Chromium binary ($FFI_CHROMIUM wins), or None when it is not installed."""
    override = os.environ.get("FFI_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def launch(playwright):
    """Headless system Chromium with networking limited to 127.0.0.1."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("no system Chromium: apt-get install -y --no-install-recommends chromium")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


def is_pack_message(text: str, url: str = "") -> bool:
    haystack = f"{text} {url}".lower()
    return any(marker in haystack for marker in PACK_MARKERS)


def is_noise(text: str) -> bool:
    """The frontend's own failed fetches (404 for user.css, templates, endpoints the 0.3.75 backend
    lacks such as jobs and assets, offline api.comfy.org)."""
    return text.startswith("Failed to load resource")


def is_pack_noise(text: str, url: str) -> bool:
    """A line naming the pack that is still the frontend's own probing (see PACK_NOISE)."""
    return any(text_re.search(text) and url_re.search(url) for text_re, url_re in PACK_NOISE)


@dataclass
class PageLog:
    """Console lines and uncaught page errors of one page."""

    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)
    checked: bool = False  # a test has checked the lines so far (the next one starts from empty lists)

    def attach(self, page) -> PageLog:
        page.on("console", lambda m: self.console.append((m.type, m.text, (m.location or {}).get("url", ""))))
        page.on("pageerror", lambda e: self.page_errors.append(f"{e}\n{getattr(e, 'stack', '')}"))
        return self

    def pack_errors(self) -> list[str]:
        """Console errors that name the pack (its JS file, node ids or log prefix), noise excluded."""
        return [f"{text} ({url})" for kind, text, url in self.console
                if kind == "error" and is_pack_message(text, url) and not is_pack_noise(text, url)]

    def pack_warnings(self) -> list[str]:
        return [text for kind, text, url in self.console if kind == "warning" and is_pack_message(text, url)]


@dataclass
class AppPage:
    """A page with the ComfyUI app loaded, its log, and the server's URL."""

    page: object
    log: PageLog
    url: str
    config: FrontendConfig = FRONTEND_CONFIGS[0]

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def load_workflow(self, workflow: dict, name: str) -> list[str]:
        return load_workflow(self.page, workflow, name)


def open_app(page, url: str, timeout_ms: int = 120_000) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_function(APP_READY, timeout=timeout_ms)


def load_workflow(page, workflow: dict, name: str) -> list[str]:
    """Load a UI-format workflow into the app; returns the node types the frontend reports missing."""
    return page.evaluate(LOAD_WORKFLOW, [workflow, name])


def hide_chrome(page) -> None:
    """Close the "Nodes 2.0" banner and the minimap so screenshots show the graph."""
    page.evaluate("""async () => {
        await app.extensionManager.setting.set("Comfy.Minimap.Visible", false);
    }""")
    banner_close = page.locator("button:has(i.pi-times)").filter(has_not_text="Run")
    for button in banner_close.all():
        if button.is_visible() and button.bounding_box() and button.bounding_box()["y"] < 40:
            button.click()
