"""Crop-plan preview: a small HTTP route that plans the crops of a LoadImage image before any run.

POST /fluxfill_inpainter/plan_preview (also under /api) with JSON
    {"image": "<LoadImage widget value>", "subfolder": "", "type": "input",
     "context": 1.0, "grow": 0, "feather": 16, "target_megapixels": 1.0, "multiple": 16,
     "options": {<Inpaint Options widget values>} | null,
     "family": "<a FAMILIES name>" (optional), "model_file": {"loader": "UNETLoader", "name": "..."} (optional)}
answers the crop plan exactly as the FluxFill Inpainter's `regions` output carries it
(`CropPlan.to_dict()`), planned for the model family nodes/preview_model.py finds (the loader's file, read
without its weights, or the page's family; else assumed, with `multiple`), plus `planned_for`: that family,
where it came from and its multiple: the image and its mask are read the way core LoadImage reads them (the mask is
1 - alpha), the options are built as the nodes build them, and the plan comes from the same
`crop_stage` the node runs. Every number is checked against the node schemas' ranges; the image is read
as its size and 8-bit alpha only, cached by path + mtime + size, and at most a few plans run at once
(`preview_request.py`). Only files under ComfyUI's input directory are read (no `..`, no
absolute paths, no symlinks out); images over MAX_PIXELS are refused with 413.

`server` and ComfyUI's `nodes` are imported inside functions, so the pure-torch packages of the pack
still import without ComfyUI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
from typing import Any

from .crop_stage import crop_stage
from .option_values import InpaintOptions
from .options import OptionWidgets, build_options
from .preview_model import options_for, preview_model
from .preview_request import MULTIPLE_RANGE, Busy, image_and_mask, plan_slot, schema_ranges

log = logging.getLogger("fluxfill_inpainter")

ROUTE_PATH = "/fluxfill_inpainter/plan_preview"
NODE = "FluxFill Inpainter (crop preview)"
MAX_PIXELS = 64 * 1024 * 1024  # 64 MP ("1 megapixel" is 1024 x 1024 in ComfyUI)
DEFAULT_MULTIPLE = 16  # Flux; SD models use 8 (the node takes it from the connected model)

MAIN_DEFAULTS: dict[str, Any] = {"context": 1.0, "grow": 0, "feather": 16, "target_megapixels": 0.0,
                                 "multiple": DEFAULT_MULTIPLE}
# Inpaint Options widgets the preview accepts: the node's widgets with plain defaults.
OPTION_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(OptionWidgets) if isinstance(f.default, (bool, int, float, str))
}

_registered_apps: set[int] = set()


class PreviewError(Exception):
    """A request the preview refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _number(name: str, value: Any, kind: type, low: float, high: float) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PreviewError(400, f"'{name}' must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or not low <= value <= high:
        raise PreviewError(400, f"'{name}' must be between {low} and {high}, got {value}")
    if kind is int:
        if value != int(value):
            raise PreviewError(400, f"'{name}' must be an integer, got {value}")
        return int(value)
    return float(value)


def parse_main_widgets(payload: dict) -> dict[str, int | float]:
    """The main node's crop widget values (and the crop multiple), checked against the node's ranges."""
    out = {}
    ranges = schema_ranges()
    for name in MAIN_DEFAULTS:
        kind, low, high = MULTIPLE_RANGE if name == "multiple" else ranges[name]
        value = payload.get(name, MAIN_DEFAULTS[name])
        out[name] = _number(name, value, kind, low, high)
    return out


def parse_options(options: Any) -> dict[str, Any] | None:
    """Inpaint Options widget values by name (None: no options node is connected)."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise PreviewError(400, "'options' must be an object of Inpaint Options widget values or null")
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name not in OPTION_DEFAULTS:
            raise PreviewError(400, f"unknown Inpaint Options widget {name!r}")
        default = OPTION_DEFAULTS[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise PreviewError(400, f"'{name}' must be true or false")
            out[name] = value
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise PreviewError(400, f"'{name}' must be a string")
            out[name] = value
        else:
            kind, low, high = schema_ranges()[name]  # the Inpaint Options widget's own range
            out[name] = _number(name, value, kind, low, high)
    return out


def resolve_input_file(image: Any, subfolder: Any = "", kind: Any = "input", input_dir: str | None = None) -> str:
    """The real path of an image under ComfyUI's input directory, from LoadImage's widget value
    ("name.png", "clipspace/name.png [input]") or an upload's (name, subfolder, type).

    Refuses (PreviewError 400/403/404) other annotations or types, absolute paths, `..`, and any path
    whose real location (symlinks resolved) is outside the input directory."""
    if input_dir is None:
        import folder_paths

        input_dir = folder_paths.get_input_directory()
    if not isinstance(image, str) or not image.strip():
        raise PreviewError(400, "'image' must be the name of an image in ComfyUI's input directory")
    subfolder = "" if subfolder is None else subfolder
    kind = "input" if kind in (None, "") else kind
    if not isinstance(subfolder, str) or not isinstance(kind, str):
        raise PreviewError(400, "'subfolder' and 'type' must be strings")
    if kind != "input":
        raise PreviewError(400, "only images of type 'input' can be previewed")
    name = image.strip()
    if name.endswith("[input]"):
        name = name[: -len("[input]")].rstrip()
    elif name.endswith("]") and "[" in name:
        raise PreviewError(400, "only images in the input directory can be previewed")
    relative = "/".join(part for part in (subfolder, name) if part)
    parts = relative.replace("\\", "/").split("/")
    if "\x00" in relative or relative.startswith(("/", "\\")) or os.path.isabs(relative) or ".." in parts \
            or (len(relative) > 1 and relative[1] == ":"):
        raise PreviewError(400, "the image name must be a relative path inside the input directory")
    root = os.path.realpath(input_dir)
    path = os.path.realpath(os.path.join(root, *[p for p in parts if p not in ("", ".")]))
    if os.path.commonpath([root, path]) != root:
        raise PreviewError(403, "the image is outside the input directory")
    if not os.path.isfile(path):
        raise PreviewError(404, f"no image {relative!r} in the input directory")
    return path


def check_pixels(path: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of the image file, refusing (413) more than `max_pixels` over all its frames."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            frames = getattr(img, "n_frames", 1) or 1
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PreviewError(400, f"not a readable image: {exc}") from exc
    if width * height * frames > max_pixels:
        raise PreviewError(413, f"the image has {width}x{height} pixels x {frames} frame(s); the preview "
                                f"reads at most {max_pixels // (1024 * 1024)} MP")
    return width, height


def plan_preview(payload: Any, input_dir: str | None = None, max_pixels: int = MAX_PIXELS) -> dict:
    """The crop plan (`CropPlan.to_dict()`) the FluxFill Inpainter would make for this request."""
    if not isinstance(payload, dict):
        raise PreviewError(400, "the request body must be a JSON object")
    widgets = parse_main_widgets(payload)
    option_values = parse_options(payload.get("options"))
    path = resolve_input_file(payload.get("image"), payload.get("subfolder", ""), payload.get("type", "input"),
                              input_dir)
    check_pixels(path, max_pixels)
    if option_values is not None:
        # the pre-fill does not move a crop, and 'fill_model' needs an input the preview never gets
        option_values.pop("prefill", None)
    try:
        base = build_options(**option_values) if option_values is not None else InpaintOptions()
        opts = base.with_main_widgets(context=widgets["context"], grow=widgets["grow"],
                                      feather=widgets["feather"], target_mp=widgets["target_megapixels"],
                                      multiple=widgets["multiple"])
        model = preview_model(payload)
        opts = options_for(model, opts, widgets["multiple"])
        stat = os.stat(path)
        with plan_slot():
            image, mask = image_and_mask(path, stat.st_mtime_ns, stat.st_size)
            stage = crop_stage(image, mask, opts, NODE, clip=opts.video.clip(model.family.frames > 0))
            return {**stage.plan.to_dict(), "planned_for": model.describe()}
    except ValueError as exc:  # the nodes' own input errors (InputError is a ValueError)
        raise PreviewError(400, str(exc)) from exc


async def handle_plan_preview(request):
    """aiohttp handler: JSON in, the crop plan (or {"error": message} with a 4xx status) out."""
    from aiohttp import web

    try:
        payload = await request.json()
    except Exception:
        return web.json_response({"error": "the request body must be JSON"}, status=400)
    try:
        plan = await asyncio.to_thread(plan_preview, payload)
    except PreviewError as exc:
        log.info("crop preview refused (%d): %s", exc.status, exc.message)
        return web.json_response({"error": exc.message}, status=exc.status)
    except Busy as exc:
        return web.json_response({"error": str(exc)}, status=429)
    return web.json_response(plan)


def register_routes() -> bool:
    """Add the preview route to ComfyUI's server once (True when added by this call).

    Called from the pack's `comfy_entrypoint`, before the server copies its route table into the app.
    Never raises: without a running ComfyUI server there is nothing to register."""
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return False
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return False
    routes = instance.routes
    if id(routes) in _registered_apps or any(
            isinstance(r, web.RouteDef) and r.path == ROUTE_PATH and r.method == "POST" for r in routes):
        return False
    routes.post(ROUTE_PATH)(handle_plan_preview)
    _registered_apps.add(id(routes))
    log.info("FluxFill Inpainter: crop preview route at %s", ROUTE_PATH)
    return True
