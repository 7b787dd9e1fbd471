"""The FluxFill Inpainter's pipeline, top to bottom, one call per stage:

    check → plan → crop → prepare → sample → decode → refine → stitch

check     nodes/family.py, nodes/prompts.py, nodes/inputs.py  model traits, conditioning, guidance
plan      nodes/crop_stage.py  (crop_stitch.prepare_windowed_masks, plan_crops)  masks in original pixels, regions
crop      nodes/crop_stage.py + nodes/prepare.py  resized crops on the compute device
prepare   nodes/modes.py + nodes/prepare.py  the edit mode's pixels, masks, encodes and conditioning
sample    nodes/sampling.py  noise seed + j, differential diffusion, memory-bounded sampler calls
decode    nodes/decode.py  crops back to pixels, crop latents for the LATENT output
refine    nodes/refine.py  (Inpaint Options refine) large regions upscaled, re-encoded, sampled again
stitch    crop_stitch.Stitcher.stitch  feathered blend into the original, untouched outside
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import comfy.model_management
import torch
from comfy_api.latest import io

from ..diff_attention import wrap_seed
from .crop_stage import crop_stage
from .decode import collect_latents, decode_groups, empty_latent
from .family import model_traits
from .inputs import check_conditioning
from .modes import crop_sizes, resolve_mode
from .option_values import InpaintOptions
from .prepare import prepare_groups
from .prompts import encode_prompts, with_guidance
from .refine import estimated_steps, refine_pass
from .sampling import Progress, sample_groups
from .types import SamplerSettings
from .ui import regions_ui


@dataclass(frozen=True)
class Prompt:
    """What conditions the sampler: `condition` wins over `clip` + `text`."""

    text: str
    clip: object | None
    condition: list | None


@dataclass(frozen=True)
class CropWidgets:
    context: float
    grow: int
    feather: int
    target_megapixels: float


def inpaint(cls, node: str, model, vae, image: torch.Tensor, mask: torch.Tensor, prompt: Prompt,
            settings: SamplerSettings, crop: CropWidgets, options: InpaintOptions | None, control_net=None,
            model_patch=None) -> io.NodeOutput:
    """Run the whole pipeline; returns the Inpainter's outputs and its UI message."""
    traits = model_traits(model, vae, node)
    positive, negative = encode_prompts(prompt.clip, prompt.text, prompt.condition, model, settings.cfg, node)
    check_conditioning(model, positive, node, "condition" if prompt.condition is not None else "clip")

    options = options or InpaintOptions()
    options = options.with_main_widgets(
        context=crop.context, grow=crop.grow, feather=crop.feather, target_mp=crop.target_megapixels,
        ).for_model(traits.multiple, crop_sizes(options.mode, traits))
    stage = crop_stage(image, mask, options, node)
    variants, stitcher = settings.variants, stage.stitcher
    if stage.empty or settings.denoise <= 0:
        images = stitcher.originals.repeat_interleave(variants, dim=0)
        latent = empty_latent(traits.latent_channels, traits.latent_dimensions)
    else:
        mode = resolve_mode(options.mode, options.prefill, traits, settings.noise_mask, node)
        positive = with_guidance(positive, traits, settings, reference=mode.reference_latent)
        groups = prepare_groups(stage, vae, positive, negative, variants, traits, mode, node, control_net, model_patch)
        progress = Progress()
        sampled = sample_groups(model, groups, settings, mode.noise_mask, progress,
                                later_steps=estimated_steps(stage, settings, traits, mode))
        crops, latents = decode_groups(vae, groups, sampled, variants)
        crops, latents = refine_pass(model, vae, stage, crops, latents, (positive, negative), settings, traits, mode,
                                     node, progress, control_net, model_patch)
        images = stitcher.stitch([crops[i] for i in range(len(stage.plan.regions))], variants)
        latent = collect_latents(latents)

    home = comfy.model_management.intermediate_device()
    composite = stage.composite_mask.full()
    composite = composite if variants == 1 else composite.repeat_interleave(variants, dim=0)
    seeds = ",".join(str(wrap_seed(settings.seed + j)) for j in range(variants))
    return io.NodeOutput(images.to(home), latent, composite.to(home), prompt.clip, vae, settings.seed, seeds,
                         json.dumps(stage.plan.to_dict()), ui=regions_ui(stitcher.originals, stage.plan, cls))
