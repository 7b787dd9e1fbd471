// FluxFill Inpainter: the crop plan, shown before anything runs.
//
// When a FluxFill Inpainter's `image` comes straight from a LoadImage node (its mask painted in the
// MaskEditor is the image's alpha), this panel asks the pack's server route
// (POST /fluxfill_inpainter/plan_preview, the node's own crop planning) for the crop plan whenever the
// image, a crop widget (context, grow, feather, target_megapixels) or the connected Inpaint Options
// change, and draws that image with the box of every crop, its mask box and its target size.
// The panel also shows the summary of the node's last run. Drawing uses a <canvas> and textContent
// only: no HTML is ever built from strings.
import { api } from "../../../scripts/api.js";
import { app } from "../../../scripts/app.js";
import { setWidgetHidden, summarizeRegions } from "./fluxfill_inpainter.js";

const EXTENSION = "FluxFill.Inpainter.CropPreview";
const NODE_TYPE = "FFI_FluxFillInpainter";
const OPTIONS_TYPE = "FFI_InpaintOptions";
const ROUTE = "/fluxfill_inpainter/plan_preview";
const PANEL = "ffi_crop_preview";
const CROP_WIDGETS = ["context", "grow", "feather", "target_megapixels"];
const MODEL_LOADERS = { UNETLoader: "unet_name", CheckpointLoaderSimple: "ckpt_name" };
const SCAN_MS = 250;
const MAX_W = 360;
const MAX_H = 280;
const COLORS = ["#ff4d4d", "#4dd2ff", "#ffd24d", "#7dff4d", "#d24dff", "#ff9a4d"];
const LOG_PREFIX = "[FluxFill.Inpainter]";

function typeOf(node) {
    return node?.comfyClass ?? node?.type;
}

function findWidget(node, name) {
    return node?.widgets?.find((w) => w?.name === name);
}

function inputNode(node, name) {
    const index = node.inputs?.findIndex((input) => input?.name === name) ?? -1;
    if (index < 0) return null;
    try {
        return node.getInputNode?.(index) ?? null;
    } catch {
        return null;
    }
}

// "clipspace/x.png [input]" -> the /view query of that file.
export function viewQuery(value) {
    let name = String(value).trim();
    let type = "input";
    const annotation = name.match(/\s*\[(input|output|temp)\]$/);
    if (annotation) {
        type = annotation[1];
        name = name.slice(0, annotation.index);
    }
    const slash = name.lastIndexOf("/");
    const params = new URLSearchParams({
        filename: slash >= 0 ? name.slice(slash + 1) : name,
        subfolder: slash >= 0 ? name.slice(0, slash) : "",
        type,
    });
    return `/view?${params}`;
}

// The request for this node's crop plan, or null when its image does not come from a LoadImage.
export function previewRequest(node) {
    const source = inputNode(node, "image");
    if (typeOf(source) !== "LoadImage") return null;
    const image = findWidget(source, "image")?.value;
    if (typeof image !== "string" || !image) return null;
    const request = { image };
    for (const name of CROP_WIDGETS) {
        const value = findWidget(node, name)?.value;
        if (typeof value === "number") request[name] = value;
    }
    // The model the run will use, so the plan uses its crop multiple and native size: the loader's file
    // (the route reads its header, never its weights), else the family the node's last run reported.
    const loader = inputNode(node, "model");
    const fileWidget = MODEL_LOADERS[typeOf(loader)];
    const file = fileWidget ? findWidget(loader, fileWidget)?.value : undefined;
    if (typeof file === "string" && file) request.model_file = { loader: typeOf(loader), name: file };
    if (typeof node.ffiFamily === "string") request.family = node.ffiFamily;
    const options = inputNode(node, "options");
    if (typeOf(options) === OPTIONS_TYPE) {
        request.options = {};
        for (const widget of options.widgets ?? []) {
            if (widget?.serialize === false || widget?.options?.serialize === false) continue;
            if (["boolean", "number", "string"].includes(typeof widget.value)) {
                request.options[widget.name] = widget.value;
            }
        }
    } else {
        request.options = null;
    }
    return request;
}

