"""The pack in the real ComfyUI frontend, in headless Chromium, against a real server.

The module runs once per frontend configuration (conftest: 1.32.9 classic, 1.58.1 classic, 1.58.1
with Nodes 2.0). Every test gets the module's page (see conftest.app_page), which fails the test on
uncaught page errors and on console errors that name the pack.
"""

from __future__ import annotations

import copy
import io
import json
import time
from pathlib import Path

import frontend
import numpy as np
import pytest
import requests
from build_workflows import SPECS, build
from PIL import Image
from tiny_models import CLIP_L_FILE, FLUX_FILL_FILE, FLUX_VAE_FILE

REPO = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
JS_FILE = REPO / "web" / "js" / "fluxfill_inpainter.js"
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


def test_extension_loads_without_errors(app_page):
    names = app_page.evaluate("app.extensions.map((e) => e.name)")
    assert frontend.EXTENSION_NAME in names
    served = requests.get(f"{app_page.url}/extensions/{frontend.PACK_FOLDER}/js/fluxfill_inpainter.js", timeout=30)
    assert served.ok and "registerExtension" in served.text
    assert not app_page.log.page_errors
    assert not app_page.log.pack_errors()
    assert not app_page.log.pack_warnings(), "the extension logged warnings on start-up"


def test_every_pack_node_is_registered(app_page, comfy_client):
    object_info = comfy_client.object_info()
    ids = pack_node_ids(object_info)
    assert set(frontend.CORE_NODES) <= ids
    registered = app_page.evaluate(
        """(ids) => ids.map((id) => {
            const node = LiteGraph.registered_node_types[id] ? LiteGraph.createNode(id) : null;
            return [id, !!LiteGraph.registered_node_types[id], node ? (node.widgets ?? []).map((w) => w.name) : null];
        })""", sorted(ids))
    for node_id, is_registered, widget_names in registered:
        assert is_registered, f"{node_id} not in LiteGraph.registered_node_types"
        info = object_info[node_id]
        widgets = [name for section in ("required", "optional")
                   for name in info.get("input_order", {}).get(section, [])
                   if not isinstance(info["input"][section][name][0], str)
                   or info["input"][section][name][0] in {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}]
        # every widget the server declares exists on the created node, in the declared order
        assert [w for w in widget_names if w in widgets] == widgets, node_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_example_workflow_loads_and_saves_unchanged(app_page, path):
    workflow = json.loads(path.read_text())
    missing = app_page.load_workflow(workflow, path.name)
    assert missing == [], f"{path.name}: missing node types {missing}"
    saved = app_page.evaluate("app.graph.serialize()")
    assert {n["id"]: n["type"] for n in saved["nodes"]} == {n["id"]: n["type"] for n in workflow["nodes"]}
    assert len(saved["links"]) == len(workflow["links"])
    for original in workflow["nodes"]:
        node = next(n for n in saved["nodes"] if n["id"] == original["id"])
        values = node.get("widgets_values") or []
        # the frontend may append values of its own UI-only widgets (LoadImage's upload button)
        assert values[:len(original["widgets_values"])] == original["widgets_values"], original["type"]
    assert path.with_suffix(".jpg").exists(), f"{path.name} has no thumbnail"


def test_missing_node_detector_trips_on_unknown_node(app_page):
    """Negative control: the detector used above does report a node type the server lacks."""
    workflow = json.loads((REPO / "example_workflows" / "flux_fill_inpaint.json").read_text())
    workflow = copy.deepcopy(workflow)
    workflow["nodes"][0]["type"] = "FFI_NoSuchNode"
    missing = app_page.load_workflow(workflow, "negative_control.json")
    assert "FFI_NoSuchNode" in missing


