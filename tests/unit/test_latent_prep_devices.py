"""Where prepare_inpaint_latent leaves its masks: on the device of the VAE's latents (ComfyUI's intermediate
device), not on the crops' compute device, so every group's masks wait there for their sampler call. The
two devices are told apart on the CPU by a VAE whose latents live on the `meta` device."""

from __future__ import annotations

import torch
from fluxfill_inpainter.diff_attention import prepare_inpaint_latent


class MetaLatentVAE:
    """A VAE that returns its latents on another device than the pixels it gets (as a GPU VAE returns them
    on the intermediate device): 4 channels at 1/8 size, on `meta`."""

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        n, h, w = pixels.shape[0], pixels.shape[1], pixels.shape[2]
        return torch.zeros(n, 4, h // 8, w // 8, device="meta")


def test_noise_and_concat_masks_follow_the_latents_not_the_crops() -> None:
    pixels = torch.rand(2, 64, 48, 3)  # the crops, on the compute device (the CPU here)
    mask = torch.zeros(2, 64, 48)
    mask[:, 16:40, 8:32] = 1.0
    out = prepare_inpaint_latent(MetaLatentVAE(), pixels, mask, variants=3)
    assert out.latent["samples"].device.type == "meta"
    assert out.latent["noise_mask"].device.type == "meta" and out.latent["noise_mask"].shape == (6, 1, 64, 48)
    assert out.concat["concat_mask"].device.type == "meta" and out.concat["concat_mask"].shape == (6, 1, 64, 48)
    assert out.concat["concat_latent_image"].device.type == "meta"
