"""Pure-torch morphology kernels on [N,H,W] float tensors; one code path for CPU and GPU.

Borders are replicated (never zero-padded), so masks touching the image edge do not fade.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .components import border_connected
from .mask_windows import level_windows


def replicate_pad(x: Tensor, left: int, right: int, top: int, bottom: int) -> Tensor:
    """Replicate-pad the last two dims of an [N,H,W] tensor."""
    if not (left or right or top or bottom):
        return x
    return F.pad(x.unsqueeze(1), (left, right, top, bottom), mode="replicate").squeeze(1)


def above_minimum_windows(x: Tensor, reach: int) -> list[tuple[int, int, int, int]]:
    """Disjoint (y0, y1, x0, x1) windows covering every pixel of [N,H,W] `x` above its minimum, grown by
    `reach` (see mask_windows.level_windows); none when x is flat or holds a NaN minimum."""
    low = x.amin().float()
    return level_windows(x, torch.nextafter(low, torch.full_like(low, math.inf)), reach)


def windowed(x: Tensor, reach: int, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Run a local, translation-invariant op `fn` on [N,H,W] only where x is above its minimum.

    `fn` must map a neighbourhood (radius `reach`) of minimum values to the minimum, as
    dilation, erosion, blur and hole filling do. Each window's edges lie `reach` away from any
    non-minimum pixel and windows are disjoint, so replicate padding at a window's edge
    reproduces exactly what the full image would give; outside all windows x is returned.
    """
    out = x.clone()
    if x.numel() == 0:
        return out
    for y0, y1, x0, x1 in above_minimum_windows(x, reach):
        out[:, y0:y1, x0:x1] = fn(x[:, y0:y1, x0:x1])
    return out


def disk_offsets(radius: int) -> list[tuple[int, int]]:
    """(dy, half_width) rows of the Euclidean disk dx^2 + dy^2 <= radius^2, for dy >= 0."""
    return [(dy, math.isqrt(radius * radius - dy * dy)) for dy in range(radius + 1)]


def dilate_disk(x: Tensor, radius: int) -> Tensor:
    """Grey dilation of [N,H,W] by a flat Euclidean disk, replicate borders.

    Row decomposition of the disk: for each dy, a horizontal running max of half-width w(dy),
    shifted by dy. Running maxes of any width come from power-of-two tables (2 maxes each),
    so the cost is about 3 * radius elementwise ops whatever the width.
    """
    if radius <= 0:
        return x.clone()
    _n, h, w = x.shape
    r = radius
    p = replicate_pad(x, r, r, r, r)
    tables = {1: p}
    k = 1
    while 2 * k <= 2 * r + 1:
        t = tables[k]
        tables[2 * k] = torch.maximum(t[..., :-k], t[..., k:])
        k *= 2

    def row_max(half: int) -> Tensor:
        length = 2 * half + 1
        k = 1 << (length.bit_length() - 1)
        t = tables[k]
        a = t[..., r - half : r - half + w]
        if k == length:
            return a
        b0 = r + half - k + 1
        return torch.maximum(a, t[..., b0 : b0 + w])

    out: Tensor | None = None
    for dy, half in disk_offsets(r):
        rows = row_max(half)
        for s in {dy, -dy}:
            sl = rows[:, r + s : r + s + h, :]
            out = sl.clone() if out is None else torch.maximum(out, sl, out=out)
    assert out is not None
    return out


def erode_disk(x: Tensor, radius: int) -> Tensor:
    """Grey erosion of [N,H,W] by a flat Euclidean disk, replicate borders."""
    return -dilate_disk(-x, radius)


def _prefix_reach(a: Tensor, b: Tensor, dim: int) -> Tensor:
    """Geodesic max-propagation along `dim`, forward, in log2(n) doubling steps.

    Returns out[i] = max over j <= i of min(a[j], min(b[j..i])): the highest value that
    reaches i from the left when every pixel caps what passes through it at b.
    """
    n = a.shape[dim]
    d = 1
    while d < n:
        a_prev, a_cur = a.narrow(dim, 0, n - d), a.narrow(dim, d, n - d)
        b_prev, b_cur = b.narrow(dim, 0, n - d), b.narrow(dim, d, n - d)
        head_a, head_b = a.narrow(dim, 0, d), b.narrow(dim, 0, d)
        a = torch.cat([head_a, torch.maximum(a_cur, torch.minimum(a_prev, b_cur))], dim=dim)
        b = torch.cat([head_b, torch.minimum(b_prev, b_cur)], dim=dim)
        d *= 2
    return a


def reconstruct_by_dilation(marker: Tensor, limit: Tensor) -> Tensor:
    """Grey reconstruction by dilation of `marker` (<= limit) under `limit`, 4-connected.

    Each pass propagates along whole rows and columns in both directions, so even long
    corridors converge in a handful of passes; iterates until nothing changes.
    """
    r = torch.minimum(marker, limit)
    while True:
        prev = r
        for dim in (-1, -2):
            fwd = _prefix_reach(r, limit, dim)
            bwd = _prefix_reach(r.flip(dim), limit.flip(dim), dim).flip(dim)
            r = torch.maximum(fwd, bwd)
        if torch.equal(r, prev):
            return r


def fill_holes_window(x: Tensor, max_levels: int = 8) -> Tensor:
    """Grey hole filling of [N,H,W]: reconstruction by erosion from the tensor's border.

    Works on h = -x by reconstruction by dilation. A lower bound from threshold decomposition
    (border-connected components of {h >= t} for up to `max_levels` levels t) makes it exact
    at once for masks with few grey levels; the iteration then only verifies or finishes it.
    """
    h = -x
    border = torch.ones_like(x, dtype=torch.bool)
    border[:, 1:-1, 1:-1] = False
    floor = h.amin()
    marker = torch.where(border, h, floor)
    for i in range(h.shape[0]):
        levels = torch.unique(h[i])[1:]
        if levels.numel() > max_levels:
            pick = torch.linspace(0, levels.numel() - 1, max_levels, device=levels.device)
            levels = levels[pick.round().long()]
        for t in levels.tolist():
            reach = border_connected(h[i] >= t)
            marker[i] = torch.where(reach, torch.maximum(marker[i], h.new_tensor(t)), marker[i])
    return -reconstruct_by_dilation(marker, h)


def bounded_sq_distance(support: Tensor, radius: int) -> Tensor:
    """Exact squared Euclidean distance to the nearest True pixel of [N,H,W] `support`.

    Values above radius^2 are not exact (they are only guaranteed to exceed radius^2).
    Rows use nearest-left/right indices (cummax); columns a bounded parabola envelope.
    """
    n, h, w = support.shape
    dev = support.device
    big = float((2 * radius + 2) ** 2 + 1)
    idx = torch.arange(w, device=dev, dtype=torch.float32).expand(n, h, w)
    far = float(4 * w + 4 * radius + 4)
    left = torch.where(support, idx, idx.new_full((), -far)).cummax(dim=2).values
    right = torch.where(support, idx, idx.new_full((), far)).flip(2).cummin(dim=2).values.flip(2)
    dx = torch.minimum(idx - left, right - idx).clamp(max=radius + 1)
    g = dx * dx
    out = g.clone()
    for dy in range(1, radius + 1):
        add = float(dy * dy)
        torch.minimum(out[:, dy:], g[:, :-dy] + add, out=out[:, dy:])
        torch.minimum(out[:, :-dy], g[:, dy:] + add, out=out[:, :-dy])
    return out.clamp(max=big)
