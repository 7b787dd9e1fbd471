"""Specs of example_workflows/mode_*.json (one example per edit mode of the FluxFill Inpainter) and of the
Inpaint Options features: a fill-model object removal and a large-region refine.

Written by `.venv/bin/python scripts/build_workflows.py --server http://127.0.0.1:8188 [names...]`.

Same spec format as scripts/workflow_specs.py (scripts/build_workflows.py's `build()` turns a spec into
the UI format with the live server's /object_info, so widget order always matches the server). Thumbnails:
`scripts/make_thumbnails.py mode_channel_edit ...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workflow_specs import EXAMPLE_IMAGE, FLUX_LOADERS, INPAINTER_WIDGETS, MASK_NOTE  # noqa: E402

NOTE_POS = (880, 420)
BASE_LINKS = [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
              ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
              ("load", "MASK", "inpaint", "mask"), ("options", "FFI_OPTIONS", "inpaint", "options"),
              ("inpaint", "image", "save", "images")]


def loaders(unet_name: str) -> dict:
    unet_type, pos, widgets = FLUX_LOADERS["unet"]
    return FLUX_LOADERS | {"unet": (unet_type, pos, widgets | {"unet_name": unet_name})}


def mode_spec(mode: str, note: str, *, unet: str = "flux1-fill-dev.safetensors", options: dict | None = None,
              inpainter: dict | None = None, extra_nodes: dict | None = None, links: list | None = None) -> dict:
    """One Loader → Inpainter (with an Inpaint Options node in `mode`) → Save graph, plus a Note."""
    return {
        "nodes": loaders(unet) | {
            "options": ("FFI_InpaintOptions", (40, 900), {"mode": mode} | (options or {})),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | (inpainter or {})),
            "save": ("SaveImage", (880, 80), {"filename_prefix": f"FluxFill_{mode}"}),
            "note": ("Note", NOTE_POS, {"text": note}),
        } | (extra_nodes or {}),
        "links": links if links is not None else BASE_LINKS,
    }


REFERENCE_LOADER = ("LoadImage", (40, 1500), {"image": EXAMPLE_IMAGE, "upload": "image"})
REPAINT_NOTE = (
    "RePaint: noise mask only, no inpaint channels (any Flux dev / SD model; inpaint models are forced onto "
    "this path too).\n\n" + MASK_NOTE + "\n\nOutside the mask the latent follows the original image's noise "
    "schedule at every step; there is NO learned boundary blending, so keep differential_attention on and "
    "use grow/feather of 8-24 px. Masks made for Z-Image ControlNet use 1 = keep: turn on invert_mask in "
    "Inpaint Options for those (ComfyUI masks are 1 = inpaint).")

SPECS: dict[str, dict] = {
    "mode_channel_edit": mode_spec(
        "channel_edit",
        "Flux Fill channel edit (InFluxEdit): the whole crop is shown to Flux Fill un-greyed with an all-white "
        "concat mask; an edit LoRA trained that way (load it in LoRA Loader; pick your file) makes the "
        "change described by the prompt. The noise mask still limits the change to the painted area.\n\n"
        + MASK_NOTE,
        inpainter={"text": "make the bench red", "grow": 0, "feather": 16},
        extra_nodes={"lora": ("LoraLoaderModelOnly", (40, 700), {"lora_name": "influxedit_lora.safetensors",
                                                                 "strength_model": 1.0})},
        links=[("unet", "MODEL", "lora", "model"), ("lora", "MODEL", "inpaint", "model")] + BASE_LINKS[1:]),
    "mode_spatial_concat": mode_spec(
        "spatial_concat",
        "Spatial concat (ACE++ style): each crop is sampled on a canvas [reference | crop] twice as wide; "
        "only the right half is masked and stitched back. The reference is the second Load Image (resized to "
        "cover the crop); disconnect it to use the crop itself. The canvas is twice the crop's area, so "
        "target_megapixels is 0.5.\n\n" + MASK_NOTE,
        inpainter={"text": "the same bench, repainted in the style of the reference", "target_megapixels": 0.5},
        extra_nodes={"reference": REFERENCE_LOADER},
        links=BASE_LINKS + [("reference", "IMAGE", "options", "reference")]),
    "mode_kontext": mode_spec(
        "kontext",
        "Flux Kontext inpaint: the crop is encoded and passed as a reference latent (like core "
        "ReferenceLatent), the masked part is sampled by noise mask and stitched back. Use flux1-kontext-dev "
        "with guidance ~2.5. Connect an image to Inpaint Options 'reference' to use it instead of the crop."
        "\n\n" + MASK_NOTE,
        unet="flux1-kontext-dev.safetensors",
        inpainter={"text": "replace the bench with a stone fountain", "guidance": 2.5}),
    "flux_kontext_edit_changed_only": mode_spec(
        "reference",
        "Edit with Flux Kontext, stitching back only what changed. Edit models re-render the whole crop: the "
        "part they did not mean to change comes back shifted or zoomed by a pixel or two and with a colour "
        "cast, which shows as a seam or a ghost wherever the mask is larger than the edit. Inpaint Options "
        "changed_only (auto: on in reference / kontext mode) measures that drift outside the mask and undoes "
        "it, corrects the colours, and blends in seamlessly only the pixels that differ from the original; "
        "the rest of the mask keeps the original bytes. The Inpainter's mask output shows what was "
        "composited. Mask generously around what you want edited.\n\n" + MASK_NOTE,
        unet="flux1-kontext-dev.safetensors", options={"changed_only": "auto"},
        inpainter={"text": "give the bench a red cushion", "guidance": 2.5, "grow": 16, "feather": 24}),
    "mode_repaint": mode_spec(
        "repaint", REPAINT_NOTE, unet="flux1-dev.safetensors",
        inpainter={"text": "a wooden bench in a sunny park", "guidance": 3.5, "grow": 8, "feather": 24}),
    "mode_prefill": mode_spec(
        "inpaint",
        "Object removal with a blur pre-fill: the masked object is replaced by a smooth fill continued from "
        "its surroundings before encoding, so the model (and denoise < 1) starts from background, not from "
        "the object. prefill telea / navier_stokes use OpenCV (pip install opencv-python-headless).\n\n"
        + MASK_NOTE,
        options={"prefill": "blur", "fill_holes": True},
        inpainter={"text": "empty background, nothing", "grow": 24, "feather": 24, "context": 2.0}),
    "flux_fill_object_removal_lama": mode_spec(
        "inpaint",
        "Object removal with a fill model (LaMa): each crop's masked area is first filled by LaMa (fast, "
        "plausible background), then Flux Fill refines it at denoise 0.8 (0.6-1.0: lower keeps more of the "
        "LaMa fill). Better than grey or blur pre-fills when the background has structure (walls, grass, "
        "horizons).\n\nPut a LaMa checkpoint (big-lama.pt, or a .safetensors of it) in ComfyUI/models/inpaint "
        "and pick it in Load Fill Model. MAT works too when spandrel_extra_arches is installed.\n\n" + MASK_NOTE,
        options={"prefill": "fill_model", "fill_holes": True},
        inpainter={"text": "empty background, nothing", "grow": 24, "feather": 24, "context": 2.0, "denoise": 0.8},
        extra_nodes={"fill": ("FFI_FillModelLoader", (420, 900), {"model_name": "big-lama.pt"})},
        links=BASE_LINKS + [("fill", "FFI_FILL_MODEL", "options", "fill_model")]),
    "flux_fill_large_region_refine": mode_spec(
        "inpaint",
        "Large regions at full detail: a region whose crop is shrunk to ~1 MP (a 3000 px object in a 6K photo) "
        "comes back soft. With refine on (Inpaint Options), such a region is sampled at ~1 MP first, then "
        "upscaled (bicubic, or an upscale model connected to Inpaint Options) to its own size (at most "
        "refine_max_side), re-encoded and sampled again at refine_denoise 0.4 with the same mask and seed. "
        "Only regions shrunk below refine_threshold (0.75) get the second pass; it costs about one more pass "
        "at the larger size (see BENCHMARKS.md).\n\n" + MASK_NOTE,
        options={"refine": True, "refine_denoise": 0.4, "refine_threshold": 0.75, "refine_max_side": 2048},
        inpainter={"text": "a weathered wooden bench in a sunny park"}),
    "mode_outpaint": {
        "nodes": FLUX_LOADERS | {
            "canvas": ("FFI_OutpaintCanvas", (40, 900), {"left": 0, "top": 0, "right": 256, "bottom": 0,
                                                         "units": "pixels", "factor": 1.5, "fill": "replicate",
                                                         "feather": 32}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "the park continues to the right, trees and a path", "grow": 0, "feather": 16}),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill_outpaint"}),
            "note": ("Note", NOTE_POS, {"text": (
                "Outpainting: FluxFill Outpaint Canvas extends the image (here 256 px to the right, or use "
                "units 'factor'), pre-fills the new area from the edge and masks it with a feathered seam "
                "into the original; the Inpainter crops around the new area and stitches it back. No mask "
                "needs painting.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "canvas", "image"),
                  ("canvas", "IMAGE", "inpaint", "image"), ("canvas", "MASK", "inpaint", "mask"),
                  ("inpaint", "image", "save", "images")],
    },
}
