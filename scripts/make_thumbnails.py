"""Screenshot each example workflow loaded in the real frontend: example_workflows/<name>.jpg.

    .venv/bin/python scripts/make_thumbnails.py [--server URL] [names...]

Without --server it starts its own ComfyUI (with this pack) on a free port in a temporary base
directory and stops it afterwards. The example input image (scripts/demo.py's scene with its mask in
the alpha channel) is uploaded first, so the Load Image nodes show it. Needs the system Chromium
(`apt-get install chromium`); Playwright's browser download is not used.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "tests"), str(REPO / "tests" / "browser")]

import frontend  # noqa: E402
from comfy_host import ComfyClient, ComfyServer, make_base_dir  # noqa: E402
from demo import demo_inputs  # noqa: E402

WORKFLOWS = REPO / "example_workflows"
THUMB_WIDTH = 512
# Settings changed while taking screenshots (restored afterwards): no minimap, no canvas info text,
# full text detail even when the whole graph is zoomed out to fit.
SCREENSHOT_SETTINGS = {"Comfy.Minimap.Visible": False, "Comfy.Graph.CanvasInfo": False,
                       "LiteGraph.Canvas.MinFontSizeForLOD": 1}


CHANGE_SETTINGS = """async (values) => {
    const previous = {};
    for (const [id, value] of Object.entries(values)) {
        previous[id] = app.extensionManager.setting.get(id);
        await app.extensionManager.setting.set(id, value);
    }
    return previous;
}"""


# The on-screen box around all nodes (titles included), padded and kept inside the viewport.
GRAPH_BOUNDS = """() => {
    const ds = app.canvas.ds, rect = app.canvas.canvas.getBoundingClientRect();
    const title = LiteGraph.NODE_TITLE_HEIGHT, pad = 24;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const n of app.graph.nodes) {
        x0 = Math.min(x0, n.pos[0]); y0 = Math.min(y0, n.pos[1] - title);
        x1 = Math.max(x1, n.pos[0] + n.size[0]); y1 = Math.max(y1, n.pos[1] + n.size[1]);
    }
    const sx = (x) => rect.left + (x + ds.offset[0]) * ds.scale;
    const sy = (y) => rect.top + (y + ds.offset[1]) * ds.scale;
    const left = Math.max(rect.left, sx(x0) - pad), top = Math.max(rect.top, sy(y0) - pad);
    const right = Math.min(rect.right, sx(x1) + pad), bottom = Math.min(rect.bottom, sy(y1) + pad);
    return {x: left, y: top, width: right - left, height: bottom - top};
}"""


def screenshot_workflow(page, workflow: dict, name: str) -> bytes:
    missing = frontend.load_workflow(page, workflow, f"{name}.json")
    if missing:
        raise RuntimeError(f"{name}: the frontend reports missing node types {missing}")
    page.evaluate("""async () => {
        await app.extensionManager.command.execute("Comfy.Canvas.FitView");
        app.canvas.setDirty(true, true);
    }""")
    page.wait_for_timeout(800)  # let the Load Image preview arrive and the canvas redraw
    box = page.evaluate(GRAPH_BOUNDS)
    return page.screenshot(type="png", clip=box)


def to_thumbnail(png: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(image.height * THUMB_WIDTH / image.width)
    out = io.BytesIO()
    image.resize((THUMB_WIDTH, height), Image.LANCZOS).save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def make_thumbnails(url: str, names: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    png, image_name = demo_inputs()
    ComfyClient(url).upload_image(png, image_name)
    with sync_playwright() as playwright:
        browser = frontend.launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            frontend.open_app(page, url)
            saved = page.evaluate(CHANGE_SETTINGS, SCREENSHOT_SETTINGS)
            try:
                page.evaluate('app.extensionManager.command.execute("Workspace.ToggleFocusMode")')
                for name in names:
                    workflow = json.loads((WORKFLOWS / f"{name}.json").read_text())
                    target = WORKFLOWS / f"{name}.jpg"
                    target.write_bytes(to_thumbnail(screenshot_workflow(page, workflow, name)))
                    print(f"wrote {target}")
            finally:
                page.evaluate(CHANGE_SETTINGS, saved)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="a running ComfyUI with this pack (default: start one)")
    parser.add_argument("names", nargs="*", help="workflow names (default: every example workflow)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in WORKFLOWS.glob("*.json"))
    if args.server:
        make_thumbnails(args.server, names)
        return
    with tempfile.TemporaryDirectory(prefix="ffi_thumbs_") as tmp:
        server = ComfyServer(make_base_dir(Path(tmp), models=None)).start()
        try:
            make_thumbnails(server.url, names)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
