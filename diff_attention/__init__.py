"""Inpaint sampling helpers: differential diffusion, inpaint latent preparation, per-variant noise.

Pure torch: ComfyUI objects (ModelPatcher, VAE) are passed in and only their methods and attributes
are used; nothing here imports ComfyUI. Facts about the host's models (which path a model needs) are
decided in nodes/family.py and passed in.
"""

from .differential import apply_differential_diffusion, differential_denoise_mask
from .latent_prep import PreparedLatent, prepare_inpaint_latent, vae_downscale
from .noise import SEED_SPACE, WrappingSeed, region_variant_noise, wrap_seed

__all__ = [
    "SEED_SPACE",
    "PreparedLatent",
    "WrappingSeed",
    "apply_differential_diffusion",
    "differential_denoise_mask",
    "prepare_inpaint_latent",
    "region_variant_noise",
    "vae_downscale",
    "wrap_seed",
]
