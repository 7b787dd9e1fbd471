"""Mask preparation in true pixels: sanitize, fit, grow, feather, fill holes, denoise/composite.

MASK tensors are [B,H,W] float with 1 = inpaint, as in ComfyUI. Nothing here mutates its
inputs, and every op runs on the input's device and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .mask_windows import MaskWindows, level_windows
from .morphology import above_minimum_windows, bounded_sq_distance, dilate_disk, erode_disk, fill_holes_window, windowed

DEFAULT_NODE = "FluxFill Inpainter"


def _as_float(mask: Tensor) -> Tensor:
    return mask if mask.is_floating_point() else mask.float()


def _batched(mask: Tensor) -> tuple[Tensor, bool]:
    """View a [H,W] or [B,H,W] mask as [B,H,W]; the flag says whether it was 2-D."""
    if mask.dim() == 2:
        return mask.unsqueeze(0), True
    if mask.dim() != 3:
        raise ValueError(f"expected a mask of shape [H,W] or [B,H,W], got {tuple(mask.shape)}")
    return mask, False


def _unbatched(mask: Tensor, was_2d: bool) -> Tensor:
    return mask[0] if was_2d else mask


def sanitize_mask(mask: Tensor) -> Tensor:
    """NaN -> 0, +Inf -> 1, -Inf -> 0, then clamp to [0, 1]. Returns a new float tensor."""
    m = _as_float(mask)
    return torch.nan_to_num(m, nan=0.0, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)


def _already_clean(mask: Tensor, dtype: torch.dtype) -> bool:
    """True when `mask` is of `dtype` with every value in [0, 1]: sanitizing it would only copy it."""
    if mask.dtype != dtype or mask.numel() == 0:
        return False
    low, high = torch.aminmax(mask)  # NaN propagates into both
    return bool(low >= 0) and bool(high <= 1)


def is_empty_mask(mask: Tensor) -> bool:
    """True when no value of `mask` is above 0 (NaN and negative values count as 0), or it has no pixels."""
    if mask.numel() == 0:
        return True
    return not bool(torch.nan_to_num(_as_float(mask), nan=0.0, posinf=1.0, neginf=0.0).gt(0).any())


def fit_mask_to_image(mask: Tensor, image: Tensor, node: str = DEFAULT_NODE) -> Tensor:
    """Bring a [H,W] or [B,H,W] mask to the [B,H,W] of an IMAGE [B,H,W,C].

    A batch of 1 is broadcast (a view: one mask stays one); a same-aspect size is resized bilinearly; an empty
    mask (no value above 0, NaN counted as 0) of any size and batch is an all-zero mask of the image's size (core
    LoadImage gives a 64x64 zero mask for an image without alpha); anything else raises ValueError naming the
    node, the `mask` input and both shapes. A mask that already fits, in the image's dtype with values in [0, 1],
    comes back as is (no copy): never modify the result in place.
    """
    b, h, w = image.shape[0], image.shape[1], image.shape[2]
    shapes = f"mask {tuple(mask.shape)} vs image {tuple(image.shape)}"
    if mask.dim() not in (2, 3):
        raise ValueError(f"{node}: input 'mask' must be [H,W] or [B,H,W]; got {shapes}")
    m = mask.unsqueeze(0) if mask.dim() == 2 else mask
    fits = (m.shape[1], m.shape[2]) == (h, w) and m.shape[0] in (1, b)  # as is, or broadcast: no full-size scan
    if not fits and is_empty_mask(m):
        dtype = image.dtype if image.is_floating_point() else torch.float32
        return torch.zeros((b, h, w), dtype=dtype, device=image.device)
    if m.shape[0] not in (1, b):
        raise ValueError(
            f"{node}: input 'mask' has batch {m.shape[0]} but the image batch is {b} ({shapes}); "
            f"connect a mask batch of 1 or {b}"
        )
    dtype = image.dtype if image.is_floating_point() else torch.float32
    m = m.to(device=image.device)
    if not _already_clean(m, dtype):
        m = sanitize_mask(m).to(dtype)
    mh, mw = m.shape[1], m.shape[2]
    if (mh, mw) != (h, w):
        if mh == 0 or mw == 0 or abs(mw * h / mh - w) > 1.0 or abs(mh * w / mw - h) > 1.0:
            raise ValueError(
                f"{node}: input 'mask' size {mw}x{mh} does not match the image size {w}x{h} "
                f"and has a different aspect ratio ({shapes})"
            )
        work = m if m.dtype in (torch.float32, torch.float64) else m.float()
        down = mh > h or mw > w
        work = F.interpolate(
            work.unsqueeze(1), size=(h, w), mode="bilinear", align_corners=False, antialias=down
        )
        m = work.squeeze(1).clamp(0.0, 1.0).to(dtype)
    return broadcast_mask(m, b, h, w, name=f"{node}: input 'mask'")  # one mask stays one: a broadcast view


def broadcast_mask(mask: Tensor, batch: int, height: int, width: int, *, name: str = "mask",
                   device: torch.device | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """A [H,W] or [B|1,H,W] mask as [batch,height,width] (a view where it can be), or ValueError.

    The one place masks are checked against and broadcast to their images; `name` starts the error.
    """
    m = mask.unsqueeze(0) if mask.dim() == 2 else mask
    if m.dim() != 3 or tuple(m.shape[1:]) != (height, width) or m.shape[0] not in (1, batch):
        raise ValueError(f"{name} of shape {tuple(mask.shape)} does not fit the images "
                         f"[{batch},{height},{width}] (batch 1 or {batch}, same height and width)")
    m = m.to(device=device or m.device, dtype=dtype or m.dtype)
    return m.expand(batch, height, width) if m.shape[0] != batch else m


def fitted_windows(mask: Tensor | MaskWindows, batch: int, height: int, width: int, *, name: str,
                   device: torch.device | None = None, dtype: torch.dtype | None = None) -> MaskWindows:
    """A full-size or windowed mask for `batch` images of height x width, as windows (a tensor is
    broadcast as broadcast_mask does; windows are checked), or ValueError starting with `name`."""
    if isinstance(mask, MaskWindows):
        if mask.shape[1:] != (height, width) or mask.batch not in (1, batch):
            raise ValueError(f"{name} of shape {mask.shape} does not fit the images [{batch},{height},{width}]")
        return mask
    return MaskWindows.whole(broadcast_mask(mask, batch, height, width, name=name, device=device, dtype=dtype))


def grow(mask: Tensor, px: int) -> Tensor:
    """Grey dilation by a Euclidean disk of radius |px| (erosion when px < 0), replicate borders.

    A single pixel grown by N becomes exactly the disk of radius N. Accepts [H,W] or [B,H,W].
    """
    m, was_2d = _batched(_as_float(mask))
    r = abs(int(px))
    if r == 0:
        return _unbatched(m.clone(), was_2d)
    op = dilate_disk if px > 0 else erode_disk
    out = windowed(m, r, lambda t: op(t, r))
    return _unbatched(out, was_2d)


def fill_holes(mask: Tensor) -> Tensor:
    """Grey-level hole filling (reconstruction by erosion from the image border).

    A hole enclosed by a ring of level 0.6 becomes 0.6; for binary masks this is the classic
    fill (background is 4-connected, like scipy's binary_fill_holes). Accepts [H,W] or [B,H,W].
    """
    m, was_2d = _batched(_as_float(mask))
    return _unbatched(windowed(m, 1, fill_holes_window), was_2d)


def invert(mask: Tensor) -> Tensor:
    """1 - mask."""
    return 1.0 - _as_float(mask)


def hipass(mask: Tensor, threshold: float) -> Tensor:
    """Values below `threshold` become 0 (threshold <= 0 is a no-op copy)."""
    m = _as_float(mask)
    if threshold <= 0:
        return m.clone()
    return torch.where(m < threshold, torch.zeros_like(m), m)


def stabilize(mask: Tensor, threshold: float = 0.99) -> Tensor:
    """Values >= `threshold` become 1, so a nearly opaque mask never lets the original show.

    threshold <= 0 or > 1 is a no-op copy (0 would otherwise turn the whole mask to 1).
    """
    m = _as_float(mask)
    if threshold <= 0 or threshold > 1:
        return m.clone()
    return torch.where(m >= threshold, torch.ones_like(m), m)


# Mask values below this are dropped by default: JPEG and antialiasing leave faint specks that
# would otherwise become regions of their own (peer packs use the same 0.1).
DEFAULT_THRESHOLD = 0.1


@dataclass
class MaskSettings:
    """User-facing mask options, all in original-image pixels."""

    invert: bool = False
    hipass: float = DEFAULT_THRESHOLD
    fill_holes: bool = False
    stabilize: float = 0.99
    grow_px: int = 0
    feather_px: int = 16


@dataclass
class PreparedMasks:
    """Three [B,H,W] masks in original pixels.

    inpaint: the user's mask after the options and `grow` (what is greyed and given to concat models).
    denoise: what the sampler may change: `inpaint`, plus a gradient over the feather band.
    composite: what the stitch blends: never above `denoise`, 0 wherever `denoise` is 0.
    """

    inpaint: Tensor
    denoise: Tensor
    composite: Tensor


def _ramps(m: Tensor, px: int) -> tuple[Tensor, Tensor]:
    """feather_ramps on one window (replicate borders; see `windowed` for why windows are exact)."""
    reach = dilate_disk(m, px)
    d2 = bounded_sq_distance(m > 0, px)
    t = (1.0 - torch.sqrt(d2) / (px + 1)).clamp(0.0, 1.0)
    t = torch.where(d2 <= px * px, t, torch.zeros_like(t)).to(m.dtype)
    denoise = torch.maximum(m, reach * (2.0 * t - t * t))
    return denoise, reach * (t * t * (3.0 - 2.0 * t))


def feather_ramps(mask: Tensor, px: int) -> tuple[Tensor, Tensor]:
    """(denoise, composite) for a prepared [B,H,W] mask and a feather band of `px` pixels.

    With t = 1 - d / (px + 1) (d: Euclidean distance to the mask's support, so t = 1 on it and t = 0
    beyond px) and M = the mask grey-dilated by px (its largest value within reach):
    denoise = max(mask, M * (2t - t^2)), a gradient differential diffusion acts on over the whole band;
    composite = M * smoothstep(t). smoothstep(t) <= 2t - t^2 on [0, 1], so composite <= denoise, and
    both are > 0 exactly within px of the support. Work is done on windows around the mask only.
    """
    m = _as_float(mask)
    denoise, composite = m.clone(), m.clone()
    if px <= 0 or m.numel() == 0:
        return denoise, composite
    for y0, y1, x0, x1 in above_minimum_windows(m, px):
        denoise[:, y0:y1, x0:x1], composite[:, y0:y1, x0:x1] = _ramps(m[:, y0:y1, x0:x1], px)
    return denoise, composite


def mask_chain(mask: Tensor, settings: MaskSettings) -> PreparedMasks:
    """sanitize -> invert -> hipass -> fill_holes -> stabilize -> grow, then the feather ramps, on the
    whole [B,H,W] tensor given (prepare_windowed_masks runs it on windows around the mask)."""
    s = settings
    m = sanitize_mask(mask)
    if s.invert:
        m = invert(m)
    if s.hipass > 0:
        m = hipass(m, s.hipass)
    if s.fill_holes:
        m = fill_holes(m)
    m = stabilize(m, s.stabilize)
    if s.grow_px:
        m = grow(m, s.grow_px)
    denoise, composite = feather_ramps(m, max(0, int(s.feather_px)))
    return PreparedMasks(inpaint=m, denoise=denoise, composite=composite)


@dataclass(frozen=True)
class WindowedMasks:
    """The three masks of PreparedMasks, kept as windows around the mask (see MaskWindows)."""

    inpaint: MaskWindows
    denoise: MaskWindows
    composite: MaskWindows

    def full(self) -> PreparedMasks:
        return PreparedMasks(self.inpaint.full(), self.denoise.full(), self.composite.full())


def prepare_windowed_masks(mask: Tensor, settings: MaskSettings | None = None) -> WindowedMasks:
    """The three masks of `mask_chain`, computed and kept only on windows around the mask's pixels.

    See `feather_ramps`: composite > 0 implies denoise > 0, composite <= denoise everywhere, and both
    are exactly 0 farther than grow + feather_px from the mask. Each window reaches grow + feather + 2
    pixels past the mask and holds whole mask components, so every local op sees exactly what it would
    on the full image (the work is proportional to the mask's area, not the image's: one tile scan
    finds the windows); `invert` turns the background on and runs on the whole image.
    """
    s = settings or MaskSettings()
    m, _ = _batched(_as_float(mask))
    if s.invert or m.numel() == 0:
        part = mask_chain(m, s)
        return WindowedMasks(*(MaskWindows.whole(t) for t in (part.inpaint, part.denoise, part.composite)))
    level = max(float(s.hipass), 1e-12)  # as sanitize_mask will have it: NaN and -inf are off, +inf is on
    reach = max(0, int(s.grow_px)) + max(0, int(s.feather_px)) + 2
    windows = tuple(level_windows(m, level, reach))
    parts = [mask_chain(m[:, y0:y1, x0:x1], s) for y0, y1, x0, x1 in windows]
    b, h, w = m.shape

    def kept(kind: str) -> MaskWindows:
        return MaskWindows(b, h, w, windows, tuple(getattr(p, kind) for p in parts))

    if not windows:  # nothing reaches the threshold: one empty window keeps dtype and device known
        empty = MaskWindows(b, h, w, ((0, 0, 0, 0),), (m[:, :0, :0].clone(),))
        return WindowedMasks(empty, empty, empty)
    return WindowedMasks(kept("inpaint"), kept("denoise"), kept("composite"))


def prepare_masks(mask: Tensor, settings: MaskSettings | None = None) -> PreparedMasks:
    """`prepare_windowed_masks` as three full-size [B,H,W] masks in original pixels."""
    return prepare_windowed_masks(mask, settings).full()
