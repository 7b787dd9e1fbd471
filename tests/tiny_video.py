"""Small-config Wan video models (Wan 2.1 T2V, Wan 2.1 VACE, Wan 2.2 TI2V 5B) and their VAEs, built in-process
from ComfyUI's own classes with seeded random weights, in float32 on the CPU.

The diffusion models are what `comfy.supported_models.<Config>.get_model` builds from a one-layer config that
reads the small models' 768-wide text tokens (`tiny_families.condition`); the VAEs are `comfy.sd.VAE` objects
whose kind (Wan 2.1 or 2.2) the host detects from their state-dict keys.
"""

from __future__ import annotations

import torch
from tiny_families import CONTEXT, small_patcher, wan_vae
from tiny_models import random_state_dict

WAN_DIM = 32
WAN22_VAE_FULL_DIM = 160  # the width comfy.sd.VAE builds every Wan 2.2 VAE at


def _wan(in_dim: int = 16, out_dim: int = 16, **kw) -> dict:
    return dict(image_model="wan2.1", model_type="t2v", patch_size=(1, 2, 2), in_dim=in_dim, out_dim=out_dim,
                dim=WAN_DIM, ffn_dim=64, freq_dim=32, text_dim=CONTEXT, num_heads=2, num_layers=1) | kw


def wan21_t2v(seed: int = 51):
    """Wan 2.1 T2V (comfy.model_base.WAN21): 16-channel latents, patch (1, 2, 2), width 32, one layer."""
    return small_patcher("WAN21_T2V", _wan(), seed)


def wan21_vace(seed: int = 52):
    """Wan 2.1 VACE (comfy.model_base.WAN21_Vace): `wan21_t2v` plus one VACE block reading 96 channels
    (32 control-video latent channels + 64 mask channels, 8 x 8 pixels per latent cell)."""
    return small_patcher("WAN21_Vace", _wan(model_type="vace", vace_layers=1, vace_in_dim=96), seed)


def wan22_ti2v(seed: int = 53):
    """Wan 2.2 TI2V 5B layout (comfy.model_base.WAN22): 48-channel latents of the /16 Wan 2.2 VAE."""
    return small_patcher("WAN22_T2V", _wan(in_dim=48, out_dim=48), seed)


def wan21_vae(seed: int = 33):
    """A Wan 2.1 VAE (16 channels, /8, 4x temporal) of width 8, detected by the host from its keys."""
    return wan_vae(seed)


def _wan22_module(dim: int, dec_dim: int):
    from comfy.ldm.wan.vae2_2 import WanVAE

    return WanVAE(dim=dim, dec_dim=dec_dim, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                  temperal_downsample=[False, True, True], dropout=0.0)


def wan22_vae(seed: int = 35, dim: int = 8):
    """A Wan 2.2 VAE (comfy.ldm.wan.vae2_2: 48 channels, /16, 4x temporal) of width `dim`, random weights."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.sd

    # comfy.sd.VAE detects a Wan 2.2 VAE by its keys but always builds it at width 160/256 (700M parameters):
    # let the host detect and configure it from a full-width state dict on the meta device, then load the
    # same class at a small width in its place.
    with torch.device("meta"):
        vae = comfy.sd.VAE(sd=_wan22_module(WAN22_VAE_FULL_DIM, 256).state_dict())
        small = _wan22_module(dim, dim)
    if not isinstance(vae.first_stage_model, type(small)):
        raise RuntimeError(f"the host did not detect a Wan 2.2 VAE: {type(vae.first_stage_model)}")
    small.load_state_dict(random_state_dict(small, seed, torch.float32), assign=True)
    vae.first_stage_model = small.eval().to(vae.vae_dtype)
    vae.patcher = comfy.model_patcher.ModelPatcher(small, load_device=vae.device,
                                                   offload_device=comfy.model_management.vae_offload_device())
    vae.size = None
    vae.model_size()
    return vae