def test_option_widgets_hide_without_shifting_widget_values(app_page):
    """Real clicks (canvas toggles, or the Vue switch and select in Nodes 2.0) hide and show rows; the
    positional widgets_values (and 1.5x's widgets_values_named) keep every value, hidden ones too."""
    workflow = json.loads((REPO / "example_workflows" / "flux_fill_object_removal.json").read_text())
    assert app_page.load_workflow(workflow, "visibility.json") == []
    main, opts = "FFI_FluxFillInpainter", "FFI_InpaintOptions"
    vue = app_page.config.vue
    wait_for_preview(app_page)

    start = app_page.evaluate(NODE_STATE, main)
    assert start["hidden"] == []  # differential_attention is on in the example
    if vue:
        app_page.page.wait_for_function(
            f"document.querySelector('[data-node-id=\"{start['id']}\"] [data-widget-name=\"dd_strength\"]')")
    dd_index = start["names"].index("dd_strength")
    app_page.evaluate(SET_WIDGET, [main, "dd_strength", 0.4])
    toggle(app_page, main, "differential_attention")  # a real click
    off = app_page.evaluate(NODE_STATE, main)
    assert off["values"][start["names"].index("differential_attention")] is False
    assert off["names"] == start["names"], "a widget was removed"
    assert off["hidden"] == ["dd_strength"] and off["optionsHidden"] == ["dd_strength"]
    assert off["minHeight"] < start["minHeight"], "the hidden widget still takes space"
    assert len(off["values"]) == len(start["values"])
    assert off["values"][dd_index] == 0.4, "dd_strength's value moved or was lost while hidden"
    if off["named"] is not None:  # 1.5x saves values by name too: hidden ones included
        assert off["named"]["dd_strength"] == 0.4 and off["named"]["differential_attention"] is False
        assert PANEL not in off["named"]
    if vue:
        app_page.page.wait_for_function(
            f"!document.querySelector('[data-node-id=\"{start['id']}\"] [data-widget-name=\"dd_strength\"]')")
        rows = vue_rows(app_page, main)
        assert "dd_strength" not in rows and "differential_attention" in rows

    state = app_page.evaluate(NODE_STATE, opts)
    assert set(state["hidden"]) == {"fixed_width", "fixed_height"}  # target_mode area
    mode_index = state["names"].index("target_mode")
    choose(app_page, opts, "target_mode", "fixed")  # area -> fixed
    fixed = app_page.evaluate(NODE_STATE, opts)
    assert fixed["values"][mode_index] == "fixed"
    assert set(fixed["hidden"]) == {"min_side", "max_side"}
    if vue:
        app_page.page.wait_for_timeout(300)
        rows = vue_rows(app_page, opts)
        assert "fixed_width" in rows and "min_side" not in rows
    choose(app_page, opts, "target_mode", "none")  # fixed -> none
    fixed_none = app_page.evaluate(NODE_STATE, opts)
    assert fixed_none["values"][mode_index] == "none"
    assert set(fixed_none["hidden"]) == {"min_side", "max_side", "fixed_width", "fixed_height"}
    assert len(fixed_none["values"]) == len(state["values"])

    # save (as a file holds it) and reload: same values at the same positions, same widgets hidden
    saved = json.loads(app_page.evaluate("JSON.stringify(app.graph.serialize())"))
    assert app_page.load_workflow(saved, "visibility_reloaded.json") == []
    reloaded_main = app_page.evaluate(NODE_STATE, main)
    reloaded_opts = app_page.evaluate(NODE_STATE, opts)
    assert reloaded_main["values"] == off["values"]
    assert reloaded_opts["values"] == fixed_none["values"]
    assert reloaded_main["named"] == off["named"]
    assert reloaded_main["hidden"] == ["dd_strength"]
    assert set(reloaded_opts["hidden"]) == set(fixed_none["hidden"])

    toggle(app_page, main, "differential_attention")  # and back on with a click
    assert app_page.evaluate(NODE_STATE, main)["hidden"] == []
    if vue:
        app_page.page.wait_for_timeout(300)
        assert "dd_strength" in vue_rows(app_page, main)
    app_page.evaluate(SET_WIDGET, [opts, "target_mode", "area"])
    assert set(app_page.evaluate(NODE_STATE, opts)["hidden"]) == {"fixed_width", "fixed_height"}


def test_a_linked_controller_shows_every_dependent_widget(app_page):
    """A controller fed by a link has no known value: every widget it rules is shown."""
    main = "FFI_FluxFillInpainter"
    result = app_page.evaluate("""async () => {
        app.graph.clear();
        const n = LiteGraph.createNode("FFI_FluxFillInpainter");
        n.pos = [500, 100];
        app.graph.add(n);
        const w = n.widgets.find((w) => w.name === "differential_attention");
        w.value = false;
        w.callback?.(false, app.canvas, n);
        const ruled = (w) => w.visibility?.suppression ? w.visibility.suppression.byExtension : w.hidden;
        const dd = () => ruled(n.widgets.find((w) => w.name === "dd_strength"));
        const before = dd();
        const source = LiteGraph.createNode("PrimitiveBoolean");
        source.pos = [100, 100];
        app.graph.add(source);
        const slot = n.inputs.findIndex((i) => i.widget?.name === "differential_attention");
        source.connect(0, n, slot);
        await new Promise((r) => setTimeout(r, 100));
        const linked = dd();
        n.disconnectInput(slot);
        await new Promise((r) => setTimeout(r, 100));
        return {before, linked, slot, after: dd()};
    }""")
    assert result["slot"] >= 0
    assert result == {"before": True, "linked": False, "slot": result["slot"], "after": True}
    if app_page.config.vue:
        assert "dd_strength" not in vue_rows(app_page, main)


