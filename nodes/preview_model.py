"""What the crop preview plans for: the model family (so the crop multiple, the automatic crop size and the
edit mode's trained sizes are the run's), read without loading any weights.

The family comes from, in order: the loader node's file (`model_file`: a UNETLoader / checkpoint loader's
widget value; the safetensors header's tensor shapes through the host's own `comfy.model_detection`), or a
family name the page sends (`family`, e.g. the one the node's last run reported), else it is assumed
(Flux Fill: multiple 16, 1 MP) and the answer says so.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, replace

from .auto_settings import native_megapixels
from .family import FAMILIES, OTHER, Family, family_by_name
from .option_values import InpaintOptions
from .types import KONTEXT, REFERENCE

ASSUMED = "flux_fill"
LOADERS = {"UNETLoader": "diffusion_models", "CheckpointLoaderSimple": "checkpoints"}
SD_FAMILIES = ("sd15", "sdxl")  # latent /8 and patch 1: multiple 8; the others 16
_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I64": "int64",
           "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
           "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


@dataclass(frozen=True)
class PreviewModel:
    family: Family
    source: str  # "file", "page" or "assumed"

    def describe(self) -> dict:
        return {"family": self.family.name, "from": self.source, "multiple": self.multiple}

    @property
    def multiple(self) -> int:
        return 8 if self.family.name in SD_FAMILIES else 16


def _meta_state_dict(path: str) -> dict:
    """The file's tensors as meta tensors of the right shape and dtype: the header only, no weights."""
    import torch

    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = getattr(torch, _DTYPES.get(info.get("dtype", "F32"), "float32"), torch.float32)
        out[key] = torch.empty(info["shape"], dtype=dtype, device="meta")
    return out


def family_of_file(path: str) -> Family | None:
    """The family of a diffusion-model or checkpoint file, from its tensor shapes (the host's detection)."""
    import comfy.model_detection
    import comfy.supported_models as sm

    sd = _meta_state_dict(path)
    prefix = comfy.model_detection.unet_prefix_from_state_dict(sd) if any(
        k.startswith("model.diffusion_model.") for k in sd) else ""
    config = comfy.model_detection.model_config_from_unet(sd, prefix)
    if config is None:
        return None
    order = [(sm.Chroma, "chroma"), (sm.Flux2, "flux2"), (sm.FluxInpaint, "flux_fill"), (sm.Flux, "flux"),
             (sm.QwenImage, "qwen_image"), (sm.ZImage, "z_image"), (sm.SDXL, "sdxl"), (sm.SD15, "sd15")]
    return next((family_by_name(name) for cls, name in order if isinstance(config, cls)), OTHER)


def preview_model(payload: dict) -> PreviewModel:
    """The family the preview plans for (see the module's docstring); unreadable files fall through."""
    spec = payload.get("model_file")
    if isinstance(spec, dict) and spec.get("loader") in LOADERS and isinstance(spec.get("name"), str):
        import folder_paths

        path = folder_paths.get_full_path(LOADERS[spec["loader"]], spec["name"])
        if path and path.endswith(".safetensors"):
            try:
                found = family_of_file(path)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                found = None
            if found is not None:
                return PreviewModel(found, "file")
    name = payload.get("family")
    if isinstance(name, str) and any(f.name == name for f in FAMILIES):
        return PreviewModel(family_by_name(name), "page")
    return PreviewModel(family_by_name(ASSUMED), "assumed")


def options_for(model: PreviewModel, options: InpaintOptions, multiple: int | None) -> InpaintOptions:
    """The options the run would plan with for this family: its multiple (a request's `multiple` wins when
    the family is assumed), its native size for target_megapixels 0, its trained sizes in reference mode."""
    row = model.family
    crop = options.crop
    if crop.target_mp <= 0:
        crop = replace(crop, target_mp=native_megapixels(row))
    snap = multiple if model.source == "assumed" and multiple else model.multiple
    sizes = row.reference_sizes if options.mode in (REFERENCE, KONTEXT) else ()
    return replace(options, crop=replace(crop, multiple=snap, preferred_sizes=sizes))
