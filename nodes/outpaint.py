"""FluxFill Outpaint Canvas: extend the image on chosen sides and mask the new area for the Inpainter."""

from __future__ import annotations

import comfy.model_management
from comfy_api.latest import io

from ..crop_stitch import FILL_MODES, SIZE_UNITS, extend_canvas, resolve_padding
from .inputs import InputError, check_image, check_mask

NODE = "FluxFill Outpaint Canvas"
MAX_PAD = 8192


def _side(name: str, where: str) -> io.Int.Input:
    return io.Int.Input(name, default=0, min=0, max=MAX_PAD, step=8,
                        tooltip=f"Pixels added {where} (units 'pixels'); with units 'factor', this side's share "
                                f"of the extra width or height (0 = do not grow this side).")


class OutpaintCanvas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_OutpaintCanvas",
            display_name="FluxFill Outpaint Canvas",
            category="inpaint/FluxFill",
            description="Extends the image on the chosen sides, pre-fills the new area from the edges, and "
                        "outputs a mask that is 1 on the new area with a feathered seam into the original. "
                        "Connect both outputs to the FluxFill Inpainter (Flux Fill outpaints well at "
                        "guidance ~30, denoise 1.0).",
            inputs=[
                io.Image.Input("image", tooltip="The image(s) to extend."),
                _side("left", "on the left"),
                _side("top", "at the top"),
                _side("right", "on the right"),
                _side("bottom", "at the bottom"),
                io.Combo.Input("units", options=list(SIZE_UNITS), default="pixels",
                               tooltip="pixels: the side values are pixels. factor: each axis with a non-zero "
                                       "side grows to 'factor' times its size, split between its two sides in "
                                       "the ratio of their values (left=1, right=1: centred)."),
                io.Float.Input("factor", default=1.5, min=1.0, max=8.0, step=0.05,
                               tooltip="Canvas size as a multiple of the image per grown axis (units 'factor')."),
                io.Combo.Input("fill", options=list(FILL_MODES), default="replicate",
                               tooltip="Pre-fill of the new area: replicate the edge pixels, reflect (mirror) "
                                       "the image, or flat grey. The model repaints it; the fill only sets "
                                       "colours for partial denoise and the concat image."),
                io.Int.Input("feather", default=32, min=0, max=1024, step=1,
                             tooltip="The mask ramps from 1 to 0 over this many pixels into the original, so "
                                     "the seam is repainted and blended (0 = hard edge)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="An optional mask of the input image (1 = inpaint), kept in the output "
                                      "mask so an object can be repainted along with the new area."),
            ],
            outputs=[
                io.Image.Output("canvas", display_name="image", tooltip="The extended image."),
                io.Mask.Output("canvas_mask", display_name="mask",
                               tooltip="1 on the new area, feathered into the original (1 = inpaint)."),
            ],
        )

    @classmethod
    def execute(cls, image, units, factor, fill, feather, mask=None, **sides: int) -> io.NodeOutput:
        """`sides`: the left, top, right and bottom widgets."""
        image = check_image(image, NODE)
        left, top, right, bottom = (sides[k] for k in ("left", "top", "right", "bottom"))
        try:
            pad = resolve_padding(image.shape[1], image.shape[2], left, top, right, bottom, units, factor)
        except ValueError as exc:
            raise InputError(f"{NODE}: {exc}") from exc
        home = comfy.model_management.intermediate_device()
        fitted = None if mask is None else check_mask(mask, image, NODE).to(home)
        canvas, canvas_mask = extend_canvas(image.to(home), pad, fill=fill, feather=feather, mask=fitted)
        return io.NodeOutput(canvas, canvas_mask)
