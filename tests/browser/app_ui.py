"""What the browser tests share: JavaScript run in the app page and helpers that drive it as a user does
(real clicks on the canvas or in the Nodes 2.0 renderer), and the paths they read."""

from __future__ import annotations

from pathlib import Path

import frontend

REPO = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
XSS = "a bench <img src=x onerror=window.__xss=1> in a park"

PANEL = "ffi_crop_preview"  # the crop-preview panel (web/js/ffi_crop_preview.js), not a rule widget
# Widgets hidden by the pack's rules: the extension's suppression flag where the frontend has the
# visibility model (1.5x; `hidden` there also reads true for linked widgets), else `hidden`.
NODE_STATE = """(type) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const ruled = (w) => w.visibility?.suppression ? w.visibility.suppression.byExtension : w.hidden;
    const saved = app.graph.serialize().nodes.find((s) => String(s.id) === String(n.id));
    return {
        id: n.id,
        names: n.widgets.map((w) => w.name),
        hidden: n.widgets.filter((w) => w.name !== "ffi_crop_preview" && ruled(w)).map((w) => w.name),
        optionsHidden: n.widgets.filter((w) => w.name !== "ffi_crop_preview" && w.options?.hidden).map((w) => w.name),
        minHeight: n.computeSize()[1],
        values: saved.widgets_values,
        named: saved.widgets_values_named ?? null,
    };
}"""

# Bring a node into view at scale 1 (the Vue renderer follows the canvas transform).
FOCUS_NODE = """(type) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const ds = app.canvas.ds;
    ds.scale = 1;
    ds.offset = [-n.pos[0] + 400, -n.pos[1] + 150];
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
    return n.id;
}"""

# For screenshots: the node's lower part (its crop-preview panel) in view, scale 0.8.
SHOW_NODE_BOTTOM = """(type) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const ds = app.canvas.ds, height = app.canvas.canvas.getBoundingClientRect().height;
    ds.scale = 0.8;
    ds.offset = [-n.pos[0] + 450, Math.min(-n.pos[1] + 120, (height - 40) / ds.scale - n.pos[1] - n.size[1])];
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
}"""

# Every string the canvas draws with fillText in one full redraw.
CANVAS_TEXTS = """() => {
    const texts = [];
    const proto = CanvasRenderingContext2D.prototype, original = proto.fillText;
    proto.fillText = function (text, ...rest) {
        texts.push(String(text));
        return original.call(this, text, ...rest);
    };
    try {
        app.canvas.setDirty(true, true);
        app.canvas.draw(true, true);
    } finally {
        proto.fillText = original;
    }
    return texts;
}"""

# Bring a node into view at scale 1 and return the screen point of one of its widgets: the middle of
# the row ("middle", toggles a boolean) or its right arrow ("next", steps a combo to its next value).
WIDGET_POINT = """([type, name, where]) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const w = n.widgets.find((w) => w.name === name);
    const ds = app.canvas.ds, rect = app.canvas.canvas.getBoundingClientRect();
    ds.scale = 1;
    ds.offset = [-n.pos[0] + 400, -n.pos[1] + 150];
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
    const gx = n.pos[0] + (where === "next" ? n.size[0] - 24 : n.size[0] / 2);
    const gy = n.pos[1] + w.y + (w.computedHeight ?? 24) / 2 - 2;
    return {x: rect.left + (gx + ds.offset[0]) * ds.scale, y: rect.top + (gy + ds.offset[1]) * ds.scale};
}"""

SET_WIDGET = """([type, name, value]) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const w = n.widgets.find((w) => w.name === name);
    w.value = value;
    w.callback?.(value, app.canvas, n);
    return n.widgets.length;
}"""


PREVIEW_SETTLED = """(type) => {
    const panels = app.graph.nodes.filter((n) => n.type === type).map((n) => n.ffiCropPreview);
    return panels.length > 0 && panels.every((p) => p && p.scanned && !p.pending);
}"""


def wait_for_preview(app_page, node_type: str = "FFI_FluxFillInpainter") -> None:
    """Wait until every node's crop-preview panel has planned its current inputs (it may resize the node)."""
    app_page.page.wait_for_function(PREVIEW_SETTLED, arg=node_type, timeout=30_000)
    app_page.page.wait_for_timeout(100)


def click_widget(app_page, node_type: str, name: str, where: str = "middle") -> None:
    """Click a widget on the canvas with the mouse, as a user does."""
    point = app_page.evaluate(WIDGET_POINT, [node_type, name, where])
    app_page.page.mouse.click(point["x"], point["y"])
    app_page.page.wait_for_timeout(150)


def close_dialogs(page) -> None:
    """Close open dialogs (Escape, else their close button) so they cannot cover the canvas."""
    page.keyboard.press("Escape")
    dialogs = page.locator('[role="dialog"]:visible')
    for _ in range(3):
        if dialogs.count() == 0:
            return
        close = dialogs.first.locator('button[aria-label="Close"], button.p-dialog-close-button, '
                                      'button:has(i.pi-times)')
        if close.count():
            close.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    assert dialogs.count() == 0, "a dialog stayed open"


def vue_widget(app_page, node_type: str, name: str):
    """The row of a widget in the Vue node renderer (Nodes 2.0), with the node brought into view."""
    node_id = app_page.evaluate(FOCUS_NODE, node_type)
    return app_page.page.locator(f'[data-node-id="{node_id}"] [data-widget-name="{name}"]')


def toggle(app_page, node_type: str, name: str) -> None:
    """Flip a boolean widget with a real click: its switch in Nodes 2.0, the canvas toggle otherwise."""
    if app_page.config.vue:
        vue_widget(app_page, node_type, name).locator('button[role="switch"]').click()
        app_page.page.wait_for_timeout(150)
    else:
        click_widget(app_page, node_type, name)


def choose(app_page, node_type: str, name: str, value: str) -> None:
    """Pick a combo value with real clicks: the Vue select's option, or the canvas arrow (next value)."""
    if app_page.config.vue:
        vue_widget(app_page, node_type, name).locator('button[role="combobox"]').click()
        app_page.page.locator('[role="option"]').filter(has_text=value).first.click()
        app_page.page.wait_for_timeout(150)
    else:
        click_widget(app_page, node_type, name, "next")


def vue_rows(app_page, node_type: str) -> list[str]:
    """Names of the widget rows the Vue renderer shows for a node."""
    node_id = app_page.evaluate(FOCUS_NODE, node_type)
    return app_page.evaluate(
        """(id) => [...document.querySelectorAll(`[data-node-id="${id}"] [data-widget-name]`)]
            .map((e) => e.getAttribute("data-widget-name"))""", node_id)


def dismiss_toasts(page) -> None:
    """Close the frontend's notices (they are not the pack's) so they cannot cover the Run button."""
    page.evaluate("app.extensionManager.toast.removeAll?.() ?? app.extensionManager.toast.removeAllGroups?.()")
    page.locator(".p-toast-top-right .p-toast-message").first.wait_for(state="detached", timeout=10_000)


def pack_node_ids(object_info: dict) -> set[str]:
    return {name for name, info in object_info.items() if info.get("python_module") == frontend.PACK_MODULE}
