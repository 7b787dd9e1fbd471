"""Crop box and target size arithmetic (plain ints; boxes are (x0, y0, x1, y1), exclusive)."""

from __future__ import annotations

import math

from .regions import Box, context_box

# scale_x and scale_y of a region may differ by at most this fraction.
ASPECT_TOLERANCE = 0.01
# How many extra pixels the aspect fit may add to the box's other side to hit the tolerance.
MAX_ASPECT_SEARCH = 64


# ComfyUI's megapixel (ImageScaleToTotalPixels): 1024 x 1024, Flux's native square.
MEGAPIXEL = 1024 * 1024


def snap(value: float, multiple: int) -> int:
    """Nearest multiple (half rounds up), at least one multiple."""
    return max(multiple, math.floor(value / multiple + 0.5) * multiple)


def snap_up(value: float, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple - 1e-9) * multiple)


def snap_down(value: float, multiple: int) -> int:
    return max(multiple, math.floor(value / multiple + 1e-9) * multiple)


def place(a0: int, a1: int, length: int, size: int) -> tuple[int, int]:
    """An interval of `length` containing [a0, a1), centred on it and kept inside [0, size)
    when it fits; longer than the image it covers the image with the excess split on both
    sides (that part is padding)."""
    extra = length - (a1 - a0)
    n0 = a0 - extra // 2
    n0 = min(max(n0, 0), size - length) if length <= size else -((length - size) // 2)
    return n0, n0 + length


def crop_box(
    mask_box: Box, height: int, width: int, factor: float, min_context: int, min_crop: int
) -> Box:
    """Context box clamped to the image, then widened to `min_crop` per side where it fits."""
    cx0, cy0, cx1, cy1 = context_box(mask_box, height, width, factor, min_context)
    x0, x1 = place(cx0, cx1, max(cx1 - cx0, min(min_crop, width)), width)
    y0, y1 = place(cy0, cy1, max(cy1 - cy0, min(min_crop, height)), height)
    return x0, y0, x1, y1


def area_target(
    bw: int, bh: int, target_mp: float, min_side: int, max_side: int, multiple: int
) -> tuple[int, int]:
    """(width, height) near target_mp megapixels with the box's aspect, sides in bounds.

    When both bounds bind (extreme aspect), the aspect is given up and the box must grow.
    Among nearby snapped sizes the one closest in aspect (then area) wins, which lets whole
    image boxes keep their size within the aspect tolerance.
    """
    lo = snap_up(min_side, multiple)
    hi = max(lo, snap_down(max_side, multiple))
    area = max(target_mp, 1e-6) * MEGAPIXEL
    ar = bw / bh
    w, h = math.sqrt(area * ar), math.sqrt(area / ar)
    k = min(1.0, hi / max(w, h))
    w, h = w * k, h * k
    k = max(1.0, lo / min(w, h))
    w, h = min(w * k, hi), min(h * k, hi)
    ar_t = w / h

    def clamp(v: int) -> int:
        return min(max(v, lo), hi)

    cands = {(clamp(snap(w, multiple)), clamp(snap(h, multiple)))}
    for vary_height in (True, False):
        side = h if vary_height else w
        k0 = math.floor(side * 0.85 / multiple)
        k1 = math.ceil(side * 1.15 / multiple)
        for k in range(max(1, k0), k1 + 1):
            s = clamp(k * multiple)
            o = clamp(snap(s * ar_t if vary_height else s / ar_t, multiple))
            cands.add((o, s) if vary_height else (s, o))

    def score(c: tuple[int, int]) -> tuple[float, tuple[int, int]]:
        aspect_err = abs(math.log(c[0] / c[1] / ar_t))
        area_err = abs(math.log(c[0] * c[1] / (w * h)))
        return aspect_err + 0.1 * area_err, c

    return min(cands, key=score)


def preferred_target(bw: int, bh: int, sizes: tuple[tuple[int, int], ...], target_mp: float,
                     multiple: int) -> tuple[int, int]:
    """The (width, height) of `sizes` (a model's trained resolutions, about 1 MP each) whose aspect is
    nearest the box's (ties: the first listed), scaled by sqrt(target_mp) and snapped to `multiple`."""
    aspect = bw / bh
    _, w, h = min((abs(aspect - w / h), w, h) for w, h in sizes)
    k = math.sqrt(max(target_mp, 1e-6))
    return snap(w * k, multiple), snap(h * k, multiple)


def aspect_mismatch(bw: int, bh: int, tw: int, th: int) -> float:
    """|scale_x / scale_y - 1| for a (bw, bh) box resized to (tw, th)."""
    return abs((tw / bw) / (th / bh) - 1.0)


def fit_aspect(box: Box, tw: int, th: int, height: int, width: int) -> Box:
    """Enlarge `box` (never shrink) so its aspect matches tw:th within ASPECT_TOLERANCE.

    Preference: the smallest enlargement that stays inside the image; else the box clamped to
    the image if that is within tolerance; else enlarge past the border (padding).
    """
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    ar_t = tw / th
    cands: list[tuple[int, int]] = []
    for extra in range(MAX_ASPECT_SEARCH + 1):
        if ar_t * bh >= bw:
            nh = bh + extra
            cands.append((max(bw, math.floor(nh * ar_t + 0.5)), nh))
        else:
            nw = bw + extra
            cands.append((nw, max(bh, math.floor(nw / ar_t + 0.5))))
    ok = [c for c in cands if aspect_mismatch(c[0], c[1], tw, th) <= ASPECT_TOLERANCE]
    inside = [c for c in ok if c[0] <= max(width, bw) and c[1] <= max(height, bh)]
    clamped = (max(bw, min(cands[0][0], width)), max(bh, min(cands[0][1], height)))
    if inside:
        nw, nh = inside[0]
    elif aspect_mismatch(clamped[0], clamped[1], tw, th) <= ASPECT_TOLERANCE:
        nw, nh = clamped
    else:
        nw, nh = ok[0] if ok else cands[0]
    nx0, nx1 = place(x0, x1, nw, width)
    ny0, ny1 = place(y0, y1, nh, height)
    return nx0, ny0, nx1, ny1


def fit_size(box: Box, tw: int, th: int, height: int, width: int) -> Box:
    """Enlarge `box` to exactly tw x th (each at least the box's own size)."""
    x0, y0, x1, y1 = box
    nx0, nx1 = place(x0, x1, max(tw, x1 - x0), width)
    ny0, ny1 = place(y0, y1, max(th, y1 - y0), height)
    return nx0, ny0, nx1, ny1
