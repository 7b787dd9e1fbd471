"""Crop planned regions out of an IMAGE batch and stitch inpainted crops back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import color_correct as _color_correct
from .plan import CropPlan, Region

RESAMPLE_MODES = ("bicubic", "bilinear", "area", "nearest-exact")
DEFAULT_RING_PX = 16


@dataclass
class CropBatch:
    """Crops of regions sharing one target size, row n = plan.regions[region_indices[n]]."""

    images: Tensor  # [N,h,w,C]
    denoise: Tensor  # [N,h,w]
    composite: Tensor  # [N,h,w]
    region_indices: list[int]


def _axis_index(start: int, stop: int, size: int, mode: str, device: torch.device) -> Tensor:
    """Source indices for positions start..stop-1 of an axis of `size`, padded by `mode`."""
    i = torch.arange(start, stop, device=device)
    if mode == "replicate" or size == 1:
        return i.clamp(0, size - 1)
    period = 2 * (size - 1)
    j = i.remainder(period)
    return torch.where(j >= size, period - j, j)


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


def _full_mask(mask: Tensor, originals: Tensor, name: str) -> Tensor:
    """A [B,H,W] (or [H,W] / batch-1) mask on the originals' device and dtype."""
    b, h, w = originals.shape[:3]
    m = mask.to(device=originals.device, dtype=originals.dtype)
    m = m.unsqueeze(0) if m.dim() == 2 else m
    if m.dim() == 3 and m.shape[0] == 1 and b > 1:
        m = m.expand(b, h, w)
    if tuple(m.shape) != (b, h, w):
        raise ValueError(f"{name} {tuple(mask.shape)} does not match the images [{b},{h},{w}]")
    return m


def crop_region(
    images: Tensor, denoise: Tensor, composite: Tensor, region: Region, pad_mode: str
) -> tuple[Tensor, Tensor, Tensor]:
    """The box of one region at original resolution: image [bh,bw,C], masks [bh,bw].

    The image is padded with `pad_mode` where the box leaves the image; masks are 0 there.
    """
    h, w = images.shape[1], images.shape[2]
    x0, y0, x1, y1 = region.box
    b = region.image_index
    keep = _owned(region, y0, y1, x0, x1, denoise)
    if region.pad == (0, 0, 0, 0):
        img = images[b, y0:y1, x0:x1]
        den = denoise[b, y0:y1, x0:x1] * keep
        comp = composite[b, y0:y1, x0:x1] * keep
        return img, den, comp
    dev = images.device
    yi = _axis_index(y0, y1, h, pad_mode, dev)
    xi = _axis_index(x0, x1, w, pad_mode, dev)
    img = images[b].index_select(0, yi).index_select(1, xi)
    ys, xs = torch.arange(y0, y1, device=dev), torch.arange(x0, x1, device=dev)
    inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
    keep = keep * inside.to(keep.dtype)
    den = denoise[b].index_select(0, yi).index_select(1, xi) * keep
    comp = composite[b].index_select(0, yi).index_select(1, xi) * keep
    return img, den, comp


def crop_regions(
    images: Tensor,
    denoise: Tensor,
    composite: Tensor,
    plan: CropPlan,
    region_indices: list[int] | None = None,
    resample: str = "bicubic",
    pad_mode: str | None = None,
) -> CropBatch:
    """Crop the listed regions (default: all) and resize them to their shared target size.

    images [B,H,W,C]; denoise/composite [B,H,W]. All listed regions must share one target
    (see CropPlan.groups_by_target), else ValueError. Masks are resized bilinearly.
    pad_mode defaults to the plan's (CropSettings.pad_mode).
    """
    pad_mode = pad_mode or plan.pad_mode
    indices = list(range(len(plan.regions))) if region_indices is None else list(region_indices)
    if not indices:
        raise ValueError("crop_regions: no regions to crop (the plan or selection is empty)")
    targets = {plan.regions[i].target for i in indices}
    if len(targets) != 1:
        raise ValueError(
            f"crop_regions: regions {indices} have different target sizes {sorted(targets)}; "
            "crop each group of CropPlan.groups_by_target() separately or use shared_target"
        )
    if pad_mode not in ("replicate", "reflect"):
        raise ValueError(f"pad_mode must be 'replicate' or 'reflect', got {pad_mode!r}")
    tw, th = targets.pop()
    denoise = _full_mask(denoise, images, "denoise")
    composite = _full_mask(composite, images, "composite")
    out_img, out_den, out_comp = [], [], []
    for i in indices:
        img, den, comp = crop_region(images, denoise, composite, plan.regions[i], pad_mode)
        out_img.append(resize_hwc(img[None], th, tw, resample)[0])
        masks = torch.stack([den, comp], dim=-1)[None]
        masks = resize_hwc(masks, th, tw, "bilinear")[0].clamp(0.0, 1.0)
        out_den.append(masks[..., 0])
        out_comp.append(masks[..., 1])
    return CropBatch(
        images=torch.stack(out_img),
        denoise=torch.stack(out_den),
        composite=torch.stack(out_comp),
        region_indices=indices,
    )


