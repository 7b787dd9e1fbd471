"""Decode the sampled groups into per-region crops (region-major, the pipeline's one row order) and
write the crop latents as the LATENT output (variant-major: the one conversion, here)."""

from __future__ import annotations

import comfy.model_management
import comfy.utils
import torch

from ..crop_stitch import variant_major
from .types import PerRegion, PreparedGroup
from .vae_io import decode_images


def stitched_part(images: torch.Tensor, samples: torch.Tensor, split: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded images [N,H,W,C] and latents [N,C,h,w] right of pixel column `split` (spatial_concat)."""
    if split <= 0:
        return images, samples
    latent_split = samples.shape[-1] * split // images.shape[2]
    return images[:, :, split:], samples[..., latent_split:]


def decode_groups(vae, groups: list[PreparedGroup], sampled: list[torch.Tensor], variants: int
                  ) -> tuple[PerRegion, PerRegion]:
    """Per region: decoded RGB crops [variants,h,w,3] on the intermediate device, and sampled latents
    (a group's rows r * variants + j are region r's variant j)."""
    home = comfy.model_management.intermediate_device()
    crops, latents = {}, {}
    for g, samples in zip(groups, sampled, strict=True):
        comfy.model_management.throw_exception_if_processing_interrupted()
        images, samples = stitched_part(decode_images(vae, samples), samples, g.split)
        for k, idx in enumerate(g.region_indices):
            rows = slice(k * variants, (k + 1) * variants)
            crops[idx] = images[rows].to(home)
            latents[idx] = samples[rows]
        del images
        comfy.model_management.soft_empty_cache()
    return crops, latents


def latent_output(latents: PerRegion) -> dict:
    """The sampled crop latents as one LATENT, variant-major (row j * R + r), like the Stitch node's input.

    Regions of different sizes are resized (bilinear) to the first region's latent size so they fit in
    one batch; `shared_target` in Inpaint Options avoids that resize.
    """
    ordered = [latents[i] for i in sorted(latents)]
    h, w = ordered[0].shape[-2:]
    same = [t if t.shape[-2:] == (h, w) else comfy.utils.common_upscale(t, w, h, "bilinear", "disabled")
            for t in ordered]
    return {"samples": variant_major(same).to(comfy.model_management.intermediate_device())}


def empty_latent(latent_channels: int, latent_dimensions: int) -> dict:
    """A LATENT for runs that sample nothing (empty mask, denoise 0): one zero row of 8 x 8 latent
    pixels, which every core latent node (VAEDecode included) accepts."""
    shape = (1, latent_channels, 1, 8, 8) if latent_dimensions == 3 else (1, latent_channels, 8, 8)
    return {"samples": torch.zeros(shape, device=comfy.model_management.intermediate_device())}