def test_mode_and_units_widgets_hide(app_page):
    """Inpaint Options: prefill is hidden in channel_edit mode; Outpaint Canvas: factor only with units factor."""
    opts, canvas = "FFI_InpaintOptions", "FFI_OutpaintCanvas"
    app_page.evaluate("""(types) => {
        app.graph.clear();
        for (const [i, t] of types.entries()) {
            const n = LiteGraph.createNode(t);
            n.pos = [100 + 450 * i, 100];
            app.graph.add(n);
        }
    }""", [opts, canvas])
    assert "prefill" not in app_page.evaluate(NODE_STATE, opts)["hidden"]
    app_page.evaluate(SET_WIDGET, [opts, "mode", "channel_edit"])
    assert "prefill" in app_page.evaluate(NODE_STATE, opts)["hidden"]
    app_page.evaluate(SET_WIDGET, [opts, "mode", "inpaint"])
    assert "prefill" not in app_page.evaluate(NODE_STATE, opts)["hidden"]
    assert app_page.evaluate(NODE_STATE, canvas)["hidden"] == ["factor"]  # units default: pixels
    app_page.evaluate(SET_WIDGET, [canvas, "units", "factor"])
    state = app_page.evaluate(NODE_STATE, canvas)
    assert state["hidden"] == [] and "factor" in state["names"]


def test_option_widgets_hide_in_nodes_2_renderer_switched_on_in_the_page(app_page):
    """1.32.9's Vue node renderer ("Nodes 2.0", then a beta setting), switched on while the page is open,
    follows the same rules (1.58.1's Nodes 2.0 runs the whole module as its own configuration)."""
    if app_page.config.version != frontend.PINNED_FRONTEND:
        pytest.skip("1.58.1 runs every test with Nodes 2.0 on as its own configuration")
    node_text = """(type) => {
        const n = app.graph.nodes.find((n) => n.type === type);
        return document.querySelector(`[data-node-id="${n.id}"]`)?.innerText ?? null;
    }"""
    app_page.evaluate('app.extensionManager.setting.set("Comfy.VueNodes.Enabled", true)')
    try:
        workflow = json.loads((REPO / "example_workflows" / "flux_fill_object_removal.json").read_text())
        assert app_page.load_workflow(workflow, "vue_visibility.json") == []
        main, opts = "FFI_FluxFillInpainter", "FFI_InpaintOptions"
        app_page.page.wait_for_function(f"({node_text})('{main}')?.includes('dd_strength')")
        app_page.page.wait_for_function(f"({node_text})('{opts}')?.includes('min_side')")
        assert "fixed_width" not in app_page.evaluate(node_text, opts)
        before = app_page.evaluate(NODE_STATE, main)["values"]
        app_page.evaluate(SET_WIDGET, [main, "differential_attention", False])
        app_page.evaluate(SET_WIDGET, [opts, "target_mode", "fixed"])
        app_page.page.wait_for_function(f"!({node_text})('{main}').includes('dd_strength')")
        app_page.page.wait_for_function(f"({node_text})('{opts}').includes('fixed_width')")
        assert "min_side" not in app_page.evaluate(node_text, opts)
        after = app_page.evaluate(NODE_STATE, main)
        assert len(after["values"]) == len(before) and after["hidden"] == ["dd_strength"]
    finally:
        app_page.evaluate('app.extensionManager.setting.set("Comfy.VueNodes.Enabled", false)')


def test_node_help_opens_from_the_node_library(app_page):
    """Search the node library, press the node's help button: the pack's help page is shown.
    1.58.1's experimental redesigned library (its default) has no help button: its classic library,
    a user setting, has one ("Learn more")."""
    page = app_page.page
    page.evaluate("""async () => {
        const setting = app.extensionManager.setting;
        if (setting.get("Comfy.NodeLibrary.NewDesign") !== undefined) {
            await setting.set("Comfy.NodeLibrary.NewDesign", false);
        }
    }""")
    page.evaluate('app.extensionManager.command.execute("Workspace.ToggleSidebarTab.node-library")')
    try:
        search = page.locator('input[placeholder="Search Nodes..."]:visible').first
        search.fill("FluxFill Inpainter")
        leaf = page.locator(".tree-leaf, [role=treeitem]").filter(has_text="FluxFill Inpainter").first
        leaf.wait_for(timeout=30_000)
        leaf.hover()
        leaf.locator('button.help-button, button[aria-label="Learn more"]').first.click()
        panel = page.locator(".markdown-content, .node-help-content").filter(has_text="Mask conventions").first
        panel.wait_for(timeout=30_000)
        text = panel.inner_text()
        assert "r * batch_size + j" in text and "invert_mask" in text
    finally:
        page.keyboard.press("Escape")
        page.evaluate('app.extensionManager.command.execute("Workspace.ToggleSidebarTab.node-library")')


