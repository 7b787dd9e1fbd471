"""The nodes' UI message: a thumbnail with the regions' boxes, and the plan for the web extension."""

from __future__ import annotations

import json

import comfy.model_management
from comfy_api.latest import ui

from ..crop_stitch import CropPlan, draw_regions_preview


def regions_ui(originals, plan: CropPlan, cls, settings: dict | None = None) -> dict:
    """PreviewImage of the boxes drawn on a thumbnail, plus `ffi_regions`: the plan as JSON, and (the
    Inpainter) `ffi_settings`: the sampling settings the run used (nodes/auto_settings.py), as JSON."""
    preview = draw_regions_preview(originals, plan).to(comfy.model_management.intermediate_device())
    images = ui.PreviewImage(preview, cls=cls).as_dict()
    extra = {} if settings is None else {"ffi_settings": [json.dumps(settings)]}
    return {**images, "ffi_regions": [json.dumps(plan.to_dict())], **extra}
