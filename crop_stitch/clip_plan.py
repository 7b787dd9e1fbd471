"""Crop planning for a video clip (the batch = its frames): one steady crop per masked region.

Regions are found once, on the union of every frame's mask. Each gets one box for the whole clip
("union") or a fixed-size box that follows the mask at a bounded speed ("track"), so a region's crops
form a steady video of one size and one target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

from .mask_windows import MaskWindows
from .plan import CropPlan, CropSettings, Region, fit_box, make_region, target_for
from .regions import Box, context_pad, find_clusters
from .sizing import crop_box

CLIP_BOXES = ("union", "track")

Point = tuple[float, float]


@dataclass(frozen=True)
class ClipSettings:
    """How a region's crop moves over the clip."""

    box: str = "union"  # "union": one box per region for the whole clip; "track": a fixed-size box following the mask
    max_speed_px: float = 8.0  # track: the box centre moves at most this many px per frame (Euclidean)
    smooth_frames: int = 5  # track: centred moving-average window over the per-frame mask centres

    def validate(self) -> None:
        """Raise ValueError on settings no clip plan can honour."""
        if self.box not in CLIP_BOXES:
            raise ValueError(f"box must be one of {CLIP_BOXES}, got {self.box!r}")
        if not self.max_speed_px > 0:
            raise ValueError(f"max_speed_px must be > 0, got {self.max_speed_px}")
        if self.smooth_frames < 1:
            raise ValueError(f"smooth_frames must be >= 1, got {self.smooth_frames}")


@dataclass(frozen=True)
class ClipRegion:
    """One masked region over the clip: its frames and the plan region cropping each."""

    frames: tuple[int, ...]  # consecutive frame indices: first..last frame where this region has mask pixels
    region_indices: tuple[int, ...]  # index into plan.regions of each frame's crop, same order as frames


def _windows(mask: Tensor | MaskWindows) -> MaskWindows:
    if isinstance(mask, MaskWindows):
        return mask
    m = mask.unsqueeze(0) if mask.dim() == 2 else mask
    if m.dim() != 3:
        raise ValueError(f"denoise_mask must be [B,H,W] or [H,W], got {tuple(mask.shape)}")
    return MaskWindows.whole(m)


def _union_occupied(mw: MaskWindows) -> Tensor:
    """[H,W] bool: pixels > 0 in any frame, built one frame at a time (no [B,H,W] temporary)."""
    out = torch.zeros((mw.height, mw.width), dtype=torch.bool, device=mw.values[0].device)
    for (y0, y1, x0, x1), v in zip(mw.windows, mw.values, strict=True):
        part = out[y0:y1, x0:x1]
        for frame in v:
            part |= frame > 0
    return out


def _frame_boxes(mw: MaskWindows, u: Box) -> list[Box | None]:
    """Tight box of each frame's mask pixels inside `u` (None where there are none)."""
    x0, y0, x1, y1 = u
    boxes: list[Box | None] = []
    for i in range(mw.batch):
        occ = mw.read(i, y0, y1, x0, x1) > 0
        rows, cols = torch.nonzero(occ.any(1)).flatten(), torch.nonzero(occ.any(0)).flatten()
        if rows.numel() == 0:
            boxes.append(None)
        else:
            boxes.append((x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1))
    return boxes


def _centres(boxes: list[Box | None]) -> list[Point]:
    """Mask-box centres of a span (first and last boxes set); gaps linearly interpolated."""
    known = [(i, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)) for i, b in enumerate(boxes) if b is not None]
    out: list[Point] = []
    for (i, a), (j, b) in pairwise(known):
        out.extend((a[0] + (f - i) / (j - i) * (b[0] - a[0]), a[1] + (f - i) / (j - i) * (b[1] - a[1]))
                   for f in range(i, j))
    out.append(known[-1][1])
    return out


def _smooth(points: list[Point], frames: int) -> list[Point]:
    """Centred moving average over `frames` points, the window truncated at the ends."""
    before, after = (frames - 1) // 2, frames // 2
    out: list[Point] = []
    for f in range(len(points)):
        win = points[max(0, f - before):f + after + 1]
        out.append((sum(p[0] for p in win) / len(win), sum(p[1] for p in win) / len(win)))
    return out


def _limit_speed(points: list[Point], speed: float) -> list[tuple[int, int]]:
    """Integer centres chasing `points`, each step at most `speed` px (Euclidean): the integer step
    nearest the wanted one within that bound (truncating every step would lose up to a pixel per frame)."""
    out = [(math.floor(points[0][0] + 0.5), math.floor(points[0][1] + 0.5))]
    for wx, wy in points[1:]:
        px, py = out[-1]
        dx, dy = wx - px, wy - py
        norm = math.hypot(dx, dy)
        if norm > speed:
            dx, dy = dx * speed / norm, dy * speed / norm
        allowed = [(cx, cy) for cx in {math.floor(dx), math.ceil(dx)} for cy in {math.floor(dy), math.ceil(dy)}
                   if cx * cx + cy * cy <= speed * speed] or [(int(dx), int(dy))]
        ix, iy = min(allowed, key=lambda c: (c[0] - dx) ** 2 + (c[1] - dy) ** 2)
        if ix * ix + iy * iy > speed * speed:  # int() of a step scaled to the limit can overshoot by an ulp
            if abs(ix) >= abs(iy):
                ix -= 1 if ix > 0 else -1
            else:
                iy -= 1 if iy > 0 else -1
        out.append((px + ix, py + iy))
    return out


