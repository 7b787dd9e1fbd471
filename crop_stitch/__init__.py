"""Pure-torch crop / stitch for inpainting: masks in true pixels, region planning, blending.

No ComfyUI imports: IMAGE is [B,H,W,C] float 0..1 and MASK is [B,H,W] float (1 = inpaint).

The names below are what nodes/ uses (tests/unit/test_architecture.py checks both ways); everything
else is reached through its module (crop_stitch.masks, .plan, .stitch, ...).
"""

from .changed_only import ChangedOnly
from .channels import to_rgb
from .clip_frames import blend_windows, frame_windows, whole_length
from .clip_plan import ClipRegion, ClipSettings, plan_clip
from .crop import CropBatch, crop_regions
from .layout import crops_by_region, variant_major
from .mask_windows import MaskWindows
from .masks import DEFAULT_THRESHOLD, MaskSettings, fit_mask_to_image, prepare_windowed_masks
from .model_fill import FillGeometry, model_fill
from .outpaint import FILL_MODES, SIZE_UNITS, extend_canvas, resolve_padding
from .padding import PAD_MODES
from .plan import TARGET_MODES, CropPlan, CropSettings, plan_crops
from .prefill import FILL_MODEL, GREY, PREFILL_MODES, prefill
from .preview import draw_regions_preview
from .resize import RESAMPLE_MODES, resize_hwc
from .sizing import snap
from .stitch import Stitcher

__all__ = [
    "DEFAULT_THRESHOLD",
    "FILL_MODEL",
    "FILL_MODES",
    "GREY",
    "PAD_MODES",
    "PREFILL_MODES",
    "RESAMPLE_MODES",
    "SIZE_UNITS",
    "TARGET_MODES",
    "ChangedOnly",
    "ClipRegion",
    "ClipSettings",
    "CropBatch",
    "CropPlan",
    "CropSettings",
    "FillGeometry",
    "MaskSettings",
    "MaskWindows",
    "Stitcher",
    "blend_windows",
    "crop_regions",
    "crops_by_region",
    "draw_regions_preview",
    "extend_canvas",
    "fit_mask_to_image",
    "frame_windows",
    "model_fill",
    "plan_clip",
    "plan_crops",
    "prefill",
    "prepare_windowed_masks",
    "resize_hwc",
    "resolve_padding",
    "snap",
    "to_rgb",
    "variant_major",
    "whole_length",
]
