"""FluxFill Crop and FluxFill Stitch: the Inpainter's two stages as nodes for custom sampling graphs."""

from __future__ import annotations

import json
from dataclasses import replace

import comfy.model_management
import torch
from comfy_api.latest import io

from ..crop_stitch import GREY, crops_by_region, prefill, resize_hwc, to_rgb
from .crop_stage import CropStage, crop_images, crop_stage
from .fill_model import crop_filler
from .inputs import InputError, check_image
from .option_schema import OptionsType, crop_widgets
from .option_values import InpaintOptions
from .static_checks import first_error, out_of_range, snap_multiple
from .types import INPAINT
from .ui import regions_ui

CROP_NODE = "FluxFill Crop"
STITCH_NODE = "FluxFill Stitch"
StitcherType = io.Custom("FFI_STITCHER")
EMPTY_CROP_SIDE = 64
SNAP_MIN, SNAP_MAX = 8, 128


def _empty_crop(stage: CropStage, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """No masked pixels: a small thumbnail with an all-zero mask keeps the downstream graph cheap."""
    side = max(multiple, EMPTY_CROP_SIDE // multiple * multiple)
    thumb = resize_hwc(to_rgb(stage.stitcher.originals[:1]), side, side, "area")
    return thumb, torch.zeros(thumb.shape[:3], dtype=thumb.dtype, device=thumb.device)


def _check_crop_options(options: InpaintOptions) -> None:
    """The Crop node only crops: options that change what is sampled belong to the Inpainter."""
    if options.mode != INPAINT:
        raise InputError(f"{CROP_NODE}: input 'options' sets mode '{options.mode}', which only the FluxFill "
                         f"Inpainter applies (it changes what is sampled); set mode 'inpaint' for the Crop node.")
    if options.reference is not None:
        raise InputError(f"{CROP_NODE}: input 'options' has a 'reference' image, which only the FluxFill "
                         f"Inpainter's spatial_concat and reference modes use; disconnect it for the Crop node.")
    if options.refine.enabled:
        raise InputError(f"{CROP_NODE}: input 'options' turns on 'refine', a second sampling pass that only the "
                         f"FluxFill Inpainter runs; turn refine off for the Crop node.")


class InpaintCrop(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_InpaintCrop",
            display_name="FluxFill Crop",
            category="inpaint/FluxFill",
            description="Crops every masked region with context, resized to one common size for the model. "
                        "Sample the crops with any graph, then feed them to FluxFill Stitch.",
            inputs=[
                io.Image.Input("image", tooltip="The image(s) to inpaint."),
                io.Mask.Input("mask", tooltip="White (1) = inpaint."),
                *crop_widgets(),
                io.Int.Input("snap", default=16, min=SNAP_MIN, max=SNAP_MAX, step=8,
                             tooltip="Crop sides are multiples of this: 16 for Flux, 8 for SD models."),
                OptionsType.Input("options", optional=True,
                                  tooltip="Advanced settings from an Inpaint Options node."),
            ],
            outputs=[
                StitcherType.Output("stitcher", display_name="stitcher", tooltip="Connect to FluxFill Stitch."),
                io.Image.Output("cropped_image", display_name="cropped_image",
                                tooltip="One crop per region, all the same size."),
                io.Mask.Output("cropped_mask", display_name="cropped_mask",
                               tooltip="What the sampler may change in each crop (the denoise mask); "
                                       "use it as the inpaint mask."),
                io.String.Output("regions", display_name="regions",
                                 tooltip="The crop plan as JSON (boxes, sizes, scales)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, snap: int | None = None) -> bool | str:
        """Queue-time: snap a multiple of 8 (and its range, which ComfyUI then leaves to us)."""
        return first_error(out_of_range(CROP_NODE, "snap", snap, SNAP_MIN, SNAP_MAX), snap_multiple(CROP_NODE, snap))

    @classmethod
    def execute(cls, image, mask, context, grow, feather, target_megapixels, snap,
                options=None) -> io.NodeOutput:
        opts = (options or InpaintOptions()).with_main_widgets(
            context=context, grow=grow, feather=feather, target_mp=target_megapixels, multiple=snap)
        _check_crop_options(opts)
        stage = crop_stage(image, mask, replace(opts, crop=replace(opts.crop, shared_target=True)), CROP_NODE,
                           clip=opts.video.clip(video_model=False))  # no model here: only a box the options set
        if stage.empty:
            crops, crop_masks = _empty_crop(stage, snap)
        else:
            batch = crop_images(stage, list(range(len(stage.plan.regions))))
            crops, crop_masks = batch.images, batch.denoise
            if opts.prefill != GREY:  # grey is what InpaintModelConditioning does downstream
                crops = prefill(crops, batch.inpaint, opts.prefill, node=CROP_NODE, filler=crop_filler(opts.fill_model))
        home = comfy.model_management.intermediate_device()
        return io.NodeOutput(stage.stitcher, crops.to(home), crop_masks.to(home), json.dumps(stage.plan.to_dict()),
                             ui=regions_ui(stage.stitcher.originals, stage.plan, cls))


class InpaintStitch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_InpaintStitch",
            display_name="FluxFill Stitch",
            category="inpaint/FluxFill",
            description="Puts inpainted crops back into the full image with a feathered blend; pixels "
                        "outside the mask and its feather band stay exactly as they were.",
            inputs=[
                StitcherType.Input("stitcher", tooltip="From FluxFill Crop."),
                io.Image.Input("inpainted_image",
                               tooltip="The sampled crops: one per region, or several variations laid "
                                       "out as ComfyUI repeats a batch (all regions, then all again: row "
                                       "j * regions + r), as the Inpainter's latent output is laid out."),
            ],
            outputs=[io.Image.Output("image", display_name="image", tooltip="Full-size results, image-major."),
                     io.Mask.Output("mask", display_name="mask",
                                    tooltip="The mask actually composited, per result (with Inpaint Options "
                                            "changed_only: only what the model changed).")],
        )

    @classmethod
    def execute(cls, stitcher, inpainted_image) -> io.NodeOutput:
        check_image(inpainted_image, STITCH_NODE, "inpainted_image")
        regions = len(stitcher.plan.regions)
        count = inpainted_image.shape[0]
        home = comfy.model_management.intermediate_device()
        if regions == 0:
            images = stitcher.originals.repeat_interleave(count, dim=0)
            return io.NodeOutput(images.to(home), torch.zeros(images.shape[:3], device=home))
        if count % regions:
            raise InputError(
                f"{STITCH_NODE}: input 'inpainted_image' has {count} images of shape "
                f"{tuple(inpainted_image.shape)}, not a multiple of the {regions} region(s) the stitcher cropped.")
        crops = crops_by_region(to_rgb(inpainted_image), regions)
        stitched = stitcher.stitch_masked(crops, count // regions)
        return io.NodeOutput(stitched.images.to(home), stitched.mask.to(home))
