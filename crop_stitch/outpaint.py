"""Outpainting canvas: extend an IMAGE on chosen sides, pre-fill the new area, and mask it.

IMAGE is [B,H,W,C] float 0..1, MASK is [B,H,W] (1 = inpaint). No ComfyUI imports.
The original pixels land unchanged at (top, left) of the new canvas; the mask is 1 on the new area
and ramps linearly from 1 to 0 over `feather` pixels into the original, so the sampler may
repaint a seam band and the stitch blends over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .masks import broadcast_mask
from .padding import padded_index

FILL_MODES = ("replicate", "reflect", "grey")
SIZE_UNITS = ("pixels", "factor")


@dataclass(frozen=True)
class Padding:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def empty(self) -> bool:
        return not (self.left or self.top or self.right or self.bottom)


def _split(extra: int, a: int, b: int) -> tuple[int, int]:
    """Share `extra` pixels between two sides in the ratio a:b (none if both are 0)."""
    if extra <= 0 or (a <= 0 and b <= 0):
        return 0, 0
    a, b = max(a, 0), max(b, 0)
    first = round(extra * a / (a + b))
    return first, extra - first


def resolve_padding(height: int, width: int, left: int, top: int, right: int, bottom: int,
                    units: str = "pixels", factor: float = 1.0) -> Padding:
    """Pixels to add per side.

    units "pixels": the side values are pixels. units "factor": the canvas grows to `factor` times the
    image on each axis that has a non-zero side, the extra split between that axis' two sides in the
    ratio of their values (left=1, right=1: centred; left=0, right=1: all to the right).
    """
    if units not in SIZE_UNITS:
        raise ValueError(f"units must be one of {SIZE_UNITS}, got {units!r}")
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"side sizes must not be negative, got left={left} top={top} right={right} bottom={bottom}")
    if units == "pixels":
        return Padding(left, top, right, bottom)
    if factor < 1.0:
        raise ValueError(f"factor must be at least 1.0, got {factor}")
    l_px, r_px = _split(round(width * (factor - 1.0)), left, right)
    t_px, b_px = _split(round(height * (factor - 1.0)), top, bottom)
    return Padding(l_px, t_px, r_px, b_px)


def seam_mask(height: int, width: int, pad: Padding, feather: int, *, device: torch.device | None = None,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """[H',W'] mask of the canvas: 1 outside the original, a linear ramp `feather` px deep inside it.

    The ramp only runs from the sides that were extended; an original pixel at distance d (1 = next
    to the new area) gets (feather + 1 - d) / (feather + 1), so d > feather gives exactly 0.
    """
    canvas_h, canvas_w = height + pad.top + pad.bottom, width + pad.left + pad.right
    ys = torch.arange(canvas_h, device=device, dtype=torch.float32)[:, None]
    xs = torch.arange(canvas_w, device=device, dtype=torch.float32)[None, :]
    inside = ((ys >= pad.top) & (ys < pad.top + height) & (xs >= pad.left) & (xs < pad.left + width))
    dist = torch.full((canvas_h, canvas_w), float("inf"), device=device)
    if pad.left:
        dist = torch.minimum(dist, (xs - pad.left + 1).expand(canvas_h, canvas_w))
    if pad.right:
        dist = torch.minimum(dist, (pad.left + width - xs).expand(canvas_h, canvas_w))
    if pad.top:
        dist = torch.minimum(dist, (ys - pad.top + 1).expand(canvas_h, canvas_w))
    if pad.bottom:
        dist = torch.minimum(dist, (pad.top + height - ys).expand(canvas_h, canvas_w))
    ramp = ((feather + 1 - dist) / (feather + 1)).clamp(0.0, 1.0) if feather > 0 else torch.zeros_like(dist)
    return torch.where(inside, ramp, torch.ones_like(ramp)).to(dtype)


def extend_canvas(image: Tensor, pad: Padding, *, fill: str = "replicate", feather: int = 0,
                  mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(canvas IMAGE, MASK): the image extended by `pad`, the new area pre-filled by `fill`.

    fill "replicate" repeats the edge pixels, "reflect" mirrors the image (repeatedly when the pad is
    wider than the image), "grey" is 0.5. An optional input `mask` ([B,H,W] or batch 1) is kept
    (maximum with the canvas mask) so a masked object can be repainted together with the new area.
    """
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {FILL_MODES}, got {fill!r}")
    if feather < 0:
        raise ValueError(f"feather must not be negative, got {feather}")
    b, h, w = image.shape[:3]
    mode = "replicate" if fill == "grey" else fill
    rows = padded_index(-pad.top, h + pad.bottom, h, mode, image.device)
    cols = padded_index(-pad.left, w + pad.right, w, mode, image.device)
    canvas = image[:, rows][:, :, cols]
    if fill == "grey":
        new_area = seam_mask(h, w, pad, 0, device=image.device, dtype=image.dtype) > 0.5
        canvas = torch.where(new_area[None, :, :, None], torch.full_like(canvas, 0.5), canvas)
    out_mask = seam_mask(h, w, pad, feather, device=image.device, dtype=image.dtype)
    out_mask = out_mask.unsqueeze(0).expand(b, -1, -1).clone()
    if mask is not None:
        m = broadcast_mask(mask, b, h, w, device=image.device, dtype=image.dtype)
        region = out_mask[:, pad.top:pad.top + h, pad.left:pad.left + w]
        out_mask[:, pad.top:pad.top + h, pad.left:pad.left + w] = torch.maximum(region, m)
    return canvas.contiguous(), out_mask
