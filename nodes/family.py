"""The one place that knows model families: which inpaint path a MODEL + VAE needs, and its defaults.

Facts come from the model objects ComfyUI loaded (their classes, layers and configs), never from
file names. diff_attention/ and crop_stitch/ get these facts passed in.
"""

from __future__ import annotations

import comfy.model_base

from .inputs import InputError
from .types import CONCAT, FLUX_FILL, NO_CONCAT, ModelTraits

# Default Flux guidance when the `guidance` widget is 0 (automatic): Flux Fill is trained for ~30
# (its reference pipeline and ComfyUI's Fill template use 30); guidance-distilled Flux dev / Kontext /
# Flux.2 use 2.5-4 (ComfyUI's templates: 3.5 dev, 2.5 Kontext, 4 Flux.2). Chroma has no guidance.
FILL_GUIDANCE = 30.0
DISTILLED_GUIDANCE = 3.5


def _flux_channels(base) -> tuple[int, int]:
    """(input channels, output channels) of a Flux diffusion model, as `Flux.concat_cond` reads them."""
    try:  # the img_in weight follows Flux control LoRAs that widen the input
        dm = base.diffusion_model
        inputs = dm.img_in.weight.shape[1] // (dm.patch_size ** 2)
    except AttributeError:
        inputs = base.model_config.unet_config["in_channels"]
    outputs = base.model_config.unet_config.get("out_channels", base.latent_format.latent_channels)
    return int(inputs), int(outputs)


def inpaint_kind(model) -> str:
    """How a model (ModelPatcher or model_base) takes the inpaint image: FLUX_FILL, CONCAT or NO_CONCAT.

    Flux family: input channels > 2 x output channels is image + mask concat (Flux Fill, 96 = 16 + 16
    + 64); more than 1x is an image-only concat (depth/canny: CONCAT); else none. Other models:
    non-empty `concat_keys` (SD/SDXL inpaint) or unet in_channels above the latent channels: CONCAT.
    """
    base = getattr(model, "model", model)
    if isinstance(base, comfy.model_base.Flux):
        inputs, outputs = _flux_channels(base)
        if inputs > 2 * outputs:
            return FLUX_FILL
        return CONCAT if inputs > outputs else NO_CONCAT
    if len(getattr(base, "concat_keys", ())) > 0:
        return CONCAT
    in_channels = base.model_config.unet_config.get("in_channels")
    if in_channels is not None and int(in_channels) > int(base.latent_format.latent_channels):
        return CONCAT
    return NO_CONCAT


def _family(base, kind: str) -> str:
    if isinstance(base, comfy.model_base.Chroma):
        return "chroma"
    if isinstance(base, comfy.model_base.Flux):
        return "flux_fill" if kind == FLUX_FILL else "flux"
    return "sd_inpaint" if kind == CONCAT else "other"


def _guidance_embed(base) -> bool:
    if isinstance(base, comfy.model_base.Chroma) or not isinstance(base, comfy.model_base.Flux):
        return False
    return bool(getattr(getattr(base.diffusion_model, "params", None), "guidance_embed", False))


def model_traits(model, vae, node: str) -> ModelTraits:
    """The traits of the connected MODEL + VAE, or InputError when the VAE does not fit the model."""
    base = model.model
    latent_channels = base.latent_format.latent_channels
    vae_channels = getattr(vae, "latent_channels", latent_channels)
    if vae_channels != latent_channels:
        raise InputError(
            f"{node}: input 'vae' makes {vae_channels}-channel latents but input 'model' "
            f"({type(base).__name__}) works on {latent_channels}-channel latents. Use the VAE that belongs "
            f"to the model (e.g. ae.safetensors for Flux).")
    ratio = vae.downscale_ratio if isinstance(vae.downscale_ratio, int) else 8
    patch = getattr(base.diffusion_model, "patch_size", 1)
    patch = patch if isinstance(patch, int) else 1
    kind = inpaint_kind(model)
    concat_inputs = kind != NO_CONCAT
    if isinstance(base, comfy.model_base.Flux) and kind == CONCAT:
        kind = NO_CONCAT  # depth/canny concat a control image, not a greyed crop: inpaint by noise mask
    family = _family(base, kind)
    embed = _guidance_embed(base)
    default_guidance = (FILL_GUIDANCE if kind == FLUX_FILL else DISTILLED_GUIDANCE) if embed else None
    return ModelTraits(
        family=family, inpaint_kind=kind, concat_inputs=concat_inputs, multiple=max(8, ratio * patch),
        guidance_embed=embed, default_guidance=default_guidance,
        reads_reference_latents=family == "flux" and not concat_inputs,
        latent_channels=latent_channels,
        latent_dimensions=int(getattr(base.latent_format, "latent_dimensions", 2)))
