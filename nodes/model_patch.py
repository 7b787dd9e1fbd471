"""The MODEL_PATCH back-end: inpaint ControlNets that core applies by patching the MODEL (a
`ModelPatchLoader` MODEL_PATCH), applied per crop with each crop's own image and mask.

- Qwen-Image DiffSynth inpaint ControlNet (`QwenImageBlockWiseControlNet` with mask channels): the
  host's `DiffSynthCnetPatch`, built from the crops and their masks (1 = keep) as core
  `QwenImageDiffsynthControlnet` builds it, crops encoded one per call (the Wan VAE is temporal).
- Z-Image Fun ControlNet Union: the host's Z-Image control patch (`ZImageControlPatch`, in ComfyUI
  releases after 0.3.75), its 33-channel input built by diff_attention.zimage_fun_inpaint_control.
  That control replaces the noise mask: the group is sampled without one (it fights the control).

Rows are the group's, r * variants + j. A sampler call of some rows gets a clone of the MODEL with the
patch of those rows (`with_patch_rows`); inside a model call the rows are repeated for each cond /
uncond chunk the sampler batched. The incoming MODEL is never modified.
"""

from __future__ import annotations

import copy
import functools
import sys

import comfy.latent_formats
import comfy.model_patcher
import comfy.utils
import comfy_extras.nodes_model_patch as host_patches
import torch

from ..diff_attention.control_prep import zimage_fun_inpaint_control
from .inputs import InputError
from .types import ModelTraits
from .vae_io import ImageVAE

DIFFSYNTH, ZIMAGE_FUN = "qwen_diffsynth_inpaint", "zimage_fun"
STRENGTH = 1.0
ZIMAGE_NEEDS = (("comfy_extras.nodes_model_patch", host_patches, "ZImageControlPatch"),
                ("comfy.model_patcher.ModelPatcher", comfy.model_patcher.ModelPatcher, "set_model_noise_refiner_patch"))
FAMILY_OF_KIND = {DIFFSYNTH: "qwen_image", ZIMAGE_FUN: "z_image"}


def _is_zimage_fun(net) -> bool:
    """Z-Image Fun ControlNet Union, told by its layers (the checkpoint's control_all_x_embedder)."""
    host_class = getattr(sys.modules.get("comfy.ldm.lumina.controlnet"), "ZImage_Control", None)
    return (host_class is not None and isinstance(net, host_class)) or hasattr(net, "control_all_x_embedder")


def patch_kind(model_patch, traits: ModelTraits, node: str) -> str:
    """DIFFSYNTH or ZIMAGE_FUN for a MODEL_PATCH this host can apply per crop to this model, or InputError."""
    net = getattr(model_patch, "model", None)
    name = type(net).__name__
    if isinstance(net, host_patches.QwenImageBlockWiseControlNet):
        if net.additional_in_dim <= 0:
            raise InputError(
                f"{node}: input 'model_patch' is a Qwen-Image DiffSynth ControlNet ({name}) without mask "
                f"channels (a canny/depth-style control, not an inpaint one); connect the DiffSynth inpaint "
                f"ControlNet, or apply this one with core QwenImageDiffsynthControlnet before the node.")
        kind = DIFFSYNTH
    elif _is_zimage_fun(net):
        missing = [f"{where} has no {attr}" for where, owner, attr in ZIMAGE_NEEDS if not hasattr(owner, attr)]
        if missing:
            raise InputError(
                f"{node}: input 'model_patch' is a Z-Image Fun ControlNet ({name}), which this ComfyUI cannot "
                f"apply: {'; '.join(missing)}; Z-Image Fun ControlNet needs a newer ComfyUI.")
        kind = ZIMAGE_FUN
    else:
        raise InputError(
            f"{node}: input 'model_patch' holds a {name}, which is not an inpaint ControlNet the node can apply "
            f"per crop (Qwen-Image DiffSynth inpaint ControlNet, Z-Image Fun ControlNet Union). Apply other "
            f"model patches (e.g. USO style) to the MODEL with their own core node before the FluxFill node.")
    if traits.family != FAMILY_OF_KIND[kind]:
        raise InputError(
            f"{node}: input 'model_patch' ({name}) is made for {FAMILY_OF_KIND[kind]} models, but the connected "
            f"model is {traits.family}.")
    return kind


