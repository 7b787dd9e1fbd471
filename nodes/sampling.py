"""Stage 2 (inpaint and stitch): encode each crop once, sample equal-size regions in one call, stitch."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import comfy.model_base
import comfy.model_management
import comfy.sample
import comfy.utils
import latent_preview
import node_helpers
import torch

from ..crop_stitch import stitch
from ..diff_attention import apply_differential_diffusion, inpaint_kind, region_variant_noise
from .modes import ModePlan, prepare_mode_batch, resolve_mode, target_part
from .pipeline import CropStage, InputError, match_channels

log = logging.getLogger("fluxfill_inpainter")
# Samplers that draw fresh noise at every step from the call's seed; a batched call would give
# variant j different noise than a single run with seed + j.
STOCHASTIC_SAMPLER_MARKS = ("ancestral", "sde", "lcm", "ddpm", "seeds")


def is_stochastic(sampler_name: str) -> bool:
    return any(mark in sampler_name for mark in STOCHASTIC_SAMPLER_MARKS)


@dataclass(frozen=True)
class SamplerSettings:
    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    denoise: float
    noise_mask: bool
    variants: int
    guidance: float
    differential: bool
    dd_strength: float


@dataclass(frozen=True)
class ModelTraits:
    kind: str  # "flux_fill" | "concat" | "none", see diff_attention.inpaint_kind
    is_flux: bool
    multiple: int  # crop sides snap to this: VAE downscale x transformer patch size
    extra_inputs: bool = False  # the model takes concat channels (Flux depth/canny too, though kind is "none")


def model_traits(model, vae, node: str) -> ModelTraits:
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
    is_flux = isinstance(base, comfy.model_base.Flux)
    kind = inpaint_kind(model)
    extra_inputs = kind != "none"
    if is_flux and kind == "concat":
        # Flux depth/canny models concat a control image, not a greyed crop: inpaint them by noise mask
        kind = "none"
    return ModelTraits(kind=kind, is_flux=is_flux, multiple=max(8, ratio * patch), extra_inputs=extra_inputs)


def _expected_context(model) -> tuple[int | None, int | None]:
    """(token dim, pooled dim) the diffusion model accepts, where it can be read off its layers."""
    dm = model.model.diffusion_model
    txt_in = getattr(dm, "txt_in", None)
    vector_in = getattr(getattr(dm, "vector_in", None), "in_layer", None)
    if txt_in is not None and hasattr(txt_in, "in_features"):
        return txt_in.in_features, getattr(vector_in, "in_features", None)
    context = model.model.model_config.unet_config.get("context_dim")
    return context, None


def check_conditioning(model, conditioning: list, node: str, name: str) -> None:
    token_dim, pooled_dim = _expected_context(model)
    for tokens, extras in conditioning:
        if token_dim is not None and tokens.shape[-1] != token_dim:
            raise InputError(
                f"{node}: input '{name}' has text embeddings of shape {tuple(tokens.shape)} but the model "
                f"({type(model.model).__name__}) expects {token_dim} features per token; the conditioning "
                f"comes from another model family's text encoder.")
        pooled = extras.get("pooled_output")
        if pooled_dim is not None and pooled is not None and pooled.shape[-1] != pooled_dim:
            raise InputError(
                f"{node}: input '{name}' has a pooled output of shape {tuple(pooled.shape)} but the model "
                f"expects {pooled_dim} features.")


def zero_out(conditioning: list) -> list:
    """Core ConditioningZeroOut on copies: the negative Flux is trained with."""
    out = []
    for tokens, extras in conditioning:
        extras = dict(extras)
        if extras.get("pooled_output") is not None:
            extras["pooled_output"] = torch.zeros_like(extras["pooled_output"])
        out.append([torch.zeros_like(tokens), extras])
    return out


def encode_prompts(clip, text: str, condition, traits: ModelTraits, node: str) -> tuple[list, list]:
    """Positive from `condition` (wins) or `clip`+`text`; negative zeroed for Flux, else empty text."""
    if condition is None and clip is None:
        raise InputError(f"{node}: connect either input 'clip' (to encode 'text') or input 'condition' "
                         f"(pre-computed conditioning); neither is connected.")
    if condition is not None:
        positive = [[t, dict(d)] for t, d in condition]
    else:
        positive = clip.encode_from_tokens_scheduled(clip.tokenize(text))
    if traits.is_flux or clip is None:
        negative = zero_out(positive)
    else:
        negative = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    return positive, negative


@dataclass
class PreparedGroup:
    region_indices: list[int]
    positive: list
    negative: list
    latent: dict
    split: int = 0  # spatial_concat: first pixel column of the part that is stitched back


def _progress_callback(model, pbar: comfy.utils.ProgressBar, offset: int, total: int):
    previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)

    def callback(step, x0, x, total_steps):
        preview = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
        pbar.update_absolute(offset + step + 1, total, preview)

    return callback


def mode_plan(stage: CropStage, settings: SamplerSettings, traits: ModelTraits, node: str) -> ModePlan:
    """The edit mode and pre-fill chosen in Inpaint Options, checked against the model."""
    return resolve_mode(stage.options.mode, stage.options.prefill, traits, settings, node)


def prepare_groups(stage: CropStage, vae, positive: list, negative: list, settings: SamplerSettings,
                   traits: ModelTraits, plan: ModePlan | None = None, node: str = "FluxFill Inpainter"
                   ) -> list[PreparedGroup]:
    """Stage 1b: crop, mask and encode every region once, grouped by target size, as the mode asks."""
    plan = plan or mode_plan(stage, settings, traits, node)
    groups = []
    for _, indices in stage.plan.groups_by_target().items():
        comfy.model_management.throw_exception_if_processing_interrupted()
        batch = prepare_mode_batch(stage, indices, vae, positive, negative, settings, traits, plan, node)
        groups.append(PreparedGroup(indices, batch.positive, batch.negative, batch.latent, batch.split))
    return groups


def _rows_of(conditioning: list, rows: torch.Tensor, batch: int) -> list:
    """The conditioning of some rows of a batched call: per-row concat tensors are sliced (copies)."""
    def rows_of(key: str, value):
        if isinstance(value, torch.Tensor) and key.startswith("concat") and value.shape[0] == batch:
            return value[rows]
        if key == "reference_latents":
            return [v[rows] if isinstance(v, torch.Tensor) and v.shape[0] == batch else v for v in value]
        return value

    return [[tokens, {k: rows_of(k, v) for k, v in extras.items()}] for tokens, extras in conditioning]


def sampler_calls(region_count: int, variants: int, sampler_name: str) -> list[tuple[torch.Tensor, int]]:
    """(rows, seed offset) of each sampler call for a group laid out as region r * variants + j.

    Deterministic samplers take all rows in one call; stochastic ones draw step noise from the call's
    seed, so each variant j gets its own call seeded seed + j (as a batch_size 1 run with seed + j).
    """
    if not is_stochastic(sampler_name):
        return [(torch.arange(region_count * variants), 0)]
    return [(torch.arange(region_count) * variants + j, j) for j in range(variants)]


def sample_groups(model, vae, groups: list[PreparedGroup], settings: SamplerSettings, traits: ModelTraits,
                  noise_masked: bool | None = None) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Stage 2: one sampler call per group; returns per-region decoded crops and sampled latents.

    `noise_masked`: whether the groups carry a noise mask (the mode plan's); differential diffusion
    applies only then. Spatial-concat groups return only the part right of their `split`.
    """
    variants = settings.variants
    order = sorted(i for g in groups for i in g.region_indices)
    shapes = {}
    for g in groups:
        for k, idx in enumerate(g.region_indices):
            shapes[idx] = tuple(g.latent["samples"][k * variants:k * variants + 1].shape)
    noise_list = region_variant_noise([shapes[i] for i in order], settings.seed, variants)
    noise_by_region = dict(zip(order, noise_list, strict=True))

    if noise_masked is None:
        noise_masked = settings.noise_mask or traits.kind == "none"
    if settings.differential and noise_masked:
        model = apply_differential_diffusion(model, settings.dd_strength)
    plans = [sampler_calls(len(g.region_indices), variants, settings.sampler_name) for g in groups]
    total = settings.steps * sum(len(p) for p in plans)
    pbar = comfy.utils.ProgressBar(total)
    done = 0
    decoded, latents = {}, {}
    for g, calls in zip(groups, plans, strict=True):
        positive = g.positive
        if traits.is_flux:
            positive = node_helpers.conditioning_set_values(positive, {"guidance": settings.guidance})
        latent_image = comfy.sample.fix_empty_latent_channels(model, g.latent["samples"])
        noise = torch.cat([noise_by_region[i] for i in g.region_indices])
        noise_mask = g.latent.get("noise_mask")
        batch = latent_image.shape[0]
        samples = torch.empty_like(latent_image)
        for rows, offset in calls:
            comfy.model_management.throw_exception_if_processing_interrupted()
            samples[rows] = comfy.sample.sample(
                model, noise[rows], settings.steps, settings.cfg, settings.sampler_name, settings.scheduler,
                _rows_of(positive, rows, batch), _rows_of(g.negative, rows, batch), latent_image[rows],
                denoise=settings.denoise, noise_mask=None if noise_mask is None else noise_mask[rows],
                seed=settings.seed + offset, callback=_progress_callback(model, pbar, done, total),
                disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED).to(samples.dtype)
            done += settings.steps
        images, samples = target_part(vae.decode(samples), samples, g.split)
        for k, idx in enumerate(g.region_indices):
            rows = slice(k * variants, (k + 1) * variants)
            decoded[idx] = images[rows]
            latents[idx] = samples[rows]
        del images
        comfy.model_management.soft_empty_cache()
    return decoded, latents


