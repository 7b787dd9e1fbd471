"""Loader-detectable tiny files of more model families, for tests over HTTP through the real loaders.

`tests/tiny_models.py` builds the Flux Fill / Flux dev / Flux VAE / CLIP-L / SD 1.5 files; this module
adds the families whose loader detection accepts a small file, each built from ComfyUI's own classes
(key names right by construction) with the exact config `comfy.model_detection.detect_unet_config`
reads back from the weights, seeded random values, cached in `.cache/tiny_models` with a version stamp:

- Chroma (`UNETLoader`): hidden 3072 (24 heads x 128, pinned), 1 double block (the detection key) and
  no single block; the distilled-guidance approximator is pinned at 5 layers x 5120 (278 M of the
  508 M parameters); text context 768, so the CLIP-L file's `CLIPTextEncode` feeds it.
- Z-Image (`UNETLoader`, `supported_models.ZImage`): dim 3840 (pinned: the only width detected as
  Z-Image), no main layer, the two noise- and two context-refiner blocks the host always builds
  (721 M parameters); caption features 768 (CLIP-L) instead of Qwen3-4B's 2560.
- SDXL inpaint (`UNETLoader` + `DualCLIPLoader` type sdxl + `VAELoader`): a 9-channel UNet of the
  smallest shape matched as SDXL (75 M parameters, see SDXL_INPAINT_UNET_CONFIG); its context 2048 and
  pooled 1280 need CLIP-G, whose config is fixed (32 layers x 1280, 695 M parameters), next to the
  CLIP-L file; the 4-channel SD VAE (84 M parameters, widths fixed by the host).

Weights of two or more dimensions are stored as float8_e4m3fn (as fp8 releases of these models are;
ComfyUI casts them to its compute dtype on load), norms and biases as bfloat16: that keeps every
file under 1 GB (the largest, Z-Image, is 721 MB). Random weights produce noise images: only pixels
composited back from the original stay exact. Requires ComfyUI importable (see `comfy_host.boot_comfy`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
from tiny_models import CLIP_CONTEXT_DIM, host_params, link_models, write_cached

# Bump when the generated weights change, so caches are rebuilt.
WEIGHTS_VERSION = "1"

CHROMA_FILE = "ffi_tiny_chroma_fp8.safetensors"
Z_IMAGE_FILE = "ffi_tiny_z_image_fp8.safetensors"
SDXL_INPAINT_FILE = "ffi_tiny_sdxl_inpaint_fp8.safetensors"
CLIP_G_FILE = "ffi_tiny_clip_g_fp8.safetensors"
SD_VAE_FILE = "ffi_tiny_sd_vae_fp8.safetensors"

MODEL_FOLDERS = {CHROMA_FILE: "diffusion_models", Z_IMAGE_FILE: "diffusion_models",
                 SDXL_INPAINT_FILE: "diffusion_models", CLIP_G_FILE: "text_encoders", SD_VAE_FILE: "vae"}

# The configs detect_unet_config reads back from these weights (image_model picks the class).
CHROMA_CONFIG = {
    "image_model": "chroma", "in_channels": 64, "out_channels": 64, "context_in_dim": CLIP_CONTEXT_DIM,
    "hidden_size": 3072, "mlp_ratio": 4.0, "num_heads": 24, "depth": 1, "depth_single_blocks": 0,
    "axes_dim": [16, 56, 56], "theta": 10000, "patch_size": 2, "qkv_bias": True, "in_dim": 64,
    "out_dim": 3072, "hidden_dim": 5120, "n_layers": 5,
}
Z_IMAGE_CONFIG = {
    "image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": 3840,
    "cap_feat_dim": CLIP_CONTEXT_DIM, "n_layers": 0, "qk_norm": True, "n_heads": 30, "n_kv_heads": 30,
    "axes_dims": [32, 48, 48], "axes_lens": [1536, 512, 512], "rope_theta": 256.0,
    "ffn_dim_multiplier": 8.0 / 3.0, "z_image_modulation": True, "time_scale": 1000.0,
    "pad_tokens_multiple": 32,
}

# The smallest UNet supported_models matches as SDXL (the Segmind_Vega row: model_channels 320, linear
# transformers, input transformer depths [0, 0, 1, 1, 2, 2], context 2048, adm 2816): every level at
# 320 channels, no output transformers and no middle block, which the match does not pin. in_channels
# 9 = 4 noise + 1 mask + 4 masked-image latent (an SDXL inpaint UNet).
SDXL_INPAINT_UNET_CONFIG = {
    "use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": 2816, "num_classes": "sequential", "in_channels": 9, "out_channels": 4,
    "model_channels": 320, "num_res_blocks": [2, 2, 2], "transformer_depth": [0, 0, 1, 1, 2, 2],
    "transformer_depth_output": [0] * 9, "channel_mult": [1, 1, 1], "transformer_depth_middle": -2,
    "use_linear_in_transformer": True, "context_dim": 2048, "num_heads": -1, "num_head_channels": 64,
    "use_temporal_resblock": False, "use_temporal_attention": False,
}


def fp8_state_dict(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random values for a (meta-device) module: matrices and kernels float8_e4m3fn, the rest bf16.

    Matrices get N(0, 1/fan_in) like tiny_models' values; gains are 1 and biases small, so a random deep
    net stays finite."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in module.state_dict().items():
        shape = tensor.shape
        leaf = name.rsplit(".", 1)[-1]
        if len(shape) >= 2:
            value = torch.randn(shape, generator=generator) / math.sqrt(math.prod(shape[1:]))
            out[name] = value.to(torch.float8_e4m3fn).contiguous()
        elif len(shape) == 1 and leaf in ("weight", "scale"):
            out[name] = torch.ones(shape, dtype=torch.bfloat16)
        elif len(shape) == 0:
            out[name] = torch.zeros((), dtype=torch.bfloat16)
        else:
            out[name] = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
    return out


def chroma_state_dict(seed: int) -> dict[str, torch.Tensor]:
    import comfy.ldm.chroma.model
    import comfy.ops

    config = host_params("chroma", {k: v for k, v in CHROMA_CONFIG.items() if k != "image_model"},
                         txt_ids_dims=[], vec_in_dim=None)
    model = comfy.ldm.chroma.model.Chroma(dtype=torch.bfloat16, device="meta",
                                          operations=comfy.ops.disable_weight_init, **config)
    return fp8_state_dict(model, seed)


def z_image_state_dict(seed: int) -> dict[str, torch.Tensor]:
    import comfy.ldm.lumina.model
    import comfy.ops

    config = {k: v for k, v in Z_IMAGE_CONFIG.items() if k != "image_model"}
    model = comfy.ldm.lumina.model.NextDiT(dtype=torch.bfloat16, device="meta",
                                           operations=comfy.ops.disable_weight_init, **config)
    return fp8_state_dict(model, seed)


def sdxl_inpaint_unet_state_dict(seed: int) -> dict[str, torch.Tensor]:
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    model = UNetModel(**SDXL_INPAINT_UNET_CONFIG, dtype=torch.bfloat16, device="meta",
                      operations=comfy.ops.disable_weight_init)
    return fp8_state_dict(model, seed)


def clip_g_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """CLIP-G (OpenCLIP bigG text tower) in ComfyUI's own layout, with the fixed config the host loads."""
    import comfy.clip_model
    import comfy.ops
    import comfy.sd1_clip

    config_path = Path(comfy.sd1_clip.__file__).parent / "clip_config_bigg.json"
    config = json.loads(config_path.read_text())
    model = comfy.clip_model.CLIPTextModel(config, torch.bfloat16, "meta", comfy.ops.disable_weight_init)
    return {k: v for k, v in fp8_state_dict(model, seed).items() if not k.endswith("position_ids")}


