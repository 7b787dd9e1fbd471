"""Inpaint Options as values: what the Crop, Stitch and Inpainter nodes read beyond their own widgets.

The schema (widgets, tooltips) is nodes/option_schema.py; the node that builds these values from its
widgets is nodes/options.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..crop_stitch import GREY, ClipSettings, CropSettings, MaskSettings
from .types import (
    CHANGED_ONLY_AUTO,
    CHANGED_ONLY_ON,
    INPAINT,
    RERENDERING_MODES,
    VIDEO_AUTO,
    VIDEO_TRACK,
    VIDEO_UNION,
)


@dataclass(frozen=True)
class RefineSettings:
    """Two-pass refine (nodes/refine.py): regions sampled at less than `threshold` of their crop's size are
    upscaled to min(crop size, `max_side`) after the first pass and sampled again at `denoise`."""

    enabled: bool = False
    denoise: float = 0.4
    threshold: float = 0.75
    max_side: int = 2048


@dataclass(frozen=True)
class VideoSettings:
    """How a batch of frames is cropped and sampled (Inpaint Options `video`, `track_speed`, `frame_window`,
    `frame_overlap`; nodes/clip_sampling.py samples the clips of a video model)."""

    box: str = VIDEO_AUTO  # nodes/types.py VIDEO_CHOICES
    track_speed: float = 8.0  # tracked box: px per frame its centre may move
    frame_window: int = 0  # frames per sampler call; 0: the video model's own (its template's length)
    frame_overlap: int = 8  # frames consecutive windows share and crossfade over

    def clip(self, video_model: bool) -> ClipSettings | None:
        """The clip plan's settings (None: every image cropped on its own). auto: a union box for a video model."""
        if self.box == VIDEO_TRACK:
            return ClipSettings(box="track", max_speed_px=self.track_speed)
        if self.box == VIDEO_UNION or (self.box == VIDEO_AUTO and video_model):
            return ClipSettings(box="union", max_speed_px=self.track_speed)
        return None


@dataclass(frozen=True)
class InpaintOptions:
    """Everything the Crop, Stitch and Inpainter nodes read beyond their own widgets.

    `resample` applies to both directions: crops are resized to the model's size with it, and the
    inpainted crops back to their original size.
    """

    mask: MaskSettings = field(default_factory=MaskSettings)
    crop: CropSettings = field(default_factory=CropSettings)
    resample: str = "bicubic"
    color_correct: bool = False
    binarize_concat_mask: bool = True
    mode: str = INPAINT
    prefill: str = GREY
    reference: torch.Tensor | None = field(default=None, compare=False, repr=False)
    fill_model: object | None = field(default=None, compare=False, repr=False)  # nodes/fill_model.FillModel
    refine: RefineSettings = field(default_factory=RefineSettings)
    upscale_model: object | None = field(default=None, compare=False, repr=False)  # core UPSCALE_MODEL
    changed_only: str = CHANGED_ONLY_AUTO
    video: VideoSettings = field(default_factory=VideoSettings)

    @property
    def stitch_changed_only(self) -> bool:
        """The changed-only stitch: as set, or (auto) in the modes whose models re-render the whole crop."""
        return self.changed_only == CHANGED_ONLY_ON or (self.changed_only == CHANGED_ONLY_AUTO
                                                         and self.mode in RERENDERING_MODES)

    def with_main_widgets(self, *, context: float, grow: int, feather: int, target_mp: float,
                          multiple: int | None = None) -> InpaintOptions:
        """Overlay the few crop settings that live on the main node and the Crop node as widgets."""
        crop = replace(self.crop, context_factor=context, target_mp=target_mp,
                       multiple=multiple if multiple is not None else self.crop.multiple)
        return replace(self, mask=replace(self.mask, grow_px=grow, feather_px=feather), crop=crop)

    def for_model(self, multiple: int, preferred_sizes: tuple[tuple[int, int], ...] = ()) -> InpaintOptions:
        """The crop sizes the connected model needs: sides a multiple of `multiple`, and the trained sizes
        crops snap to (nodes/modes.py crop_sizes)."""
        return replace(self, crop=replace(self.crop, multiple=multiple, preferred_sizes=preferred_sizes))
