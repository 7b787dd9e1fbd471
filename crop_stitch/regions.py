"""Find masked regions: connected components, then clusters whose context boxes are close.

Boxes are (x0, y0, x1, y1) with exclusive ends, in original pixels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .components import Box, cell_boxes, cell_components, union_find
from .mask_windows import MaskWindows

# Above this many components the grid is coarsened (nearby specks merge first), so the
# pairwise cluster merging below stays small.
MAX_COMPONENTS = 256


def context_pad(box: Box, height: int, width: int, factor: float, min_px: int) -> int:
    """Krita-style context: factor * max(longest side / 16, half the box's mean side)."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    pad = factor * max(max(height, width) / 16.0, (bw + bh) / 4.0)
    return math.ceil(max(pad, float(min_px)))


def context_box(box: Box, height: int, width: int, factor: float, min_px: int) -> Box:
    """The box padded by its context, clamped to the image."""
    p = context_pad(box, height, width, factor, min_px)
    return (max(0, box[0] - p), max(0, box[1] - p), min(width, box[2] + p), min(height, box[3] + p))


def safe_cell(height: int, width: int, factor: float, min_px: int, gap: int) -> int:
    """Largest grid cell that cannot merge components the clustering would keep apart.

    Pixels in 8-adjacent cells of side s are < 2s apart; their context boxes (each padded by
    at least the minimal pad) are then within gap of each other, so they merge anyway.
    """
    min_pad = max(float(min_px), factor * max(height, width) / 16.0)
    return max(1, math.floor(min_pad) + max(0, gap) // 2 + 1)


def _union(boxes: list[Box], groups: Tensor) -> list[Box]:
    """Bounding box of each group (labels 0..k-1 in order of first member)."""
    merged: dict[int, Box] = {}
    for box, g in zip(boxes, groups.tolist(), strict=True):
        cur = merged.get(g)
        merged[g] = (
            box
            if cur is None
            else (
                min(cur[0], box[0]),
                min(cur[1], box[1]),
                max(cur[2], box[2]),
                max(cur[3], box[3]),
            )
        )
    return [merged[g] for g in sorted(merged)]


def _gaps(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise x and y gaps (0 when overlapping) between box tensors [n,4] and [m,4]."""
    gx = torch.maximum(a[:, None, 0], b[None, :, 0]) - torch.minimum(a[:, None, 2], b[None, :, 2])
    gy = torch.maximum(a[:, None, 1], b[None, :, 1]) - torch.minimum(a[:, None, 3], b[None, :, 3])
    return gx.clamp(min=0), gy.clamp(min=0)


def merge_close(
    boxes: list[Box], height: int, width: int, factor: float, min_px: int, gap: int
) -> list[Box]:
    """Merge boxes whose context boxes overlap or lie within `gap` px, until none do."""
    while len(boxes) > 1:
        ctx = torch.tensor([context_box(b, height, width, factor, min_px) for b in boxes])
        gx, gy = _gaps(ctx, ctx)
        near = (gx <= gap) & (gy <= gap)
        near.fill_diagonal_(False)
        a, b = torch.nonzero(near, as_tuple=True)
        if a.numel() == 0:
            break
        roots = union_find(len(boxes), a, b)
        _, groups = torch.unique(roots, return_inverse=True)
        boxes = _union(boxes, groups)
    return boxes


def merge_closest(boxes: list[Box]) -> list[Box]:
    """Merge the one pair of boxes with the smallest Euclidean gap (ties: lowest indices)."""
    t = torch.tensor(boxes, dtype=torch.float64)
    gx, gy = _gaps(t, t)
    dist = torch.hypot(gx, gy)
    dist.fill_diagonal_(float("inf"))
    i, j = divmod(int(torch.argmin(dist)), len(boxes))
    i, j = min(i, j), max(i, j)
    a, b = boxes[i], boxes[j]
    union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
    return [union] + [bx for k, bx in enumerate(boxes) if k not in (i, j)]


def find_clusters(
    occupied: Tensor | MaskWindows,
    factor: float,
    min_px: int,
    gap: int,
    max_regions: int,
    cell: int | None = None,
) -> list[list[Box]]:
    """Mask boxes of the clusters of each image of [B,H,W] bool `occupied` (or of a windowed mask's
    pixels > 0), sorted (y0, x0).

    Components are merged while their context boxes are within `gap`; then, while more than
    `max_regions` clusters remain, the closest two merge (and closeness is re-checked).
    """
    _, h, w = occupied.shape

    def cells(size: int) -> tuple[Tensor, Tensor]:
        return occupied.cells(size) if isinstance(occupied, MaskWindows) else cell_boxes(occupied, size)

    cell = cell or safe_cell(h, w, factor, min_px, gap)
    per_image = cell_components(*cells(cell))
    result: list[list[Box]] = []
    for i, boxes in enumerate(per_image):
        coarse = cell
        while len(boxes) > MAX_COMPONENTS:
            coarse *= 2
            occ, cell_box = cells(coarse)
            boxes = cell_components(occ[i : i + 1], cell_box[i : i + 1])[0]
        boxes = merge_close(boxes, h, w, factor, min_px, gap)
        while len(boxes) > max(1, max_regions):
            boxes = merge_close(merge_closest(boxes), h, w, factor, min_px, gap)
        result.append(sorted(boxes, key=lambda b: (b[1], b[0], b[3], b[2])))
    return result
