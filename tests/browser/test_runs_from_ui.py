"""The pack's node run from the real ComfyUI frontend: the crop preview before a run, and a run queued
with the Run button showing its regions preview and summary.

The module runs once per frontend configuration of the host (conftest: its pinned one classic, 1.58.1 classic, 1.58.1
with Nodes 2.0). Every test gets the module's page (see conftest.app_page), which fails the test on
uncaught page errors and on console errors that name the pack.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import requests
from app_ui import CANVAS_TEXTS, FOCUS_NODE, SET_WIDGET, SHOW_NODE_BOTTOM, XSS, dismiss_toasts, wait_for_preview
from build_workflows import SPECS, build
from PIL import Image
from tiny_models import CLIP_L_FILE, FLUX_FILL_FILE, FLUX_VAE_FILE


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
