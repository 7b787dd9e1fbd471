"""Control inputs of inpaint ControlNets, prepared per crop (pure torch, nothing of ComfyUI).

Z-Image Fun ControlNet Union (arrived in ComfyUI after 0.3.75) reads a 33-channel control input per
crop: the control latent (16), the mask (1) in the 1 = KEEP convention, nearest-downsampled to the
latent size and made binary by rounding, and the masked-image latent (16). The sampler must not add a
noise-mask callback on top (it fights the control). Latents come in encoded by the caller's VAE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ZIMAGE_FUN_CHANNELS = 16 + 1 + 16


def keep_mask_at(inpaint_mask: Tensor, height: int, width: int) -> Tensor:
    """[N,1,h,w] binary keep mask (1 = keep) from a ComfyUI MASK ([N,H,W] or [N,1,H,W], 1 = inpaint):
    nearest-downsampled to (height, width), rounded, inverted."""
    mask = inpaint_mask if inpaint_mask.is_floating_point() else inpaint_mask.float()
    mask = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1])
    small = F.interpolate(mask, size=(height, width), mode="nearest")
    return 1.0 - small.clamp(0, 1).round()


def zimage_fun_inpaint_control(control_latent: Tensor, inpaint_mask: Tensor, masked_latent: Tensor) -> Tensor:
    """The Z-Image Fun ControlNet's 33-channel input [N,33,h,w] for a batch of crops.

    control_latent: [N,16,h,w] latent of the control image (the crop itself for pure inpaint);
    inpaint_mask: the crops' MASK, 1 = inpaint, any size (batch 1 broadcasts);
    masked_latent: [N,16,h,w] latent of the crop with its masked pixels blanked.
    """
    if control_latent.ndim != 4 or masked_latent.shape != control_latent.shape:
        raise ValueError(f"control and masked-image latents must be the same [N,16,h,w], got "
                         f"{tuple(control_latent.shape)} and {tuple(masked_latent.shape)}")
    if control_latent.shape[1] + masked_latent.shape[1] + 1 != ZIMAGE_FUN_CHANNELS:
        raise ValueError(f"Z-Image Fun ControlNet takes 16-channel latents, got {control_latent.shape[1]}")
    batch, _, height, width = control_latent.shape
    keep = keep_mask_at(inpaint_mask, height, width).to(control_latent)
    if keep.shape[0] not in (1, batch):
        raise ValueError(f"mask batch {keep.shape[0]} does not match the {batch} crops")
    return torch.cat([control_latent, keep.expand(batch, -1, -1, -1), masked_latent], dim=1)
