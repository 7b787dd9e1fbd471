"""Crop planning: where to crop each masked region and at what size to sample it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor

from .mask_windows import MaskWindows
from .padding import PAD_MODES
from .regions import Box, find_clusters
from .sizing import area_target, crop_box, fit_aspect, fit_size, preferred_target, snap, snap_up

TARGET_MODES = ("area", "fixed", "none")
PLAN_VERSION = 1


@dataclass
class CropSettings:
    """How regions are found, how much context they get and the size they are sampled at."""

    context_factor: float = 1.0
    min_context_px: int = 64
    min_crop_px: int = 512
    merge_gap_px: int = 32
    max_regions: int = 8
    target_mode: str = "area"  # "area" | "fixed" | "none"
    target_mp: float = 1.0
    min_side: int = 512
    max_side: int = 2048
    multiple: int = 16
    fixed_width: int = 1024
    fixed_height: int = 1024
    pad_mode: str = "replicate"  # or "reflect"
    shared_target: bool = False
    # A model's trained (width, height)s at about 1 MP (Flux Kontext's): "area" picks the one nearest
    # the box's aspect, scaled to target_mp, instead of the box's own aspect.
    preferred_sizes: tuple[tuple[int, int], ...] = ()

    def validate(self) -> None:
        """Raise ValueError on settings no plan can honour."""
        if self.target_mode not in TARGET_MODES:
            raise ValueError(f"target_mode must be one of {TARGET_MODES}, got {self.target_mode!r}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        if self.multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {self.multiple}")
        if self.min_side > self.max_side:
            raise ValueError(f"min_side {self.min_side} exceeds max_side {self.max_side}")
        if self.target_mp <= 0:
            raise ValueError(f"target_mp must be > 0, got {self.target_mp}")
        if self.context_factor < 0 or self.min_context_px < 0 or self.merge_gap_px < 0:
            raise ValueError("context_factor, min_context_px and merge_gap_px must be >= 0")
        if self.fixed_width < 1 or self.fixed_height < 1:
            raise ValueError("fixed_width and fixed_height must be >= 1")
        if any(w < 1 or h < 1 for w, h in self.preferred_sizes):
            raise ValueError(f"preferred_sizes must be positive (width, height) pairs, got {self.preferred_sizes}")


@dataclass(frozen=True)
class Region:
    """One crop. Boxes are (x0, y0, x1, y1), exclusive ends, in original pixels."""

    image_index: int
    box: tuple[int, int, int, int]  # may extend outside the image when padded
    mask_box: tuple[int, int, int, int]  # tight box of this cluster's denoise mask
    target: tuple[int, int]  # (width, height) the crop is sampled at
    scale: float  # target / box size (x and y agree within 1%)
    pad: tuple[int, int, int, int]  # left, top, right, bottom outside the image

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the box in original pixels, pad included."""
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def valid_box(self) -> tuple[int, int, int, int]:
        """The part of the box inside the image."""
        left, top, right, bottom = self.pad
        return self.box[0] + left, self.box[1] + top, self.box[2] - right, self.box[3] - bottom

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CropPlan:
    """All regions of a batch, in plan order (by image, then top-to-bottom, left-to-right)."""

    height: int
    width: int
    batch: int
    regions: list[Region] = field(default_factory=list)
    pad_mode: str = "replicate"  # how crop_regions fills the part of a box outside the image

    def groups_by_target(self) -> dict[tuple[int, int], list[int]]:
        """Region indices sharing a target size, in plan order (keys in first-seen order)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(self.regions):
            groups.setdefault(r.target, []).append(i)
        return groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "height": self.height,
            "width": self.width,
            "batch": self.batch,
            "pad_mode": self.pad_mode,
            "regions": [r.to_dict() for r in self.regions],
        }


def target_for(box: Box, s: CropSettings) -> tuple[int, int]:
    """The (width, height) a crop box of this size is sampled at under the settings' target mode."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    if s.target_mode == "area" and s.preferred_sizes:
        return preferred_target(bw, bh, s.preferred_sizes, s.target_mp, s.multiple)
    if s.target_mode == "area":
        return area_target(bw, bh, s.target_mp, s.min_side, s.max_side, s.multiple)
    if s.target_mode == "fixed":
        return snap(s.fixed_width, s.multiple), snap(s.fixed_height, s.multiple)
    return snap_up(bw, s.multiple), snap_up(bh, s.multiple)


def fit_box(box: Box, target: tuple[int, int], s: CropSettings, height: int, width: int) -> Box:
    """`box` enlarged (never shrunk) to the target's aspect, or to the target's size in mode "none"."""
    tw, th = target
    if s.target_mode == "none" and box[2] - box[0] <= tw and box[3] - box[1] <= th:
        return fit_size(box, tw, th, height, width)
    return fit_aspect(box, tw, th, height, width)


def make_region(b: int, box: Box, mask_box: Box, target: tuple[int, int], h: int, w: int) -> Region:
    """Region of image `b` for a final box: its scale, and its pad where the box leaves the h x w image."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    scale = round((target[0] / bw + target[1] / bh) / 2.0, 6)
    pad = (max(0, -box[0]), max(0, -box[1]), max(0, box[2] - w), max(0, box[3] - h))
    return Region(b, box, mask_box, target, scale, pad)


def plan_crops(denoise_mask: Tensor | MaskWindows, settings: CropSettings | None = None) -> CropPlan:
    """Plan crops for a [B,H,W] (or [H,W]) denoise mask, full-size or windowed; pixels > 0 are to be
    inpainted.

    Each image gets its own clusters (empty mask: none; full mask: one box = the image).
    With shared_target every region of the batch gets the target of the largest box and the
    other boxes grow to its aspect, so all crops form one IMAGE batch.
    """
    s = settings or CropSettings()
    s.validate()
    if isinstance(denoise_mask, MaskWindows):
        occupied: Tensor | MaskWindows = denoise_mask
    else:
        m = denoise_mask.unsqueeze(0) if denoise_mask.dim() == 2 else denoise_mask
        if m.dim() != 3:
            raise ValueError(f"denoise_mask must be [B,H,W] or [H,W], got {tuple(denoise_mask.shape)}")
        occupied = m > 0
    b, h, w = occupied.shape
    clusters = find_clusters(occupied, s.context_factor, s.min_context_px, s.merge_gap_px, s.max_regions)
    entries: list[tuple[int, Box, Box]] = []
    for i, boxes in enumerate(clusters):
        for mb in boxes:
            box = crop_box(mb, h, w, s.context_factor, s.min_context_px, s.min_crop_px)
            entries.append((i, mb, box))
    regions: list[Region] = []
    shared: tuple[int, int] | None = None
    if s.shared_target and entries:
        largest = max(entries, key=lambda e: (e[2][2] - e[2][0]) * (e[2][3] - e[2][1]))
        shared = target_for(largest[2], s)
    for i, mb, box in entries:
        target = shared or target_for(box, s)
        box = fit_box(box, target, s, h, w)
        regions.append(make_region(i, box, mb, target, h, w))
    return CropPlan(height=h, width=w, batch=b, regions=regions, pad_mode=s.pad_mode)
