"""Prepare each group of equal-size crops for sampling, as the edit mode asks.

Each edit mode makes its canvas (what is encoded, with the masks it is encoded with) in its own small
function, chosen from MODE_CANVAS by the ModePlan's name; every mode then goes through the same steps,
which read the ModePlan's flags: pre-fill, encode (InpaintModelConditioning's math), concat values,
reference latents, inpaint ControlNet hints, MODEL_PATCH. The refine pass has its own canvas
(nodes/refine.py) and reuses `encode_group`. Rows are region-major (r * variants + j); every crop is
encoded once whatever the number of variants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import comfy.model_management
import node_helpers
import torch

from ..crop_stitch import GREY, CropBatch, resize_hwc, to_rgb
from ..crop_stitch import prefill as prefill_pixels
from ..diff_attention import prepare_inpaint_latent
from .control import apply_inpaint_controlnet
from .crop_stage import CropStage, crop_images
from .fill_model import crop_filler
from .model_patch import ZIMAGE_FUN, crop_patch, patch_kind
from .types import (
    CHANNEL_EDIT,
    FLUX_FILL,
    INPAINT,
    REFERENCE,
    REPAINT,
    SPATIAL_CONCAT,
    Connected,
    ModelTraits,
    ModePlan,
    PreparedGroup,
)
from .vae_io import ImageVAE


@dataclass(frozen=True)
class PrepareContext:
    """What every group's preparation reads (one per pass)."""

    stage: CropStage
    connected: Connected
    positive: list
    negative: list
    variants: int
    traits: ModelTraits
    mode: ModePlan
    node: str
    patch_type: str | None = None  # nodes/model_patch.py kind of the connected MODEL_PATCH


def prepare_context(stage: CropStage, connected: Connected, conditioning: tuple[list, list], variants: int,
                    traits: ModelTraits, mode: ModePlan, node: str) -> PrepareContext:
    """The context of one pass; an unusable MODEL_PATCH is an error here, before anything is encoded."""
    patch = connected.model_patch
    patch_type = None if patch is None else patch_kind(patch, traits, node)
    positive, negative = conditioning
    return PrepareContext(stage, connected, positive, negative, variants, traits, mode, node, patch_type)


@dataclass(frozen=True)
class Canvas:
    """What one group encodes: pixels [N,H,W,C] and its masks [N,H,W], one row per crop (or per row
    r * variants + j when `encode_variants` is 1, as in the refine pass)."""

    pixels: torch.Tensor
    inpaint: torch.Tensor  # greys the concat image and fills the pre-fill; the concat mask unless all ones
    denoise: torch.Tensor  # the noise mask
    encode_variants: int  # rows each encoded row is repeated to
    split: int = 0  # spatial_concat: first pixel column of the part that is stitched back


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


def crop_canvas(ctx: PrepareContext, batch: CropBatch) -> Canvas:
    """inpaint, repaint, reference: the crop itself, with its masks."""
    return Canvas(batch.images, batch.inpaint, batch.denoise, ctx.variants)


def spatial_concat_canvas(ctx: PrepareContext, batch: CropBatch) -> Canvas:
    """spatial_concat (ACE++): [reference | crop], only the right half masked; the right half is stitched."""
    pixels, inpaint, denoise = batch.images, batch.inpaint, batch.denoise
    left = reference_pixels(ctx.stage, batch.region_indices, pixels) if ctx.stage.options.reference is not None \
        else pixels
    return Canvas(torch.cat([left, pixels], dim=2), torch.cat([torch.zeros_like(inpaint), inpaint], dim=2),
                  torch.cat([torch.zeros_like(denoise), denoise], dim=2), ctx.variants, split=pixels.shape[2])


MODE_CANVAS: dict[str, Callable[[PrepareContext, CropBatch], Canvas]] = {
    INPAINT: crop_canvas,
    REPAINT: crop_canvas,
    REFERENCE: crop_canvas,
    CHANNEL_EDIT: crop_canvas,  # the same pixels; the ModePlan makes the concat mask all ones, ungreyed
    SPATIAL_CONCAT: spatial_concat_canvas,
}


