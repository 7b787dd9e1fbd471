"""Stage 1 (crop and prepare) shared by the Crop node and the FluxFill Inpainter, plus input checks."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import comfy.model_management
import torch
from comfy_api.latest import ui

from ..crop_stitch import CropPlan, Stitcher, draw_regions_preview, fit_mask_to_image, plan_crops, prepare_masks
from .options import InpaintOptions

log = logging.getLogger("fluxfill_inpainter")


class InputError(ValueError):
    """A bad input, reported with the node's name, the input's name and the shapes involved."""


def check_image(image: torch.Tensor, node: str, name: str = "image") -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError(f"{node}: input '{name}' must be an IMAGE [batch, height, width, channels], got {shape}.")
    b, h, w, c = image.shape
    if b < 1 or h < 1 or w < 1 or c not in (1, 3, 4):
        raise InputError(f"{node}: input '{name}' has shape {tuple(image.shape)}; expected at least one image "
                         f"with 1, 3 or 4 channels.")
    low, high = torch.aminmax(image)  # NaN/Inf propagate: no full-size boolean temporary
    if not (torch.isfinite(low) and torch.isfinite(high)):
        raise InputError(f"{node}: input '{name}' contains NaN or infinite values (shape {tuple(image.shape)}).")
    return image


def check_mask(mask: torch.Tensor, image: torch.Tensor, node: str) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(f"{node}: input 'mask' must be a MASK [batch, height, width], got {shape} "
                         f"(image is {tuple(image.shape)}).")
    try:
        return fit_mask_to_image(mask, image, node=node)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def compute_device() -> torch.device:
    return comfy.model_management.get_torch_device()


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """What a ComfyUI VAE takes: 3 channels (grey is repeated, alpha dropped)."""
    if image.shape[-1] == 1:
        return image.expand(*image.shape[:-1], 3)
    return image[..., :3]


def match_channels(rgb: torch.Tensor, channels: int) -> torch.Tensor:
    """Inpainted RGB crops in the channel count of the original (grey = mean of RGB)."""
    if channels == 1:
        return rgb.mean(dim=-1, keepdim=True)
    return rgb


@dataclass
class CropStage:
    stitcher: Stitcher
    plan: CropPlan
    options: InpaintOptions

    @property
    def empty(self) -> bool:
        return not self.plan.regions


def crop_stage(image: torch.Tensor, mask: torch.Tensor, options: InpaintOptions, node: str) -> CropStage:
    """Validate, prepare both masks in original pixels and plan one crop per region."""
    image = check_image(image, node)
    mask = check_mask(mask, image, node)
    device = compute_device()
    originals = image.to(device)
    prepared = prepare_masks(mask.to(device=device, dtype=originals.dtype), options.mask)
    plan = plan_crops(prepared.denoise, options.crop)
    stitcher = Stitcher(originals=originals, composite=prepared.composite, denoise=prepared.denoise,
                        plan=plan, color_correct=options.color_correct)
    if plan.regions:
        sizes = sorted({r.target for r in plan.regions})
        log.info("%s: %d region(s) in %d image(s), crop sizes %s", node, len(plan.regions),
                 image.shape[0], sizes)
    else:
        log.info("%s: the mask is empty; returning the input image untouched, nothing sampled", node)
    return CropStage(stitcher=stitcher, plan=plan, options=options)


def crop_images(stage: CropStage, region_indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Resized RGB crops and their denoise masks for regions that share one target size."""
    from ..crop_stitch import crop_regions

    s = stage.stitcher
    batch = crop_regions(s.originals, s.denoise, s.composite, stage.plan, region_indices,
                         resample=stage.options.resample)
    return to_rgb(batch.images), batch.denoise


def intermediate(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(comfy.model_management.intermediate_device())


def regions_ui(stage: CropStage, cls) -> dict:
    """The node's UI message: the regions preview (boxes on a thumbnail) and the plan for the summary."""
    preview = draw_regions_preview(stage.stitcher.originals, stage.plan)
    images = ui.PreviewImage(intermediate(preview), cls=cls).as_dict()
    return {**images, "ffi_regions": [json.dumps(stage.plan.to_dict())]}
