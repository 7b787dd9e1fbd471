"""Connected components of a 2-D bool grid in pure torch (vectorised union-find over row runs).

Work is proportional to the number of horizontal runs, not to the component diameter, so
spirals, mazes and noise cost about the same as blobs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

Box = tuple[int, int, int, int]


def _runs(occ: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Row, start column, end column (exclusive) of every horizontal run of True, row-major."""
    x = occ.to(torch.int8)
    edge = torch.zeros((x.shape[0], 1), dtype=torch.int8, device=x.device)
    d = torch.diff(x, dim=1, prepend=edge, append=edge)
    # Row-major order alternates start (+1), end (-1) within every row.
    nz = torch.nonzero(d)
    return nz[0::2, 0], nz[0::2, 1], nz[1::2, 1]


def _run_edges(
    row: Tensor, start: Tensor, end: Tensor, width: int, conn: int
) -> tuple[Tensor, Tensor]:
    """Pairs (a, b) of runs in consecutive rows that touch (8- or 4-connectivity)."""
    kb = width + 2
    key_s = row * kb + start
    key_e = row * kb + end
    slack = 1 if conn == 8 else 0
    nxt = (row + 1) * kb
    # Run b in row r+1 touches run a iff end_b > start_a - slack and start_b < end_a + slack.
    lo = torch.searchsorted(key_e, nxt + start - slack, right=True)
    hi = torch.searchsorted(key_s, nxt + end + slack, right=False)
    cnt = (hi - lo).clamp(min=0)
    total = int(cnt.sum())
    n = row.numel()
    if total == 0:
        empty = torch.zeros(0, dtype=torch.long, device=row.device)
        return empty, empty
    a = torch.repeat_interleave(torch.arange(n, device=row.device), cnt)
    offsets = torch.cumsum(cnt, 0) - cnt
    b = torch.repeat_interleave(lo, cnt) + torch.arange(total, device=row.device)
    b = b - torch.repeat_interleave(offsets, cnt)
    return a, b


def union_find(n: int, a: Tensor, b: Tensor) -> Tensor:
    """Root (smallest member index) of every node of an undirected graph given as edge lists."""
    parent = torch.arange(n, device=a.device)
    if a.numel() == 0:
        return parent
    while True:
        pa, pb = parent[a], parent[b]
        if torch.equal(pa, pb):
            return parent
        m = torch.minimum(pa, pb)
        # Hook roots onto the smaller label; parent[i] <= i keeps the forest acyclic.
        parent.scatter_reduce_(0, pa, m, reduce="amin")
        parent.scatter_reduce_(0, pb, m, reduce="amin")
        while True:
            jumped = parent[parent]
            if torch.equal(jumped, parent):
                break
            parent = jumped


