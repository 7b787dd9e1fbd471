// FluxFill Inpainter frontend: widget visibility rules and a region summary for the pack's nodes.
//
// Only node types whose name starts with "FFI_" are touched, and only through their own
// prototypes (beforeRegisterNodeDef hands us each type's constructor). Widgets are never removed
// from node.widgets, so the positional widgets_values of saved workflows keep their order.
// A widget that does not apply is hidden through the frontend's own API, feature-detected:
// frontends with the widget visibility model (1.5x: `widget.visibility.suppression`) get the
// extension's suppression flag set (the frontend keeps its own "hidden by connection" flag); older
// ones (1.32) get the `hidden` flag the canvas honours and `options.hidden`, which their Vue node
// renderer reads. Both frontends' computeSize skip hidden rows, so no height tricks are needed.
// Nothing here builds HTML: the summary is a node badge drawn with fillText on the canvas (the Vue
// renderer shows it as text in the crop-preview panel, see ffi_crop_preview.js).
import { app } from "../../../scripts/app.js";

const EXTENSION = "FluxFill.Inpainter";
const PREFIX = "FFI_";
const LOG_PREFIX = "[FluxFill.Inpainter]";

// node type -> widget name -> predicate(values) telling whether the widget applies.
// `values(name)` returns the controlling widget's value, or undefined when that widget is fed by
// a link (its value is then unknown, so every dependent widget stays visible).
export const VISIBILITY_RULES = {
    FFI_FluxFillInpainter: {
        dd_strength: (values) => values("differential_attention") !== false,
    },
    FFI_InpaintOptions: {
        // Only the "area" target reads min_side / max_side; "fixed" reads fixed_width / height.
        min_side: (values) => !["none", "fixed"].includes(values("target_mode")),
        max_side: (values) => !["none", "fixed"].includes(values("target_mode")),
        fixed_width: (values) => values("target_mode") === undefined || values("target_mode") === "fixed",
        fixed_height: (values) => values("target_mode") === undefined || values("target_mode") === "fixed",
        // channel_edit must see the original crop, so it ignores the pre-fill.
        prefill: (values) => values("mode") !== "channel_edit",
    },
    FFI_OutpaintCanvas: {
        factor: (values) => values("units") !== "pixels",
    },
};

// The widgets whose value the rules above read, per node type.
const CONTROLLERS = {
    FFI_FluxFillInpainter: ["differential_attention"],
    FFI_InpaintOptions: ["target_mode", "mode"],
    FFI_OutpaintCanvas: ["units"],
};

function warn(message, error) {
    console.warn(`${LOG_PREFIX} ${message}`, error);
}

function findWidget(node, name) {
    return node.widgets?.find((w) => w?.name === name);
}

function widgetIsLinked(node, name) {
    const index = node.inputs?.findIndex((input) => input?.widget?.name === name) ?? -1;
    if (index < 0) return false;
    if (typeof node.isInputConnected === "function") return node.isInputConnected(index);
    return node.inputs[index].link != null;
}

function controllerValue(node, name) {
    if (widgetIsLinked(node, name)) return undefined;
    return findWidget(node, name)?.value;
}

// The visibility model of frontend 1.5x: surfaces (canvas / Vue node / panel) and suppression flags,
// one set by extensions, one by the frontend for linked widgets. Absent in 1.32.
function visibilityModel(widget) {
    const suppression = widget?.visibility?.suppression;
    return suppression && typeof suppression === "object" ? widget.visibility : null;
}

// Whether this extension hid the widget (a linked widget also reads `hidden` in 1.5x: not ours).
export function isHiddenByRule(widget) {
    const model = visibilityModel(widget);
    return model ? Boolean(model.suppression.byExtension) : Boolean(widget?.hidden);
}

export function setWidgetHidden(widget, hidden) {
    if (isHiddenByRule(widget) === hidden) return false;
    const model = visibilityModel(widget);
    if (model) {
        model.suppression.byExtension = hidden;
    } else {
        widget.hidden = hidden;
        if (widget.options && typeof widget.options === "object") widget.options.hidden = hidden;
    }
    return true;
}