def collect_latents(latents: dict[int, torch.Tensor]) -> dict:
    """Sampled crop latents in plan order, rows region r * variants + j.

    Regions of different sizes are resized (bilinear) to the first region's latent size so they fit
    in one LATENT batch; `shared_target` in Inpaint Options avoids that resize.
    """
    ordered = [latents[i] for i in sorted(latents)]
    h, w = ordered[0].shape[-2:]
    same = [t if t.shape[-2:] == (h, w) else comfy.utils.common_upscale(t, w, h, "bilinear", "disabled")
            for t in ordered]
    return {"samples": torch.cat(same).to(comfy.model_management.intermediate_device())}


def inpaint_stage(stage: CropStage, model, vae, positive: list, negative: list, settings: SamplerSettings,
                  traits: ModelTraits, node: str) -> tuple[torch.Tensor, dict]:
    plan = mode_plan(stage, settings, traits, node)
    if traits.kind == "none" and plan.name != "repaint":
        log.info("%s: the model has no inpaint channels; using the noise-mask (RePaint) path", node)
    if plan.name != "inpaint" or plan.prefill != "grey":
        log.info("%s: mode %s, prefill %s", node, plan.name, plan.prefill)
    groups = prepare_groups(stage, vae, positive, negative, settings, traits, plan, node)
    decoded, latents = sample_groups(model, vae, groups, settings, traits, plan.noise_mask)
    originals = stage.stitcher.originals
    channels = originals.shape[-1]
    crops = [match_channels(decoded[i].to(originals.device, originals.dtype), channels)
             for i in range(len(stage.plan.regions))]
    s = stage.stitcher
    images = stitch(s.originals, s.composite, stage.plan, crops, settings.variants,
                    color_correct=s.color_correct, denoise_full=s.denoise)
    return images, collect_latents(latents)