def test_node_help_pages_are_served_and_shown(app_page, comfy_client):
    for node_id in sorted(pack_node_ids(comfy_client.object_info())):
        response = requests.get(f"{app_page.url}/extensions/{frontend.PACK_FOLDER}/docs/{node_id}.md", timeout=30)
        assert response.ok, node_id
        assert response.text.startswith("# ") and "## Inputs" in response.text and "## Outputs" in response.text
    workflow = json.loads((REPO / "example_workflows" / "flux_fill_inpaint.json").read_text())
    assert app_page.load_workflow(workflow, "help.json") == []
    page = app_page.page
    page.evaluate("""() => {
        app.canvas.selectNode(app.graph.nodes.find((n) => n.type === "FFI_FluxFillInpainter"));
        app.canvas.setDirty(true, true);
    }""")
    page.locator('[data-testid="info-button"]').dispatch_event("click")
    heading = page.get_by_text("Mask conventions", exact=True).first  # a heading of the pack's page
    heading.wait_for(timeout=30_000)
    text = heading.evaluate("""(e) => {
        let p = e;
        while (p.parentElement && !p.innerText.includes("invert_mask")) p = p.parentElement;
        return p.innerText;
    }""")
    assert "r * batch_size + j" in text
    assert "invert_mask" in text and "guidance" in text


def test_template_browser_lists_the_pack_workflows_with_thumbnails(app_page):
    """Templates > Extensions > the pack: one card per example workflow, each with its own .jpg loaded."""
    page = app_page.page
    page.evaluate('app.extensionManager.command.execute("Comfy.BrowseTemplates")')
    dialog = page.locator('[role="dialog"]').filter(has_text=frontend.PACK_FOLDER).first
    dialog.wait_for(timeout=30_000)
    shown = 0
    try:
        dialog.get_by_text(frontend.PACK_FOLDER, exact=True).first.click()
        for path in WORKFLOWS:
            card = dialog.locator(f'[data-testid="template-workflow-{path.stem}"]')
            card.wait_for(timeout=30_000)
            card.scroll_into_view_if_needed()
            size = Image.open(path.with_suffix(".jpg")).size
            page.wait_for_function(
                """([card, w, h]) => [...card.querySelectorAll("img")]
                    .some((i) => i.complete && i.naturalWidth === w && i.naturalHeight === h)""",
                arg=[card.element_handle(), *size], timeout=30_000)
            shown += 1
    finally:
        close_dialogs(page)
    assert shown == len(WORKFLOWS) > 0, "every example workflow has a card with its own thumbnail"


def test_extension_never_writes_html():
    for js in sorted((REPO / "web" / "js").glob("*.js")):
        source = js.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{js.name} uses {sink}"


def test_region_summary_is_plain_text(app_page):
    """The summary drawn under the node comes from numbers in the plan, never from markup."""
    result = app_page.evaluate(
        """async (xss) => {
            const mod = await import(`/extensions/fluxfill_inpainter/js/fluxfill_inpainter.js`);
            const node = LiteGraph.createNode("FFI_FluxFillInpainter");
            app.graph.add(node);
            const plan = {regions: [{target: [512, 768], note: xss}, {target: ["<b>", 640]}]};
            node.onExecuted({images: [], ffi_regions: [JSON.stringify(plan)]});
            const empty = mod.summarizeRegions(JSON.stringify({regions: []}));
            const broken = mod.summarizeRegions("{not json");
            app.canvas.draw(true, true);
            return {summary: node.ffiRegionSummary, empty, broken, xss: window.__xss ?? null};
        }""", XSS)
    assert result["summary"] == "2 regions: 512x768, ?"
    assert "<" not in result["summary"]
    assert result["empty"].startswith("no masked region")
    assert result["broken"] is None
    assert result["xss"] is None


