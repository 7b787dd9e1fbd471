"""Seamless compositing in the gradient domain: inside a region the result keeps the sample's gradients and
meets the current image on the region's edge (Poisson cloning), solved as the sample plus a membrane, the
harmonic interpolation of the edge mismatch. Nothing outside the region is written."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

COARSEST_SIDE = 16
COARSE_ITERATIONS = 64  # on the coarsest level, where the whole domain is a few pixels wide
LEVEL_ITERATIONS = 12  # red-black sweeps per finer level, starting from the coarser solution
OMEGA = 1.6  # over-relaxation: the coarse start leaves mostly smooth error, which plain Gauss-Seidel damps slowly


def _neighbour_mean(x: Tensor) -> Tensor:
    """Mean of the 4 neighbours of [N,C,H,W], replicate borders (a Neumann edge); slices, no padded copy."""
    s = torch.empty_like(x)
    s[..., 1:, :] = x[..., :-1, :]
    s[..., :1, :] = x[..., :1, :]
    s[..., :-1, :] += x[..., 1:, :]
    s[..., -1:, :] += x[..., -1:, :]
    s[..., :, 1:] += x[..., :, :-1]
    s[..., :, :1] += x[..., :, :1]
    s[..., :, :-1] += x[..., :, 1:]
    s[..., :, -1:] += x[..., :, -1:]
    return s.mul_(0.25)


def _sweeps(x: Tensor, free: Tensor, iterations: int) -> Tensor:
    """Red-black SOR sweeps of Laplace's equation on the `free` [N,1,H,W] pixels of [N,C,H,W] x."""
    h, w = x.shape[-2:]
    ys = torch.arange(h, device=x.device)[:, None]
    xs = torch.arange(w, device=x.device)[None, :]
    red = ((ys + xs) % 2 == 0)[None, None]
    colours = (free & red, free & ~red)
    for _ in range(iterations):
        for update in colours:
            x = torch.where(update, x + OMEGA * (_neighbour_mean(x) - x), x)
    return x


def _coarser(values: Tensor, known: Tensor) -> tuple[Tensor, Tensor]:
    """2x2 averages of the known values and where any pixel of a block is known (odd sizes replicate)."""
    ph, pw = values.shape[-2] % 2, values.shape[-1] % 2
    k = F.pad(known.float(), (0, pw, 0, ph), mode="replicate")
    v = F.pad(values * known, (0, pw, 0, ph), mode="replicate")
    den = F.avg_pool2d(k, 2)
    return F.avg_pool2d(v, 2) / den.clamp_min(1e-12), den > 0


def membrane(values: Tensor, known: Tensor) -> Tensor:
    """Harmonic interpolation: `values` [N,C,H,W] where `known` [N,1,H,W] is True, and elsewhere the solution of
    Laplace's equation taking those values on its edge (Neumann at the tensor's border). Solved coarse to
    fine: each level starts from the coarser level's solution and relaxes it."""
    if bool(known.all()):
        return values.clone()
    if not bool(known.any()):
        return torch.zeros_like(values)
    h, w = values.shape[-2:]
    if min(h, w) <= COARSEST_SIDE:
        start, iterations = torch.zeros_like(values), COARSE_ITERATIONS
        fill = (values * known).sum(dim=(-2, -1), keepdim=True) / known.sum(dim=(-2, -1), keepdim=True).clamp_min(1)
        start = start + fill
    else:
        coarse = membrane(*_coarser(values, known))
        start = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
        iterations = LEVEL_ITERATIONS
    return _sweeps(torch.where(known, values, start), ~known, iterations)


def seamless_blend(target: Tensor, current: Tensor, mask: Tensor) -> Tensor:
    """Composite [V,h,w,C] `target` into `current` where [V,h,w] `mask` > 0: the target plus the membrane of
    (current - target) from outside the mask, then blended by the mask. Bit-identical to `current` where
    mask == 0; pixels at the mask's edge meet `current` without a step however the colours differ."""
    out = current.clone()
    region = mask > 0
    if not bool(region.any()):
        return out
    h, w = mask.shape[-2:]
    rows, cols = region.any(dim=(0, 2)).nonzero()[:, 0], region.any(dim=(0, 1)).nonzero()[:, 0]
    # the region's box and one pixel of its edge are all the solve needs
    y0, y1 = max(0, int(rows[0]) - 1), min(h, int(rows[-1]) + 2)
    x0, x1 = max(0, int(cols[0]) - 1), min(w, int(cols[-1]) + 2)
    inside = region[:, None, y0:y1, x0:x1]
    t = target[:, y0:y1, x0:x1].float().permute(0, 3, 1, 2)
    c = current[:, y0:y1, x0:x1].float().permute(0, 3, 1, 2)
    f = (t + membrane(c - t, ~inside)).clamp(0.0, 1.0)
    m = mask[:, None, y0:y1, x0:x1].float()
    blended = (m * f + (1 - m) * c).permute(0, 2, 3, 1).to(current.dtype)
    out[:, y0:y1, x0:x1] = torch.where(inside.permute(0, 2, 3, 1), blended, current[:, y0:y1, x0:x1])
    return out
