"""Edit modes of the FluxFill Inpainter: variants of the one crop → prepare → sample → stitch pipeline.

A mode only changes how each group of crops is prepared (pixels, masks, conditioning) and which part
of the sampled canvas is stitched back; cropping, sampling and stitching are shared:

- inpaint: the model's own path (Flux Fill / SD inpaint concat, else noise mask). Today's behaviour.
- channel_edit: Flux Fill with an all-ones concat mask and un-greyed pixels (InFluxEdit); the noise
  mask still comes from the user's mask.
- spatial_concat: canvas [reference | crop] (ACE++), only the right half masked; the right half is
  what gets stitched back.
- kontext: the encoded crop (or `reference`) appended to the positive's `reference_latents`, as core
  `ReferenceLatent` does; the masked crop is sampled by noise mask.
- repaint: noise mask only, no concat values (flow-matching RePaint via core's KSamplerX0Inpaint).

Pre-fill (Inpaint Options `prefill`): "grey" is core's greying of the concat image only. Any other fill
replaces the masked pixels before both encodes (concat image and the sampled latent), so denoise < 1
starts from the filled background; channel_edit ignores it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..crop_stitch import resize_hwc
from ..crop_stitch.prefill import prefill as prefill_pixels
from ..diff_attention import FLUX_FILL, NO_CONCAT, conditioning_with, prepare_inpaint_latent
from .pipeline import CropStage, InputError, crop_images, to_rgb

if TYPE_CHECKING:
    from .sampling import ModelTraits, SamplerSettings

log = logging.getLogger("fluxfill_inpainter")

INPAINT, CHANNEL_EDIT, SPATIAL_CONCAT, KONTEXT, REPAINT = (
    "inpaint", "channel_edit", "spatial_concat", "kontext", "repaint")


@dataclass(frozen=True)
class ModePlan:
    """What one mode changes in the shared pipeline."""

    name: str
    concat: bool  # set concat_latent_image / concat_mask in the conditioning
    noise_mask: bool  # the latent carries a noise mask (the sampler keeps unmasked latents)
    grey_masked: bool  # grey the masked pixels of the concat image (core InpaintModelConditioning)
    concat_all_ones: bool  # concat mask = 1 everywhere (channel_edit)
    side_by_side: bool  # sample [reference | crop], stitch the right half (spatial_concat)
    reference_latent: bool  # append the encoded reference to the positive's reference_latents
    prefill: str  # "grey" = core behaviour; else the masked pixels are filled before encoding


def resolve_mode(mode: str, prefill: str, traits: ModelTraits, settings: SamplerSettings, node: str) -> ModePlan:
    """The plan for `mode` on a model with `traits`; clear errors for combinations that cannot work."""
    concat = traits.kind != NO_CONCAT
    noise_mask = settings.noise_mask or not concat
    if mode == INPAINT:
        return ModePlan(mode, concat, noise_mask, True, False, False, False, prefill)
    if mode == CHANNEL_EDIT:
        if not concat:
            raise InputError(
                f"{node}: mode 'channel_edit' (Inpaint Options) needs an inpaint model with concat channels "
                f"(Flux Fill, or an SD inpainting model); the connected model has none. Use mode 'kontext' "
                f"or 'repaint' for models without inpaint channels.")
        if prefill != "grey":
            log.warning("%s: prefill '%s' is ignored in mode 'channel_edit' (the model must see the original)",
                        node, prefill)
        return ModePlan(mode, True, settings.noise_mask, False, True, False, False, "grey")
    if mode == SPATIAL_CONCAT:
        return ModePlan(mode, concat, noise_mask, True, False, True, False, prefill)
    if mode == KONTEXT:
        if not traits.is_flux or traits.extra_inputs:
            what = "has concat input channels (Flux Fill, depth or canny)" if traits.is_flux else "is not Flux"
            raise InputError(
                f"{node}: mode 'kontext' (Inpaint Options) needs a Flux Kontext model (a Flux model without "
                f"concat channels, which takes reference latents); the connected model {what}. For Flux Fill "
                f"use mode 'channel_edit' or 'spatial_concat'.")
        return ModePlan(mode, False, True, True, False, False, True, prefill)
    if mode == REPAINT:
        return ModePlan(mode, False, True, True, False, False, False, prefill)
    raise InputError(f"{node}: unknown mode {mode!r} in Inpaint Options.")


def cover_resize(image: torch.Tensor, height: int, width: int, resample: str) -> torch.Tensor:
    """[N,H,W,C] centre-cropped to the aspect of height x width, then resized to it (no distortion)."""
    src_h, src_w = image.shape[1:3]
    scale = max(height / src_h, width / src_w)
    crop_h = min(src_h, max(1, round(height / scale)))
    crop_w = min(src_w, max(1, round(width / scale)))
    top, left = (src_h - crop_h) // 2, (src_w - crop_w) // 2
    return resize_hwc(image[:, top:top + crop_h, left:left + crop_w], height, width, resample)


def reference_pixels(stage: CropStage, region_indices: list[int], height: int, width: int,
                     like: torch.Tensor) -> torch.Tensor:
    """The `reference` image for each region (one per input image, or one for all) at the crop size."""
    reference = stage.options.reference
    rows = []
    for idx in region_indices:
        image_index = min(stage.plan.regions[idx].image_index, reference.shape[0] - 1)
        ref = to_rgb(reference[image_index:image_index + 1]).to(device=like.device, dtype=like.dtype)
        rows.append(cover_resize(ref, height, width, stage.options.resample))
    return torch.cat(rows)


def with_reference_latent(conditioning: list, latent: torch.Tensor) -> list:
    """Core `ReferenceLatent`: append `latent` to each entry's reference_latents, on copies."""
    out = []
    for tokens, extras in conditioning:
        refs = list(extras.get("reference_latents", [])) + [latent]
        out.append(conditioning_with([[tokens, extras]], {"reference_latents": refs})[0])
    return out


