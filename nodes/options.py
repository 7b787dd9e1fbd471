"""Inpaint Options node: the settings users touch rarely, kept off the main node."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from comfy_api.latest import io

from ..crop_stitch import CropSettings, MaskSettings

OptionsType = io.Custom("FFI_OPTIONS")

TARGET_MODES = ["area", "fixed", "none"]
RESAMPLE_MODES = ["bicubic", "bilinear", "area", "nearest-exact"]
PAD_MODES = ["replicate", "reflect"]


@dataclass(frozen=True)
class InpaintOptions:
    """Everything the Crop, Stitch and Inpainter nodes read beyond their own widgets."""

    mask: MaskSettings = field(default_factory=MaskSettings)
    crop: CropSettings = field(default_factory=CropSettings)
    resample: str = "bicubic"
    color_correct: bool = False
    binarize_concat_mask: bool = True

    def with_main_widgets(self, *, context: float, grow: int, feather: int, target_mp: float,
                          multiple: int | None = None) -> InpaintOptions:
        """Overlay the few crop settings that live on the main node as widgets."""
        crop = replace(self.crop, context_factor=context, target_mp=target_mp,
                       multiple=multiple if multiple is not None else self.crop.multiple)
        return replace(self, mask=replace(self.mask, grow_px=grow, feather_px=feather), crop=crop)


def options_inputs() -> list:
    return [
        io.Boolean.Input("invert_mask", default=False,
                         tooltip="Invert the mask first: use for masks in the 1 = keep convention."),
        io.Float.Input("hipass", default=0.0, min=0.0, max=1.0, step=0.01,
                       tooltip="Mask values below this become 0 (drops faint brush strokes)."),
        io.Boolean.Input("fill_holes", default=False,
                         tooltip="Fill enclosed holes in the mask, keeping the surrounding grey level."),
        io.Float.Input("stabilize", default=0.99, min=0.5, max=1.0, step=0.01,
                       tooltip="Mask values at or above this become 1, so a nearly opaque mask "
                               "cannot let the original show through."),
        io.Combo.Input("target_mode", options=TARGET_MODES, default="area",
                       tooltip="area: keep the crop's aspect ratio at the target megapixels; "
                               "fixed: resize every crop to fixed_width x fixed_height; none: no resize."),
        io.Int.Input("min_side", default=512, min=64, max=8192, step=8,
                     tooltip="Smallest side of a resized crop, in pixels."),
        io.Int.Input("max_side", default=2048, min=64, max=8192, step=8,
                     tooltip="Largest side of a resized crop, in pixels."),
        io.Int.Input("fixed_width", default=1024, min=64, max=8192, step=8,
                     tooltip="Crop width when target_mode is fixed."),
        io.Int.Input("fixed_height", default=1024, min=64, max=8192, step=8,
                     tooltip="Crop height when target_mode is fixed."),
        io.Int.Input("min_crop", default=512, min=0, max=8192, step=8,
                     tooltip="Each crop covers at least this many original pixels per side when "
                             "the image allows (context for the model)."),
        io.Int.Input("min_context", default=64, min=0, max=4096, step=8,
                     tooltip="At least this many pixels of context around each masked region."),
        io.Int.Input("merge_gap", default=32, min=0, max=4096, step=8,
                     tooltip="Regions whose crops overlap or lie closer than this are merged into one."),
        io.Int.Input("max_regions", default=8, min=1, max=64,
                     tooltip="Upper bound on regions per image; the closest regions merge beyond it."),
        io.Boolean.Input("shared_target", default=False,
                         tooltip="Give every region the same crop size (one sampler call, one latent "
                                 "batch) by widening crops to a common aspect ratio."),
        io.Combo.Input("pad_mode", options=PAD_MODES, default="replicate",
                       tooltip="How a crop larger than the image is padded (the pad is never masked)."),
        io.Combo.Input("resample", options=RESAMPLE_MODES, default="bicubic",
                       tooltip="Resampling used to resize image crops (masks always use bilinear)."),
        io.Boolean.Input("color_correct", default=False,
                         tooltip="Match colour and tone of the inpainted area to its surroundings with "
                                 "a smooth, spatially varying correction fitted just outside the mask."),
        io.Boolean.Input("binarize_concat_mask", default=True,
                         tooltip="Give Flux Fill a binary mask in its concat channels, as its reference "
                                 "pipeline does; the soft mask still drives the noise mask."),
    ]


def build_options(invert_mask: bool = False, hipass: float = 0.0, fill_holes: bool = False,
                  stabilize: float = 0.99, target_mode: str = "area", min_side: int = 512,
                  max_side: int = 2048, fixed_width: int = 1024, fixed_height: int = 1024,
                  min_crop: int = 512, min_context: int = 64, merge_gap: int = 32, max_regions: int = 8,
                  shared_target: bool = False, pad_mode: str = "replicate", resample: str = "bicubic",
                  color_correct: bool = False, binarize_concat_mask: bool = True) -> InpaintOptions:
    if min_side > max_side:
        raise ValueError(f"Inpaint Options: min_side ({min_side}) is larger than max_side ({max_side}).")
    mask = MaskSettings(invert=invert_mask, hipass=hipass, fill_holes=fill_holes, stabilize=stabilize)
    crop = CropSettings(target_mode=target_mode, min_side=min_side, max_side=max_side,
                        fixed_width=fixed_width, fixed_height=fixed_height, min_crop_px=min_crop,
                        min_context_px=min_context, merge_gap_px=merge_gap, max_regions=max_regions,
                        shared_target=shared_target, pad_mode=pad_mode)
    return InpaintOptions(mask=mask, crop=crop, resample=resample, color_correct=color_correct,
                          binarize_concat_mask=binarize_concat_mask)


class InpaintOptionsNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_InpaintOptions",
            display_name="Inpaint Options (FluxFill)",
            category="inpaint/FluxFill",
            description="Advanced mask, crop and stitch settings for the FluxFill Inpainter and the "
                        "FluxFill Crop node.",
            inputs=options_inputs(),
            outputs=[OptionsType.Output("options", display_name="options", tooltip="Connect to the options input.")],
        )

    @classmethod
    def execute(cls, **kwargs) -> io.NodeOutput:
        return io.NodeOutput(build_options(**kwargs))