def stitch(
    originals: Tensor,
    composite_full: Tensor,
    plan: CropPlan,
    inpainted: Sequence[Tensor],
    variants: int,
    color_correct: bool = False,
    denoise_full: Tensor | None = None,
    resample: str = "bicubic",
    ring_px: int = DEFAULT_RING_PX,
) -> Tensor:
    """Blend inpainted crops back into their images; returns [B*variants,H,W,C].

    inpainted[i] is [variants,h,w,C'] for plan.regions[i]; row b*variants + j of the result
    is image b, variant j. Regions compose in plan order onto the running image with
    m = composite_full inside the region's box (original resolution, own mask_box only).
    Pixels where m == 0 are bit-identical to `originals`; channels beyond C' are kept.
    """
    if originals.dim() != 4:
        raise ValueError(f"originals must be [B,H,W,C], got {tuple(originals.shape)}")
    b, h, w, c = originals.shape
    if (b, h, w) != (plan.batch, plan.height, plan.width):
        raise ValueError(
            f"originals {tuple(originals.shape)} do not match the plan "
            f"(batch {plan.batch}, {plan.width}x{plan.height})"
        )
    if len(inpainted) != len(plan.regions):
        raise ValueError(f"{len(inpainted)} inpainted crops for {len(plan.regions)} regions")
    comp = _full_mask(composite_full, originals, "composite_full")
    den = comp if denoise_full is None else _full_mask(denoise_full, originals, "denoise_full")
    out = originals.repeat_interleave(variants, dim=0)
    for region, crop in zip(plan.regions, inpainted, strict=True):
        if crop.dim() != 4 or crop.shape[0] != variants:
            raise ValueError(
                f"inpainted crop for region {region.box} must be [{variants},h,w,C], "
                f"got {tuple(crop.shape)}"
            )
        crop = crop[..., :c].to(device=originals.device, dtype=originals.dtype)
        ci = crop.shape[-1]
        i = region.image_index
        bx0, by0 = region.box[0], region.box[1]
        vx0, vy0, vx1, vy1 = region.valid_box
        mx0, my0, mx1, my1 = region.mask_box
        # The region only owns its mask_box (clusters' mask boxes are disjoint): blend there.
        ax0, ay0, ax1, ay1 = max(mx0, vx0), max(my0, vy0), min(mx1, vx1), min(my1, vy1)
        if ax1 <= ax0 or ay1 <= ay0:
            continue
        m = comp[i, ay0:ay1, ax0:ax1]
        if not bool((m > 0).any()):
            continue
        full = resize_hwc(crop, region.size[1], region.size[0], resample)
        if color_correct:
            # The ring lies within ring_px of the mask box: fit on that neighbourhood only.
            cx0, cy0 = max(vx0, mx0 - ring_px), max(vy0, my0 - ring_px)
            cx1, cy1 = min(vx1, mx1 + ring_px), min(vy1, my1 + ring_px)
            own_den = den[i, cy0:cy1, cx0:cx1] * _owned(region, cy0, cy1, cx0, cx1, den)
            corrected = _color_correct(
                full[:, cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0],
                originals[i, cy0:cy1, cx0:cx1, :ci],
                own_den,
                ring_px,
            )
            sub = corrected[:, ay0 - cy0 : ay1 - cy0, ax0 - cx0 : ax1 - cx0]
        else:
            sub = full[:, ay0 - by0 : ay1 - by0, ax0 - bx0 : ax1 - bx0]
        rows = slice(i * variants, (i + 1) * variants)
        cur = out[rows, ay0:ay1, ax0:ax1, :ci]
        mm = m[None, :, :, None]
        out[rows, ay0:ay1, ax0:ax1, :ci] = torch.where(mm > 0, mm * sub + (1 - mm) * cur, cur)
    return out


@dataclass
class Stitcher:
    """What a Crop node hands to a Stitch node: originals, full-size masks and the plan.

    Batch layout expected by `stitch`: regions in plan order, each with its variants
    consecutively, i.e. row r * variants + j is region r, variant j.
    """

    originals: Tensor
    composite: Tensor
    denoise: Tensor
    plan: CropPlan
    color_correct: bool = False

    def stitch(
        self, inpainted_batch: Tensor | Sequence[Tensor], variants: int | None = None
    ) -> Tensor:
        """Stitch a [R*variants,h,w,C] batch (or a list of R [variants,h,w,C] tensors).

        variants=None infers it from the batch size. Returns [B*variants,H,W,C], row
        b * variants + j = image b, variant j.
        """
        regions = len(self.plan.regions)
        if isinstance(inpainted_batch, Tensor):
            rows = inpainted_batch.shape[0]
            if variants is None:
                variants = rows // regions if regions else 1
            if rows != regions * variants:
                raise ValueError(
                    f"expected {regions} regions x {variants} variants = {regions * variants} "
                    f"crops, got a batch of {rows}"
                )
            crops = [inpainted_batch[r * variants : (r + 1) * variants] for r in range(regions)]
        else:
            crops = list(inpainted_batch)
            if variants is None:
                variants = crops[0].shape[0] if crops else 1
        return stitch(
            self.originals,
            self.composite,
            self.plan,
            crops,
            variants,
            color_correct=self.color_correct,
            denoise_full=self.denoise,
        )
