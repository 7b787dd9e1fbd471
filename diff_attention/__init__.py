"""Inpaint sampling helpers: differential diffusion, inpaint latent preparation, per-variant noise.

Pure torch: ComfyUI objects (ModelPatcher, VAE, CONDITIONING) are passed in and only their
methods and attributes are used; nothing here imports ComfyUI.
"""

from .differential import apply_differential_diffusion, differential_denoise_mask
from .latent_prep import (
    CONCAT,
    FLUX_FILL,
    NO_CONCAT,
    PreparedLatent,
    conditioning_with,
    inpaint_kind,
    prepare_inpaint_latent,
    vae_downscale,
)
from .noise import region_variant_noise

__all__ = [
    "CONCAT",
    "FLUX_FILL",
    "NO_CONCAT",
    "PreparedLatent",
    "apply_differential_diffusion",
    "conditioning_with",
    "differential_denoise_mask",
    "inpaint_kind",
    "prepare_inpaint_latent",
    "region_variant_noise",
    "vae_downscale",
]
