"""Mask preparation in true pixels: sanitize, fit, grow, feather, fill holes, denoise/composite.

MASK tensors are [B,H,W] float with 1 = inpaint, as in ComfyUI. Nothing here mutates its
inputs, and every op runs on the input's device and dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .morphology import (
    bounded_sq_distance,
    dilate_disk,
    erode_disk,
    fill_holes_window,
    gaussian_blur,
    windowed,
)

DEFAULT_NODE = "FluxFill Inpainter"


def _as_float(mask: Tensor) -> Tensor:
    return mask if mask.is_floating_point() else mask.float()


def _batched(mask: Tensor) -> tuple[Tensor, bool]:
    """View a [H,W] or [B,H,W] mask as [B,H,W]; the flag says whether it was 2-D."""
    if mask.dim() == 2:
        return mask.unsqueeze(0), True
    if mask.dim() != 3:
        raise ValueError(f"expected a mask of shape [H,W] or [B,H,W], got {tuple(mask.shape)}")
    return mask, False


def _unbatched(mask: Tensor, was_2d: bool) -> Tensor:
    return mask[0] if was_2d else mask


def sanitize_mask(mask: Tensor) -> Tensor:
    """NaN -> 0, +Inf -> 1, -Inf -> 0, then clamp to [0, 1]. Returns a new float tensor."""
    m = _as_float(mask)
    return torch.nan_to_num(m, nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)


def fit_mask_to_image(mask: Tensor, image: Tensor, node: str = DEFAULT_NODE) -> Tensor:
    """Bring a [H,W] or [B,H,W] mask to the [B,H,W] of an IMAGE [B,H,W,C].

    A batch of 1 is broadcast; a same-aspect size is resized bilinearly; anything else raises
    ValueError naming the node, the `mask` input and both shapes.
    """
    b, h, w = image.shape[0], image.shape[1], image.shape[2]
    shapes = f"mask {tuple(mask.shape)} vs image {tuple(image.shape)}"
    if mask.dim() not in (2, 3):
        raise ValueError(f"{node}: input 'mask' must be [H,W] or [B,H,W]; got {shapes}")
    m = mask.unsqueeze(0) if mask.dim() == 2 else mask
    if m.shape[0] not in (1, b):
        raise ValueError(
            f"{node}: input 'mask' has batch {m.shape[0]} but the image batch is {b} ({shapes}); "
            f"connect a mask batch of 1 or {b}"
        )
    dtype = image.dtype if image.is_floating_point() else torch.float32
    m = sanitize_mask(m.to(device=image.device)).to(dtype)
    mh, mw = m.shape[1], m.shape[2]
    if (mh, mw) != (h, w):
        if mh == 0 or mw == 0 or abs(mw * h / mh - w) > 1.0 or abs(mh * w / mw - h) > 1.0:
            raise ValueError(
                f"{node}: input 'mask' size {mw}x{mh} does not match the image size {w}x{h} "
                f"and has a different aspect ratio ({shapes})"
            )
        work = m if m.dtype in (torch.float32, torch.float64) else m.float()
        down = mh > h or mw > w
        work = F.interpolate(
            work.unsqueeze(1), size=(h, w), mode="bilinear", align_corners=False, antialias=down
        )
        m = work.squeeze(1).clamp(0.0, 1.0).to(dtype)
    if m.shape[0] != b:
        m = m.expand(b, h, w)
    return m.contiguous()


def grow(mask: Tensor, px: int) -> Tensor:
    """Grey dilation by a Euclidean disk of radius |px| (erosion when px < 0), replicate borders.

    A single pixel grown by N becomes exactly the disk of radius N. Accepts [H,W] or [B,H,W].
    """
    m, was_2d = _batched(_as_float(mask))
    r = abs(int(px))
    if r == 0:
        return _unbatched(m.clone(), was_2d)
    op = dilate_disk if px > 0 else erode_disk
    out = windowed(m, r, lambda t: op(t, r))
    return _unbatched(out, was_2d)


def feather(mask: Tensor, px: float) -> Tensor:
    """Gaussian blur reaching about `px` pixels (sigma = px / 3), replicate borders.

    px <= 0 returns a copy. Accepts [H,W] or [B,H,W].
    """
    m, was_2d = _batched(_as_float(mask))
    radius = math.ceil(px) if px > 0 else 0
    if radius == 0:
        return _unbatched(m.clone(), was_2d)
    sigma = float(px) / 3.0
    out = windowed(m, radius, lambda t: gaussian_blur(t, sigma, radius))
    return _unbatched(out, was_2d)


def fill_holes(mask: Tensor) -> Tensor:
    """Grey-level hole filling (reconstruction by erosion from the image border).

    A hole enclosed by a ring of level 0.6 becomes 0.6; for binary masks this is the classic
    fill (background is 4-connected, like scipy's binary_fill_holes). Accepts [H,W] or [B,H,W].
    """
    m, was_2d = _batched(_as_float(mask))
    return _unbatched(windowed(m, 1, fill_holes_window), was_2d)


def invert(mask: Tensor) -> Tensor:
    """1 - mask."""
    return 1.0 - _as_float(mask)


def hipass(mask: Tensor, threshold: float) -> Tensor:
    """Values below `threshold` become 0 (threshold <= 0 is a no-op copy)."""
    m = _as_float(mask)
    if threshold <= 0:
        return m.clone()
    return torch.where(m < threshold, torch.zeros_like(m), m)


def stabilize(mask: Tensor, threshold: float = 0.99) -> Tensor:
    """Values >= `threshold` become 1, so a nearly opaque mask never lets the original show.

    threshold <= 0 or > 1 is a no-op copy (0 would otherwise turn the whole mask to 1).
    """
    m = _as_float(mask)
    if threshold <= 0 or threshold > 1:
        return m.clone()
    return torch.where(m >= threshold, torch.ones_like(m), m)


@dataclass
class MaskSettings:
    """User-facing mask options, all in original-image pixels."""

    invert: bool = False
    hipass: float = 0.0
    fill_holes: bool = False
    stabilize: float = 0.99
    grow_px: int = 0
    feather_px: int = 8


@dataclass
class PreparedMasks:
    """denoise: what the sampler may change; composite: what the stitch blends (both [B,H,W])."""

    denoise: Tensor
    composite: Tensor


def composite_ramp(support: Tensor, px: int) -> Tensor:
    """1 on `support` ([B,H,W] bool), smoothstep falloff to 0 over `px` pixels outside it.

    Pixels farther than px (Euclidean) from the support are exactly 0, so the ramp stays
    inside the support grown by px.
    """
    s = support.to(torch.float32)
    if px <= 0:
        return s

    def ramp(win: Tensor) -> Tensor:
        d2 = bounded_sq_distance(win > 0.5, px)
        t = (1.0 - torch.sqrt(d2) / (px + 1)).clamp(0.0, 1.0)
        t = torch.where(d2 <= px * px, t, torch.zeros_like(t))
        return t * t * (3.0 - 2.0 * t)

    return windowed(s, px, ramp)


def prepare_masks(mask: Tensor, settings: MaskSettings | None = None) -> PreparedMasks:
    """sanitize -> invert -> hipass -> fill_holes -> stabilize -> grow, then split in two.

    composite = 1 where the prepared mask is > 0, with a smooth outward ramp over feather_px;
    denoise = the prepared mask grey-dilated by feather_px. Hence composite > 0 implies
    denoise > 0, and for binary masks composite <= denoise. Both [B,H,W] in original pixels.
    """
    s = settings or MaskSettings()
    m, _ = _batched(mask)
    m = sanitize_mask(m)
    if s.invert:
        m = invert(m)
    if s.hipass > 0:
        m = hipass(m, s.hipass)
    if s.fill_holes:
        m = fill_holes(m)
    m = stabilize(m, s.stabilize)
    if s.grow_px:
        m = grow(m, s.grow_px)
    feather_px = max(0, int(s.feather_px))
    composite = composite_ramp(m > 0, feather_px).to(m.dtype)
    denoise = grow(m, feather_px) if feather_px else m.clone()
    return PreparedMasks(denoise=denoise, composite=composite)
