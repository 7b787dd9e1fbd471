"""Crop planned regions out of an IMAGE batch and stitch inpainted crops back.

Batch layout of crops between the nodes (the Stitch node's input, the Inpainter's latent output):
variant-major, row j * R + r = variant j of region r, as ComfyUI's Repeat*Batch nodes lay out a
batch of R crops repeated V times. `crops_by_region` and `variant_major` convert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .channels import match_channels
from .color import color_correct as _color_correct
from .masks import broadcast_mask
from .padding import padded_index
from .plan import CropPlan, Region

RESAMPLE_MODES = ("bicubic", "bilinear", "area", "nearest-exact")
DEFAULT_RING_PX = 16


@dataclass
class CropBatch:
    """Crops of regions sharing one target size, row n = plan.regions[region_indices[n]]."""

    images: Tensor  # [N,h,w,C]
    inpaint: Tensor  # [N,h,w] the prepared mask (before the feather band)
    denoise: Tensor  # [N,h,w]
    region_indices: list[int]


def resize_hwc(x: Tensor, height: int, width: int, mode: str) -> Tensor:
    """Resize [N,h,w,C] to [N,height,width,C]; antialiased when shrinking, bicubic clamped."""
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample must be one of {RESAMPLE_MODES}, got {mode!r}")
    if x.shape[1] == height and x.shape[2] == width:
        return x.clone()
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    work = work.permute(0, 3, 1, 2)
    if mode in ("bicubic", "bilinear"):
        down = height < x.shape[1] or width < x.shape[2]
        work = F.interpolate(
            work, size=(height, width), mode=mode, align_corners=False, antialias=down
        )
    else:
        work = F.interpolate(work, size=(height, width), mode=mode)
    if mode == "bicubic":
        work = work.clamp(0.0, 1.0)
    return work.permute(0, 2, 3, 1).contiguous().to(x.dtype)


def _resize_weights(n_in: int, n_out: int, mode: str, antialias: bool, device: torch.device) -> Tensor:
    """[n_out, n_in] weights of resize_hwc along one axis: the resize of each unit impulse."""
    eye = torch.eye(n_in, device=device, dtype=torch.float32)[None, :, None, :]  # n_in impulses, 1 x n_in each
    if mode in ("bicubic", "bilinear"):
        out = F.interpolate(eye, size=(1, n_out), mode=mode, align_corners=False, antialias=antialias)
    else:
        out = F.interpolate(eye, size=(1, n_out), mode=mode)
    return out[0, :, 0, :].transpose(0, 1)


def _support(weights: Tensor) -> tuple[Tensor, slice]:
    """The weights restricted to the input indices they touch, and those indices."""
    used = torch.nonzero(weights.abs().sum(dim=0) > 0).flatten()
    lo, hi = int(used.min()), int(used.max()) + 1
    return weights[:, lo:hi], slice(lo, hi)


def resize_window_hwc(x: Tensor, height: int, width: int, rows: slice, cols: slice, mode: str) -> Tensor:
    """resize_hwc(x, height, width, mode)[:, rows, cols], computing only that window.

    Every resample mode is separable and linear, so the window is W_rows @ x @ W_cols^T with the
    weights read off the resize of unit impulses (equal to the full resize up to float rounding).
    A window of more than half the output is resized whole and sliced, which is then cheaper.
    """
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample must be one of {RESAMPLE_MODES}, got {mode!r}")
    h, w = x.shape[1], x.shape[2]
    win_h, win_w = len(range(height)[rows]), len(range(width)[cols])
    if (h, w) == (height, width) or win_h * win_w * 2 > height * width:
        return resize_hwc(x, height, width, mode)[:, rows, cols]
    antialias = height < h or width < w
    wy, ys = _support(_resize_weights(h, height, mode, antialias, x.device)[rows])
    wx, xs = _support(_resize_weights(w, width, mode, antialias, x.device)[cols])
    work = x[:, ys, xs].float().permute(0, 3, 1, 2)  # [N,C,h',w']
    out = torch.matmul(torch.matmul(wy, work), wx.transpose(0, 1)).permute(0, 2, 3, 1)
    if mode == "bicubic":
        out = out.clamp(0.0, 1.0)
    return out.contiguous().to(x.dtype)


def _owned(region: Region, y0: int, y1: int, x0: int, x1: int, like: Tensor) -> Tensor:
    """[y1-y0, x1-x0] 0/1 mask of the window's pixels inside the region's mask_box.

    Clusters have disjoint mask boxes, so this keeps a region to its own mask even where its
    box overlaps a neighbour's.
    """
    mx0, my0, mx1, my1 = region.mask_box
    ys = torch.arange(y0, y1, device=like.device)
    xs = torch.arange(x0, x1, device=like.device)
    iy = (ys >= my0) & (ys < my1)
    ix = (xs >= mx0) & (xs < mx1)
    return (iy[:, None] & ix[None, :]).to(like.dtype)


def crop_region(images: Tensor, masks: Sequence[Tensor], region: Region, pad_mode: str
                ) -> tuple[Tensor, list[Tensor]]:
    """The box of one region at original resolution: image [bh,bw,C] and each mask [bh,bw].

    The image is padded with `pad_mode` where the box leaves the image; masks are 0 there and
    outside the region's own mask_box.
    """
    h, w = images.shape[1], images.shape[2]
    x0, y0, x1, y1 = region.box
    b = region.image_index
    keep = _owned(region, y0, y1, x0, x1, masks[0])
    if region.pad == (0, 0, 0, 0):
        return images[b, y0:y1, x0:x1], [m[b, y0:y1, x0:x1] * keep for m in masks]
    dev = images.device
    yi = padded_index(y0, y1, h, pad_mode, dev)
    xi = padded_index(x0, x1, w, pad_mode, dev)
    img = images[b].index_select(0, yi).index_select(1, xi)
    ys, xs = torch.arange(y0, y1, device=dev), torch.arange(x0, x1, device=dev)
    inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
    keep = keep * inside.to(keep.dtype)
    return img, [m[b].index_select(0, yi).index_select(1, xi) * keep for m in masks]


def crop_regions(images: Tensor, inpaint: Tensor, denoise: Tensor, plan: CropPlan,
                 region_indices: list[int] | None = None, resample: str = "bicubic") -> CropBatch:
    """Crop the listed regions (default: all) and resize them to their shared target size.

    images [B,H,W,C]; inpaint/denoise [B,H,W] (batch 1 broadcasts). All listed regions must share one
    target (see CropPlan.groups_by_target), else ValueError. Masks are resized bilinearly; the pad
    mode is the plan's.
    """
    indices = list(range(len(plan.regions))) if region_indices is None else list(region_indices)
    if not indices:
        raise ValueError("crop_regions: no regions to crop (the plan or selection is empty)")
    targets = {plan.regions[i].target for i in indices}
    if len(targets) != 1:
        raise ValueError(
            f"crop_regions: regions {indices} have different target sizes {sorted(targets)}; "
            "crop each group of CropPlan.groups_by_target() separately or use shared_target"
        )
    tw, th = targets.pop()
    b, h, w = images.shape[:3]
    masks = [broadcast_mask(m, b, h, w, name=name, device=images.device, dtype=images.dtype)
             for m, name in ((inpaint, "inpaint"), (denoise, "denoise"))]
    out_img, out_masks = [], []
    for i in indices:
        img, cropped = crop_region(images, masks, plan.regions[i], plan.pad_mode)
        out_img.append(resize_hwc(img[None], th, tw, resample)[0])
        out_masks.append(resize_hwc(torch.stack(cropped, dim=-1)[None], th, tw, "bilinear")[0].clamp(0.0, 1.0))
    stacked = torch.stack(out_masks)
    return CropBatch(images=torch.stack(out_img), inpaint=stacked[..., 0], denoise=stacked[..., 1],
                     region_indices=indices)


def crops_by_region(batch: Tensor, regions: int) -> list[Tensor]:
    """A variant-major batch [V*R,...] (row j*R + r) as R tensors [V,...], one per region."""
    if regions < 1 or batch.shape[0] % regions:
        raise ValueError(f"a batch of {batch.shape[0]} is not a whole number of variants of {regions} region(s)")
    return [batch[r::regions] for r in range(regions)]


def variant_major(per_region: Sequence[Tensor]) -> Tensor:
    """R tensors [V,...] as one batch [V*R,...] with row j*R + r = variant j of region r."""
    return torch.stack(list(per_region), dim=1).flatten(0, 1)


@dataclass
class Stitcher:
    """What the Crop node hands to the Stitch node: originals, full-size masks, the plan and the
    stitch settings."""

    originals: Tensor
    composite: Tensor
    denoise: Tensor | None  # read only by colour correction
    plan: CropPlan
    color_correct: bool = False
    resample: str = "bicubic"

    def stitch(self, crops: Sequence[Tensor], variants: int) -> Tensor:
        """`stitch` with this record's tensors and settings; crops[r] is [variants,h,w,C]."""
        return stitch(self.originals, self.composite, self.plan, crops, variants, denoise_full=self.denoise,
                      color_correct=self.color_correct, resample=self.resample)


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


