"""The one place that knows model families: which inpaint path a MODEL + VAE needs, and its defaults.

Facts come from the model objects ComfyUI loaded (their classes, layers, configs and what their
`extra_conds` / forward consume), never from file names or class-name strings. diff_attention/ and
crop_stitch/ get these facts passed in.

FAMILIES is the table (README "Model families" prints the same rows). Each row's defaults — guidance,
cfg, steps, sampler, scheduler, native size — are read from ComfyUI's official workflow template named
in the row (PyPI `comfyui-workflow-templates-json` 0.1.123). The table decides what the node's automatic
widget values mean (nodes/auto_settings.py: `steps` 0, `cfg` 0, sampler / scheduler "auto",
`target_megapixels` 0 = the native size; `guidance` 0 in nodes/prompts.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import comfy.model_base
import comfy.supported_models
import torch

from .inputs import InputError
from .types import CONCAT, FLUX_FILL, NO_CONCAT, ModelTraits

# Paths: how the crop reaches the model.
PATH_CONCAT, PATH_REFERENCE, PATH_NOISE_MASK = "concat", "reference", "noise_mask"


@dataclass(frozen=True)
class Family:
    """One row of the family table. model_traits reads name, matches, path, guidance, reference_guidance,
    real_negative and reference_sizes; cfg, steps, sampler, scheduler, native and template are the
    template's defaults that README's table prints (tests/integration/test_families.py compares them),
    the node's automatic settings (nodes/auto_settings.py)."""

    name: str
    matches: Callable[[object, str], bool]  # (model_base, inpaint kind) -> this row
    path: str  # PATH_*: concat inpaint channels, reference latents (edit models), or noise mask (RePaint)
    guidance: float | None  # what `guidance` 0 means (None: the model has no guidance input)
    reference_guidance: float | None  # the same in reference mode (Kontext 2.5)
    cfg: float
    steps: int
    sampler: str
    scheduler: str
    native: tuple[int, int]  # the template's output size (width, height)
    real_negative: bool  # the template samples with CFG and an empty-prompt negative
    template: str  # ComfyUI workflow template the defaults come from
    reference_sizes: tuple[tuple[int, int], ...] = ()  # trained sizes crops snap to in reference mode
    frames: int = 0  # video models: the template's clip length, frames per sampler call (0: an image model)


def _kontext_sizes() -> tuple[tuple[int, int], ...]:
    """The resolutions Flux Kontext was trained at, as the host's FluxKontextImageScale picks from."""
    try:
        from comfy_extras.nodes_flux import PREFERED_KONTEXT_RESOLUTIONS
    except ImportError:  # a host without the list: crops keep the box's aspect
        return ()
    return tuple((int(w), int(h)) for w, h in PREFERED_KONTEXT_RESOLUTIONS)


def _is(cls) -> Callable[[object, str], bool]:
    return lambda base, kind: isinstance(base, cls)


def _config(cls) -> Callable[[object, str], bool]:
    return lambda base, kind: isinstance(getattr(base, "model_config", None), cls)


def _flux_with(kind_wanted: str | None) -> Callable[[object, str], bool]:
    def match(base, kind: str) -> bool:
        plain = isinstance(base, comfy.model_base.Flux) and not isinstance(
            base, (comfy.model_base.Chroma, comfy.model_base.Flux2))
        return plain and (kind_wanted is None or kind == kind_wanted)
    return match


# First match wins (subclasses first: Chroma and Flux2 are Flux subclasses in the host, WAN22 a WAN21 one).
FAMILIES: tuple[Family, ...] = (
    Family("wan22", _is(comfy.model_base.WAN22), PATH_NOISE_MASK, None, None, 5.0, 20, "uni_pc", "simple",
           (1280, 704), True, "video_wan2_2_5B_ti2v", frames=121),
    Family("wan21", _is(comfy.model_base.WAN21), PATH_NOISE_MASK, None, None, 6.0, 30, "uni_pc", "simple",
           (832, 480), True, "text_to_video_wan", frames=81),
    Family("chroma", _is(comfy.model_base.Chroma), PATH_NOISE_MASK, None, None, 3.5, 26, "euler", "beta",
           (1024, 1024), True, "image_chroma_text_to_image"),
    Family("flux2", _is(comfy.model_base.Flux2), PATH_REFERENCE, 4.0, 4.0, 1.0, 20, "euler", "simple",
           (1248, 832), False, "image_flux2"),
    Family("flux_fill", _flux_with(FLUX_FILL), PATH_CONCAT, 30.0, 30.0, 1.0, 20, "euler", "normal",
           (1024, 1024), False, "flux_fill_inpaint_example"),
    Family("flux", _flux_with(None), PATH_NOISE_MASK, 3.5, 2.5, 1.0, 20, "euler", "simple",
           (1024, 1024), False, "flux_dev_full_text_to_image; reference: flux_kontext_dev_basic", _kontext_sizes()),
    Family("qwen_image", _is(comfy.model_base.QwenImage), PATH_NOISE_MASK, None, None, 4.0, 20, "euler",
           "simple", (1328, 1328), True, "image_qwen_image; edit: image_qwen_image_edit_2509"),
    Family("z_image", _config(comfy.supported_models.ZImage), PATH_NOISE_MASK, None, None, 1.0, 8,
           "res_multistep", "simple", (1024, 1024), False, "image_z_image_turbo"),
    Family("sdxl", _is(comfy.model_base.SDXL), PATH_NOISE_MASK, None, None, 7.0, 25, "dpmpp_2m", "karras",
           (1024, 1024), True, "image_sdxl_simple"),
    Family("sd15", _config(comfy.supported_models.SD15), PATH_NOISE_MASK, None, None, 8.0, 20, "euler",
           "normal", (512, 512), True, "none ships; ComfyUI's default graph"),
)
OTHER = Family("other", lambda base, kind: True, PATH_NOISE_MASK, None, None, 1.0, 20, "euler", "simple",
               (1024, 1024), False, "none")