// Frontend 1.32 with Nodes 2.0 draws from a reactive copy of node.widgets that is rebuilt only when
// that array changes, not when a widget's options do: put the widget back at its own index so the
// renderer re-reads options.hidden. Frontends with the visibility model are reactive on it, and
// there node.widgets is a getter-backed view on every node: never splice it.
function notifyVueRenderer(node, widget) {
    if (visibilityModel(widget)) return;
    if (!Object.getOwnPropertyDescriptor(node, "widgets")?.get) return;
    const index = node.widgets.indexOf(widget);
    if (index < 0) return;
    node.widgets.splice(index, 1);
    node.widgets.splice(index, 0, widget);
}

function minHeight(node) {
    const size = node.computeSize?.();
    return size?.length >= 2 ? size[1] : null;
}

// Apply the visibility rules of this node's type. `keepSize` (graph load): the saved size already
// matches the saved values, so only grow the node if it is too small; otherwise (creation or a
// user toggle) grow or shrink it by the height the shown or hidden widgets take.
function applyVisibility(node, keepSize = false) {
    const rules = VISIBILITY_RULES[node?.comfyClass ?? node?.type];
    if (!rules || !node.widgets) return;
    const values = (name) => controllerValue(node, name);
    const before = minHeight(node);
    let changed = false;
    for (const [name, applies] of Object.entries(rules)) {
        const widget = findWidget(node, name);
        if (widget && setWidgetHidden(widget, !applies(values))) {
            notifyVueRenderer(node, widget);
            changed = true;
        }
    }
    if (!changed || !(node.size?.length >= 2)) return;
    const after = minHeight(node);
    if (after != null && before != null) {
        const height = keepSize ? Math.max(node.size[1], after) : Math.max(after, node.size[1] + after - before);
        node.setSize?.([node.size[0], height]);
    }
    node.setDirtyCanvas?.(true, true);
}

function watchControllers(node) {
    for (const name of CONTROLLERS[node.comfyClass ?? node.type] ?? []) {
        const widget = findWidget(node, name);
        if (!widget || widget.__ffiWatched) continue;
        const original = widget.callback;
        widget.callback = function (...args) {
            const result = original?.apply(this, args);
            try {
                applyVisibility(node);
            } catch (error) {
                warn(`could not update widgets of node ${node.id}`, error);
            }
            return result;
        };
        widget.__ffiWatched = true;
    }
}

// The sampling settings a run used (ui.ffi_settings, JSON from nodes/auto_settings.py) as plain text:
// "sd15: 20 steps, cfg 8, euler / normal, 0.25 MP" (+ ", guidance 30"). Only numbers and the host's
// sampler names are shown; anything else is dropped. null when there is nothing to show.
export function summarizeSettings(settingsJson) {
    let s;
    try {
        s = typeof settingsJson === "string" ? JSON.parse(settingsJson) : settingsJson;
    } catch {
        return null;
    }
    if (!s || typeof s !== "object") return null;
    const word = (value) => (typeof value === "string" && /^[A-Za-z0-9_.+-]{1,40}$/.test(value) ? value : "?");
    const num = (value) => (Number.isFinite(Number(value)) ? String(Number(value)) : "?");
    const parts = [`${num(s.steps)} steps`, `cfg ${num(s.cfg)}`, `${word(s.sampler_name)} / ${word(s.scheduler)}`,
        `${num(s.target_megapixels)} MP`];
    if (s.guidance != null) parts.push(`guidance ${num(s.guidance)}`);
    return `${word(s.family)}: ${parts.join(", ")}`;
}

// A short plain-text line from the node's crop plan JSON ("2 regions: 512x512, 448x576"), followed by
// the settings used when the node reported them ("... | sd15: 20 steps, cfg 8, euler / normal, 0.25 MP").
export function summarizeRegions(planJson, settingsJson = null) {
    const regions = regionsText(planJson);
    const settings = regions == null || settingsJson == null ? null : summarizeSettings(settingsJson);
    return settings ? `${regions} | ${settings}` : regions;
}

function regionsText(planJson) {
    let plan;
    try {
        plan = typeof planJson === "string" ? JSON.parse(planJson) : planJson;
    } catch {
        return null;
    }
    const regions = Array.isArray(plan?.regions) ? plan.regions : null;
    if (!regions) return null;
    if (regions.length === 0) return "no masked region: image returned unchanged";
    const size = (region) => {
        const [w, h] = Array.isArray(region?.target) ? region.target.map(Number) : [];
        return Number.isFinite(w) && Number.isFinite(h) ? `${w}x${h}` : "?";
    };
    const sizes = regions.slice(0, 4).map(size);
    const more = regions.length > 4 ? ", ..." : "";
    const noun = regions.length === 1 ? "region" : "regions";
    return `${regions.length} ${noun}: ${sizes.join(", ")}${more}`;
}

