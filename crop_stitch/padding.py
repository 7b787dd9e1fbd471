"""Index maps for reading an axis beyond its ends (replicate or reflect), shared by crops and canvases."""

from __future__ import annotations

import torch
from torch import Tensor

PAD_MODES = ("replicate", "reflect")


def padded_index(start: int, stop: int, size: int, mode: str, device: torch.device | None = None) -> Tensor:
    """Source index of positions start..stop-1 of an axis of `size` (negative and >= size included).

    replicate clamps to the edge; reflect mirrors without repeating the edge pixel, as often as needed.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode must be one of {PAD_MODES}, got {mode!r}")
    i = torch.arange(start, stop, device=device)
    if mode == "replicate" or size == 1:
        return i.clamp(0, size - 1)
    period = 2 * (size - 1)
    j = i.remainder(period)
    return torch.where(j >= size, period - j, j)