def family_by_name(name: str) -> Family:
    """The table row named `name` (ModelTraits.family), or OTHER."""
    return next((f for f in FAMILIES if f.name == name), OTHER)


def family_row(base, kind: str) -> Family:
    """The table row of a model (model_base) whose inpaint kind is `kind`."""
    return next((f for f in FAMILIES if f.matches(base, kind)), OTHER)


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

    Decided from what the model's `concat_cond` consumes, never from raw `in_channels` (Qwen-Image's 64
    is 16 latent channels x a 2x2 patch). Flux family (`Flux.concat_cond`): input channels > 2 x output
    channels is image + mask concat (Flux Fill, 96 = 16 + 16 + 64); more than 1x an image-only concat
    (depth/canny: CONCAT); else none. Other models (`BaseModel.concat_cond`): non-empty `concat_keys`
    (SD/SDXL inpaint) is CONCAT.
    """
    base = getattr(model, "model", model)
    if isinstance(base, comfy.model_base.Flux):
        inputs, outputs = _flux_channels(base)
        if inputs > 2 * outputs:
            return FLUX_FILL
        return CONCAT if inputs > outputs else NO_CONCAT
    return CONCAT if len(getattr(base, "concat_keys", ())) > 0 else NO_CONCAT


def reads_reference_latents(base) -> bool:
    """Whether the model consumes `reference_latents`: its `extra_conds` turns them into `ref_latents`
    (probed with a 1-pixel latent through `extra_conds_shapes`) AND its diffusion model's forward takes
    a `ref_latents` argument (Chroma inherits the first from Flux but its forward has no such input)."""
    channels = base.latent_format.latent_channels
    dims = int(getattr(base.latent_format, "latent_dimensions", 2))
    probe = torch.zeros((1, channels) + (1,) * dims)
    try:
        shapes = base.extra_conds_shapes(reference_latents=[probe])
    except Exception:  # noqa: BLE001 - a model whose probe fails does not take them the Flux way
        return False
    if "ref_latents" not in shapes:
        return False
    dm = base.diffusion_model
    forward = getattr(dm, "_forward", dm.forward)
    return "ref_latents" in inspect.signature(forward).parameters


def _guidance_embed(base) -> bool:
    if isinstance(base, comfy.model_base.Chroma) or not isinstance(base, comfy.model_base.Flux):
        return False
    return bool(getattr(getattr(base.diffusion_model, "params", None), "guidance_embed", False))


def temporal_vae(vae) -> bool:
    """The VAE reads a batch of images as video frames (Wan VAE: latent_dim 3, not `not_video`)."""
    return int(getattr(vae, "latent_dim", 2)) == 3 and not getattr(vae, "not_video", False)


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
    ratio = vae.downscale_ratio if isinstance(vae.downscale_ratio, int) else vae.downscale_ratio[-1]
    patch = getattr(base.diffusion_model, "patch_size", 1)
    patch = patch[-1] if isinstance(patch, (tuple, list)) else patch  # Wan's (1, 2, 2): time, height, width
    patch = patch if isinstance(patch, int) else 1
    kind = inpaint_kind(model)
    concat_inputs = kind != NO_CONCAT
    if isinstance(base, comfy.model_base.Flux) and kind == CONCAT:
        kind = NO_CONCAT  # depth/canny concat a control image, not a greyed crop: inpaint by noise mask
    row = family_row(base, kind)
    embed = _guidance_embed(base)
    return ModelTraits(
        family=row.name, inpaint_kind=kind, concat_inputs=concat_inputs, multiple=max(8, int(ratio) * patch),
        guidance_embed=embed, default_guidance=row.guidance if embed else None,
        reads_reference_latents=reads_reference_latents(base),
        latent_channels=latent_channels,
        latent_dimensions=int(getattr(base.latent_format, "latent_dimensions", 2)),
        path=PATH_CONCAT if kind != NO_CONCAT else row.path,
        reference_guidance=row.reference_guidance if embed else None,
        real_negative=row.real_negative, temporal_vae=temporal_vae(vae), reference_sizes=row.reference_sizes,
        frame_window=row.frames, vace=hasattr(base.diffusion_model, "vace_patch_embedding"))
