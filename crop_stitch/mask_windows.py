"""A full-size mask kept only where it is non-zero: a few disjoint windows of values, zero elsewhere.

Prepared masks are mostly zeros; keeping their windows instead of [B,H,W] tensors makes planning,
cropping and the Stitcher's record cost what the mask covers, not what the image covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .components import Box, cell_boxes, component_boxes

Window = tuple[int, int, int, int]  # (y0, y1, x0, x1), exclusive ends, image coordinates

# Side of the tiles `level_windows` scans, and the most separate windows it returns.
WINDOW_TILE = 32
MAX_WINDOWS = 32


def tile_max(x: Tensor, tile: int) -> Tensor:
    """[ceil(H/tile), ceil(W/tile)] maximum of [N,H,W] over the batch and each tile (NaN propagates).

    One read of `x`, no full-size temporary (max_pool2d gives the same values several times slower).
    """
    _, h, w = x.shape
    whole = h // tile
    rows = []
    if whole:
        rows.append(x[:, :whole * tile].unflatten(1, (whole, tile)).amax(dim=(0, 2)))
    if h % tile:
        rows.append(x[:, whole * tile:].amax(dim=(0, 1))[None])
    per_row = torch.cat(rows)
    cols = -(-w // tile)
    per_row = F.pad(per_row, (0, cols * tile - w), value=float("-inf"))
    return per_row.unflatten(1, (cols, tile)).amax(dim=2)


def _overlap(a: Window, b: Window) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def merge_windows(boxes: list[Box], reach: int, height: int, width: int) -> list[Window]:
    """(x0, y0, x1, y1) boxes grown by `reach` inside the image, overlapping ones merged until none overlap."""
    if len(boxes) > MAX_WINDOWS:
        boxes = [(min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes))]
    wins = [(max(0, y0 - reach), min(height, y1 + reach), max(0, x0 - reach), min(width, x1 + reach))
            for x0, y0, x1, y1 in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(wins)):
            j = next((j for j in range(i + 1, len(wins)) if _overlap(wins[i], wins[j])), None)
            if j is not None:
                a, b = wins[i], wins.pop(j)
                wins[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                merged = True
                break
    return wins


def level_windows(x: Tensor, level: float | Tensor, reach: int) -> list[Window]:
    """Disjoint windows covering every pixel of [N,H,W] `x` at or above `level` (NaN counts), grown by
    `reach`: 8-connected WINDOW_TILE tiles holding such pixels, each group's box grown and merged."""
    _, h, w = x.shape
    peaks = torch.nan_to_num(tile_max(x, WINDOW_TILE).float(), nan=float("inf"))
    groups = component_boxes((peaks >= level)[None], 1)[0]
    boxes = [(x0 * WINDOW_TILE, y0 * WINDOW_TILE, min(w, x1 * WINDOW_TILE), min(h, y1 * WINDOW_TILE))
             for x0, y0, x1, y1 in groups]
    return merge_windows(boxes, reach, h, w)


