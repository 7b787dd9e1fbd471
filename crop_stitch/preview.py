"""Thumbnail of a batch with each planned region drawn on it (pure torch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .channels import to_rgb
from .plan import CropPlan

# Box colours cycle through this palette; mask boxes are drawn in MASK_BOX_COLOR.
PALETTE = (
    (1.0, 0.2, 0.2),
    (0.2, 0.9, 0.2),
    (0.25, 0.5, 1.0),
    (1.0, 0.6, 0.0),
    (0.8, 0.3, 1.0),
    (0.0, 0.9, 0.9),
)
MASK_BOX_COLOR = (1.0, 1.0, 1.0)
THICKNESS = 2


def _rect(img: Tensor, box: tuple[float, float, float, float], color: Tensor) -> None:
    """Draw a THICKNESS-px rectangle outline in place on [h,w,3], clipped to the image."""
    h, w = img.shape[0], img.shape[1]
    x0 = min(max(round(box[0]), 0), w - 1)
    y0 = min(max(round(box[1]), 0), h - 1)
    x1 = min(max(round(box[2]), x0 + 1), w)
    y1 = min(max(round(box[3]), y0 + 1), h)
    t = THICKNESS
    img[y0 : min(y0 + t, y1), x0:x1] = color
    img[max(y1 - t, y0) : y1, x0:x1] = color
    img[y0:y1, x0 : min(x0 + t, x1)] = color
    img[y0:y1, max(x1 - t, x0) : x1] = color


def draw_regions_preview(images: Tensor, plan: CropPlan, max_side: int = 512) -> Tensor:
    """A [B,h,w,3] thumbnail (longest side <= max_side) with region boxes and mask boxes drawn.

    Each region's box gets a palette colour (parts outside the image are clipped); its
    mask_box is outlined in white.
    """
    b, h, w, _ = images.shape
    scale = min(1.0, max_side / max(h, w))
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    # subsample by an integer stride first (half the reduction), so the filter never reads the full image
    stride = max(1, int(1.0 / scale) // 2)
    work = to_rgb(images[:, ::stride, ::stride]).to(torch.float32).permute(0, 3, 1, 2)
    if (th, tw) != (h, w):
        work = F.interpolate(work, size=(th, tw), mode="bilinear", antialias=True)
    out = work.clamp(0.0, 1.0).permute(0, 2, 3, 1).contiguous()
    sx, sy = tw / w, th / h
    white = torch.tensor(MASK_BOX_COLOR, device=out.device)
    for i, region in enumerate(plan.regions):
        if not 0 <= region.image_index < b:
            continue
        color = torch.tensor(PALETTE[i % len(PALETTE)], device=out.device)
        canvas = out[region.image_index]
        x0, y0, x1, y1 = region.box
        _rect(canvas, (x0 * sx, y0 * sy, x1 * sx, y1 * sy), color)
        mx0, my0, mx1, my1 = region.mask_box
        _rect(canvas, (mx0 * sx, my0 * sy, mx1 * sx, my1 * sy), white)
    return out.to(images.dtype if images.is_floating_point() else torch.float32)
