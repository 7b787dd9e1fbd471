"""Channel conversions between IMAGE tensors and what VAEs take (pure torch)."""

from __future__ import annotations

from torch import Tensor


def to_rgb(image: Tensor) -> Tensor:
    """[...,C] as 3 channels: grey (C = 1) is repeated, alpha (C = 4) dropped. A view where possible."""
    if image.shape[-1] == 1:
        return image.expand(*image.shape[:-1], 3)
    return image[..., :3]


def match_channels(rgb: Tensor, channels: int) -> Tensor:
    """RGB crops in the channel count of the original: grey = mean of RGB; 3 or 4 keep RGB (alpha is
    left to the stitch, which keeps the original's)."""
    if channels == 1:
        return rgb.mean(dim=-1, keepdim=True)
    return rgb