def _input_png(width: int = 192, height: int = 128) -> bytes:
    """A flat grey scene; two transparent rectangles are the mask (LoadImage: MASK = 1 - alpha)."""
    rgb = np.full((height, width, 3), 96, np.uint8)
    rgb[:, : width // 2] = 140
    alpha = np.full((height, width), 255, np.uint8)
    alpha[10:34, 10:40] = 0
    alpha[90:118, 150:182] = 0
    buf = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def tiny_inpaint_workflow(object_info: dict, image_name: str) -> dict:
    """The flux_fill_inpaint example pointed at the tiny models, with small crops for a CPU."""
    spec = SPECS["flux_fill_inpaint"]
    nodes = dict(spec["nodes"])
    nodes["unet"] = ("UNETLoader", (40, 80), {"unet_name": FLUX_FILL_FILE, "weight_dtype": "default"})
    nodes["clip"] = ("CLIPLoader", (40, 230), {"clip_name": CLIP_L_FILE, "type": "stable_diffusion",
                                               "device": "default"})
    nodes["vae"] = ("VAELoader", (40, 420), {"vae_name": FLUX_VAE_FILE})
    nodes["load"] = ("LoadImage", (40, 540), {"image": image_name})
    nodes["options"] = ("FFI_InpaintOptions", (40, 900), {"min_side": 64, "max_side": 256, "min_crop": 64,
                                                          "min_context": 8, "merge_gap": 0})
    _, pos, widgets = nodes["inpaint"]
    nodes["inpaint"] = ("FFI_FluxFillInpainter", pos, widgets | {"steps": 2, "target_megapixels": 0.02,
                                                                 "context": 0.5, "grow": 0, "feather": 4,
                                                                 "seed": 7})
    links = [*spec["links"], ("options", "FFI_OPTIONS", "inpaint", "options")]
    return build({"nodes": nodes, "links": links}, object_info)


def _runs_with_prompt(url: str, text: str) -> list[dict]:
    """History entries of prompts in which some node's `text` input is `text`."""
    history = requests.get(url + "/history", timeout=30).json()
    return [entry for entry in history.values()
            if any(node.get("inputs", {}).get("text") == text for node in entry["prompt"][2].values())]


def _wait_for_run(app_page, node_id, text: str, timeout: float = 300.0) -> tuple[dict, list[str]]:
    """The finished history entry of the prompt with `text`, and the loaded preview images the node
    shows (node.imgs on the canvas; <img> elements in the Vue node)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = _runs_with_prompt(app_page.url, text)
        for entry in entries:
            if entry.get("status", {}).get("status_str") == "error":
                pytest.fail(f"the run failed: {json.dumps(entry['status']['messages'])[:2000]}")
        srcs = app_page.evaluate("""(id) => {
            const n = app.graph.getNodeById(id);
            const loaded = (imgs) => [...imgs].filter((i) => i.complete && i.naturalWidth > 0).map((i) => i.src);
            const own = loaded(n?.imgs ?? []);
            if (own.length) return own;
            return loaded(document.querySelectorAll(`[data-node-id="${id}"] img`))
                .filter((src) => src.includes("type=temp"));
        }""", node_id)
        if entries and entries[0].get("status", {}).get("completed") and srcs:
            return entries[0], srcs
        time.sleep(0.5)
    pytest.fail(f"no finished run with a preview on node {node_id} after {timeout}s")


def _mask_png(boxes: list[tuple[int, int, int, int]], width: int = 192, height: int = 128) -> bytes:
    """The test scene with the given (x0, y0, x1, y1) boxes painted as mask (alpha 0)."""
    rgb = np.full((height, width, 3), 96, np.uint8)
    rgb[:, : width // 2] = 140
    alpha = np.full((height, width), 255, np.uint8)
    for x0, y0, x1, y1 in boxes:
        alpha[y0:y1, x0:x1] = 0
    buf = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _upload_to_clipspace(url: str, data: bytes, name: str) -> str:
    """Upload as the MaskEditor saves a painted mask: into input/clipspace; returns LoadImage's value."""
    r = requests.post(url + "/upload/image", files={"image": (name, io.BytesIO(data), "image/png")},
                      data={"subfolder": "clipspace", "type": "input", "overwrite": "true"}, timeout=60)
    r.raise_for_status()
    body = r.json()
    return f"{body['subfolder']}/{body['name']} [input]"


PANEL_STATE = """(type) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    const p = n.ffiCropPreview, c = p.canvas;
    let boxPixels = 0;
    if (p.plan && c.width > 0) {
        const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < data.length; i += 4) {
            // the first region's box colour (#ff4d4d)
            if (data[i] > 230 && data[i + 1] < 110 && data[i + 2] < 110) boxPixels++;
        }
    }
    return {plan: n.ffiPreviewPlan ?? null, text: p.text.textContent, boxPixels, signature: p.signature};
}"""


def test_crop_preview_follows_mask_and_widgets_without_a_run(app_page, comfy_client, artifacts_dir):
    """A LoadImage -> FluxFill graph shows the crop plan the server's route computes, redrawn when the
    mask (a new MaskEditor file) or a crop widget changes, and nothing is queued."""
    config = app_page.config
    image_name = comfy_client.upload_image(_input_png(), "ffi_browser_input.png")
    workflow = tiny_inpaint_workflow(comfy_client.object_info(), image_name)
    assert app_page.load_workflow(workflow, "preview.json") == []
    history_before = len(requests.get(app_page.url + "/history", timeout=30).json())
    main = "FFI_FluxFillInpainter"
    wait_for_preview(app_page)
    first = app_page.evaluate(PANEL_STATE, main)
    assert first["plan"] is not None, first["text"]
    assert len(first["plan"]["regions"]) == 2
    assert first["text"].startswith("crop plan: 2 regions: ")
    assert first["boxPixels"] > 20, "no region box drawn on the preview canvas"
    # the panel shows exactly what the route answers for the node's settings and options
    request = json.loads(first["signature"])
    assert request["image"] == image_name and request["context"] == 0.5 and request["options"]["merge_gap"] == 0
    answer = requests.post(app_page.url + "/fluxfill_inpainter/plan_preview", json=request, timeout=60).json()
    assert answer == first["plan"]
    app_page.evaluate(SHOW_NODE_BOTTOM, main)
    app_page.page.wait_for_timeout(300)
    app_page.page.screenshot(path=str(artifacts_dir / f"preview_boxes_{config.renderer}_{config.version}.png"))

    # a crop widget changes: a new plan, no run
    app_page.evaluate(SET_WIDGET, [main, "context", 2.0])
    app_page.page.wait_for_function(
        "(t) => { const n = app.graph.nodes.find((n) => n.type === t); return JSON.parse(n.ffiCropPreview.signature)"
        ".context === 2 && !n.ffiCropPreview.pending; }", arg=main)
    wider = app_page.evaluate(PANEL_STATE, main)
    assert len(wider["plan"]["regions"]) == 2
    assert wider["plan"]["regions"] != first["plan"]["regions"]
    for wide, narrow in zip(wider["plan"]["regions"], first["plan"]["regions"], strict=True):
        assert wide["box"][2] - wide["box"][0] >= narrow["box"][2] - narrow["box"][0]

    # the mask changes: the MaskEditor saves a new file into clipspace and points LoadImage at it
    one_region = _upload_to_clipspace(app_page.url, _mask_png([(60, 40, 90, 70)]), "ffi_mask_one.png")
    app_page.evaluate("""(value) => {
        const n = app.graph.nodes.find((n) => n.type === "LoadImage");
        const w = n.widgets.find((w) => w.name === "image");
        w.value = value;
        w.callback?.(value);
    }""", one_region)
    app_page.page.wait_for_function(
        "(t) => { const n = app.graph.nodes.find((n) => n.type === t); return n.ffiPreviewPlan?.regions?.length === 1"
        " && !n.ffiCropPreview.pending; }", arg=main)
    single = app_page.evaluate(PANEL_STATE, main)
    (region,) = single["plan"]["regions"]
    x0, y0, x1, y1 = region["mask_box"]
    assert x0 <= 60 and y0 <= 40 and x1 >= 90 and y1 >= 70
    assert single["text"].startswith("crop plan: 1 region: ")

    assert len(requests.get(app_page.url + "/history", timeout=30).json()) == history_before, "a prompt ran"
    assert requests.get(app_page.url + "/queue", timeout=30).json()["queue_running"] == []


def test_run_from_ui_shows_regions_preview(app_page, comfy_client, artifacts_dir):
    config = app_page.config
    text = f"{XSS} ({config.id})"  # one prompt per configuration (a repeated prompt would be cached)
    image_name = comfy_client.upload_image(_input_png(), "ffi_browser_input.png")
    workflow = tiny_inpaint_workflow(comfy_client.object_info(), image_name)
    assert app_page.load_workflow(workflow, "tiny_inpaint.json") == []
    page = app_page.page
    node_id = page.evaluate("""(text) => {
        const n = app.graph.nodes.find((n) => n.type === "FFI_FluxFillInpainter");
        n.widgets.find((w) => w.name === "text").value = text;
        return n.id;
    }""", text)
    wait_for_preview(app_page)
    dismiss_toasts(page)
    # the Run button: aria-label "Run" in 1.32.9, data-testid "queue-button" in 1.58.1's top bar
    run = page.locator('button[aria-label="Run"]:visible, button[data-testid="queue-button"]:visible').first
    run.wait_for(state="visible", timeout=60_000)
    run.click()

    entry, srcs = _wait_for_run(app_page, node_id, text)
    assert "type=temp" in srcs[0] and "filename=" in srcs[0]
    assert entry["status"]["status_str"] == "success"
    outputs = entry["outputs"][str(node_id)]
    (preview,) = outputs["images"]
    assert preview["filename"] in srcs[0], "the node shows another image than its regions preview"
    # the preview is the grey input with the two regions' boxes drawn in colour, mask boxes in white
    png = requests.get(srcs[0], timeout=30).content
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (128, 192)
    assert (pixels == 255).all(axis=-1).sum() > 100
    saturated = pixels.max(axis=-1) - pixels.min(axis=-1) > 100
    assert saturated[:64, :96].sum() > 50 and saturated[64:, 96:].sum() > 50, "expected one box per region"
    # the one-line summary comes only from the plan the node reports in ui.ffi_regions, never invented
    summary = page.evaluate("(id) => app.graph.getNodeById(id).ffiRegionSummary ?? null", node_id)
    assert "ffi_regions" in outputs
    assert summary is not None and summary.startswith("2 regions: ")
    # the crop preview shown before the run is the plan the node ran
    ran = json.loads(outputs["ffi_regions"][0])
    shown = page.evaluate("(id) => app.graph.getNodeById(id).ffiPreviewPlan", node_id)
    assert shown is not None and shown["regions"] == ran["regions"]

    # the summary is visible: drawn on the canvas (classic) or as text in the node's DOM (Nodes 2.0)
    page.evaluate(FOCUS_NODE, "FFI_FluxFillInpainter")
    if config.vue:
        page.wait_for_function("([id, s]) => document.querySelector(`[data-node-id=\"${id}\"]`)?.innerText"
                               ".includes(s)", arg=[node_id, summary])
    else:
        assert summary in page.evaluate(CANVAS_TEXTS), "the summary badge is not drawn on the canvas"
    page.evaluate(SHOW_NODE_BOTTOM, "FFI_FluxFillInpainter")
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / f"summary_{config.renderer}_{config.version}.png"))

    # the prompt with markup went to the server as text and was never rendered as HTML
    prompt_text = entry["prompt"][2][str(node_id)]["inputs"]["text"]
    assert prompt_text == text
    assert page.evaluate("window.__xss ?? null") is None
    assert page.locator('img[src="x"]').count() == 0
    page.screenshot(path=str(artifacts_dir / f"browser_run_from_ui_{config.id}.png"))