@functools.cache
def _zimage_patch_class() -> type:
    """The host's Z-Image control patch with its control input built by zimage_fun_inpaint_control."""
    base = host_patches.ZImageControlPatch

    class CropZImageControlPatch(base):
        def encode_latent_cond(self, control_image=None, inpaint_image=None):
            image = inpaint_image if inpaint_image is not None else control_image
            inpaint = (1.0 - self.mask.reshape(self.mask.shape[0], -1, *self.mask.shape[-2:]).mean(1)).round()
            keep = 1.0 - comfy.utils.common_upscale(inpaint[:, None], image.shape[2], image.shape[1],
                                                    "nearest-exact", "disabled").round()
            masked = (image - 0.5) * keep.movedim(1, -1).to(image) + 0.5  # masked pixels grey, as core greys them
            fmt = comfy.latent_formats.Flux()
            return zimage_fun_inpaint_control(fmt.process_in(self.vae.encode(control_image)), inpaint,
                                              fmt.process_in(self.vae.encode(masked)))

    return CropZImageControlPatch


def _host_patch(kind: str, model_patch, vae, image: torch.Tensor, mask: torch.Tensor):
    """The host's patch for crops [N,H,W,3] and masks [N,H,W] (1 = inpaint), as core's node builds it."""
    keep = 1.0 - mask.reshape(-1, 1, 1, *mask.shape[-2:]).to(image)  # core: mask [N,1,1,H,W], inverted
    if kind == DIFFSYNTH:
        return host_patches.DiffSynthCnetPatch(model_patch, vae, image, STRENGTH, keep)
    return _zimage_patch_class()(model_patch, vae, image, STRENGTH, inpaint_image=image, mask=keep)


def _tensor_rows(patch, rows: torch.Tensor, batch: int):
    """A shallow copy of a host patch with every per-row tensor (image, mask, encoded input) cut to `rows`."""
    out = copy.copy(patch)
    for name, value in vars(patch).items():
        if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == batch:
            setattr(out, name, value[rows.to(value.device)])
    if hasattr(out, "temp_data"):
        out.temp_data = None  # Z-Image: control states of a previous model call
    return out


class CropRowsPatch:
    """A host patch over some rows of a group; each model call gets it repeated per cond / uncond chunk."""

    def __init__(self, kind: str, inner, batch: int) -> None:
        self.kind, self.inner, self.batch = kind, inner, batch
        self._repeated: dict[int, object] = {}

    def rows(self, rows: torch.Tensor) -> CropRowsPatch:
        """The patch of some rows of the group (a sampler call's)."""
        return CropRowsPatch(self.kind, _tensor_rows(self.inner, rows, self.batch), len(rows))

    def attach(self, model) -> None:
        model.set_model_double_block_patch(self)
        if self.kind == ZIMAGE_FUN:  # the Z-Image control also runs alongside the noise refiner blocks
            model.set_model_noise_refiner_patch(self)

    def __call__(self, kwargs: dict) -> dict:
        chunks, rest = divmod(kwargs["x"].shape[0], self.batch)
        if rest:
            raise ValueError(f"model call of {kwargs['x'].shape[0]} rows for a patch of {self.batch} crops")
        if chunks == 1:
            return self.inner(kwargs)
        if chunks not in self._repeated:
            self._repeated[chunks] = _tensor_rows(self.inner, torch.arange(self.batch).repeat(chunks), self.batch)
        return self._repeated[chunks](kwargs)

    def to(self, device_or_dtype) -> CropRowsPatch:
        self.inner = self.inner.to(device_or_dtype)
        self._repeated = {k: p.to(device_or_dtype) for k, p in self._repeated.items()}
        return self

    def models(self) -> list:
        return self.inner.models()

    def __deepcopy__(self, memo: dict) -> CropRowsPatch:
        return self  # model.clone() deep-copies model_options: share the patch, never copy its weights


def crop_patch(model_patch, kind: str, vae, traits: ModelTraits, crops: torch.Tensor, mask: torch.Tensor,
               variants: int) -> CropRowsPatch:
    """The patch of a group: crops [N,H,W,3] and masks [N,H,W] (1 = inpaint), rows r * variants + j."""
    image = crops[..., :3].repeat_interleave(variants, dim=0)
    mask = mask.reshape(-1, *mask.shape[-2:]).to(image).repeat_interleave(variants, dim=0)
    inner = _host_patch(kind, model_patch, ImageVAE(vae, traits.temporal_vae), image, mask)
    return CropRowsPatch(kind, inner, image.shape[0])


def with_patch_rows(model, patch: CropRowsPatch | None, rows: torch.Tensor):
    """`model`, or a clone of it with the patch of `rows` attached (a sampler call's model)."""
    if patch is None:
        return model
    patched = model.clone()
    patch.rows(rows).attach(patched)
    return patched
