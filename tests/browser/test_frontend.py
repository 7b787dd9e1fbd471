"""The pack in the real ComfyUI frontend (1.32.9), in headless Chromium, against a real server.

Every test gets a fresh page (see conftest.app_page), which fails the test on uncaught page errors
and on console errors that name the pack.
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

NODE_STATE = """(type) => {
    const n = app.graph.nodes.find((n) => n.type === type);
    return {
        id: n.id,
        names: n.widgets.map((w) => w.name),
        hidden: n.widgets.filter((w) => w.hidden).map((w) => w.name),
        optionsHidden: n.widgets.filter((w) => w.options?.hidden).map((w) => w.name),
        minHeight: n.computeSize()[1],
        values: app.graph.serialize().nodes.find((s) => s.id === n.id).widgets_values,
    };
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


def click_widget(app_page, node_type: str, name: str, where: str = "middle") -> None:
    """Click a widget on the canvas with the mouse, as a user does."""
    point = app_page.evaluate(WIDGET_POINT, [node_type, name, where])
    app_page.page.mouse.click(point["x"], point["y"])
    app_page.page.wait_for_timeout(150)


def dismiss_toasts(page) -> None:
    """Close the frontend's notices (they are not the pack's) so they cannot cover the Run button."""
    page.evaluate("app.extensionManager.toast.removeAll()")
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
    workflow = json.loads((REPO / "example_workflows" / "flux_fill_object_removal.json").read_text())
    assert app_page.load_workflow(workflow, "visibility.json") == []
    main, opts = "FFI_FluxFillInpainter", "FFI_InpaintOptions"

    start = app_page.evaluate(NODE_STATE, main)
    assert start["hidden"] == []  # differential_attention is on in the example
    dd_index = start["names"].index("dd_strength")
    app_page.evaluate(SET_WIDGET, [main, "dd_strength", 0.4])
    click_widget(app_page, main, "differential_attention")  # a real click on the canvas toggle
    off = app_page.evaluate(NODE_STATE, main)
    assert off["values"][start["names"].index("differential_attention")] is False
    assert off["names"] == start["names"], "a widget was removed"
    assert off["hidden"] == ["dd_strength"] and off["optionsHidden"] == ["dd_strength"]
    assert off["minHeight"] < start["minHeight"], "the hidden widget still takes space"
    assert len(off["values"]) == len(start["values"])
    assert off["values"][dd_index] == 0.4, "dd_strength's value moved or was lost while hidden"

    state = app_page.evaluate(NODE_STATE, opts)
    assert set(state["hidden"]) == {"fixed_width", "fixed_height"}  # target_mode area
    mode_index = state["names"].index("target_mode")
    click_widget(app_page, opts, "target_mode", "next")  # the combo's arrow: area -> fixed
    fixed = app_page.evaluate(NODE_STATE, opts)
    assert fixed["values"][mode_index] == "fixed"
    assert set(fixed["hidden"]) == {"min_side", "max_side"}
    click_widget(app_page, opts, "target_mode", "next")  # fixed -> none
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
    assert reloaded_main["hidden"] == ["dd_strength"]
    assert set(reloaded_opts["hidden"]) == set(fixed_none["hidden"])

    app_page.evaluate(SET_WIDGET, [main, "differential_attention", True])
    app_page.evaluate(SET_WIDGET, [opts, "target_mode", "area"])
    assert app_page.evaluate(NODE_STATE, main)["hidden"] == []
    assert set(app_page.evaluate(NODE_STATE, opts)["hidden"]) == {"fixed_width", "fixed_height"}


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


def test_option_widgets_hide_in_nodes_2_renderer(app_page):
    """The Vue node renderer ("Nodes 2.0", a user setting) follows the same rules."""
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
    panel = page.locator(".markdown-content").filter(has_text="Mask conventions")
    panel.wait_for(timeout=30_000)
    text = panel.inner_text()
    assert "r * batch_size + j" in text
    assert "invert_mask" in text and "guidance" in text


def test_extension_never_writes_html():
    source = JS_FILE.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, f"{JS_FILE.name} uses {sink}"


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


def _wait_for_preview(app_page, node_id: int, timeout: float = 300.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        srcs = app_page.evaluate(
            "(id) => (app.graph.getNodeById(id)?.imgs ?? []).filter((i) => i.complete && i.naturalWidth > 0)"
            ".map((i) => i.src)", node_id)
        if srcs:
            return srcs
        for entry in _runs_with_prompt(app_page.url, XSS):
            if entry.get("status", {}).get("status_str") == "error":
                pytest.fail(f"the run failed: {json.dumps(entry['status']['messages'])[:2000]}")
        time.sleep(0.5)
    pytest.fail(f"no preview on node {node_id} after {timeout}s")


def test_run_from_ui_shows_regions_preview(app_page, comfy_client, artifacts_dir):
    image_name = comfy_client.upload_image(_input_png(), "ffi_browser_input.png")
    workflow = tiny_inpaint_workflow(comfy_client.object_info(), image_name)
    assert app_page.load_workflow(workflow, "tiny_inpaint.json") == []
    page = app_page.page
    node_id = page.evaluate("""(text) => {
        const n = app.graph.nodes.find((n) => n.type === "FFI_FluxFillInpainter");
        n.widgets.find((w) => w.name === "text").value = text;
        return n.id;
    }""", XSS)
    dismiss_toasts(page)
    run = page.locator('button[aria-label="Run"]')
    run.wait_for(state="visible", timeout=60_000)
    run.click()

    srcs = _wait_for_preview(app_page, node_id)
    assert "type=temp" in srcs[0] and "filename=" in srcs[0]
    (entry,) = _runs_with_prompt(app_page.url, XSS)
    assert entry["status"]["status_str"] == "success"
    (preview,) = entry["outputs"][str(node_id)]["images"]
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
    assert "ffi_regions" in entry["outputs"][str(node_id)]
    assert summary is not None and summary.startswith("2 regions: ")

    # the prompt with markup went to the server as text and was never rendered as HTML
    prompt_text = entry["prompt"][2][str(node_id)]["inputs"]["text"]
    assert prompt_text == XSS
    assert page.evaluate("window.__xss ?? null") is None
    assert page.locator('img[src="x"]').count() == 0
    page.screenshot(path=str(artifacts_dir / "browser_run_from_ui.png"))
