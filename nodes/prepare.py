"""Prepare each group of equal-size crops for sampling, as the edit mode asks: pixels, masks, encodes,
conditioning. Every crop is encoded once whatever the number of variants."""

from __future__ import annotations

from dataclasses import replace

import comfy.model_management
import node_helpers
import torch

from ..crop_stitch import GREY, resize_hwc, to_rgb
from ..crop_stitch import prefill as prefill_pixels
from ..diff_attention import prepare_inpaint_latent
from .control import apply_inpaint_controlnet
from .crop_stage import CropStage, crop_images
from .fill_model import crop_filler
from .model_patch import ZIMAGE_FUN, crop_patch, patch_kind
from .types import FLUX_FILL, ModelTraits, ModePlan, PreparedGroup
from .vae_io import ImageVAE


def cover_resize(image: torch.Tensor, height: int, width: int, resample: str) -> torch.Tensor:
    """[N,H,W,C] centre-cropped to the aspect of height x width, then resized to it (no distortion)."""
    src_h, src_w = image.shape[1:3]
    scale = max(height / src_h, width / src_w)
    crop_h = min(src_h, max(1, round(height / scale)))
    crop_w = min(src_w, max(1, round(width / scale)))
    top, left = (src_h - crop_h) // 2, (src_w - crop_w) // 2
    return resize_hwc(image[:, top:top + crop_h, left:left + crop_w], height, width, resample)


def reference_pixels(stage: CropStage, region_indices: list[int], like: torch.Tensor) -> torch.Tensor:
    """The `reference` image for each region (one per input image, or one for all) at the crop size."""
    reference = stage.options.reference
    height, width = like.shape[1:3]
    rows = []
    for idx in region_indices:
        image_index = min(stage.plan.regions[idx].image_index, reference.shape[0] - 1)
        ref = to_rgb(reference[image_index:image_index + 1]).to(device=like.device, dtype=like.dtype)
        rows.append(cover_resize(ref, height, width, stage.options.resample))
    return torch.cat(rows)


def _reference_latent(stage: CropStage, indices: list[int], vae, mode: ModePlan, crops: torch.Tensor,
                      sampled: torch.Tensor, variants: int) -> torch.Tensor:
    """What reference mode appends to reference_latents: encode(reference), else encode(the crop itself)."""
    if stage.options.reference is not None:
        return vae.encode(reference_pixels(stage, indices, crops)).repeat_interleave(variants, dim=0)
    if mode.prefill != GREY:  # the sampled latent starts from the pre-filled crop; refer to the original
        return vae.encode(crops).repeat_interleave(variants, dim=0)
    return sampled  # encode(crop), rows already region r * variants + j


def prepare_group(stage: CropStage, indices: list[int], vae, positive: list, negative: list, variants: int,
                  traits: ModelTraits, mode: ModePlan, node: str, control_net=None,
                  start: torch.Tensor | None = None, model_patch=None) -> PreparedGroup:
    """Crop, mask and encode the regions of one group (one target size) as the edit `mode` asks.

    `start` (the refine pass): one image per row r * variants + j to encode instead of the crops.
    `model_patch`: a MODEL_PATCH inpaint ControlNet, applied to these crops at sampling (nodes/model_patch.py).
    """
    raw_vae, vae = vae, ImageVAE(vae, traits.temporal_vae)
    patch_type = None if model_patch is None else patch_kind(model_patch, traits, node)
    if patch_type == ZIMAGE_FUN:  # its control replaces the noise mask, which would fight it
        mode = replace(mode, noise_mask=False)
    batch = crop_images(stage, indices)
    pixels, inpaint, denoise = batch.images, batch.inpaint, batch.denoise
    encode_variants = variants
    if start is not None:
        pixels, encode_variants = start, 1
        inpaint, denoise = inpaint.repeat_interleave(variants, 0), denoise.repeat_interleave(variants, 0)
    split = 0
    if mode.side_by_side:
        left = reference_pixels(stage, indices, pixels) if stage.options.reference is not None else pixels
        split = pixels.shape[2]
        pixels = torch.cat([left, pixels], dim=2)
        inpaint = torch.cat([torch.zeros_like(inpaint), inpaint], dim=2)
        denoise = torch.cat([torch.zeros_like(denoise), denoise], dim=2)
    grey_masked = mode.grey_masked
    if mode.prefill != GREY:
        pixels = prefill_pixels(pixels, inpaint, mode.prefill, node=f"{node} (Inpaint Options)",
                                filler=crop_filler(stage.options.fill_model))
        grey_masked = False
    prepared = prepare_inpaint_latent(
        vae, pixels, denoise, inpaint_mask=torch.ones_like(inpaint) if mode.concat_all_ones else inpaint,
        noise_mask=mode.noise_mask, variants=encode_variants, concat=mode.concat, grey_masked=grey_masked,
        binarize_concat_mask=stage.options.binarize_concat_mask and traits.inpaint_kind == FLUX_FILL)
    if traits.latent_dimensions == 3 and "noise_mask" in prepared.latent:
        # [N,1,1,H,W]: core's reshape_mask would fold a 4-D mask into the time axis (one mask for all rows)
        prepared.latent["noise_mask"] = prepared.latent["noise_mask"].unsqueeze(2)
    if prepared.concat is not None:
        positive = node_helpers.conditioning_set_values(positive, prepared.concat)
        negative = node_helpers.conditioning_set_values(negative, prepared.concat)
    if mode.reference_latent:
        reference = _reference_latent(stage, indices, vae, mode, batch.images, prepared.latent["samples"], variants)
        positive = node_helpers.conditioning_set_values(positive, {"reference_latents": [reference]}, append=True)
    if control_net is not None:
        positive, negative = apply_inpaint_controlnet(positive, negative, control_net, raw_vae, batch.images,
                                                      batch.inpaint, variants)
    patch = None if patch_type is None else crop_patch(model_patch, patch_type, raw_vae, traits, batch.images,
                                                       batch.inpaint, variants)
    return PreparedGroup(indices, positive, negative, prepared.latent, split, patch)


def prepare_groups(stage: CropStage, vae, positive: list, negative: list, variants: int, traits: ModelTraits,
                   mode: ModePlan, node: str, control_net=None, model_patch=None) -> list[PreparedGroup]:
    """One prepared group per crop size, in plan order."""
    groups = []
    for indices in stage.plan.groups_by_target().values():
        comfy.model_management.throw_exception_if_processing_interrupted()
        groups.append(prepare_group(stage, indices, vae, positive, negative, variants, traits, mode, node,
                                    control_net, model_patch=model_patch))
    return groups