def _blend_window(region: Region) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) where a region may blend: its own mask_box inside the image (clusters'
    mask boxes are disjoint, so regions never blend over each other's masks)."""
    vx0, vy0, vx1, vy1 = region.valid_box
    mx0, my0, mx1, my1 = region.mask_box
    ax0, ay0, ax1, ay1 = max(mx0, vx0), max(my0, vy0), min(mx1, vx1), min(my1, vy1)
    return None if ax1 <= ax0 or ay1 <= ay0 else (ax0, ay0, ax1, ay1)


def _ring_window(region: Region, ring_px: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the mask box grown by ring_px, inside the image (colour correction fits there)."""
    vx0, vy0, vx1, vy1 = region.valid_box
    mx0, my0, mx1, my1 = region.mask_box
    return max(vx0, mx0 - ring_px), max(vy0, my0 - ring_px), min(vx1, mx1 + ring_px), min(vy1, my1 + ring_px)


def _resized_part(crop: Tensor, region: Region, window: tuple[int, int, int, int], resample: str) -> Tensor:
    """The crop resized back to the region's box size, only the pixels of `window` (image coordinates)."""
    x0, y0, x1, y1 = window
    bx0, by0 = region.box[0], region.box[1]
    return resize_window_hwc(crop, region.size[1], region.size[0], slice(y0 - by0, y1 - by0),
                             slice(x0 - bx0, x1 - bx0), resample)


def stitch(originals: Tensor, composite_full: Tensor, plan: CropPlan, inpainted: Sequence[Tensor],
           variants: int, *, denoise_full: Tensor | None = None, color_correct: bool = False,
           resample: str = "bicubic", ring_px: int = DEFAULT_RING_PX) -> Tensor:
    """Blend inpainted crops back into their images; returns [B*variants,H,W,C].

    inpainted[i] is [variants,h,w,C'] for plan.regions[i], resized back with `resample`; row
    b*variants + j of the result is image b, variant j. Regions compose in plan order with
    m = composite_full inside the region's own mask_box. Pixels where m == 0 are bit-identical to
    `originals`; channels beyond C' (alpha) are kept; RGB crops of a grey image stitch as their mean.
    """
    _check_stitch_inputs(originals, plan, inpainted, variants)
    b, h, w, c = originals.shape
    comp = broadcast_mask(composite_full, b, h, w, name="composite_full", dtype=originals.dtype)
    den = comp if denoise_full is None else broadcast_mask(denoise_full, b, h, w, name="denoise_full",
                                                           dtype=originals.dtype)
    out = originals.repeat_interleave(variants, dim=0)
    for region, crop in zip(plan.regions, inpainted, strict=True):
        window = _blend_window(region)
        if window is None:
            continue
        ax0, ay0, ax1, ay1 = window
        i = region.image_index
        m = comp[i, ay0:ay1, ax0:ax1].to(originals.device)
        if not bool((m > 0).any()):
            continue
        crop = match_channels(crop, c)[..., :c].to(device=originals.device, dtype=originals.dtype)
        if color_correct:
            cx0, cy0, cx1, cy1 = ring = _ring_window(region, ring_px)
            own = den[i, cy0:cy1, cx0:cx1].to(originals.device) * _owned(region, cy0, cy1, cx0, cx1, den)
            part = _resized_part(crop, region, ring, resample)
            part = _color_correct(part, originals[i, cy0:cy1, cx0:cx1, :part.shape[-1]], own, ring_px)
            sub = part[:, ay0 - cy0:ay1 - cy0, ax0 - cx0:ax1 - cx0]
        else:
            sub = _resized_part(crop, region, window, resample)
        ci = sub.shape[-1]
        rows = slice(i * variants, (i + 1) * variants)
        cur = out[rows, ay0:ay1, ax0:ax1, :ci]
        mm = m[None, :, :, None]
        out[rows, ay0:ay1, ax0:ax1, :ci] = torch.where(mm > 0, mm * sub + (1 - mm) * cur, cur)
    return out
