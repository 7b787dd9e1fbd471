"""Pure-torch crop / stitch for inpainting: masks in true pixels, region planning, blending.

No ComfyUI imports: IMAGE is [B,H,W,C] float 0..1 and MASK is [B,H,W] float (1 = inpaint).
"""

from .channels import match_channels, to_rgb
from .color import color_correct
from .components import label_components
from .crop import CropBatch, crop_region, crop_regions, crops_by_region, variant_major
from .mask_windows import MaskWindows
from .masks import (
    DEFAULT_THRESHOLD,
    MaskSettings,
    PreparedMasks,
    WindowedMasks,
    broadcast_mask,
    feather_ramps,
    fill_holes,
    fit_mask_to_image,
    grow,
    hipass,
    invert,
    prepare_masks,
    prepare_windowed_masks,
    sanitize_mask,
    stabilize,
)
from .model_fill import FillGeometry, model_fill
from .outpaint import FILL_MODES, SIZE_UNITS, Padding, extend_canvas, resolve_padding, seam_mask
from .padding import PAD_MODES, padded_index
from .plan import TARGET_MODES, CropPlan, CropSettings, Region, plan_crops
from .prefill import FILL_MODEL, GREY, PREFILL_MODES, PrefillUnavailable, opencv_available, prefill, push_pull_fill
from .preview import draw_regions_preview
from .regions import find_clusters
from .resize import RESAMPLE_MODES, resize_hwc, resize_window_hwc
from .stitch import RegionMasks, Stitcher, region_masks, stitch, stitch_regions

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
    "CropBatch",
    "CropPlan",
    "CropSettings",
    "FillGeometry",
    "MaskSettings",
    "MaskWindows",
    "Padding",
    "PrefillUnavailable",
    "PreparedMasks",
    "Region",
    "RegionMasks",
    "Stitcher",
    "WindowedMasks",
    "broadcast_mask",
    "color_correct",
    "crop_region",
    "crop_regions",
    "crops_by_region",
    "draw_regions_preview",
    "extend_canvas",
    "feather_ramps",
    "fill_holes",
    "find_clusters",
    "fit_mask_to_image",
    "grow",
    "hipass",
    "invert",
    "label_components",
    "match_channels",
    "model_fill",
    "opencv_available",
    "padded_index",
    "plan_crops",
    "prefill",
    "prepare_masks",
    "prepare_windowed_masks",
    "push_pull_fill",
    "region_masks",
    "resize_hwc",
    "resize_window_hwc",
    "resolve_padding",
    "sanitize_mask",
    "seam_mask",
    "stabilize",
    "stitch",
    "stitch_regions",
    "to_rgb",
    "variant_major",
]
