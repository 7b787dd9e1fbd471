"""The changed-only composite of one region (edit models that re-render the whole crop): align the sample to
the original, correct its colours, keep only what changed inside the mask and blend that in seamlessly.

Everything runs in the region's valid box (its crop box inside the image) at original resolution; only the
blend window (the mask box, plus one pixel of edge for the blend) is written.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from torch import Tensor

from .change_mask import ChangeSettings, change_mask
from .color import color_correct
from .drift import Drift, DriftSettings, estimate_drift, undo_drift
from .seamless import seamless_blend

log = logging.getLogger(__name__)

Window = tuple[int, int, int, int]  # (x0, y0, x1, y1), exclusive ends


@dataclass(frozen=True)
class ChangedOnly:
    """Settings of the changed-only stitch. `align` off skips the drift estimate (the crop is used as sampled);
    colour correction always runs, fitted on the unmasked pixels within color_ring_px of the mask."""

    align: bool = True
    drift: DriftSettings = field(default_factory=DriftSettings)
    change: ChangeSettings = field(default_factory=ChangeSettings)
    color_ring_px: int = 32


@dataclass(frozen=True)
class RegionComposite:
    """What one region writes: `pixels` [V,h,w,C] and the composite actually used `mask` [V,h,w] on `window`
    (image coordinates); `drifts[v]` in image coordinates."""

    window: Window
    pixels: Tensor
    mask: Tensor
    drifts: list[Drift]


def _grown(window: Window, bounds: Window, px: int) -> Window:
    x0, y0, x1, y1 = window
    bx0, by0, bx1, by1 = bounds
    return max(bx0, x0 - px), max(by0, y0 - px), min(bx1, x1 + px), min(by1, y1 + px)


def _describe(d: Drift) -> str:
    return (f"shift ({d.shift[0]:+.2f}, {d.shift[1]:+.2f}) px, zoom {100 * (d.scale - 1):+.2f} %, "
            f"rotation {math.degrees(d.angle):+.2f} deg")


def changed_region(sample: Tensor, original: Tensor, current: Tensor, composite: Tensor, valid_box: Window,
                   blend: Window, settings: ChangedOnly, label: str = "region") -> RegionComposite:
    """sample [V,vh,vw,C]: the crop resized to the valid box; original [vh,vw,C] the image there; current
    [V,H,W,C] the rows being stitched (full size, read only); composite [blend h, blend w] the user's
    composite on `blend`. Returns the region's pixels on the blend window grown by one pixel."""
    vx0, vy0, vx1, vy1 = valid_box
    vh, vw = vy1 - vy0, vx1 - vx0
    wx0, wy0, wx1, wy1 = win = _grown(blend, valid_box, 1)
    rx0, ry0, rx1, ry1 = _grown(blend, valid_box, settings.color_ring_px + 1)  # where colours are fitted
    comp = composite.new_zeros(vh, vw)
    bx0, by0, bx1, by1 = blend
    comp[by0 - vy0:by1 - vy0, bx0 - vx0:bx1 - vx0] = composite
    if settings.align:
        drifts = [estimate_drift(sample[j], original, comp == 0, settings.drift) for j in range(sample.shape[0])]
    else:
        drifts = [Drift(center=((vw - 1) / 2.0, (vh - 1) / 2.0), reason="alignment off")]
        drifts = drifts * sample.shape[0]
    for j, d in enumerate(drifts):
        if d.accepted:
            log.info("changed-only stitch, %s variant %d: aligned, %s", label, j, _describe(d))
        elif settings.align:
            log.info("changed-only stitch, %s variant %d: alignment refused (%s); crop left as sampled",
                     label, j, d.reason)
    ring = (rx0 - vx0, ry0 - vy0, rx1 - vx0, ry1 - vy0)
    aligned, inside = undo_drift(sample, drifts, ring)
    ring_rows, ring_cols = slice(ring[1], ring[3]), slice(ring[0], ring[2])
    corrected = color_correct(aligned, original[ring_rows, ring_cols], comp[ring_rows, ring_cols],
                              settings.color_ring_px, valid=inside.all(dim=0))
    target = corrected[:, wy0 - ry0:wy1 - ry0, wx0 - rx0:wx1 - rx0]
    rows, cols = slice(wy0 - vy0, wy1 - vy0), slice(wx0 - vx0, wx1 - vx0)
    mask = change_mask(target, original[rows, cols], comp[rows, cols], settings.change)
    pixels = seamless_blend(target.to(current.dtype), current[:, wy0:wy1, wx0:wx1, :target.shape[-1]], mask)
    return RegionComposite(win, pixels, mask, [d.moved(vx0, vy0) for d in drifts])
