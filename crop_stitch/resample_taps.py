"""Per-axis resampling taps (input indices and weights) as torch's F.interpolate computes them, for
a range of output pixels only: what resizing a window of an image needs, without resizing anything.

Bicubic and bilinear (with and without antialias, align_corners=False) follow the formulas of
ATen's upsample kernels; other modes read the weights off the resize of unit impulses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_CUBIC_A = -0.75  # upsample_bicubic2d
_CUBIC_A_AA = -0.5  # _upsample_bicubic2d_aa (PIL's)


def _cubic_near(x: Tensor, a: float) -> Tensor:
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_far(x: Tensor, a: float) -> Tensor:
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _plain_taps(n_in: int, n_out: int, mode: str, out: Tensor) -> tuple[Tensor, Tensor]:
    """Taps of bicubic/bilinear without antialias: source = scale·(i+½)−½, edge indices clamped."""
    # ATen: a float32 scale, and scale·(i+½)−½ rounded once to float32 (its fused multiply-add)
    scale = torch.tensor(n_in / n_out, dtype=torch.float32).double()
    src = (scale * (out.double() + 0.5) - 0.5).float()
    if mode == "bilinear":
        src = src.clamp(min=0.0)
    base = src.floor().clamp(max=n_in - 1)
    t = (src - base).clamp(0.0, 1.0)
    base = base.long()
    if mode == "bilinear":
        index = torch.stack([base, (base + 1).clamp(max=n_in - 1)], dim=1)
        return index, torch.stack([1 - t, t], dim=1)
    index = torch.stack([base + k for k in (-1, 0, 1, 2)], dim=1).clamp(0, n_in - 1)
    weight = torch.stack([_cubic_far(t + 1, _CUBIC_A), _cubic_near(t, _CUBIC_A),
                          _cubic_near(1 - t, _CUBIC_A), _cubic_far(2 - t, _CUBIC_A)], dim=1)
    return index, weight


def _aa_filter(x: Tensor, mode: str) -> Tensor:
    x = x.abs()
    if mode == "bilinear":
        return (1 - x).clamp(min=0.0)
    near, far = _cubic_near(x, _CUBIC_A_AA), _cubic_far(x, _CUBIC_A_AA)
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def _antialias_taps(n_in: int, n_out: int, mode: str, out: Tensor) -> tuple[Tensor, Tensor]:
    """Taps of the antialiased kernels: a filter stretched by the scale, normalised per output pixel."""
    scale = n_in / n_out
    half = 1.0 if mode == "bilinear" else 2.0
    support = half * scale if scale >= 1.0 else half
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    center = torch.tensor(scale, dtype=torch.float32) * (out.float() + 0.5)
    lo = (center - support + 0.5).trunc().clamp(min=0).long()
    hi = (center + support + 0.5).trunc().clamp(max=n_in).long()
    taps = int(math.ceil(support)) * 2 + 1
    index = lo[:, None] + torch.arange(taps)[None, :]
    weight = _aa_filter((index.float() - center[:, None] + 0.5) * invscale, mode)
    weight = torch.where(index < hi[:, None], weight, torch.zeros_like(weight))
    total = weight.sum(dim=1, keepdim=True)
    weight = torch.where(total != 0, weight / total, weight)
    return index.clamp(max=n_in - 1), weight


def _impulse_taps(n_in: int, n_out: int, mode: str, out: Tensor) -> tuple[Tensor, Tensor]:
    """Taps read off the resize of unit impulses (modes without a closed form here)."""
    eye = torch.eye(n_in, dtype=torch.float32)[None, :, None, :]
    dense = F.interpolate(eye, size=(1, n_out), mode=mode)[0, :, 0, :].transpose(0, 1)[out]  # [k, n_in]
    nonzero = dense != 0
    first = nonzero.float().argmax(dim=1)
    last = torch.where(nonzero.any(dim=1), n_in - 1 - nonzero.flip(1).float().argmax(dim=1), first)
    taps = max(1, int((last - first).max()) + 1)
    index = (first[:, None] + torch.arange(taps)[None, :]).clamp(max=n_in - 1)
    weight = torch.gather(dense, 1, index)
    weight = torch.where(first[:, None] + torch.arange(taps)[None, :] <= n_in - 1, weight, torch.zeros_like(weight))
    return index, weight


def axis_taps(n_in: int, n_out: int, mode: str, antialias: bool, out: range,
              device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Input indices [k,T] (long) and weights [k,T] (float32) of output pixels `out` (k of them) along
    one axis resized n_in → n_out, as F.interpolate(mode, align_corners=False, antialias) computes them."""
    positions = torch.arange(out.start, out.stop, dtype=torch.long)
    if mode in ("bicubic", "bilinear"):
        make = _antialias_taps if antialias else _plain_taps
        index, weight = make(n_in, n_out, mode, positions)
    else:
        index, weight = _impulse_taps(n_in, n_out, mode, positions)
    return index.to(device), weight.to(device=device, dtype=torch.float32)

