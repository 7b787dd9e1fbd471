"""The crop stage, shared by the Crop node and the FluxFill Inpainter: check, prepare masks, plan, crop.

Full-size tensors (the image, the Inpainter's mask output) stay on ComfyUI's intermediate device; only
the crops go to the compute device, where the VAE and the sampler need them. The prepared masks are
kept as windows around the mask, so their cost follows the mask, not the image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import comfy.model_management
import torch

from ..crop_stitch import (
    ChangedOnly,
    ClipRegion,
    ClipSettings,
    CropBatch,
    CropPlan,
    MaskWindows,
    Stitcher,
    crop_regions,
    plan_clip,
    plan_crops,
    prepare_windowed_masks,
    to_rgb,
)
from .inputs import check_image, check_mask
from .option_values import InpaintOptions

log = logging.getLogger("fluxfill_inpainter")


@dataclass
class CropStage:
    """The planned crops of one run: the stitch record (originals, masks, plan) and the options."""

    stitcher: Stitcher
    inpaint_mask: MaskWindows  # [B,H,W] the prepared mask before the feather band
    denoise_mask: MaskWindows  # [B,H,W] what the sampler may change
    composite_mask: MaskWindows  # [B,H,W] what the stitch blends (the Inpainter's `mask` output)
    options: InpaintOptions
    clips: list[ClipRegion] = field(default_factory=list)  # a clip's regions (plan_clip); [] for images

    @property
    def plan(self) -> CropPlan:
        return self.stitcher.plan

    @property
    def empty(self) -> bool:
        return not self.plan.regions


def crop_stage(image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions, node: str,
               clip: ClipSettings | None = None) -> CropStage:
    """Validate, prepare the masks in original pixels and plan one crop per region; with `clip` the batch is
    the frames of one clip and each region gets one box for the clip (a crop per frame of its span)."""
    image = check_image(image, node)
    mask = check_mask(mask, image, node)
    home = comfy.model_management.intermediate_device()
    originals = image.to(home)
    prepared = prepare_windowed_masks(mask.to(device=home, dtype=originals.dtype), options.mask)
    clips: list[ClipRegion] = []
    if clip is None:
        plan = plan_crops(prepared.denoise, options.crop)
    else:
        plan, clips = plan_clip(prepared.denoise, options.crop, clip)
    stitcher = Stitcher.build(originals, prepared.composite, plan, denoise=prepared.denoise,
                              color_correct=options.color_correct, resample=options.resample,
                              changed=ChangedOnly() if options.stitch_changed_only else None)
    if clips:
        log.info("%s: %d region(s) over a clip of %d frames (%s), crop sizes %s", node, len(clips), image.shape[0],
                 clip.box, sorted({plan.regions[c.region_indices[0]].target for c in clips}))
    elif plan.regions:
        sizes = sorted({r.target for r in plan.regions})
        log.info("%s: %d region(s) in %d image(s), crop sizes %s", node, len(plan.regions), image.shape[0], sizes)
    else:
        log.info("%s: the mask is empty; returning the input image untouched, nothing sampled", node)
    return CropStage(stitcher=stitcher, inpaint_mask=prepared.inpaint, denoise_mask=prepared.denoise,
                     composite_mask=prepared.composite, options=options, clips=clips)


def crop_images(stage: CropStage, region_indices: list[int], size: tuple[int, int] | None = None) -> CropBatch:
    """RGB crops of regions that share one target size (or `size`, width x height), resized, with their
    masks, on the compute device."""
    s = stage.stitcher
    batch = crop_regions(s.originals, stage.inpaint_mask, stage.denoise_mask, s.plan, region_indices,
                         resample=stage.options.resample, target=size)
    device = comfy.model_management.get_torch_device()
    return CropBatch(images=to_rgb(batch.images).to(device), inpaint=batch.inpaint.to(device),
                     denoise=batch.denoise.to(device), region_indices=batch.region_indices)