def sd_vae_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """The 4-channel SD / SDXL VAE (AutoencoderKL with quant convs), as VAELoader detects it."""
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from tiny_models import SD_VAE_DDCONFIG

    with torch.device("meta"):
        model = AutoencoderKL(ddconfig=SD_VAE_DDCONFIG, embed_dim=4)
    return fp8_state_dict(model, seed)


BUILDERS: dict[str, Callable[[], dict[str, torch.Tensor]]] = {
    CHROMA_FILE: lambda: chroma_state_dict(seed=21),
    Z_IMAGE_FILE: lambda: z_image_state_dict(seed=22),
    SDXL_INPAINT_FILE: lambda: sdxl_inpaint_unet_state_dict(seed=23),
    CLIP_G_FILE: lambda: clip_g_state_dict(seed=24),
    SD_VAE_FILE: lambda: sd_vae_state_dict(seed=25),
}


def write_family_models(models_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write (once; cached by WEIGHTS_VERSION) the files under models_dir/<loader folder>/.

    Returns file name -> path."""
    return write_cached(models_dir, BUILDERS, MODEL_FOLDERS, WEIGHTS_VERSION, names)


def link_family_models(cache_models: Path, base_models: Path) -> None:
    """Expose the cached files inside a ComfyUI base directory's models/ (symlinks, no copies)."""
    link_models(cache_models, base_models, MODEL_FOLDERS)