def _reference_latent(ctx: PrepareContext, batch: CropBatch, vae: ImageVAE, sampled: torch.Tensor) -> torch.Tensor:
    """What reference mode appends to reference_latents: encode(reference), else encode(the crop itself)."""
    if ctx.stage.options.reference is not None:
        pixels = reference_pixels(ctx.stage, batch.region_indices, batch.images)
        return vae.encode(pixels).repeat_interleave(ctx.variants, dim=0)
    if ctx.mode.prefill != GREY:  # the sampled latent starts from the pre-filled crop; refer to the original
        return vae.encode(batch.images).repeat_interleave(ctx.variants, dim=0)
    return sampled  # encode(what is sampled), rows already region r * variants + j


def encode_group(ctx: PrepareContext, batch: CropBatch, canvas: Canvas) -> PreparedGroup:
    """The steps every mode shares: pre-fill, encode, concat values, reference latents, ControlNet hints,
    MODEL_PATCH (hints and patches from the crops of `batch`, rows r * variants + j)."""
    mode, traits, variants = ctx.mode, ctx.traits, ctx.variants
    raw_vae = ctx.connected.vae
    vae = ImageVAE(raw_vae, traits.temporal_vae)
    pixels, grey_masked = canvas.pixels, mode.grey_masked
    if mode.prefill != GREY:
        pixels = prefill_pixels(pixels, canvas.inpaint, mode.prefill, node=f"{ctx.node} (Inpaint Options)",
                                filler=crop_filler(ctx.stage.options.fill_model))
        grey_masked = False
    prepared = prepare_inpaint_latent(
        vae, pixels, canvas.denoise,
        inpaint_mask=torch.ones_like(canvas.inpaint) if mode.concat_all_ones else canvas.inpaint,
        noise_mask=mode.noise_mask and ctx.patch_type != ZIMAGE_FUN,  # Z-Image Fun's control replaces it
        variants=canvas.encode_variants, concat=mode.concat, grey_masked=grey_masked,
        binarize_concat_mask=ctx.stage.options.binarize_concat_mask and traits.inpaint_kind == FLUX_FILL)
    if traits.latent_dimensions == 3 and "noise_mask" in prepared.latent:
        # [N,1,1,H,W]: core's reshape_mask would fold a 4-D mask into the time axis (one mask for all rows)
        prepared.latent["noise_mask"] = prepared.latent["noise_mask"].unsqueeze(2)
    positive, negative = ctx.positive, ctx.negative
    if prepared.concat is not None:
        positive = node_helpers.conditioning_set_values(positive, prepared.concat)
        negative = node_helpers.conditioning_set_values(negative, prepared.concat)
    if mode.reference_latent:
        reference = _reference_latent(ctx, batch, vae, prepared.latent["samples"])
        positive = node_helpers.conditioning_set_values(positive, {"reference_latents": [reference]}, append=True)
    if ctx.connected.control_net is not None:
        positive, negative = apply_inpaint_controlnet(positive, negative, ctx.connected.control_net, raw_vae,
                                                      batch.images, batch.inpaint, variants)
    patch = None if ctx.patch_type is None else crop_patch(ctx.connected.model_patch, ctx.patch_type, raw_vae,
                                                           traits, batch.images, batch.inpaint, variants)
    return PreparedGroup(batch.region_indices, positive, negative, prepared.latent, canvas.split, patch)


def prepare_group(ctx: PrepareContext, indices: list[int]) -> PreparedGroup:
    """Crop, mask and encode the regions of one group (one target size) as the edit mode asks."""
    batch = crop_images(ctx.stage, indices)
    return encode_group(ctx, batch, MODE_CANVAS[ctx.mode.name](ctx, batch))


def prepare_groups(ctx: PrepareContext) -> list[PreparedGroup]:
    """One prepared group per crop size, in plan order."""
    groups = []
    for indices in ctx.stage.plan.groups_by_target().values():
        comfy.model_management.throw_exception_if_processing_interrupted()
        groups.append(prepare_group(ctx, indices))
    return groups
