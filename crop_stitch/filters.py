"""Small separable filters on [N,C,H,W] tensors with replicate borders: Gaussian blur and central differences."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel(sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Normalised 1-D Gaussian taps reaching 3 sigma (at least one tap each side)."""
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _taps(padded: Tensor, weights: list[float], dim: int) -> Tensor:
    """Correlate along `dim` by summing shifted slices (CPU conv2d is several times slower on 1-channel planes)."""
    n = padded.shape[dim] - len(weights) + 1
    out = padded.narrow(dim, 0, n) * weights[0]
    for i, wgt in enumerate(weights[1:], start=1):
        out.add_(padded.narrow(dim, i, n), alpha=wgt)
    return out


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [N,C,H,W], replicate borders; sigma <= 0 returns x."""
    if sigma <= 0:
        return x
    weights = gaussian_kernel(sigma, torch.device("cpu"), torch.float64).tolist()
    r = (len(weights) - 1) // 2
    rows = _taps(F.pad(x, (r, r, 0, 0), mode="replicate"), weights, -1)
    return _taps(F.pad(rows, (0, 0, r, r), mode="replicate"), weights, -2)


def central_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """(d/dx, d/dy) of [N,C,H,W] by central differences, one-sided at the borders (replicate)."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * 0.5
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * 0.5
    return gx, gy
