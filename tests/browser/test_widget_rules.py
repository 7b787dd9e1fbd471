"""The pack's widget rules in the real ComfyUI frontend: option widgets hide and show without shifting
widgets_values, in both renderers, across frontend versions and inside subgraphs.

The module runs once per frontend configuration of the host (conftest: its pinned one classic, 1.58.1 classic, 1.58.1
with Nodes 2.0). Every test gets the module's page (see conftest.app_page), which fails the test on
uncaught page errors and on console errors that name the pack.
"""

from __future__ import annotations

import json

import frontend
import pytest
from app_ui import NODE_STATE, PANEL, REPO, SET_WIDGET, choose, toggle, vue_rows, wait_for_preview


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
    wait_for_preview(app_page)  # the reloaded node's preview may resize it: click where the toggle then is
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

def test_workflow_saved_in_newest_frontend_reloads_in_pinned_and_back(app_page, browser, frontend_servers):
    """A workflow saved in 1.58.1 (rules hiding widgets) loads in the host's pinned frontend with the same
    widgets_values and hidden widgets; saved there and loaded back in 1.58.1, widgets_values and
    widgets_values_named match."""
    newest, pinned = frontend.NEWEST_CONFIGS[0], frontend.PINNED_CONFIG
    if app_page.config != newest:
        pytest.skip("runs once, from the 1.58.1 classic module (on the newest host), against both frontends")
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