def test_workflow_saved_in_newest_frontend_reloads_in_pinned_and_back(app_page, browser, frontend_servers):
    """A workflow saved in 1.58.1 (rules hiding widgets) loads in 1.32.9 with the same widgets_values and
    hidden widgets; saved there and loaded back in 1.58.1, widgets_values and widgets_values_named match."""
    newest, pinned = frontend.FRONTEND_CONFIGS[1], frontend.FRONTEND_CONFIGS[0]
    if app_page.config != newest:
        pytest.skip("runs once, from the 1.58.1 classic module, against both frontends' servers")
    ffi = ("FFI_FluxFillInpainter", "FFI_InpaintOptions")
    workflow = json.loads((REPO / "example_workflows" / "flux_fill_object_removal.json").read_text())
    assert app_page.load_workflow(workflow, "round_trip.json") == []
    app_page.evaluate(SET_WIDGET, [ffi[0], "dd_strength", 0.3])
    app_page.evaluate(SET_WIDGET, [ffi[0], "differential_attention", False])
    app_page.evaluate(SET_WIDGET, [ffi[1], "target_mode", "none"])
    app_page.evaluate(SET_WIDGET, [ffi[1], "max_side", 1536])
    new_states = {t: app_page.evaluate(NODE_STATE, t) for t in ffi}
    assert new_states[ffi[0]]["hidden"] == ["dd_strength"]
    assert new_states[ffi[0]]["named"]["dd_strength"] == 0.3
    saved_new = json.loads(app_page.evaluate("JSON.stringify(app.graph.serialize())"))

    context = browser.new_context(viewport=frontend.VIEWPORT)
    try:
        page = context.new_page()
        log = frontend.PageLog().attach(page)
        page.set_default_timeout(60_000)
        frontend.open_app(page, frontend_servers(pinned).url)
        assert page.evaluate("window.__COMFYUI_FRONTEND_VERSION__") == pinned.version
        assert frontend.load_workflow(page, saved_new, "from_1.58.1.json") == []
        old_states = {t: page.evaluate(NODE_STATE, t) for t in ffi}
        for t in ffi:
            assert old_states[t]["values"] == new_states[t]["values"], t
            assert set(old_states[t]["hidden"]) == set(new_states[t]["hidden"]), t
        saved_old = json.loads(page.evaluate("JSON.stringify(app.graph.serialize())"))
        assert not log.page_errors and not log.pack_errors(), (log.page_errors, log.pack_errors())
    finally:
        context.close()

    assert app_page.load_workflow(saved_old, "from_1.32.9.json") == []
    back = {t: app_page.evaluate(NODE_STATE, t) for t in ffi}
    for t in ffi:
        assert back[t]["values"] == new_states[t]["values"], t
        assert back[t]["named"] == new_states[t]["named"], t
        assert set(back[t]["hidden"]) == set(new_states[t]["hidden"]), t