@dataclass(frozen=True)
class MaskWindows:
    """A [batch,height,width] mask that is 0 outside `windows`; values[k] is [batch, y1-y0, x1-x0] of
    windows[k]. Windows are disjoint. A batch of 1 stands for every image (as a broadcast MASK)."""

    batch: int
    height: int
    width: int
    windows: tuple[Window, ...]
    values: tuple[Tensor, ...]

    @classmethod
    def whole(cls, mask: Tensor) -> MaskWindows:
        """A [B,H,W] (or [H,W]) tensor as one window covering it (no copy)."""
        m = mask.unsqueeze(0) if mask.dim() == 2 else mask
        if m.dim() != 3:
            raise ValueError(f"expected a mask of shape [H,W] or [B,H,W], got {tuple(mask.shape)}")
        b, h, w = m.shape
        return cls(b, h, w, ((0, h, 0, w),), (m,))

    @classmethod
    def of(cls, mask: Tensor | MaskWindows) -> MaskWindows:
        return mask if isinstance(mask, MaskWindows) else cls.whole(mask)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.batch, self.height, self.width

    def full(self, *, batch: int | None = None) -> Tensor:
        """The mask as a new [batch,H,W] tensor (`batch` broadcasts a batch-1 mask)."""
        rows = self.batch if batch is None else batch
        if rows != self.batch and self.batch != 1:
            raise ValueError(f"a mask of batch {self.batch} cannot be broadcast to {rows} images")
        like = self.values[0]
        out = torch.zeros((rows, self.height, self.width), dtype=like.dtype, device=like.device)
        for (y0, y1, x0, x1), v in zip(self.windows, self.values, strict=True):
            out[:, y0:y1, x0:x1] = v
        return out

    def full_rows(self, variants: int = 1) -> Tensor:
        """The mask as [batch * variants, H, W], image b's at rows b * variants ... b * variants + variants - 1.

        When every image's mask is the same (one MASK on an image batch), it is built once as [1,H,W] and the
        result is a broadcast view of it (no copies: never write into it)."""
        rows = self.batch * variants
        same = self.batch == 1 or all(bool((v == v[:1]).all()) for v in self.values)
        if same:
            one = MaskWindows(1, self.height, self.width, self.windows, tuple(v[:1] for v in self.values)).full()
            return one if rows == 1 else one.expand(rows, self.height, self.width)
        full = self.full()
        return full if variants == 1 else full.repeat_interleave(variants, dim=0)

    def read(self, index: int, y0: int, y1: int, x0: int, x1: int) -> Tensor:
        """[y1-y0, x1-x0] of image `index` (0 where the box leaves the image or misses every window)."""
        i = 0 if self.batch == 1 else index
        like = self.values[0]
        out = torch.zeros((y1 - y0, x1 - x0), dtype=like.dtype, device=like.device)
        for (wy0, wy1, wx0, wx1), v in zip(self.windows, self.values, strict=True):
            ay0, ay1, ax0, ax1 = max(y0, wy0), min(y1, wy1), max(x0, wx0), min(x1, wx1)
            if ay1 > ay0 and ax1 > ax0:
                out[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = v[i, ay0 - wy0:ay1 - wy0, ax0 - wx0:ax1 - wx0]
        return out

    def cells(self, cell: int) -> tuple[Tensor, Tensor]:
        """`components.cell_boxes(mask > 0, cell)` of the full mask, computed on the windows only.

        Occupancy [B,gh,gw] is exact; boxes [B,gh,gw,4] are the tight pixel boxes of occupied cells
        (unoccupied cells hold no meaningful box, as in cell_boxes)."""
        gh, gw = -(-self.height // cell), -(-self.width // cell)
        occ = torch.zeros((self.batch, gh, gw), dtype=torch.bool)
        boxes = torch.zeros((self.batch, gh, gw, 4), dtype=torch.long)
        for (y0, y1, x0, x1), v in zip(self.windows, self.values, strict=True):
            if y1 <= y0 or x1 <= x0:
                continue
            cy0, cx0 = y0 // cell, x0 // cell
            cy1, cx1 = -(-y1 // cell), -(-x1 // cell)
            local = torch.zeros((self.batch, (cy1 - cy0) * cell, (cx1 - cx0) * cell), dtype=torch.bool,
                                device=v.device)
            local[:, y0 - cy0 * cell:y1 - cy0 * cell, x0 - cx0 * cell:x1 - cx0 * cell] = v > 0
            o, b = cell_boxes(local, cell)
            b = b + torch.tensor([cx0 * cell, cy0 * cell, cx0 * cell, cy0 * cell])
            g_occ, g_box = occ[:, cy0:cy1, cx0:cx1], boxes[:, cy0:cy1, cx0:cx1]
            both = (o & g_occ)[..., None]
            union = torch.cat([torch.minimum(b[..., :2], g_box[..., :2]),
                               torch.maximum(b[..., 2:], g_box[..., 2:])], dim=-1)
            g_box.copy_(torch.where(both, union, torch.where(o[..., None], b, g_box)))
            g_occ |= o
        return occ, boxes
