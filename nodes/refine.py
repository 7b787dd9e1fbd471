"""The refine stage (Inpaint Options `refine`): large regions get a second pass at full detail.

A region whose crop was sampled at less than `refine_threshold` of its original size (Region.scale) is,
after the first pass, upscaled (bicubic, or the connected upscale model) to min(its crop size,
`refine_max_side`), laid over the original crop at that size with the denoise mask (so the context is
the sharp original), re-encoded, and sampled again at `refine_denoise` with the same masks and seed
(variant j from seed + j), as Krita AI Diffusion does for large regions. The decoded refine crops
replace the first-pass crops before the stitch; unmasked pixels stay the original's as always.
Its own prepare (`prepare_refine_group`: the crops at the refine size, the start as canvas) feeds the
prepare stage's shared steps; sample and decode are the first pass's.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import comfy.model_management
import torch

from ..crop_stitch import GREY, CropBatch, CropPlan, resize_hwc, snap
from .crop_stage import CropStage, crop_images
from .decode import decode_groups
from .option_values import RefineSettings
from .prepare import Canvas, PrepareContext, encode_group
from .sampling import MAX_ROWS_PER_CALL, Progress, sample_groups, sampler_calls
from .types import ModelTraits, ModePlan, PerRegion, PreparedGroup, SamplerSettings

log = logging.getLogger("fluxfill_inpainter")


def refine_targets(plan: CropPlan, refine: RefineSettings, multiple: int, side_by_side: bool = False
                   ) -> dict[int, tuple[int, int]]:
    """Region index -> (width, height) of its refine pass, for the regions that get one."""
    if not refine.enabled or side_by_side:
        return {}
    out = {}
    for i, region in enumerate(plan.regions):
        if region.scale >= refine.threshold:
            continue
        bw, bh = region.size
        shrink = min(1.0, refine.max_side / max(bw, bh))
        size = snap(bw * shrink, multiple), snap(bh * shrink, multiple)
        if size[0] * size[1] > region.target[0] * region.target[1]:
            out[i] = size
    return out


def estimated_steps(stage: CropStage, settings: SamplerSettings, traits: ModelTraits, mode: ModePlan) -> int:
    """Steps the refine pass will add (one progress bar covers both passes); memory splits may add more."""
    targets = refine_targets(stage.plan, stage.options.refine, traits.multiple, mode.side_by_side)
    groups: dict[tuple[int, int], int] = {}
    for size in targets.values():
        groups[size] = groups.get(size, 0) + 1
    calls = sum(len(sampler_calls(n, settings.variants, settings.sampler_name, MAX_ROWS_PER_CALL))
                for n in groups.values())
    return settings.steps * calls


def upscale(crops: torch.Tensor, width: int, height: int, upscale_model) -> torch.Tensor:
    """First-pass crops [V,h,w,3] at (width, height): bicubic, or the upscale model then a resize."""
    if upscale_model is not None:
        from comfy_extras.nodes_upscale_model import ImageUpscaleWithModel

        crops = ImageUpscaleWithModel.execute(upscale_model, crops).result[0]
        crops = crops.to(comfy.model_management.get_torch_device())
    return resize_hwc(crops, height, width, "bicubic")


def prepare_refine_group(ctx: PrepareContext, batch: CropBatch, *, start: torch.Tensor) -> PreparedGroup:
    """The refine pass's group: `start` (one image per row r * variants + j) is encoded as it is, with the
    masks of `batch`, the original crops at the refine size (ControlNet hints and MODEL_PATCH read those)."""
    variants = ctx.variants
    canvas = Canvas(start, batch.inpaint.repeat_interleave(variants, 0), batch.denoise.repeat_interleave(variants, 0),
                    encode_variants=1)
    return encode_group(ctx, batch, canvas)


def refine_pass(model, ctx: PrepareContext, crops: PerRegion, latents: PerRegion, settings: SamplerSettings,
                progress: Progress) -> tuple[PerRegion, PerRegion]:
    """Crops and latents per region with the refined regions' replaced by their second pass (with the
    same conditioning, inpaint ControlNet and MODEL_PATCH as the first pass's `ctx`)."""
    stage, mode, node = ctx.stage, ctx.mode, ctx.node
    targets = refine_targets(stage.plan, stage.options.refine, ctx.traits.multiple, mode.side_by_side)
    if stage.options.refine.enabled and mode.side_by_side:
        log.warning("%s: refine is skipped in mode 'spatial_concat' (its canvas is twice the crop)", node)
    if not targets:
        return crops, latents
    log.info("%s: refine pass for %d region(s) at %s, denoise %.2f", node, len(targets),
             sorted(set(targets.values())), stage.options.refine.denoise)
    refine_ctx = replace(ctx, mode=replace(mode, prefill=GREY))  # start from the first pass, not a new fill
    variants, groups = ctx.variants, []
    for size in dict.fromkeys(targets.values()):
        comfy.model_management.throw_exception_if_processing_interrupted()
        indices = [i for i, t in targets.items() if t == size]
        batch = crop_images(stage, indices, size)
        den = batch.denoise.repeat_interleave(variants, 0)[..., None]
        first = torch.cat([upscale(crops[i], size[0], size[1], stage.options.upscale_model) for i in indices])
        first = first.to(device=batch.images.device, dtype=batch.images.dtype)
        start = batch.images.repeat_interleave(variants, 0) * (1 - den) + first * den
        groups.append(prepare_refine_group(refine_ctx, batch, start=start))
    sampled = sample_groups(model, groups, replace(settings, denoise=stage.options.refine.denoise),
                            mode.noise_mask, progress)
    new_crops, new_latents = decode_groups(ctx.connected.vae, groups, sampled, variants)
    return crops | new_crops, latents | new_latents