SUBGRAPH_WITH_PROMOTED_CONTROLLER = """async () => {
    const wait = () => new Promise((r) => setTimeout(r, 200));
    const ruled = (w) => w.visibility?.suppression ? w.visibility.suppression.byExtension : w.hidden;
    app.graph.clear();
    const n = LiteGraph.createNode("FFI_FluxFillInpainter");
    n.pos = [300, 200];
    app.graph.add(n);
    const {subgraph, node: outer} = app.graph.convertToSubgraph(new Set([n]));
    const inner = subgraph.nodes.find((x) => x.type === "FFI_FluxFillInpainter");
    const ddHidden = () => ruled(inner.widgets.find((w) => w.name === "dd_strength"));
    const controller = inner.widgets.find((w) => w.name === "differential_attention");
    const out = {innerFound: !!inner, style: null, steps: []};
    await wait();
    if (outer.properties?.proxyWidgets) {
        // 1.3x: a promoted widget proxies the interior one (setting its value, calling its callback)
        out.style = "proxy";
        outer.properties.proxyWidgets = [[String(inner.id), "differential_attention"]];
        await wait();
        const promoted = outer.widgets.find((w) => String(w.name).endsWith("differential_attention"));
        for (const value of [false, true, false]) {
            promoted.value = value;
            promoted.callback?.(value, app.canvas, outer);
            await wait();
            out.steps.push([value, controller.value, ddHidden()]);
        }
    } else {
        // 1.5x: promotion links the interior widget's input to a new subgraph input
        out.style = "input";
        controller.value = false;
        controller.callback?.(false, app.canvas, inner);
        await wait();
        out.steps.push(["unlinked false", controller.value, ddHidden()]);
        const input = subgraph.addInput("differential_attention", "BOOLEAN");
        out.connected = !!input.connect(inner.getSlotFromWidget(controller), inner);
        await wait();
        out.steps.push(["promoted", controller.value, ddHidden()]);
    }
    const saved = JSON.parse(JSON.stringify(app.graph.serialize()));
    await app.loadGraphData(saved, true, true, "subgraph_reloaded.json");
    await wait();
    const reloadedInner = app.graph.subgraphs
        ? [...app.graph.subgraphs.values()].flatMap((g) => g.nodes).find((x) => x.type === "FFI_FluxFillInpainter")
        : null;
    out.reloadedHidden = reloadedInner ? ruled(reloadedInner.widgets.find((w) => w.name === "dd_strength")) : null;
    return out;
}"""


def test_ffi_node_in_a_subgraph_keeps_its_rules_with_a_promoted_controller(app_page):
    """An FFI node inside a subgraph whose differential_attention is promoted to the subgraph node: 1.32.9
    proxies the value (rules follow it); 1.58.1 links it through a subgraph input (a linked controller:
    every dependent widget shown). No console errors naming the pack (the fixture checks)."""
    result = app_page.evaluate(SUBGRAPH_WITH_PROMOTED_CONTROLLER)
    assert result["innerFound"]
    if result["style"] == "proxy":
        assert result["steps"] == [[False, False, True], [True, True, False], [False, False, True]]
        assert result["reloadedHidden"] is True
    else:
        assert result["connected"]
        assert result["steps"] == [["unlinked false", False, True], ["promoted", False, False]]
        assert result["reloadedHidden"] is False
