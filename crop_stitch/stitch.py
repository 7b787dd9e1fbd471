"""Stitch inpainted crops back into their images with the composite mask, touching only the windows
where each region may blend; the Stitcher record keeps those mask windows, not full-size masks.

With `changed` settings (see changed_only.py) each region is aligned, colour-corrected and only what
changed inside its composite is blended in; the composite actually used comes back with the images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .changed_only import ChangedOnly, changed_region
from .channels import match_channels
from .color import color_correct as _color_correct
from .crop import owned_mask
from .drift import Drift
from .mask_windows import MaskWindows
from .masks import fitted_windows
from .plan import CropPlan, Region
from .resize import resize_window_hwc

DEFAULT_RING_PX = 16
Window = tuple[int, int, int, int]  # (x0, y0, x1, y1), image coordinates, exclusive ends


@dataclass(frozen=True)
class RegionMasks:
    """The masks one region's stitch reads: the composite on its blend window, and for colour
    correction its own denoise mask on the ring window around it."""

    blend: Window
    composite: Tensor  # [y1-y0, x1-x0] of `blend`
    ring: Window | None = None
    denoise: Tensor | None = None  # [..] of `ring`, this region's own part only


@dataclass(frozen=True)
class StitchResult:
    """Stitched images [B*V,H,W,C], the composite actually used [B*V,H,W] (row b*V + j as the images) and,
    with the changed-only stitch, each region's drift per variant in image coordinates (None: not blended,
    or the plain stitch)."""

    images: Tensor
    mask: Tensor
    drifts: list[list[Drift] | None]


def _blend_window(region: Region) -> Window | None:
    """Where a region may blend: its own mask_box inside the image (clusters' mask boxes are
    disjoint, so regions never blend over each other's masks)."""
    vx0, vy0, vx1, vy1 = region.valid_box
    mx0, my0, mx1, my1 = region.mask_box
    ax0, ay0, ax1, ay1 = max(mx0, vx0), max(my0, vy0), min(mx1, vx1), min(my1, vy1)
    return None if ax1 <= ax0 or ay1 <= ay0 else (ax0, ay0, ax1, ay1)


def _ring_window(region: Region, ring_px: int) -> Window:
    """The mask box grown by ring_px, inside the image (colour correction fits there)."""
    vx0, vy0, vx1, vy1 = region.valid_box
    mx0, my0, mx1, my1 = region.mask_box
    return max(vx0, mx0 - ring_px), max(vy0, my0 - ring_px), min(vx1, mx1 + ring_px), min(vy1, my1 + ring_px)


def region_masks(plan: CropPlan, composite: Tensor | MaskWindows, denoise: Tensor | MaskWindows | None = None,
                 color_correct: bool = False, ring_px: int = DEFAULT_RING_PX) -> list[RegionMasks | None]:
    """Each region's mask windows (None: nothing of it is blended), copied out of full-size or windowed masks."""
    b, h, w = plan.batch, plan.height, plan.width
    comp = fitted_windows(composite, b, h, w, name="composite")
    den = comp if denoise is None else fitted_windows(denoise, b, h, w, name="denoise")
    out: list[RegionMasks | None] = []
    for region in plan.regions:
        window = _blend_window(region)
        i = region.image_index
        blend = None if window is None else comp.read(i, window[1], window[3], window[0], window[2])
        if blend is None or not bool((blend > 0).any()):
            out.append(None)
            continue
        if not color_correct:
            out.append(RegionMasks(window, blend))
            continue
        cx0, cy0, cx1, cy1 = ring = _ring_window(region, ring_px)
        own = den.read(i, cy0, cy1, cx0, cx1)
        out.append(RegionMasks(window, blend, ring, own * owned_mask(region, cy0, cy1, cx0, cx1, own)))
    return out


def _resized_part(crop: Tensor, region: Region, window: Window, resample: str) -> Tensor:
    """The crop resized back to the region's box size, only the pixels of `window`."""
    x0, y0, x1, y1 = window
    bx0, by0 = region.box[0], region.box[1]
    return resize_window_hwc(crop, region.size[1], region.size[0], slice(y0 - by0, y1 - by0),
                             slice(x0 - bx0, x1 - bx0), resample)


def _check_stitch_inputs(originals: Tensor, plan: CropPlan, crops: Sequence[Tensor], variants: int) -> None:
    if originals.dim() != 4:
        raise ValueError(f"originals must be [B,H,W,C], got {tuple(originals.shape)}")
    b, h, w, _ = originals.shape
    if (b, h, w) != (plan.batch, plan.height, plan.width):
        raise ValueError(f"originals {tuple(originals.shape)} do not match the plan "
                         f"(batch {plan.batch}, {plan.width}x{plan.height})")
    if len(crops) != len(plan.regions):
        raise ValueError(f"{len(crops)} inpainted crops for {len(plan.regions)} regions")
    for region, crop in zip(plan.regions, crops, strict=True):
        if crop.dim() != 4 or crop.shape[0] != variants:
            raise ValueError(f"inpainted crop for region {region.box} must be [{variants},h,w,C], "
                             f"got {tuple(crop.shape)}")


def stitch_regions(originals: Tensor, plan: CropPlan, inpainted: Sequence[Tensor], variants: int,
                   masks: Sequence[RegionMasks | None], *, resample: str = "bicubic",
                   ring_px: int = DEFAULT_RING_PX, changed: ChangedOnly | None = None) -> Tensor:
    """Blend inpainted crops into copies of their images using each region's mask windows.

    Returns [B*variants,H,W,C], row b*variants + j = image b, variant j. Colour correction applies to
    regions whose masks carry a ring. Pixels where the composite is 0 are bit-identical to `originals`.
    `changed`: the changed-only stitch instead (see stitch_regions_masked).
    """
    return _stitch(originals, plan, inpainted, variants, masks, resample, ring_px, changed, with_mask=False).images


def stitch_regions_masked(originals: Tensor, plan: CropPlan, inpainted: Sequence[Tensor], variants: int,
                          masks: Sequence[RegionMasks | None], *, resample: str = "bicubic",
                          ring_px: int = DEFAULT_RING_PX, changed: ChangedOnly | None = None) -> StitchResult:
    """stitch_regions, with the full-size composite actually used. Without `changed` that is each region's
    composite on its blend window (the images are those of stitch_regions, bit for bit); with it, each
    region's drift is undone (when confidently estimated), its colours corrected, and only what changed
    inside its composite is blended in seamlessly: the mask is that composite of the changes, and pixels
    where it is 0 are bit-identical to `originals`."""
    return _stitch(originals, plan, inpainted, variants, masks, resample, ring_px, changed, with_mask=True)


def _stitch(originals: Tensor, plan: CropPlan, inpainted: Sequence[Tensor], variants: int,
            masks: Sequence[RegionMasks | None], resample: str, ring_px: int, changed: ChangedOnly | None,
            with_mask: bool) -> StitchResult:
    _check_stitch_inputs(originals, plan, inpainted, variants)
    c = originals.shape[-1]
    out = originals.clone() if variants == 1 else originals.repeat_interleave(variants, dim=0)
    used = out.new_zeros(out.shape[:3]) if with_mask else out.new_zeros(0)
    drifts: list[list[Drift] | None] = []
    for index, (region, crop, rm) in enumerate(zip(plan.regions, inpainted, masks, strict=True)):
        drifts.append(None)
        if rm is None:
            continue
        ax0, ay0, ax1, ay1 = rm.blend
        i = region.image_index
        rows = slice(i * variants, (i + 1) * variants)
        crop = match_channels(crop, c)[..., :c].to(device=originals.device, dtype=originals.dtype)
        if changed is not None:
            vx0, vy0, vx1, vy1 = valid = region.valid_box
            sample = _resized_part(crop, region, valid, resample)
            done = changed_region(sample, originals[i, vy0:vy1, vx0:vx1, :sample.shape[-1]], out[rows],
                                  rm.composite.to(device=originals.device, dtype=originals.dtype), valid, rm.blend,
                                  changed, label=f"region {index}")
            wx0, wy0, wx1, wy1 = done.window
            out[rows, wy0:wy1, wx0:wx1, :done.pixels.shape[-1]] = done.pixels
            if with_mask:
                used[rows, wy0:wy1, wx0:wx1] = torch.where(done.mask > 0, done.mask.to(used.dtype),
                                                           used[rows, wy0:wy1, wx0:wx1])
            drifts[-1] = done.drifts
            continue
        if rm.ring is not None:
            cx0, cy0, cx1, cy1 = rm.ring
            part = _resized_part(crop, region, rm.ring, resample)
            own = rm.denoise.to(device=originals.device, dtype=originals.dtype)
            part = _color_correct(part, originals[i, cy0:cy1, cx0:cx1, :part.shape[-1]], own, ring_px)
            sub = part[:, ay0 - cy0:ay1 - cy0, ax0 - cx0:ax1 - cx0]
        else:
            sub = _resized_part(crop, region, rm.blend, resample)
        ci = sub.shape[-1]
        cur = out[rows, ay0:ay1, ax0:ax1, :ci]
        mm = rm.composite.to(device=originals.device, dtype=originals.dtype)[None, :, :, None]
        out[rows, ay0:ay1, ax0:ax1, :ci] = torch.where(mm > 0, mm * sub + (1 - mm) * cur, cur)
        if with_mask:
            win = used[rows, ay0:ay1, ax0:ax1]
            used[rows, ay0:ay1, ax0:ax1] = torch.where(mm[..., 0] > 0, mm[..., 0].to(used.dtype), win)
    return StitchResult(out, used, drifts)


def stitch(originals: Tensor, composite_full: Tensor, plan: CropPlan, inpainted: Sequence[Tensor],
           variants: int, *, denoise_full: Tensor | None = None, color_correct: bool = False,
           resample: str = "bicubic", ring_px: int = DEFAULT_RING_PX, changed: ChangedOnly | None = None) -> Tensor:
    """Blend inpainted crops back into their images with full-size masks; returns [B*variants,H,W,C].

    inpainted[i] is [variants,h,w,C'] for plan.regions[i], resized back with `resample`. Regions
    compose in plan order with m = composite_full inside the region's own mask_box. Pixels where
    m == 0 are bit-identical to `originals`; channels beyond C' (alpha) are kept; RGB crops of a
    grey image stitch as their mean. `changed`: the changed-only stitch (see stitch_regions_masked).
    """
    masks = region_masks(plan, composite_full, denoise_full, color_correct, ring_px)
    return stitch_regions(originals, plan, inpainted, variants, masks, resample=resample, ring_px=ring_px,
                          changed=changed)


@dataclass
class Stitcher:
    """What the Crop node hands to the Stitch node (ComfyUI caches it): the originals, the plan, each
    region's mask windows (never full-size masks) and the stitch settings."""

    originals: Tensor
    plan: CropPlan
    masks: list[RegionMasks | None]
    resample: str = "bicubic"
    changed: ChangedOnly | None = None  # None: today's stitch; settings: the changed-only stitch

    @classmethod
    def build(cls, originals: Tensor, composite: Tensor | MaskWindows, plan: CropPlan, *,
              denoise: Tensor | MaskWindows | None = None, color_correct: bool = False, resample: str = "bicubic",
              changed: ChangedOnly | None = None) -> Stitcher:
        return cls(originals, plan, region_masks(plan, composite, denoise, color_correct), resample, changed)

    def stitch(self, crops: Sequence[Tensor], variants: int) -> Tensor:
        """Stitch crops[r] ([variants,h,w,C]) back; rows image b, variant j at b*variants + j."""
        return stitch_regions(self.originals, self.plan, crops, variants, self.masks, resample=self.resample,
                              changed=self.changed)

    def stitch_masked(self, crops: Sequence[Tensor], variants: int) -> StitchResult:
        """`stitch` with the full-size composite actually used ([B*variants,H,W], for a node's mask output)
        and the drifts the changed-only stitch found (see stitch_regions_masked)."""
        return stitch_regions_masked(self.originals, self.plan, crops, variants, self.masks,
                                     resample=self.resample, changed=self.changed)
