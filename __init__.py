"""FluxFill Inpainter: crop, inpaint (Flux Fill / SD) and stitch in one ComfyUI node.

Registration only. Node classes are imported inside `comfy_entrypoint`, so the pure-torch
subpackages (`crop_stitch`, `diff_attention`) import without ComfyUI.
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import FluxFillInpainterExtension
    from .nodes.plan_preview_route import register_routes

    register_routes()  # the crop-preview HTTP route (once, even if ComfyUI calls this twice)
    return FluxFillInpainterExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
