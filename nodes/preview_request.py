"""Request handling for the crop-preview route: value ranges from the node schemas, the image read as
its size and 8-bit alpha only (cached by path + mtime + size), and a small limit on concurrent plans.

Kept apart from `plan_preview_route.py` (what is planned) so the route's checks and costs have one home.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import cache

import numpy as np
import torch
from comfy_api.latest import io

from .option_schema import crop_widgets, options_inputs

MULTIPLE_RANGE = (int, 1, 128)  # the crop multiple comes from the model family, not a widget
CONCURRENT_PLANS = 2  # plans computed at once; further requests wait up to QUEUE_WAIT_S, then get 429
QUEUE_WAIT_S = 10.0
CACHE_ENTRIES = 4


@cache
def schema_ranges() -> dict[str, tuple[type, float, float]]:
    """name -> (int | float, min, max) of every number widget of the main node's crop widgets and of
    Inpaint Options, read from the node schemas (the one source of the ranges)."""
    out: dict[str, tuple[type, float, float]] = {}
    for widget in [*crop_widgets(automatic_size=True), *options_inputs()]:  # the main node's crop widgets
        if isinstance(widget, io.Int.Input):
            out[widget.id] = (int, widget.min, widget.max)
        elif isinstance(widget, io.Float.Input):
            out[widget.id] = (float, widget.min, widget.max)
    return out


class _Decoded:
    __slots__ = ("alpha", "height", "width")

    def __init__(self, width: int, height: int, alpha: np.ndarray | None):
        self.width, self.height, self.alpha = width, height, alpha  # alpha: uint8 [frames, H, W] or None


_cache: OrderedDict[tuple, _Decoded] = OrderedDict()
_cache_lock = threading.Lock()
_plans = threading.BoundedSemaphore(CONCURRENT_PLANS)


def _decode(path: str) -> _Decoded:
    """The frames' size and 8-bit alpha the way core LoadImage reads them (EXIF-rotated, frames of the
    first frame's size, MPO: first frame only; alpha from 'A' or a palette's transparency)."""
    from PIL import Image, ImageOps, ImageSequence

    alphas: list[np.ndarray] = []
    has_alpha = False
    size = None
    with Image.open(path) as img:
        for frame in ImageSequence.Iterator(img):
            frame = ImageOps.exif_transpose(frame)
            if size is None:
                size = frame.size
            if frame.size != size:
                continue
            if "A" in frame.getbands():
                alphas.append(np.asarray(frame.getchannel("A"), dtype=np.uint8))
                has_alpha = True
            elif frame.mode == "P" and "transparency" in frame.info:
                alphas.append(np.asarray(frame.convert("RGBA").getchannel("A"), dtype=np.uint8))
                has_alpha = True
            else:
                alphas.append(np.empty(0, np.uint8))
            if img.format == "MPO":
                break
    width, height = size
    if not has_alpha:
        return _Decoded(width, height, None if len(alphas) == 1 else np.full((len(alphas), 1, 1), 255, np.uint8))
    return _Decoded(width, height, np.stack([a if a.size else np.full((height, width), 255, np.uint8)
                                             for a in alphas]))


def read_mask(path: str, mtime_ns: int, size: int) -> _Decoded:
    """The decoded size and alpha of `path`, cached by (path, mtime, size): a re-sent preview of the same
    file decodes nothing."""
    key = (path, mtime_ns, size)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    decoded = _decode(path)
    with _cache_lock:
        _cache[key] = decoded
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return decoded


def image_and_mask(path: str, mtime_ns: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A stand-in IMAGE of the file's shape (a broadcast view of one black pixel: the plan reads only its
    size) and the MASK core LoadImage makes (1 - alpha / 255; 64x64 zeros without alpha)."""
    d = read_mask(path, mtime_ns, size)
    frames = 1 if d.alpha is None else d.alpha.shape[0]
    image = torch.zeros(1, 1, 1, 3).expand(frames, d.height, d.width, 3)
    if d.alpha is None or d.alpha.shape[1:] == (1, 1):
        return image, torch.zeros(frames, 64, 64)
    return image, 1.0 - torch.from_numpy(d.alpha).float() / 255.0


class Busy(Exception):
    """Too many previews are being planned at once."""


class plan_slot:
    """Context manager: one of CONCURRENT_PLANS slots, or Busy after QUEUE_WAIT_S."""

    def __enter__(self) -> None:
        if not _plans.acquire(timeout=QUEUE_WAIT_S):
            raise Busy(f"more than {CONCURRENT_PLANS} crop previews at once; try again")

    def __exit__(self, *exc: object) -> None:
        _plans.release()