def _track_size(boxes: list[Box | None], centres: list[tuple[int, int]], crop: CropSettings,
                height: int, width: int) -> tuple[int, int]:
    """(width, height) holding every frame's mask box at its centre, plus context and min_crop_px
    (both only as far as the image reaches, as crop_box)."""
    pairs = [(b, c) for b, c in zip(boxes, centres, strict=True) if b is not None]
    hx = max(max(c[0] - b[0], b[2] - c[0]) for b, c in pairs)
    hy = max(max(c[1] - b[1], b[3] - c[1]) for b, c in pairs)
    largest = max((b for b, _ in pairs), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    p = context_pad(largest, height, width, crop.context_factor, crop.min_context_px)
    bw = max(2 * hx, min(2 * hx + 2 * p, width), min(crop.min_crop_px, width))
    bh = max(2 * hy, min(2 * hy + 2 * p, height), min(crop.min_crop_px, height))
    return bw, bh


def _start(centre: int, size: int, limit: int) -> int:
    """Box start on one axis: centred on `centre` and shifted into [0, limit) when it fits, else
    centred on the image (the rest is pad)."""
    if size > limit:
        return -((size - limit) // 2)
    return min(max(centre - size // 2, 0), limit - size)


def _check(regions: list[Region], boxes: list[Box | None]) -> None:
    first = regions[0]
    for r, b in zip(regions, boxes, strict=True):
        if (r.size, r.target, r.scale) != (first.size, first.target, first.scale):
            raise RuntimeError(f"clip crops differ: {r} vs {first}")
        if b is not None and not (r.box[0] <= b[0] and r.box[1] <= b[1] and r.box[2] >= b[2] and r.box[3] >= b[3]):
            raise RuntimeError(f"clip crop {r.box} misses its frame's mask box {b}")


def plan_clip(denoise_mask: Tensor | MaskWindows, crop: CropSettings,
              clip: ClipSettings) -> tuple[CropPlan, list[ClipRegion]]:
    """Plan one steady crop per masked region of a clip: a [B,H,W] (or [H,W]) denoise mask, full-size
    or windowed, whose batch is the clip's frames; pixels > 0 are to be inpainted.

    Regions are the clusters of the union of all frames' masks. A region is cropped in every frame from
    its first to its last masked frame (frames between without pixels too), each crop of the same size
    and target; its Regions' mask_box is the region's union mask box. Plan order: region by region
    (sorted y0, x0), frames ascending. With shared_target all regions take the target of the largest.
    """
    crop.validate()
    clip.validate()
    mw = _windows(denoise_mask)
    b, h, w = mw.shape
    unions = find_clusters(_union_occupied(mw)[None], crop.context_factor, crop.min_context_px,
                           crop.merge_gap_px, crop.max_regions)[0]
    spans: list[tuple[int, list[Box | None]]] = []
    for u in unions:
        per_frame = _frame_boxes(mw, u)
        masked = [i for i, box in enumerate(per_frame) if box is not None]
        spans.append((masked[0], per_frame[masked[0]:masked[-1] + 1]))
    if clip.box == "union":
        tracks: list[list[tuple[int, int]] | None] = [None] * len(unions)
        boxes = [crop_box(u, h, w, crop.context_factor, crop.min_context_px, crop.min_crop_px) for u in unions]
    else:
        tracks = [_limit_speed(_smooth(_centres(fb), clip.smooth_frames), clip.max_speed_px) for _, fb in spans]
        boxes = [(0, 0, *_track_size(fb, t, crop, h, w)) for (_, fb), t in zip(spans, tracks, strict=True)]
    shared = None
    if crop.shared_target and boxes:
        shared = target_for(max(boxes, key=lambda bx: (bx[2] - bx[0]) * (bx[3] - bx[1])), crop)
    regions: list[Region] = []
    clip_regions: list[ClipRegion] = []
    for u, (first, fb), box, track in zip(unions, spans, boxes, tracks, strict=True):
        target = shared or target_for(box, crop)
        box = fit_box(box, target, crop, h, w)
        if track is None:
            frame_boxes = [box] * len(fb)
        else:
            bw, bh = box[2] - box[0], box[3] - box[1]
            frame_boxes = [(x0, y0, x0 + bw, y0 + bh) for x0, y0 in
                           ((_start(cx, bw, w), _start(cy, bh, h)) for cx, cy in track)]
        made = [make_region(first + k, bx, u, target, h, w) for k, bx in enumerate(frame_boxes)]
        _check(made, fb)
        clip_regions.append(ClipRegion(tuple(range(first, first + len(fb))),
                                       tuple(range(len(regions), len(regions) + len(made)))))
        regions.extend(made)
    return CropPlan(height=h, width=w, batch=b, regions=regions, pad_mode=crop.pad_mode), clip_regions
