"""VAE calls that treat every crop as one image, whatever the VAE.

A temporal VAE (Wan 2.1, Qwen-Image's) reads a batch of images as the frames of ONE video: encoding
two crops in one call returns one latent. Here each crop is encoded on its own and the latents are
stacked [N,C,1,h,w]; decodes of 5-D latents come back [N,T,H,W,3] and are flattened to IMAGE rows.
"""

from __future__ import annotations

import torch


class ImageVAE:
    """Wraps a ComfyUI VAE so `encode` maps N images to N latents (the interface latent_prep reads)."""

    def __init__(self, vae, temporal: bool) -> None:
        self.vae = vae
        self.temporal = temporal

    def spacial_compression_encode(self) -> int:
        return self.vae.spacial_compression_encode()

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return encode_images(self.vae, pixels, self.temporal)


def encode_images(vae, pixels: torch.Tensor, temporal: bool) -> torch.Tensor:
    """One latent row per image of `pixels` [N,H,W,C]: one call per image for a temporal VAE."""
    if not temporal or pixels.shape[0] == 1:
        return vae.encode(pixels)
    return torch.cat([vae.encode(pixels[i:i + 1]) for i in range(pixels.shape[0])])


def decode_images(vae, samples: torch.Tensor) -> torch.Tensor:
    """IMAGE [N*T,H,W,C] from latents [N,C,h,w] or [N,C,T,h,w] (video decodes flattened)."""
    images = vae.decode(samples)
    return images.reshape(-1, *images.shape[-3:]) if images.ndim == 5 else images
