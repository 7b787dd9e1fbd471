"""The Inpaint Options node: its widgets' values (OptionWidgets) built into an InpaintOptions, with an
error naming the widget that is wrong. The schema is nodes/option_schema.py, the value
nodes/option_values.py."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from comfy_api.latest import io

from ..crop_stitch import DEFAULT_THRESHOLD, FILL_MODEL, GREY, PREFILL_MODES, CropSettings, MaskSettings
from .option_schema import SIDE_MAX, SIDE_MIN, OptionsType, options_inputs
from .option_values import InpaintOptions, RefineSettings, VideoSettings
from .static_checks import first_error, out_of_range, side_bounds
from .types import CHANGED_ONLY_AUTO, CHANGED_ONLY_CHOICES, EDIT_MODES, INPAINT, VIDEO_AUTO, VIDEO_CHOICES

NODE = "Inpaint Options (FluxFill)"


@dataclass(frozen=True)
class OptionWidgets:
    """The Inpaint Options node's inputs by name, with the schema's defaults (a test compares them)."""

    invert_mask: bool = False
    hipass: float = DEFAULT_THRESHOLD
    fill_holes: bool = False
    stabilize: float = 0.99
    target_mode: str = "area"
    min_side: int = 512
    max_side: int = 2048
    fixed_width: int = 1024
    fixed_height: int = 1024
    min_crop: int = 512
    min_context: int = 64
    merge_gap: int = 32
    max_regions: int = 8
    shared_target: bool = False
    pad_mode: str = "replicate"
    resample: str = "bicubic"
    color_correct: bool = False
    binarize_concat_mask: bool = True
    mode: str = INPAINT
    prefill: str = GREY
    reference: torch.Tensor | None = None
    fill_model: object | None = None
    refine: bool = False
    refine_denoise: float = 0.4
    refine_threshold: float = 0.75
    refine_max_side: int = 2048
    upscale_model: object | None = None
    changed_only: str = CHANGED_ONLY_AUTO
    video: str = VIDEO_AUTO
    track_speed: float = 8.0
    frame_window: int = 0
    frame_overlap: int = 8


def _check(w: OptionWidgets) -> None:
    """ValueError naming the widget whose value cannot work."""
    if w.min_side > w.max_side:
        raise ValueError(f"Inpaint Options: min_side ({w.min_side}) is larger than max_side ({w.max_side}).")
    if w.mode not in EDIT_MODES:
        raise ValueError(f"Inpaint Options: mode must be one of {EDIT_MODES}, got {w.mode!r}.")
    if w.changed_only not in CHANGED_ONLY_CHOICES:
        raise ValueError(f"Inpaint Options: changed_only must be one of {CHANGED_ONLY_CHOICES}, "
                         f"got {w.changed_only!r}.")
    if w.video not in VIDEO_CHOICES:
        raise ValueError(f"Inpaint Options: video must be one of {VIDEO_CHOICES}, got {w.video!r}.")
    if w.prefill not in PREFILL_MODES:
        raise ValueError(f"Inpaint Options: prefill must be one of {PREFILL_MODES}, got {w.prefill!r}.")
    if w.prefill == FILL_MODEL and w.fill_model is None:
        raise ValueError(f"Inpaint Options: prefill '{FILL_MODEL}' needs a fill model: connect a 'Load Fill Model "
                         f"(FluxFill)' node (LaMa in models/inpaint) to the 'fill_model' input.")
    reference = w.reference
    if reference is not None and (not isinstance(reference, torch.Tensor) or reference.ndim != 4):
        shape = tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
        raise ValueError(f"Inpaint Options: input 'reference' must be an IMAGE [batch, height, width, channels], "
                         f"got {shape}.")


def build_options(**widgets: object) -> InpaintOptions:
    """InpaintOptions from the Inpaint Options node's widgets by name (OptionWidgets' defaults for the
    missing ones; TypeError for an unknown name), or ValueError naming the bad one."""
    w = OptionWidgets(**widgets)
    _check(w)
    mask = MaskSettings(invert=w.invert_mask, hipass=w.hipass, fill_holes=w.fill_holes, stabilize=w.stabilize)
    crop = CropSettings(target_mode=w.target_mode, min_side=w.min_side, max_side=w.max_side,
                        fixed_width=w.fixed_width, fixed_height=w.fixed_height, min_crop_px=w.min_crop,
                        min_context_px=w.min_context, merge_gap_px=w.merge_gap, max_regions=w.max_regions,
                        shared_target=w.shared_target, pad_mode=w.pad_mode)
    return InpaintOptions(mask=mask, crop=crop, resample=w.resample, color_correct=w.color_correct,
                          binarize_concat_mask=w.binarize_concat_mask, mode=w.mode, prefill=w.prefill,
                          reference=w.reference, fill_model=w.fill_model, upscale_model=w.upscale_model,
                          refine=RefineSettings(w.refine, w.refine_denoise, w.refine_threshold, w.refine_max_side),
                          changed_only=w.changed_only,
                          video=VideoSettings(w.video, w.track_speed, w.frame_window, w.frame_overlap))


class InpaintOptionsNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_InpaintOptions",
            display_name="Inpaint Options (FluxFill)",
            category="inpaint/FluxFill",
            description="Advanced mask, crop and stitch settings for the FluxFill Inpainter and the "
                        "FluxFill Crop node, and the Inpainter's edit mode (channel_edit, spatial_concat, "
                        "reference, repaint) and pre-fill.",
            inputs=options_inputs(),
            outputs=[OptionsType.Output("options", display_name="options", tooltip="Connect to the options input.")],
        )

    @classmethod
    def validate_inputs(cls, min_side: int | None = None, max_side: int | None = None) -> bool | str:
        """Queue-time: min_side above max_side (and their ranges, which ComfyUI then leaves to us)."""
        return first_error(out_of_range(NODE, "min_side", min_side, SIDE_MIN, SIDE_MAX),
                           out_of_range(NODE, "max_side", max_side, SIDE_MIN, SIDE_MAX),
                           side_bounds(NODE, min_side, max_side))

    @classmethod
    def execute(cls, **widgets) -> io.NodeOutput:
        return io.NodeOutput(build_options(**widgets))
