"""Resizing IMAGE tensors [N,H,W,C]: whole, or only a window of the result (pure torch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .resample_taps import axis_taps

RESAMPLE_MODES = ("bicubic", "bilinear", "area", "nearest-exact")


def resize_hwc(x: Tensor, height: int, width: int, mode: str) -> Tensor:
    """Resize [N,h,w,C] to [N,height,width,C]; antialiased when shrinking, bicubic clamped."""
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample must be one of {RESAMPLE_MODES}, got {mode!r}")
    if x.shape[1] == height and x.shape[2] == width:
        return x.clone()
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    work = work.permute(0, 3, 1, 2)
    if x.shape[1] * x.shape[2] < height * width:  # enlarging: torch's kernels run faster on channels-first memory,
        work = work.contiguous()  # and copying the smaller input costs less than that saves
    if mode in ("bicubic", "bilinear"):
        down = height < x.shape[1] or width < x.shape[2]
        work = F.interpolate(
            work, size=(height, width), mode=mode, align_corners=False, antialias=down
        )
    else:
        work = F.interpolate(work, size=(height, width), mode=mode)
    if mode == "bicubic":
        work = work.clamp(0.0, 1.0)
    return work.permute(0, 2, 3, 1).contiguous().to(x.dtype)


def _banded(n_in: int, n_out: int, mode: str, antialias: bool, out: slice, device: torch.device
            ) -> tuple[Tensor, slice]:
    """[k, n'] weights of the output pixels `out` over the n' input pixels they read, and those pixels."""
    index, weight = axis_taps(n_in, n_out, mode, antialias, range(n_out)[out])
    lo, hi = int(index.min()), int(index.max()) + 1
    dense = torch.zeros(index.shape[0], hi - lo, dtype=torch.float32).scatter_add_(1, index - lo, weight)
    return dense.to(device), slice(lo, hi)


def resize_window_hwc(x: Tensor, height: int, width: int, rows: slice, cols: slice, mode: str) -> Tensor:
    """resize_hwc(x, height, width, mode)[:, rows, cols], computing only that window.

    Every resample mode is separable and linear, so the window is W_rows @ x @ W_cols^T with each
    axis's weights as F.interpolate computes them (resample_taps; equal to the full resize up to
    float rounding). A window of more than half the output is resized whole and sliced, which is then cheaper.
    """
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample must be one of {RESAMPLE_MODES}, got {mode!r}")
    h, w = x.shape[1], x.shape[2]
    win_h, win_w = len(range(height)[rows]), len(range(width)[cols])
    if (h, w) == (height, width) or win_h * win_w * 2 > height * width:
        return resize_hwc(x, height, width, mode)[:, rows, cols]
    antialias = height < h or width < w
    wy, ys = _banded(h, height, mode, antialias, rows, x.device)
    wx, xs = _banded(w, width, mode, antialias, cols, x.device)
    work = x[:, ys, xs].float().permute(0, 3, 1, 2)  # [N,C,h',w']
    out = torch.matmul(torch.matmul(wy, work), wx.transpose(0, 1)).permute(0, 2, 3, 1)
    if mode == "bicubic":
        out = out.clamp(0.0, 1.0)
    return out.contiguous().to(x.dtype)
