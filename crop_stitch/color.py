"""Spatially varying colour correction of an inpainted crop against the original's colours."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

GRID = 4
# Pseudo-count (as a fraction of a cell's area) of global statistics mixed into every cell:
# cells with few ring pixels fall back to the global fit.
SHRINK = 0.02
# Variance regulariser: gains are pulled toward 1 where the ring is nearly flat.
VAR_EPS = 1e-3
MIN_RING_PIXELS = 16
GAIN_RANGE = (0.5, 2.0)


def _cell_blur(t: Tensor) -> Tensor:
    """3x3 binomial blur over the cell grid (replicate borders) so the fit varies smoothly."""
    k = torch.tensor([1.0, 2.0, 1.0], device=t.device, dtype=t.dtype) / 4.0
    n, c, gh, gw = t.shape
    x = F.pad(t.reshape(n * c, 1, gh, gw), (1, 1, 1, 1), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, 3))
    x = F.conv2d(x, k.view(1, 1, 3, 1))
    return x.reshape(n, c, gh, gw)


def _near(support: Tensor, px: int) -> Tensor:
    """Pixels within px (Chebyshev) of [h,w] `support`: a separable square max filter."""
    x = support.to(torch.float32)[None, None]
    x = F.max_pool2d(x, (1, 2 * px + 1), stride=1, padding=(0, px))
    x = F.max_pool2d(x, (2 * px + 1, 1), stride=1, padding=(px, 0))
    return x[0, 0] > 0


def color_correct(
    inpainted: Tensor,
    original_crop: Tensor,
    denoise_crop: Tensor,
    ring_px: int,
    valid: Tensor | None = None,
    grid: int = GRID,
) -> Tensor:
    """Map the inpainted crop's colours onto the original's, fitted on the ring around the mask.

    inpainted [V,h,w,C]; original_crop [h,w,C] or [V,h,w,C]; denoise_crop [h,w]. The ring is
    the pixels with denoise == 0 within ring_px (square reach) of denoise > 0 (and `valid`,
    e.g. not padding).
    Per channel, original ~ gain * inpainted + offset is fitted by least squares in each cell
    of a grid x grid layout (blended with the global fit where a cell has few ring pixels) and
    upsampled bilinearly. Identical inputs give the input back (within float rounding);
    too small a ring returns a copy.
    """
    v, h, w, c = inpainted.shape
    orig = original_crop if original_crop.dim() == 4 else original_crop.unsqueeze(0)
    orig = orig[..., :c].to(device=inpainted.device).expand(v, h, w, c)
    inner = denoise_crop > 0
    ring = _near(inner, max(1, int(ring_px))) & ~inner
    if valid is not None:
        ring = ring & valid.to(device=ring.device, dtype=torch.bool)
    count = ring.sum()
    if int(count) < MIN_RING_PIXELS:
        return inpainted.clone()
    x = inpainted.to(torch.float32).permute(0, 3, 1, 2)
    y = orig.to(torch.float32).permute(0, 3, 1, 2)
    wgt = ring.to(torch.float32)[None, None]
    n = count.to(torch.float32)
    mean_x = (x * wgt).sum(dim=(2, 3), keepdim=True) / n
    mean_y = (y * wgt).sum(dim=(2, 3), keepdim=True) / n
    xc = (x - mean_x) * wgt
    yc = (y - mean_y) * wgt
    sxx, sxy = xc * xc, xc * yc
    g_var = sxx.sum(dim=(2, 3), keepdim=True) / n
    g_cov = sxy.sum(dim=(2, 3), keepdim=True) / n
    gh, gw = min(grid, h), min(grid, w)
    stats = torch.cat([wgt.expand(v, 1, h, w), xc, yc, sxx, sxy], dim=1)
    stats = _cell_blur(F.adaptive_avg_pool2d(stats, (gh, gw)))
    cn, cx, cy, cxx, cxy = stats.split([1, c, c, c, c], dim=1)
    cn = cn + SHRINK
    mu_x, mu_y = cx / cn, cy / cn
    var = (cxx + SHRINK * g_var) / cn - mu_x * mu_x
    cov = (cxy + SHRINK * g_cov) / cn - mu_x * mu_y
    gain = ((cov + VAR_EPS) / (var + VAR_EPS).clamp(min=1e-6)).clamp(*GAIN_RANGE)
    offset = mu_y - gain * mu_x
    gain = F.interpolate(gain, size=(h, w), mode="bilinear", align_corners=False)
    offset = F.interpolate(offset, size=(h, w), mode="bilinear", align_corners=False)
    out = gain * (x - mean_x) + offset + mean_y
    return out.clamp(0.0, 1.0).permute(0, 2, 3, 1).to(inpainted.dtype).contiguous()
