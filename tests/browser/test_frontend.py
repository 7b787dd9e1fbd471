"""The pack in the real ComfyUI frontend, in headless Chromium, against a real server: it loads,
registers its nodes, round-trips the example workflows, serves its help and templates.

The module runs once per frontend configuration of the host (conftest: its pinned one classic, 1.58.1 classic, 1.58.1
with Nodes 2.0). Every test gets the module's page (see conftest.app_page), which fails the test on
uncaught page errors and on console errors that name the pack.
"""

from __future__ import annotations

import copy
import json

import frontend
import pytest
import requests
from app_ui import REPO, WORKFLOWS, XSS, close_dialogs, pack_node_ids
from PIL import Image


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
