"""Write example_workflows/*.json (UI format) from compact specs, using a live server's /object_info.

    .venv/bin/python scripts/build_workflows.py --server http://127.0.0.1:8188 [names...]

Each spec lists nodes (type, position, widget values by name) and links by node key and output name
or type (a type picks the node's first output of that type), so widget order and slot indices always
match what the server declares. `Note` nodes (frontend-only, not in /object_info) carry a text for
the user. Thumbnails: scripts/make_thumbnails.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workflow_convert import _has_control, _is_widget, input_order

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "example_workflows"

NOTE_TYPES = {"Note"}
EXAMPLE_IMAGE = "ffi_example.png"  # scripts/demo.py uploads an image of this name

FLUX_LOADERS = {
    "unet": ("UNETLoader", (40, 80), {"unet_name": "flux1-fill-dev.safetensors", "weight_dtype": "default"}),
    "clip": ("DualCLIPLoader", (40, 230), {"clip_name1": "clip_l.safetensors",
                                           "clip_name2": "t5xxl_fp16.safetensors", "type": "flux",
                                           "device": "default"}),
    "vae": ("VAELoader", (40, 420), {"vae_name": "ae.safetensors"}),
    "load": ("LoadImage", (40, 540), {"image": EXAMPLE_IMAGE, "upload": "image"}),
}

INPAINTER_WIDGETS = {
    "text": "a weathered wooden bench in a sunny park", "seed": 42, "steps": 28, "cfg": 1.0,
    "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0, "noise_mask": True, "batch_size": 1,
    "differential_attention": True, "guidance": 30.0, "dd_strength": 1.0, "context": 1.0, "grow": 8,
    "feather": 16, "target_megapixels": 1.0,
}

MASK_NOTE = ("Paint the mask on the Load Image node (right click > Open in MaskEditor): white = inpaint. "
             "Several separate areas are cropped and inpainted on their own.")

SPECS: dict[str, dict] = {
    "flux_fill_inpaint": {
        "nodes": FLUX_LOADERS | {
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill"}),
            "note": ("Note", (880, 420), {"text": (
                "FLUX.1 Fill inpaint in one node.\n\n" + MASK_NOTE + "\n\nFlux Fill: guidance ~30, cfg 1.0, "
                "20-50 steps, denoise 1.0, target_megapixels ~1.0.\nModels: flux1-fill-dev in "
                "models/diffusion_models, clip_l + t5xxl in models/text_encoders, ae in models/vae.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("inpaint", "image", "save", "images")],
    },
    "flux_fill_crop_sample_stitch": {
        "nodes": FLUX_LOADERS | {
            "dd": ("DifferentialDiffusion", (420, 80), {"strength": 1.0}),
            "text": ("CLIPTextEncode", (420, 200), {"text": "a weathered wooden bench in a sunny park"}),
            "crop": ("FFI_InpaintCrop", (420, 540), {"context": 1.0, "grow": 8, "feather": 16,
                                                     "target_megapixels": 1.0, "snap": 16}),
            "guidance": ("FluxGuidance", (880, 80), {"guidance": 30.0}),
            "negative": ("ConditioningZeroOut", (880, 200), {}),
            "cond": ("InpaintModelConditioning", (880, 300), {"noise_mask": True}),
            "sampler": ("KSampler", (1260, 80), {"seed": 42, "steps": 28, "cfg": 1.0, "sampler_name": "euler",
                                                 "scheduler": "simple", "denoise": 1.0}),
            "decode": ("VAEDecode", (1640, 80), {}),
            "stitch": ("FFI_InpaintStitch", (1640, 200), {}),
            "save": ("SaveImage", (1640, 320), {"filename_prefix": "FluxFill_stitched"}),
            "note": ("Note", (880, 540), {"text": (
                "FluxFill Crop -> any sampling graph -> FluxFill Stitch.\n\n" + MASK_NOTE + "\n\nThe crops "
                "of all regions come out as one batch of equal size; Stitch puts each back with a "
                "feathered blend. For variations repeat the latent batch: Stitch expects all regions, "
                "then all regions again.")}),
        },
        "links": [("unet", "MODEL", "dd", "model"), ("dd", "MODEL", "sampler", "model"),
                  ("clip", "CLIP", "text", "clip"), ("text", "CONDITIONING", "guidance", "conditioning"),
                  ("guidance", "CONDITIONING", "cond", "positive"),
                  ("text", "CONDITIONING", "negative", "conditioning"),
                  ("negative", "CONDITIONING", "cond", "negative"), ("vae", "VAE", "cond", "vae"),
                  ("load", "IMAGE", "crop", "image"), ("load", "MASK", "crop", "mask"),
                  ("crop", "IMAGE", "cond", "pixels"), ("crop", "MASK", "cond", "mask"),
                  ("cond", "positive", "sampler", "positive"), ("cond", "negative", "sampler", "negative"),
                  ("cond", "latent", "sampler", "latent_image"), ("sampler", "LATENT", "decode", "samples"),
                  ("vae", "VAE", "decode", "vae"), ("crop", "FFI_STITCHER", "stitch", "stitcher"),
                  ("decode", "IMAGE", "stitch", "inpainted_image"), ("stitch", "image", "save", "images")],
    },
    "sd15_inpaint": {
        "nodes": {
            "ckpt": ("CheckpointLoaderSimple", (40, 80), {"ckpt_name": "sd-v1-5-inpainting.ckpt"}),
            "load": ("LoadImage", (40, 260), {"image": EXAMPLE_IMAGE, "upload": "image"}),
            "options": ("FFI_InpaintOptions", (40, 620), {"min_side": 384, "max_side": 768, "min_crop": 384}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "a red brick wall with ivy, photo, detailed", "steps": 30, "cfg": 7.0,
                "sampler_name": "dpmpp_2m", "scheduler": "karras", "target_megapixels": 0.35,
                "grow": 6, "feather": 12}),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill_sd15"}),
            "note": ("Note", (880, 420), {"text": (
                "SD 1.5 inpainting checkpoint (sd-v1-5-inpainting.ckpt; pick your file's name in Load "
                "Checkpoint).\n\n" + MASK_NOTE + "\n\nSD settings: cfg ~7, guidance is ignored, "
                "target_megapixels ~0.25-0.4 (SD 1.5 is trained at 512x512). Crop sides snap to multiples "
                "of 8 automatically. The negative prompt is the empty text encoded with the checkpoint's "
                "CLIP.")}),
        },
        "links": [("ckpt", "MODEL", "inpaint", "model"), ("ckpt", "CLIP", "inpaint", "clip"),
                  ("ckpt", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("options", "FFI_OPTIONS", "inpaint", "options"),
                  ("inpaint", "image", "save", "images")],
    },
    "flux_fill_object_removal": {
        "nodes": FLUX_LOADERS | {
            "options": ("FFI_InpaintOptions", (40, 900), {"fill_holes": True}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "empty background, nothing", "steps": 30, "grow": 24, "feather": 24,
                "context": 2.0}),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill_removed"}),
            "note": ("Note", (880, 420), {"text": (
                "Object removal with FLUX.1 Fill.\n\nMask the object generously (shadow and reflections "
                "too): white = remove. grow 24 covers its edges, context 2.0 shows the model more of "
                "the surroundings to continue, fill_holes closes gaps in a rough mask. Keep the prompt "
                "neutral (\"empty background, nothing\") so nothing new is painted in.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("options", "FFI_OPTIONS", "inpaint", "options"),
                  ("inpaint", "image", "save", "images")],
    },
}


def output_slot(info: dict, name: str) -> int:
    """Index of the output called `name`, else of the first output of type `name` (case-insensitive)."""
    names = [n.lower() for n in info.get("output_name", [])]
    types = [t.lower() for t in info.get("output", [])]
    key = name.lower()
    if key in names:
        return names.index(key)
    return types.index(key)


def _is_multiline(spec: list) -> bool:
    return len(spec) > 1 and isinstance(spec[1], dict) and bool(spec[1].get("multiline"))


def node_size(sockets: int, outputs: int, widgets: int, multiline: bool, class_type: str) -> list[int]:
    """A size the frontend does not need to grow: slot rows of 20 px, widget rows of 24 px."""
    width = 400 if class_type.startswith("FFI_FluxFill") or multiline else 320
    height = 20 * max(sockets, outputs) + 24 * widgets + (44 if multiline else 0) + 12
    if class_type == "LoadImage":
        height = 330  # room for the image preview
    return [width, max(height, 60)]


def _note(node_id: int, order: int, pos: tuple[int, int], widgets: dict) -> dict:
    return {"id": node_id, "type": "Note", "pos": list(pos), "size": [400, 200], "flags": {}, "order": order,
            "mode": 0, "inputs": [], "outputs": [], "properties": {}, "widgets_values": [widgets["text"]],
            "color": "#432", "bgcolor": "#653"}


def build(spec: dict, object_info: dict) -> dict:
    keys = list(spec["nodes"])
    ids = {key: i + 1 for i, key in enumerate(keys)}
    nodes = {}
    for order, key in enumerate(keys):
        class_type, pos, widgets = spec["nodes"][key]
        if class_type in NOTE_TYPES:
            nodes[key] = _note(ids[key], order, pos, widgets)
            continue
        info = object_info[class_type]
        values, sockets, multiline = [], [], False
        for name, input_spec in input_order(info):
            if _is_widget(input_spec):
                default = input_spec[1].get("default") if len(input_spec) > 1 else None
                values.append(widgets.get(name, default))
                multiline = multiline or _is_multiline(input_spec)
                if _has_control(input_spec):
                    values.append("fixed")
            else:
                sockets.append({"name": name, "type": input_spec[0], "link": None})
        outputs = [{"name": n, "type": t, "links": [], "slot_index": i}
                   for i, (n, t) in enumerate(zip(info["output_name"], info["output"], strict=True))]
        size = node_size(len(sockets), len(outputs), len(values), multiline, class_type)
        nodes[key] = {"id": ids[key], "type": class_type, "pos": list(pos), "size": size, "flags": {},
                      "order": order, "mode": 0, "inputs": sockets, "outputs": outputs,
                      "properties": {"Node name for S&R": class_type}, "widgets_values": values}
    links = []
    for n, (src, out_name, dst, in_name) in enumerate(spec["links"], start=1):
        slot = output_slot(object_info[nodes[src]["type"]], out_name)
        inputs = nodes[dst]["inputs"]
        target = next(i for i, s in enumerate(inputs) if s["name"] == in_name)
        inputs[target]["link"] = n
        nodes[src]["outputs"][slot]["links"].append(n)
        links.append([n, ids[src], slot, ids[dst], target, nodes[src]["outputs"][slot]["type"]])
    return {"last_node_id": len(keys), "last_link_id": len(links), "nodes": list(nodes.values()),
            "links": links, "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}},
            "version": 0.4}


def main() -> None:
    import requests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("names", nargs="*", help="specs to write (default: all)")
    args = parser.parse_args()
    from mode_workflow_specs import SPECS as MODE_SPECS  # imports this module: load it late

    specs = SPECS | MODE_SPECS
    object_info = requests.get(args.server + "/object_info", timeout=60).json()
    OUT.mkdir(exist_ok=True)
    for name in args.names or specs:
        (OUT / f"{name}.json").write_text(json.dumps(build(specs[name], object_info), indent=2) + "\n")
        print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main()
