"""Pure-torch crop / stitch for inpainting: masks in true pixels, region planning, blending.

No ComfyUI imports: IMAGE is [B,H,W,C] float 0..1 and MASK is [B,H,W] float (1 = inpaint).
"""

from .color import color_correct
from .components import label_components
from .crop import CropBatch, Stitcher, crop_region, crop_regions, resize_hwc, stitch
from .masks import (
    MaskSettings,
    PreparedMasks,
    composite_ramp,
    feather,
    fill_holes,
    fit_mask_to_image,
    grow,
    hipass,
    invert,
    prepare_masks,
    sanitize_mask,
    stabilize,
)
from .outpaint import Padding, extend_canvas, resolve_padding, seam_mask
from .plan import CropPlan, CropSettings, Region, plan_crops
from .prefill import PREFILL_MODES, PrefillUnavailable, opencv_available, prefill, push_pull_fill
from .preview import draw_regions_preview
from .regions import find_clusters

__all__ = [
    "CropBatch",
    "CropPlan",
    "CropSettings",
    "MaskSettings",
    "PreparedMasks",
    "Region",
    "Stitcher",
    "color_correct",
    "composite_ramp",
    "crop_region",
    "crop_regions",
    "draw_regions_preview",
    "feather",
    "fill_holes",
    "find_clusters",
    "fit_mask_to_image",
    "grow",
    "hipass",
    "invert",
    "label_components",
    "plan_crops",
    "prepare_masks",
    "resize_hwc",
    "sanitize_mask",
    "stabilize",
    "stitch",
    "PREFILL_MODES",
    "Padding",
    "PrefillUnavailable",
    "extend_canvas",
    "opencv_available",
    "prefill",
    "push_pull_fill",
    "resolve_padding",
    "seam_mask",
]
