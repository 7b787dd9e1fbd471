"""Node glue: schemas, input checks, and calls into crop_stitch/ and diff_attention/."""

from comfy_api.latest import ComfyExtension, io

from .crop_nodes import InpaintCrop, InpaintStitch
from .fill_model import FillModelLoader
from .inpainter import FluxFillInpainter
from .options import InpaintOptionsNode
from .outpaint import OutpaintCanvas

NODES: list[type[io.ComfyNode]] = [FluxFillInpainter, InpaintOptionsNode, InpaintCrop, InpaintStitch,
                                   OutpaintCanvas, FillModelLoader]


class FluxFillInpainterExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES
