"""Inpaint latents and conditioning, as ComfyUI's `InpaintModelConditioning` builds them.

`prepare_inpaint_latent` reproduces `nodes.InpaintModelConditioning().encode(...)` (0.3.75) tensor for
tensor, and adds: one encode per crop for any number of variants, a binarised concat mask, no
concat values for models without concat inputs, and hooks for edit modes (no greying, forced
concat mask). `inpaint_kind` tells which path a model needs.

ComfyUI objects (ModelPatcher, VAE, CONDITIONING) come in as arguments; only their methods and
attributes are used, nothing here imports ComfyUI. Inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor

FLUX_FILL = "flux_fill"
CONCAT = "concat"
NO_CONCAT = "none"


def _is_flux_family(base_model: Any) -> bool:
    """Whether the model is `comfy.model_base.Flux` or a subclass (Flux2, Chroma, ...)."""
    return any(cls.__name__ == "Flux" and cls.__module__ == "comfy.model_base"
               for cls in type(base_model).__mro__)


def _flux_channels(base_model: Any) -> tuple[int, int]:
    """(input channels, output channels) of a Flux diffusion model, as `Flux.concat_cond` reads them."""
    unet_config = base_model.model_config.unet_config
    try:
        # the img_in weight follows Flux control LoRAs that widen the input
        diffusion_model = base_model.diffusion_model
        num_channels = diffusion_model.img_in.weight.shape[1] // (diffusion_model.patch_size ** 2)
    except AttributeError:
        num_channels = unet_config["in_channels"]
    out_channels = unet_config.get("out_channels", base_model.latent_format.latent_channels)
    return int(num_channels), int(out_channels)


def inpaint_kind(model: Any) -> str:
    """How a model takes the inpaint image: "flux_fill", "concat" or "none".

    `model` is a ModelPatcher (or the `comfy.model_base` model itself). Mirrors the host's own tests:
    - Flux family (`Flux.concat_cond`): input channels (img_in width / patch²) > 2 × output channels
      means image + mask concat, i.e. Flux Fill (96 = 16 + 16 + 64) → "flux_fill"; more than 1× but
      at most 2× means image-only concat (e.g. Flux depth/canny) → "concat"; otherwise "none".
    - Other models: non-empty `concat_keys` (SD/SDXL inpaint, set by `set_inpaint()` when
      in_channels > 4) → "concat"; else unet_config in_channels above the latent format's
      channels (e.g. instruct-pix2pix, image-to-video) → "concat"; otherwise "none".
    "none" means the model has no concat inputs: inpaint with the noise mask only.
    """
    base_model = getattr(model, "model", model)
    if _is_flux_family(base_model):
        num_channels, out_channels = _flux_channels(base_model)
        if num_channels > 2 * out_channels:
            return FLUX_FILL
        return CONCAT if num_channels > out_channels else NO_CONCAT
    if len(getattr(base_model, "concat_keys", ())) > 0:
        return CONCAT
    in_channels = base_model.model_config.unet_config.get("in_channels")
    latent_channels = base_model.latent_format.latent_channels
    if in_channels is not None and int(in_channels) > int(latent_channels):
        return CONCAT
    return NO_CONCAT


@dataclass
class PreparedLatent:
    """Conditioning copies with the concat values set, and the LATENT dict to sample."""

    positive: list
    negative: list
    latent: dict


def conditioning_with(conditioning: list, values: dict) -> list:
    """A new conditioning list whose entries carry copies of the dicts with `values` set.

    The semantics of ComfyUI's `node_helpers.conditioning_set_values` (append=False): the
    embedding tensors are shared, every dict is a shallow copy, the input is left unchanged.
    """
    out = []
    for entry in conditioning:
        options = entry[1].copy()
        options.update(values)
        out.append([entry[0], options])
    return out


def vae_downscale(vae: Any) -> int:
    """The VAE's spatial downscale factor (8 for SD and Flux VAEs)."""
    ratio = vae.spacial_compression_encode() if hasattr(vae, "spacial_compression_encode") else 8
    return max(1, int(ratio))


def _mask_to_pixels(mask: Tensor, height: int, width: int) -> Tensor:
    """[B,1,H,W] float mask at the pixel size: bilinear, exactly as InpaintModelConditioning does."""
    mask = mask if mask.is_floating_point() else mask.float()
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    return F.interpolate(mask, size=(height, width), mode="bilinear")


