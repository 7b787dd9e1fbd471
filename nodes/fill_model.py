"""Fill models (LaMa; MAT when `spandrel_extra_arches` is installed): the loader node and the run that
fills crops with one on the compute device, under ComfyUI's model management.

Files live in ComfyUI's `models/inpaint/` (registered here when the host lacks that folder), as for
Acly's inpaint nodes. spandrel (shipped with ComfyUI) reads the architecture from the state dict.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import comfy.model_management
import comfy.model_patcher
import comfy.utils
import folder_paths
import torch
from comfy_api.latest import io

from ..crop_stitch import FillGeometry, model_fill
from .option_schema import FillModelType

log = logging.getLogger("fluxfill_inpainter")

FOLDER = "inpaint"
LOADER_NODE = "Load Fill Model (FluxFill)"
# Longest side each architecture fills at (Acly's inpaint nodes: LaMa 256, MAT 512); larger crops are
# shrunk for the fill and the fill is resized back (only masked pixels take it).
WORKING_SIDE = {"LaMa": 256, "MAT": 512}

try:  # MAT lives in spandrel's non-commercial extra arches, registered the way core's upscale loader does
    from spandrel import MAIN_REGISTRY
    from spandrel_extra_arches import EXTRA_REGISTRY

    MAIN_REGISTRY.add(*EXTRA_REGISTRY)
except Exception:  # noqa: BLE001 - optional package; any failure just means no MAT
    pass


def register_folder() -> list[str]:
    """Make sure folder_paths knows models/inpaint; returns its file names."""
    if FOLDER not in folder_paths.folder_names_and_paths:
        folder_paths.folder_names_and_paths[FOLDER] = (
            [os.path.join(folder_paths.models_dir, FOLDER)], folder_paths.supported_pt_extensions)
    return folder_paths.get_filename_list(FOLDER)


@dataclass(frozen=True)
class FillModel:
    """A loaded fill network: the spandrel descriptor, a ModelPatcher for model management, its geometry."""

    name: str
    descriptor: object
    patcher: object
    geometry: FillGeometry

    @property
    def architecture(self) -> str:
        return self.descriptor.architecture.id


def is_torchscript(path: str) -> bool:
    """A TorchScript archive (LaMa's usual download, big-lama.pt, is one): a zip with a code/ folder."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name or name.endswith("/constants.pkl") for name in archive.namelist())


def read_state_dict(path: str) -> dict:
    """The file's weights: safetensors / plain checkpoints safely, TorchScript archives through torch.jit
    (as Acly's inpaint nodes read big-lama.pt)."""
    if path.lower().endswith((".pt", ".pth")) and is_torchscript(path):
        return torch.jit.load(path, map_location="cpu").state_dict()
    return comfy.utils.load_torch_file(path, safe_load=True)


def load_fill_model(path: str) -> FillModel:
    """Load a LaMa / MAT file through spandrel; ValueError for anything that is not an inpainting model."""
    from spandrel import MaskedImageModelDescriptor, ModelLoader

    sd = read_state_dict(path)
    try:
        descriptor = ModelLoader().load_from_state_dict(sd).eval()
    except Exception as err:  # noqa: BLE001 - spandrel raises several types for unknown files
        raise ValueError(f"{LOADER_NODE}: {os.path.basename(path)} is not a model spandrel can load ({err}).") from err
    if not isinstance(descriptor, MaskedImageModelDescriptor):
        raise ValueError(f"{LOADER_NODE}: {os.path.basename(path)} is a {descriptor.architecture.id} model "
                         f"({descriptor.purpose}), not an inpainting (fill) model such as LaMa or MAT.")
    req = descriptor.size_requirements
    geometry = FillGeometry(working_side=WORKING_SIDE.get(descriptor.architecture.id, 512),
                            multiple=max(1, req.multiple_of), minimum=max(1, req.minimum), square=req.square)
    patcher = comfy.model_patcher.ModelPatcher(
        descriptor.model, load_device=comfy.model_management.get_torch_device(),
        offload_device=comfy.model_management.unet_offload_device())
    return FillModel(os.path.basename(path), descriptor, patcher, geometry)


def fill_with_model(fill: FillModel, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`image` [N,H,W,C] with the pixels under round(mask) [N,H,W] filled by the network on the compute
    device (loaded with load_models_gpu); returned on the image's device, outside untouched."""
    comfy.model_management.load_models_gpu([fill.patcher])
    device = fill.patcher.load_device
    dtype = next(fill.descriptor.model.parameters()).dtype
    pbar = comfy.utils.ProgressBar(image.shape[0])

    def run(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = fill.descriptor(x.to(device=device, dtype=dtype), m.to(device=device, dtype=dtype))
        pbar.update(1)
        return out.float().to(image.device)

    out = model_fill(image, mask, run, fill.geometry,
                     check=comfy.model_management.throw_exception_if_processing_interrupted)
    comfy.model_management.soft_empty_cache()
    return out


def crop_filler(fill: FillModel | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """The `filler` crop_stitch.prefill takes for prefill 'fill_model' (None without a fill model)."""
    if fill is None:
        return None
    return lambda image, mask: fill_with_model(fill, image, mask)


class FillModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_FillModelLoader",
            display_name=LOADER_NODE,
            category="inpaint/FluxFill",
            description="Loads an image-inpainting network (LaMa; MAT when spandrel_extra_arches is installed) "
                        "from models/inpaint. Connect it to Inpaint Options 'fill_model' and set prefill "
                        "'fill_model': the masked area of each crop is filled by it before encoding (object removal).",
            inputs=[io.Combo.Input("model_name", options=register_folder(),
                                   tooltip="A LaMa (big-lama.pt) or MAT file in ComfyUI's models/inpaint folder.")],
            outputs=[FillModelType.Output("fill_model", display_name="fill_model",
                                          tooltip="Connect to the fill_model input of Inpaint Options.")],
        )

    @classmethod
    def execute(cls, model_name: str) -> io.NodeOutput:
        register_folder()
        path = folder_paths.get_full_path_or_raise(FOLDER, model_name)
        fill = load_fill_model(path)
        log.info("%s: loaded %s (%s)", LOADER_NODE, model_name, fill.architecture)
        return io.NodeOutput(fill)