def label_components(occ: Tensor, connectivity: int = 8) -> tuple[Tensor, int]:
    """Label the True pixels of a [H,W] bool tensor.

    Returns (labels [H,W] int64 with -1 on False pixels, count); labels are numbered in
    raster order of each component's first pixel.
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    h, w = occ.shape
    labels = torch.full((h, w), -1, dtype=torch.long, device=occ.device)
    row, start, end = _runs(occ)
    n = row.numel()
    if n == 0:
        return labels, 0
    a, b = _run_edges(row, start, end, w, connectivity)
    roots = union_find(n, a, b)
    uniq, run_label = torch.unique(roots, return_inverse=True)
    # Paint runs with a difference array: +label at the start, -label at the end, cumsum.
    paint = torch.zeros((h, w + 1), dtype=torch.long, device=occ.device)
    paint.index_put_((row, start), run_label + 1, accumulate=True)
    paint.index_put_((row, end), -(run_label + 1), accumulate=True)
    labels = paint.cumsum(dim=1)[:, :w] - 1
    return labels, int(uniq.numel())


def border_connected(occ: Tensor, connectivity: int = 4) -> Tensor:
    """True pixels of [H,W] `occ` whose component touches the grid border."""
    h, w = occ.shape
    row, start, end = _runs(occ)
    if row.numel() == 0:
        return torch.zeros_like(occ, dtype=torch.bool)
    a, b = _run_edges(row, start, end, w, connectivity)
    roots = union_find(row.numel(), a, b)
    on_border = (row == 0) | (row == h - 1) | (start == 0) | (end == w)
    touching = torch.zeros(row.numel(), dtype=torch.bool, device=occ.device)
    touching[roots[on_border]] = True
    keep = touching[roots]
    paint = torch.zeros((h, w + 1), dtype=torch.int32, device=occ.device)
    ones = torch.ones(int(keep.sum()), dtype=torch.int32, device=occ.device)
    paint.index_put_((row[keep], start[keep]), ones, accumulate=True)
    paint.index_put_((row[keep], end[keep]), -ones, accumulate=True)
    return paint.cumsum(dim=1, dtype=torch.int32)[:, :w] > 0


def cell_boxes(occupied: Tensor, cell: int) -> tuple[Tensor, Tensor]:
    """Per cell of side `cell`: occupancy [B,gh,gw] and tight pixel box [B,gh,gw,4], on CPU."""
    b, h, w = occupied.shape
    gh, gw = -(-h // cell), -(-w // cell)
    m = F.pad(occupied.to(torch.uint8), (0, gw * cell - w, 0, gh * cell - h))
    v = m.view(b, gh, cell, gw, cell)
    xprof = v.amax(dim=2)  # [B,gh,gw,cell]: which columns of the cell hold a pixel
    yprof = v.amax(dim=4).transpose(2, 3)  # [B,gh,gw,cell]
    occ = xprof.amax(dim=-1) > 0
    first_x = xprof.argmax(dim=-1)
    last_x = cell - 1 - xprof.flip(-1).argmax(dim=-1)
    first_y = yprof.argmax(dim=-1)
    last_y = cell - 1 - yprof.flip(-1).argmax(dim=-1)
    gy = torch.arange(gh, device=m.device).view(1, gh, 1) * cell
    gx = torch.arange(gw, device=m.device).view(1, 1, gw) * cell
    boxes = torch.stack([gx + first_x, gy + first_y, gx + last_x + 1, gy + last_y + 1], dim=-1)
    return occ.cpu(), boxes.cpu()


def component_boxes(occupied: Tensor, cell: int) -> list[list[Box]]:
    """Tight boxes of the 8-connected components of each image's [B,H,W] bool mask.

    Computed on a grid of `cell`-sized cells (a cell is set if any pixel is): components in
    touching cells are joined, but every box is still the tight box of real pixels.
    """
    return cell_components(*cell_boxes(occupied, cell))


def cell_components(occ: Tensor, boxes: Tensor) -> list[list[Box]]:
    """Per image, the tight boxes of 8-connected groups of occupied cells ([B,gh,gw] and the cells'
    pixel boxes [B,gh,gw,4], as `cell_boxes` gives them)."""
    result: list[list[Box]] = []
    for i in range(occ.shape[0]):
        labels, count = label_components(occ[i], 8)
        if count == 0:
            result.append([])
            continue
        sel = labels >= 0
        lab = labels[sel]
        cb = boxes[i][sel]
        big = torch.iinfo(torch.long).max
        out = torch.stack(
            [
                torch.full((count,), big).scatter_reduce(0, lab, cb[:, 0], "amin"),
                torch.full((count,), big).scatter_reduce(0, lab, cb[:, 1], "amin"),
                torch.full((count,), -1).scatter_reduce(0, lab, cb[:, 2], "amax"),
                torch.full((count,), -1).scatter_reduce(0, lab, cb[:, 3], "amax"),
            ],
            dim=1,
        )
        result.append([tuple(int(v) for v in row) for row in out.tolist()])
    return result
