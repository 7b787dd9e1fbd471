"""Inpaint Options as a schema: the widgets several nodes share, the Inpaint Options node's inputs, their
tooltips and every option list (read from crop_stitch/ and nodes/types.py, never repeated).

Inputs are positional in saved workflows (`widgets_values`): new ones go at the end, never reordered.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..crop_stitch import DEFAULT_THRESHOLD, GREY, PAD_MODES, PREFILL_MODES, RESAMPLE_MODES, TARGET_MODES
from .types import CHANGED_ONLY_AUTO, CHANGED_ONLY_CHOICES, EDIT_MODES, INPAINT, VIDEO_AUTO, VIDEO_CHOICES

OptionsType = io.Custom("FFI_OPTIONS")
SIDE_MIN, SIDE_MAX = 64, 8192  # min_side / max_side bounds (nodes/options.py checks them at queue time)
FillModelType = io.Custom("FFI_FILL_MODEL")  # nodes/fill_model.py outputs it

MODE_TOOLTIP = (
    "inpaint: the model's own inpaint path (Flux Fill / SD inpaint concat, else noise mask). "
    "channel_edit: Flux Fill edit (InFluxEdit): all-white concat mask and the crop NOT greyed, so the model "
    "sees the whole original; load an edit LoRA with LoraLoader before the model input; the noise mask still "
    "limits changes to the mask. "
    "spatial_concat: ACE++-style: each crop is sampled on a canvas [reference | crop] twice as wide, only the "
    "right half masked (reference = the crop itself, or the 'reference' image); lower target_megapixels to "
    "~0.5 to keep the canvas near the model's size. "
    "reference (alias: kontext): models that read reference latents (Flux Kontext / dev, Flux.2, "
    "Qwen-Image-Edit): the crop (or 'reference') is encoded and added to the positive conditioning as a "
    "reference latent (as core ReferenceLatent), the masked crop is sampled by noise mask; refused for models "
    "that would ignore it. "
    "repaint: noise mask only, no concat values, even for inpaint models (what models without inpaint "
    "channels always get): unmasked latents follow the original's noise schedule (flow-matching RePaint); "
    "there is NO learned boundary blending, so use differential diffusion and some feather. Mask "
    "convention: ComfyUI masks are 1 = inpaint; masks made for Z-Image ControlNet are 1 = keep: enable "
    "invert_mask for those.")
PREFILL_TOOLTIP = (
    "What fills the masked area of each crop before it is encoded (object removal). grey: 0.5, the core "
    "behaviour, greyed in the concat image only. blur: a smooth fill continued from the surroundings "
    "(pure torch). telea / navier_stokes: OpenCV inpainting; needs `pip install opencv-python-headless` "
    "(a clear error otherwise, no silent fallback). Non-grey fills replace the masked pixels in the concat "
    "image AND in the latent that is sampled, so denoise < 1 starts from the filled background instead of "
    "the object. fill_model: a fill network (LaMa; MAT with spandrel_extra_arches) from a 'Load Fill Model "
    "(FluxFill)' node connected to 'fill_model' (an error without one): the best start for object removal. "
    "Ignored by channel_edit (which must see the original).")


def _target_widget(automatic_size: bool):
    if automatic_size:  # the Inpainter knows the model: 0 = its family's native size
        return io.Float.Input("target_megapixels", default=0.0, min=0.0, max=16.0, step=0.01,
                              tooltip="Each crop is resized, keeping its aspect ratio, to about this many "
                                      "megapixels. 0 = automatic: the connected model family's native size "
                                      "(0.25 = 512 x 512 for SD 1.5, 1.0 = 1024 x 1024 for Flux and SDXL, "
                                      "1.68 for Qwen-Image).")
    return io.Float.Input("target_megapixels", default=1.0, min=0.01, max=16.0, step=0.01,
                          tooltip="Each crop is resized, keeping its aspect ratio, to about this many "
                                  "megapixels (1.0 = 1024 x 1024, where Flux works best).")


def crop_widgets(automatic_size: bool = False) -> list:
    """The crop settings users touch most, on the Inpainter and the Crop node (same names, same meaning;
    `automatic_size`: target_megapixels 0 means the model's native size, for the node that has a model)."""
    return [
        io.Float.Input("context", default=1.0, min=0.0, max=8.0, step=0.05,
                       tooltip="How much surrounding image each crop includes, as a multiple of the "
                               "automatic context (max(longest side / 16, half the region's size))."),
        io.Int.Input("grow", default=0, min=-512, max=512, step=1,
                     tooltip="Grow the mask by this many pixels on every side (negative shrinks)."),
        io.Int.Input("feather", default=16, min=0, max=512, step=1,
                     tooltip="Width in original pixels of the band outside the mask where the result is "
                             "blended into the image. The sampler may change this band too, with a "
                             "gradient that differential diffusion follows, so the edge is seamless."),
        _target_widget(automatic_size),
    ]


def options_inputs() -> list:
    return [
        io.Boolean.Input("invert_mask", default=False,
                         tooltip="Invert the mask first: use for masks in the 1 = keep convention."),
        io.Float.Input("hipass", default=DEFAULT_THRESHOLD, min=0.0, max=1.0, step=0.01,
                       tooltip="Mask values below this become 0: drops the faint specks JPEG and "
                               "antialiasing leave, which would otherwise become regions of their own."),
        io.Boolean.Input("fill_holes", default=False,
                         tooltip="Fill enclosed holes in the mask, keeping the surrounding grey level."),
        io.Float.Input("stabilize", default=0.99, min=0.5, max=1.0, step=0.01,
                       tooltip="Mask values at or above this become 1, so a nearly opaque mask "
                               "cannot let the original show through."),
        io.Combo.Input("target_mode", options=list(TARGET_MODES), default="area",
                       tooltip="area: keep the crop's aspect ratio at the target megapixels; "
                               "fixed: resize every crop to fixed_width x fixed_height; none: no resize."),
        io.Int.Input("min_side", default=512, min=SIDE_MIN, max=SIDE_MAX, step=8,
                     tooltip="Smallest side of a resized crop, in pixels."),
        io.Int.Input("max_side", default=2048, min=SIDE_MIN, max=SIDE_MAX, step=8,
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
        io.Combo.Input("pad_mode", options=list(PAD_MODES), default="replicate",
                       tooltip="How a crop larger than the image is padded (the pad is never masked)."),
        io.Combo.Input("resample", options=list(RESAMPLE_MODES), default="bicubic",
                       tooltip="Resampling used to resize image crops to the model's size and the "
                               "inpainted crops back (masks always use bilinear)."),
        io.Boolean.Input("color_correct", default=False,
                         tooltip="Match colour and tone of the inpainted area to its surroundings with "
                                 "a smooth, spatially varying correction fitted just outside the mask."),
        io.Boolean.Input("binarize_concat_mask", default=True,
                         tooltip="FluxFill Inpainter only: give Flux Fill a binary mask in its concat "
                                 "channels, as its reference pipeline does; the soft mask still drives the "
                                 "noise mask. (The Crop node outputs soft masks; what consumes them "
                                 "downstream decides.)"),
        # optional widgets: API graphs and workflows saved before they existed still validate (defaults apply)
        io.Combo.Input("mode", options=list(EDIT_MODES), default=INPAINT, optional=True, tooltip=MODE_TOOLTIP),
        io.Combo.Input("prefill", options=list(PREFILL_MODES), default=GREY, optional=True, tooltip=PREFILL_TOOLTIP),
        io.Image.Input("reference", optional=True,
                       tooltip="Reference image for spatial_concat and reference/kontext (resized to cover each crop, "
                               "centre-cropped; one image, or one per input image). Unconnected: the crop itself."),
        FillModelType.Input("fill_model", optional=True,
                            tooltip="A fill network from 'Load Fill Model (FluxFill)' (LaMa / MAT), used by "
                                    "prefill 'fill_model' to fill the masked area of each crop before encoding."),
        io.Boolean.Input("refine", default=False, optional=True,
                         tooltip="FluxFill Inpainter only: two-pass refine for large regions. A region whose crop "
                                 "was shrunk below refine_threshold of its size is, after the first pass, upscaled "
                                 "(bicubic, or upscale_model) to min(crop size, refine_max_side), re-encoded and "
                                 "sampled again at refine_denoise with the same masks and seed, then stitched. "
                                 "Sharper large regions, about one more sampling pass of time."),
        io.Float.Input("refine_denoise", default=0.4, min=0.01, max=1.0, step=0.01, optional=True,
                       tooltip="Denoise of the refine pass: 0.3-0.45 adds detail without changing the content."),
        io.Float.Input("refine_threshold", default=0.75, min=0.05, max=1.0, step=0.01, optional=True,
                       tooltip="Refine regions whose crop was sampled at less than this fraction of its original "
                               "size (the 'scale' in the regions output); smaller regions skip the refine pass."),
        io.Int.Input("refine_max_side", default=2048, min=64, max=8192, step=16, optional=True,
                     tooltip="Longest side of a crop in the refine pass (the crop's own size when smaller)."),
        io.UpscaleModel.Input("upscale_model", optional=True,
                              tooltip="Refine pass only: upscale the first-pass crops with this model (Load "
                                      "Upscale Model) instead of bicubic, then resize to the refine size."),
        io.Combo.Input("changed_only", options=list(CHANGED_ONLY_CHOICES), default=CHANGED_ONLY_AUTO, optional=True,
                       tooltip="Stitch back only what the model changed (for edit models, which re-render the whole "
                               "crop): undo the crop's shift / zoom measured outside the mask, correct its colours, "
                               "and blend in seamlessly only the pixels that differ from the original; the rest "
                               "of the mask keeps the original bytes. auto: on in reference / kontext mode, off "
                               "otherwise."),
        io.Combo.Input("video", options=list(VIDEO_CHOICES), default=VIDEO_AUTO, optional=True,
                       tooltip="A batch of frames as one clip: each masked region gets ONE crop for the whole clip. "
                               "union box: the box around the region's masks in every frame; tracked box: a box of "
                               "fixed size following the mask, its centre moving at most track_speed px per frame. "
                               "With a video model (Wan 2.1 / 2.2, VACE) each region's frames are sampled together "
                               "as one video latent. auto: union box with a video model, else off (every image "
                               "cropped on its own)."),
        io.Float.Input("track_speed", default=8.0, min=0.5, max=1024.0, step=0.5, optional=True,
                       tooltip="tracked box: the most pixels (original image) the box's centre moves per frame."),
        io.Int.Input("frame_window", default=0, min=0, max=4096, step=1, optional=True,
                     tooltip="Video models: the most frames sampled in one call (rounded down to 4k + 1 for Wan); "
                             "longer clips are sampled in overlapping windows. 0 = automatic: the model's own "
                             "clip length (81 for Wan 2.1, 121 for Wan 2.2 5B)."),
        io.Int.Input("frame_overlap", default=8, min=0, max=1024, step=1, optional=True,
                     tooltip="Video models: frames two consecutive windows share; the result crossfades "
                             "linearly over them."),
    ]