@dataclass
class ModeBatch:
    """A prepared group: conditioning copies, the LATENT to sample, and where the target part starts."""

    positive: list
    negative: list
    latent: dict
    split: int  # first pixel column of the part to stitch (0 = the whole canvas)


def prepare_mode_batch(stage: CropStage, region_indices: list[int], vae, positive: list, negative: list,
                       settings: SamplerSettings, traits: ModelTraits, plan: ModePlan, node: str) -> ModeBatch:
    """Crop, mask and encode the regions of one group as `plan` asks (each crop encoded once)."""
    pixels, denoise = crop_images(stage, region_indices)
    height, width = pixels.shape[1:3]
    has_reference = stage.options.reference is not None
    split = 0
    if plan.side_by_side:
        left = reference_pixels(stage, region_indices, height, width, pixels) if has_reference else pixels
        pixels = torch.cat([left, pixels], dim=2)
        denoise = torch.cat([torch.zeros_like(denoise), denoise], dim=2)
        split = width
    grey_masked = plan.grey_masked
    if plan.prefill != "grey":
        pixels = prefill_pixels(pixels, denoise, plan.prefill, node=f"{node} (Inpaint Options)")
        grey_masked = False
    prepared = prepare_inpaint_latent(
        vae, pixels, denoise, positive, negative, noise_mask=plan.noise_mask,
        binarize_concat_mask=stage.options.binarize_concat_mask and traits.kind == FLUX_FILL,
        variants=settings.variants, concat=plan.concat, grey_masked=grey_masked,
        concat_mask_override=torch.ones_like(denoise) if plan.concat_all_ones else None)
    positive_out = prepared.positive
    if plan.reference_latent:
        if has_reference:
            ref_pixels = reference_pixels(stage, region_indices, height, width, pixels)
            reference = vae.encode(ref_pixels).repeat_interleave(settings.variants, dim=0)
        elif plan.prefill != "grey":
            reference = vae.encode(crop_images(stage, region_indices)[0]).repeat_interleave(settings.variants, dim=0)
        else:
            reference = prepared.latent["samples"]  # encode(crop), rows already region r * variants + j
        positive_out = with_reference_latent(positive_out, reference)
    return ModeBatch(positive_out, prepared.negative, prepared.latent, split)


def target_part(images: torch.Tensor, samples: torch.Tensor, split: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded images [N,H,W,C] and latents [N,C,h,w] right of pixel column `split`."""
    if split <= 0:
        return images, samples
    latent_split = samples.shape[-1] * split // images.shape[2]
    return images[:, :, split:], samples[..., latent_split:]
