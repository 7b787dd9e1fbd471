"""Crop planned regions out of an IMAGE batch, resized to their group's target size (row orders of
crops with variations: crop_stitch/layout.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .mask_windows import MaskWindows
from .masks import fitted_windows
from .padding import padded_index
from .plan import CropPlan, Region
from .resize import resize_hwc


@dataclass
class CropBatch:
    """Crops of regions sharing one target size, row n = plan.regions[region_indices[n]]."""

    images: Tensor  # [N,h,w,C]
    inpaint: Tensor  # [N,h,w] the prepared mask (before the feather band)
    denoise: Tensor  # [N,h,w]
    region_indices: list[int]


def owned_mask(region: Region, y0: int, y1: int, x0: int, x1: int, like: Tensor) -> Tensor:
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


def crop_region(images: Tensor, masks: Sequence[Tensor | MaskWindows], region: Region, pad_mode: str
                ) -> tuple[Tensor, list[Tensor]]:
    """The box of one region at original resolution: image [bh,bw,C] and each mask [bh,bw].

    The image is padded with `pad_mode` where the box leaves the image; masks are 0 there and
    outside the region's own mask_box (only that part of them is read).
    """
    h, w = images.shape[1], images.shape[2]
    x0, y0, x1, y1 = region.box
    b = region.image_index
    windows = [MaskWindows.of(m) for m in masks]
    mx0, my0, mx1, my1 = region.mask_box
    ox0, oy0, ox1, oy1 = max(x0, mx0), max(y0, my0), min(x1, mx1), min(y1, my1)
    cropped = [windows[0].values[0].new_zeros(y1 - y0, x1 - x0) for _ in windows]
    if ox1 > ox0 and oy1 > oy0:
        for out, m in zip(cropped, windows, strict=True):
            out[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] = m.read(b, oy0, oy1, ox0, ox1)
    if region.pad == (0, 0, 0, 0):
        return images[b, y0:y1, x0:x1], cropped
    yi = padded_index(y0, y1, h, pad_mode, images.device)
    xi = padded_index(x0, x1, w, pad_mode, images.device)
    return images[b].index_select(0, yi).index_select(1, xi), cropped


def crop_regions(images: Tensor, inpaint: Tensor | MaskWindows, denoise: Tensor | MaskWindows, plan: CropPlan,
                 region_indices: list[int] | None = None, resample: str = "bicubic",
                 target: tuple[int, int] | None = None) -> CropBatch:
    """Crop the listed regions (default: all) and resize them to their shared target size.

    images [B,H,W,C]; inpaint/denoise [B,H,W] full-size or windowed (batch 1 broadcasts). All listed
    regions must share one target (see CropPlan.groups_by_target), else ValueError; `target` (width,
    height) overrides the plan's (the refine pass's larger size). Masks are resized bilinearly; the pad
    mode is the plan's.
    """
    indices = list(range(len(plan.regions))) if region_indices is None else list(region_indices)
    if not indices:
        raise ValueError("crop_regions: no regions to crop (the plan or selection is empty)")
    targets = {plan.regions[i].target for i in indices} if target is None else {tuple(target)}
    if len(targets) != 1:
        raise ValueError(
            f"crop_regions: regions {indices} have different target sizes {sorted(targets)}; "
            "crop each group of CropPlan.groups_by_target() separately or use shared_target"
        )
    tw, th = targets.pop()
    b, h, w = images.shape[:3]
    masks = [fitted_windows(m, b, h, w, name=name, device=images.device, dtype=images.dtype)
             for m, name in ((inpaint, "inpaint"), (denoise, "denoise"))]
    out_img, out_masks = [], []
    for i in indices:
        img, cropped = crop_region(images, masks, plan.regions[i], plan.pad_mode)
        cropped = [m.to(device=images.device, dtype=images.dtype) for m in cropped]
        out_img.append(resize_hwc(img[None], th, tw, resample)[0])
        out_masks.append(resize_hwc(torch.stack(cropped, dim=-1)[None], th, tw, "bilinear")[0].clamp(0.0, 1.0))
    stacked = torch.stack(out_masks)
    return CropBatch(images=torch.stack(out_img), inpaint=stacked[..., 0], denoise=stacked[..., 1],
                     region_indices=indices)
