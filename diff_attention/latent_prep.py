"""Inpaint latents and concat values, as ComfyUI's `InpaintModelConditioning` builds them.

`prepare_inpaint_latent` reproduces `nodes.InpaintModelConditioning().encode(...)` (0.3.75) tensor for
tensor, and adds: one encode per crop for any number of variants, a separate mask for greying and
for the concat channels, a binarised concat mask, no concat values for models without concat inputs,
and hooks for edit modes (no greying, forced concat mask). Which path a model needs is decided by the
caller (nodes/family.py); the caller also puts the concat values on its conditioning.

ComfyUI objects (VAE) come in as arguments; only their methods are used, nothing here imports
ComfyUI. Inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor


@dataclass
class PreparedLatent:
    """The LATENT dict to sample and the concat values for the conditioning (None: no concat)."""

    latent: dict
    concat: dict | None


def vae_downscale(vae: Any) -> int:
    """The VAE's spatial downscale factor (8 for SD and Flux VAEs)."""
    ratio = vae.spacial_compression_encode() if hasattr(vae, "spacial_compression_encode") else 8
    return max(1, int(ratio))


def _mask_to_pixels(mask: Tensor, height: int, width: int) -> Tensor:
    """[B,1,H,W] float mask at the pixel size: bilinear, exactly as InpaintModelConditioning does."""
    mask = mask if mask.is_floating_point() else mask.float()
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    return F.interpolate(mask, size=(height, width), mode="bilinear")


def _fitted_mask(mask: Tensor, batch: int, height: int, width: int, name: str) -> Tensor:
    soft = _mask_to_pixels(mask, height, width)
    if soft.shape[0] not in (1, batch):
        raise ValueError(f"{name} batch {soft.shape[0]} does not match the {batch} images")
    return soft


def _centre_crop_box(height: int, width: int, ratio: int) -> tuple[slice, slice]:
    """Rows and columns kept when centre-cropping to a multiple of `ratio` (ComfyUI's offsets)."""
    h = (height // ratio) * ratio
    w = (width // ratio) * ratio
    if h == 0 or w == 0:
        raise ValueError(f"image {height}x{width} is smaller than the VAE downscale factor {ratio}")
    top = (height % ratio) // 2
    left = (width % ratio) // 2
    return slice(top, top + h), slice(left, left + w)


def _rows(tensor: Tensor, batch: int, variants: int) -> Tensor:
    """Repeat per-region rows so that row r*variants + j is region r (batch-1 tensors broadcast)."""
    if variants == 1:
        return tensor
    if tensor.shape[0] == 1 and batch > 1:
        tensor = tensor.expand(batch, *tensor.shape[1:])
    return tensor.repeat_interleave(variants, dim=0)


def prepare_inpaint_latent(vae: Any, pixels: Tensor, mask: Tensor, *, inpaint_mask: Tensor | None = None,
                           noise_mask: bool = True, binarize_concat_mask: bool = False, variants: int = 1,
                           concat: bool = True, grey_masked: bool = True) -> PreparedLatent:
    """Encode inpaint crops like `InpaintModelConditioning.encode(positive, negative, pixels, vae, mask,
    noise_mask)`, with extras.

    pixels: IMAGE [N,H,W,C] 0..1 (only the first 3 channels are used); mask: MASK [N,H,W] or [H,W]
    (1 = inpaint; batch 1 applies to every crop), any size (bilinear-resized to the pixels).

    As in core: pixels and masks are centre-cropped to a multiple of the VAE downscale (core
    hard-codes 8, every SD/Flux VAE's factor; here the VAE's own factor is used); `samples` =
    encode(pixels); the concat latent = encode(pixels with round(inpaint_mask) set to 0.5);
    `noise_mask` = the soft `mask` [N,1,H,W]; `concat_mask` = the soft `inpaint_mask`. The masks come back on
    the device of the VAE's latents (ComfyUI's intermediate device), not on the crops' compute device: they are
    held until their sampler call, which moves them.
    With `inpaint_mask` None (the default) it is `mask`, which is exactly core's node.

    Extras:
    - inpaint_mask: the mask greyed and given to the concat channels when it differs from the noise
      mask (the pack's noise mask adds a feather band that the model should still see, not grey).
      All ones with grey_masked=False is the channel-edit mode (InFluxEdit).
    - binarize_concat_mask: round only the concat mask (noise_mask stays soft). Flux Fill reads the
      concat mask as is (soft); SD inpaint models round it anyway in `BaseModel.concat_cond`.
    - variants: rows repeated (`repeat_interleave`) so row r*variants + j = crop r, variant j;
      every crop is encoded once whatever `variants` is.
    - concat=False: no concat values (models without concat inputs); the concat latent is not encoded.
    - grey_masked=False: the concat latent is the plain encode (reused, not encoded twice).
    """
    variants = int(variants)
    if variants < 1:
        raise ValueError(f"variants must be at least 1, got {variants}")
    if pixels.dim() != 4:
        raise ValueError(f"pixels must be an IMAGE [N,H,W,C], got shape {tuple(pixels.shape)}")
    batch, height, width = pixels.shape[0], pixels.shape[1], pixels.shape[2]
    rows, cols = _centre_crop_box(height, width, vae_downscale(vae))
    soft = _fitted_mask(mask, batch, height, width, "mask")[:, :, rows, cols]
    rgb = pixels[:, rows, cols, :3]

    samples = vae.encode(rgb)
    latent: dict = {"samples": _rows(samples, batch, variants)}
    if noise_mask:  # masks are kept where the VAE puts latents (ComfyUI's intermediate device), as core does
        latent["noise_mask"] = _rows(soft.to(samples.device), batch, variants)
    if not concat:
        return PreparedLatent(latent=latent, concat=None)

    inpaint = soft if inpaint_mask is None else _fitted_mask(inpaint_mask, batch, height, width,
                                                             "inpaint_mask")[:, :, rows, cols]
    if grey_masked:
        keep = (1.0 - inpaint.round()).squeeze(1).unsqueeze(-1).to(device=rgb.device, dtype=rgb.dtype)
        concat_latent = vae.encode((rgb - 0.5) * keep + 0.5)
    else:
        concat_latent = samples
    concat_mask = (inpaint.round() if binarize_concat_mask else inpaint).to(concat_latent.device)
    values = {"concat_latent_image": _rows(concat_latent, batch, variants),
              "concat_mask": _rows(concat_mask, batch, variants)}
    return PreparedLatent(latent=latent, concat=values)