def _centre_crop_box(height: int, width: int, ratio: int) -> tuple[slice, slice]:
    """Rows and columns kept when centre-cropping to a multiple of `ratio` (ComfyUI's offsets)."""
    h = (height // ratio) * ratio
    w = (width // ratio) * ratio
    if h == 0 or w == 0:
        raise ValueError(f"image {height}x{width} is smaller than the VAE downscale factor {ratio}")
    top = (height % ratio) // 2
    left = (width % ratio) // 2
    return slice(top, top + h), slice(left, left + w)


def _rows(tensor: Tensor, batch: int, variants: int) -> Tensor:
    """Repeat per-region rows so that row r*variants + j is region r (batch-1 tensors broadcast)."""
    if variants == 1:
        return tensor
    if tensor.shape[0] == 1 and batch > 1:
        tensor = tensor.expand(batch, *tensor.shape[1:])
    return tensor.repeat_interleave(variants, dim=0)


def prepare_inpaint_latent(vae: Any, pixels: Tensor, mask: Tensor, positive: list, negative: list, *,
                           noise_mask: bool = True, binarize_concat_mask: bool = False, variants: int = 1,
                           concat: bool = True, grey_masked: bool = True,
                           concat_mask_override: Tensor | None = None) -> PreparedLatent:
    """Encode inpaint crops like `InpaintModelConditioning.encode(positive, negative, pixels, vae, mask,
    noise_mask)`, with extras.

    pixels: IMAGE [N,H,W,C] 0..1 (only the first 3 channels are used); mask: MASK [N,H,W] or [H,W]
    (1 = inpaint; batch 1 applies to every crop), any size (bilinear-resized to the pixels).

    As in core: pixels and mask are centre-cropped to a multiple of the VAE downscale (core
    hard-codes 8, which is every SD/Flux VAE's factor; here the VAE's own factor is used, so the
    mask also matches the latent for other VAEs); `samples` = encode(pixels); the concat latent =
    encode(pixels with round(mask) set to 0.5); `noise_mask` and `concat_mask` = the soft
    [N,1,H,W] mask; conditioning values are set on new lists of copied dicts.

    Extras:
    - binarize_concat_mask: round only the concat mask (noise_mask stays soft). Flux Fill reads the
      concat mask as is (soft); SD inpaint models round it anyway in `BaseModel.concat_cond`.
    - variants: rows repeated (`repeat_interleave`) so row r*variants + j = crop r, variant j;
      every crop is encoded once whatever `variants` is.
    - concat=False: no concat values (models without concat inputs); the concat latent is not encoded.
    - grey_masked=False: the concat latent is the plain encode (reused, not encoded twice).
    - concat_mask_override: a mask ([N,H,W], [H,W] or [N,1,H,W] at any size) resized and cropped
      like `mask` and used as concat mask instead (e.g. all ones for edit modes).
    """
    variants = int(variants)
    if variants < 1:
        raise ValueError(f"variants must be at least 1, got {variants}")
    if pixels.dim() != 4:
        raise ValueError(f"pixels must be an IMAGE [N,H,W,C], got shape {tuple(pixels.shape)}")
    batch, height, width = pixels.shape[0], pixels.shape[1], pixels.shape[2]

    soft = _mask_to_pixels(mask, height, width)
    if soft.shape[0] not in (1, batch):
        raise ValueError(f"mask batch {soft.shape[0]} does not match the {batch} images")
    rows, cols = _centre_crop_box(height, width, vae_downscale(vae))
    rgb = pixels[:, rows, cols, :3]
    soft = soft[:, :, rows, cols]

    samples = vae.encode(rgb)
    latent: dict = {"samples": _rows(samples, batch, variants)}
    if noise_mask:
        latent["noise_mask"] = _rows(soft, batch, variants)

    if not concat:
        return PreparedLatent(positive=conditioning_with(positive, {}),
                              negative=conditioning_with(negative, {}), latent=latent)

    if grey_masked:
        keep = (1.0 - soft.round()).squeeze(1).unsqueeze(-1).to(device=rgb.device, dtype=rgb.dtype)
        concat_latent = vae.encode((rgb - 0.5) * keep + 0.5)
    else:
        concat_latent = samples

    if concat_mask_override is not None:
        concat_mask = _mask_to_pixels(concat_mask_override, height, width)[:, :, rows, cols]
        if concat_mask.shape[0] not in (1, batch):
            raise ValueError(f"concat_mask_override batch {concat_mask.shape[0]} does not match {batch}")
    else:
        concat_mask = soft
    if binarize_concat_mask:
        concat_mask = concat_mask.round()

    values = {"concat_latent_image": _rows(concat_latent, batch, variants),
              "concat_mask": _rows(concat_mask, batch, variants)}
    return PreparedLatent(positive=conditioning_with(positive, values),
                          negative=conditioning_with(negative, values), latent=latent)
