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


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [N,C,H,W], replicate borders; sigma <= 0 returns x."""
    if sigma <= 0:
        return x
    n, c, h, w = x.shape
    k = gaussian_kernel(sigma, x.device, x.dtype)
    r = (k.numel() - 1) // 2
    flat = x.reshape(n * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def central_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """(d/dx, d/dy) of [N,C,H,W] by central differences, one-sided at the borders (replicate)."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * 0.5
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * 0.5
    return gx, gy