const images = new Map(); // /view URL -> Promise<HTMLImageElement | null>

function loadImage(url) {
    if (!images.has(url)) {
        images.set(url, new Promise((resolve) => {
            const img = new Image();
            img.onload = () => resolve(img);
            img.onerror = () => resolve(null);
            img.src = url;
        }));
        if (images.size > 16) images.delete(images.keys().next().value);
    }
    return images.get(url);
}

function drawPlan(canvas, image, plan) {
    const scale = Math.min(MAX_W / plan.width, MAX_H / plan.height);
    canvas.width = Math.max(1, Math.round(plan.width * scale));
    canvas.height = Math.max(1, Math.round(plan.height * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (image) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    ctx.font = "bold 11px sans-serif";
    ctx.textBaseline = "top";
    plan.regions.filter((r) => Number(r.image_index) === 0).forEach((region, i) => {
        const [x0, y0, x1, y1] = region.box.map((v) => Number(v) * scale);
        const [m0, n0, m1, n1] = region.mask_box.map((v) => Number(v) * scale);
        const color = COLORS[i % COLORS.length];
        ctx.lineWidth = 2;
        ctx.setLineDash([]);
        ctx.strokeStyle = color;
        ctx.strokeRect(x0 + 1, y0 + 1, x1 - x0 - 2, y1 - y0 - 2);
        ctx.setLineDash([4, 3]);
        ctx.strokeStyle = "#ffffff";
        ctx.strokeRect(m0, n0, m1 - m0, n1 - n0);
        const [tw, th] = region.target.map(Number);
        const label = `${i + 1}: ${tw}x${th}`;
        const width = ctx.measureText(label).width + 6;
        ctx.fillStyle = "rgba(0,0,0,0.7)";
        ctx.fillRect(x0 + 2, y0 + 2, width, 15);
        ctx.fillStyle = color;
        ctx.fillText(label, x0 + 5, y0 + 4);
    });
}

// " (for sd15)" / " (assumed flux_fill: connect the model's loader or run once)": plain text only.
export function plannedFor(plan) {
    const info = plan?.planned_for;
    const family = typeof info?.family === "string" && /^[a-z0-9_]{1,40}$/.test(info.family) ? info.family : null;
    if (!family) return "";
    if (info.from === "assumed") return ` (assumed ${family}: connect the model's loader or run once)`;
    return ` (for ${family})`;
}

class Panel {
    constructor(node) {
        this.node = node;
        this.root = document.createElement("div");
        this.root.className = "ffi-crop-preview";
        this.root.style.cssText = "display:flex;flex-direction:column;gap:2px;width:100%;height:100%;"
            + "overflow:hidden;font:11px sans-serif;color:#cde;";
        this.canvas = document.createElement("canvas");
        this.canvas.className = "ffi-crop-preview-canvas";
        this.canvas.style.cssText = "flex:1 1 auto;min-height:0;width:100%;object-fit:contain;display:none;";
        this.text = document.createElement("div");
        this.text.className = "ffi-crop-preview-text";
        this.text.style.cssText = "flex:0 0 auto;white-space:pre-line;";
        this.root.append(this.canvas, this.text);
        this.lines = { plan: "", run: "" };
        this.signature = null;
        this.sequence = 0;
        this.scanned = false; // refresh() has looked at the node's inputs at least once
        this.pending = false; // a plan request is in flight
        this.plan = null;
        this.widget = node.addDOMWidget(PANEL, "ffi_preview", this.root, {
            serialize: false,
            hideOnZoom: false,
            getValue: () => "",
            setValue: () => {},
            getMinHeight: () => this.height(),
            getMaxHeight: () => this.height(),
        });
        this.widget.serialize = false;
        this.visible = null;
        this.update();
    }

    height() {
        if (!this.visible) return 0;
        const lines = [this.lines.plan, this.lines.run].filter(Boolean).length;
        const picture = this.plan ? Math.min(MAX_H, this.canvas.height || MAX_H) : 0;
        return picture + 16 * lines + 6;
    }

    update() {
        const summary = this.node.ffiRegionSummary;
        this.lines.run = summary ? `last run: ${summary}` : "";
        const text = [this.lines.plan, this.lines.run].filter(Boolean).join("\n");
        if (this.text.textContent !== text) this.text.textContent = text;
        this.canvas.style.display = this.plan ? "block" : "none";
        const visible = Boolean(text || this.plan);
        if (visible !== this.visible) {
            this.visible = visible;
            setWidgetHidden(this.widget, !visible);
            this.fit();
        }
    }

    fit() {
        const size = this.node.computeSize?.();
        if (size?.length >= 2 && this.node.size?.length >= 2 && size[1] > this.node.size[1]) {
            this.node.setSize?.([this.node.size[0], size[1]]);
        }
        this.node.setDirtyCanvas?.(true, true);
    }

    async refresh() {
        const request = previewRequest(this.node);
        const signature = request ? JSON.stringify(request) : null;
        if (this.scanned && signature === this.signature) return;
        this.scanned = true;
        this.signature = signature;
        const sequence = ++this.sequence;
        this.pending = Boolean(request);
        if (!request) {
            this.plan = null;
            this.lines.plan = "";
            this.node.ffiPreviewPlan = null;
            this.update();
            return;
        }
        this.lines.plan = "crop plan: computing...";
        this.update();
        let plan = null;
        let error = null;
        try {
            const response = await api.fetchApi(ROUTE, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: signature,
            });
            const body = await response.json().catch(() => ({}));
            if (response.ok && Array.isArray(body?.regions)) plan = body;
            else error = typeof body?.error === "string" ? body.error : `HTTP ${response.status}`;
        } catch (e) {
            error = String(e?.message ?? e);
        }
        if (sequence !== this.sequence) return; // a newer request is on its way
        const image = plan ? await loadImage(api.apiURL(viewQuery(request.image))) : null;
        if (sequence !== this.sequence) return;
        this.pending = false;
        this.plan = plan;
        this.node.ffiPreviewPlan = plan;
        if (plan) {
            drawPlan(this.canvas, image, plan);
            this.lines.plan = `crop plan: ${summarizeRegions(plan) ?? "?"}${plannedFor(plan)}`;
        } else {
            this.lines.plan = `crop plan unavailable: ${error}`;
        }
        this.visible = null; // re-measure: the picture's size may have changed
        this.update();
    }
}

function panelOf(node) {
    if (!node.ffiCropPreview && typeof node.addDOMWidget === "function") {
        node.ffiCropPreview = new Panel(node);
    }
    return node.ffiCropPreview ?? null;
}

function nodesToScan() {
    const seen = new Set();
    for (const graph of [app.graph, app.canvas?.graph]) {
        for (const node of graph?.nodes ?? []) {
            if (typeOf(node) === NODE_TYPE) seen.add(node);
        }
    }
    return seen;
}

function scan() {
    for (const node of nodesToScan()) {
        const panel = node.ffiCropPreview;
        if (!panel) continue;
        try {
            panel.update();
            panel.refresh().catch((error) => console.warn(`${LOG_PREFIX} crop preview failed`, error));
        } catch (error) {
            console.warn(`${LOG_PREFIX} crop preview failed on node ${node.id}`, error);
        }
    }
}

app.registerExtension({
    name: EXTENSION,

    setup() {
        setInterval(scan, SCAN_MS);
    },

    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData?.name !== NODE_TYPE) return;
        const original = nodeType.prototype.onNodeCreated;
        nodeType.prototype.onNodeCreated = function (...args) {
            const result = original?.apply(this, args);
            try {
                panelOf(this);
            } catch (error) {
                console.warn(`${LOG_PREFIX} could not add the crop preview to node ${this?.id}`, error);
            }
            return result;
        };
    },
});
