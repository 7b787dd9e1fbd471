"""The inpaint ControlNet back-end: each crop conditions a ControlNet with its own image and mask, the
way core `ControlNetInpaintingAliMamaApply` (Alimama Flux inpaint: concat_mask) or `ControlNetApplyAdvanced`
with the masked crop (SD 1.5 inpaint ControlNet: masked pixels -1) does. Models without a Fill checkpoint
(Flux dev, SD) inpaint this way, as Krita AI Diffusion runs them."""

from __future__ import annotations

import comfy.utils
import torch

import nodes as core_nodes

STRENGTH, START, END = 1.0, 0.0, 1.0


def masked_hint(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SD 1.5 inpaint ControlNet hint: the crop with its masked pixels (round(mask) = 1) set to -1."""
    m = mask.reshape(-1, mask.shape[-2], mask.shape[-1]).round().unsqueeze(-1).to(image)
    return image * (1.0 - m) - m


def apply_inpaint_controlnet(positive: list, negative: list, control_net, vae, crops: torch.Tensor,
                             mask: torch.Tensor, variants: int) -> tuple[list, list]:
    """(positive, negative) with `control_net` applied to crops [N,H,W,3] and masks [N,H,W] (1 = inpaint),
    rows repeated to r * variants + j like the group's latents."""
    image = crops[..., :3].repeat_interleave(variants, dim=0)
    mask = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1]).to(image).repeat_interleave(variants, dim=0)
    apply = core_nodes.ControlNetApplyAdvanced().apply_controlnet
    if getattr(control_net, "concat_mask", False):  # core ControlNetInpaintingAliMamaApply, line for line
        keep = 1.0 - mask
        keep_px = comfy.utils.common_upscale(keep, image.shape[2], image.shape[1], "bilinear", "center").round()
        image = image * keep_px.movedim(1, -1).repeat(1, 1, 1, image.shape[3])
        return apply(positive, negative, control_net, image, STRENGTH, START, END, vae=vae, extra_concat=[keep])
    return apply(positive, negative, control_net, masked_hint(image, mask), STRENGTH, START, END, vae=vae)


def control_rows(control, rows: torch.Tensor, batch: int):
    """The ControlNet of some rows of a group: its hint (and extra concat) sliced to those rows."""
    hint = getattr(control, "cond_hint_original", None)
    if not isinstance(hint, torch.Tensor) or hint.shape[0] != batch:
        return control
    extra = [e[rows] if isinstance(e, torch.Tensor) and e.shape[0] == batch else e for e in control.extra_concat_orig]
    sliced = control.copy().set_cond_hint(hint[rows], control.strength, control.timestep_percent_range,
                                          vae=getattr(control, "vae", None), extra_concat=extra)
    sliced.set_previous_controlnet(control.previous_controlnet)
    return sliced