const BADGE_FONT = "12px sans-serif";

// A node badge showing the node's last region summary. Duck-typed like the frontend's LGraphBadge
// (height, getWidth, draw) because that class is not exported to extensions in every frontend; the
// Vue renderer reads `text`. Draws nothing while there is no summary.
class SummaryBadge {
    constructor(node) {
        this.node = node;
        this.height = 20;
        this.fgColor = "#dde";
        this.bgColor = "#2a3a4a";
    }

    get text() {
        return this.node.ffiRegionSummary ?? "";
    }

    getWidth(ctx) {
        if (!this.text || !ctx?.measureText) return 0;
        ctx.save();
        ctx.font = BADGE_FONT;
        const width = ctx.measureText(this.text).width + 12;
        ctx.restore();
        return width;
    }

    draw(ctx, x, y) {
        const text = this.text;
        if (!text || !ctx?.fillText) return;
        const width = this.getWidth(ctx);
        ctx.save();
        ctx.fillStyle = this.bgColor;
        ctx.beginPath();
        if (ctx.roundRect) ctx.roundRect(x, y, width, this.height, 5);
        else ctx.rect(x, y, width, this.height);
        ctx.fill();
        ctx.font = BADGE_FONT;
        ctx.fillStyle = this.fgColor;
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        ctx.fillText(text, x + 6, y + this.height / 2);
        ctx.restore();
    }
}

function addSummaryBadge(node) {
    if (!Array.isArray(node.badges) || node.ffiSummaryBadge) return;
    node.ffiSummaryBadge = new SummaryBadge(node);
    node.badges.push(() => node.ffiSummaryBadge);
}

function chain(proto, method, after) {
    const original = proto[method];
    proto[method] = function (...args) {
        const result = original?.apply(this, args);
        try {
            after.call(this, result, ...args);
        } catch (error) {
            warn(`${method} failed on node ${this?.id}`, error);
        }
        return result;
    };
}

app.registerExtension({
    name: EXTENSION,

    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (typeof nodeData?.name !== "string" || !nodeData.name.startsWith(PREFIX)) return;
        const proto = nodeType.prototype;

        if (VISIBILITY_RULES[nodeData.name]) {
            chain(proto, "onNodeCreated", function () {
                watchControllers(this);
                applyVisibility(this);
            });
            chain(proto, "onConfigure", function () {
                watchControllers(this);
                applyVisibility(this, true);
            });
            chain(proto, "onConnectionsChange", function () {
                applyVisibility(this, true);
            });
        }

        // The regions preview (ui.images) is shown by the frontend's own image preview. When the
        // node also reports its crop plan (ui.ffi_regions), keep a one-line summary to draw.
        chain(proto, "onExecuted", function (_result, message) {
            const plan = message?.ffi_regions;
            const text = Array.isArray(plan) ? plan[0] : plan;
            const used = message?.ffi_settings;
            const settings = Array.isArray(used) ? used[0] : used;
            this.ffiRegionSummary = text == null ? null : summarizeRegions(text, settings ?? null);
            try {
                const family = settings == null ? null : JSON.parse(settings)?.family;
                if (typeof family === "string") this.ffiFamily = family; // the crop preview plans for it
            } catch {
                // no settings reported: the preview keeps what it knew
            }
            this.setDirtyCanvas?.(true, false);
        });

        // The summary as a node badge: the canvas draws badges (fillText) above the title in both
        // frontends. Older frontends without badges get it drawn under the node instead.
        chain(proto, "onNodeCreated", function () {
            addSummaryBadge(this);
        });
        chain(proto, "onDrawForeground", function (_result, ctx) {
            if (Array.isArray(this.badges)) return;
            const summary = this.ffiRegionSummary;
            if (!summary || this.flags?.collapsed || !ctx?.fillText) return;
            ctx.save();
            ctx.font = BADGE_FONT;
            ctx.fillStyle = "#9ab";
            ctx.textAlign = "left";
            ctx.fillText(summary, 4, this.size[1] + 16);
            ctx.restore();
        });
    },
});
