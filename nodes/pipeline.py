"""The FluxFill Inpainter's pipeline, top to bottom, one call per stage:

    check → plan → crop → prepare → sample → decode → refine → stitch
    (a clip on a video model: check → plan → crop → sample clips (prepare + sample + decode) → stitch)

check     nodes/family.py, nodes/auto_settings.py, nodes/prompts.py, nodes/inputs.py  model traits, automatic
          settings (the family's steps, cfg, sampler, scheduler, native size), conditioning, guidance
plan      nodes/crop_stage.py  (crop_stitch.prepare_windowed_masks, plan_crops)  masks in original pixels, regions
crop      nodes/crop_stage.py + nodes/prepare.py  resized crops on the compute device
prepare   nodes/modes.py + nodes/prepare.py  the edit mode's pixels, masks, encodes and conditioning
clips     nodes/clip_sampling.py  a video model's clip: each region's frames one video latent per window
sample    nodes/sampling.py  noise seed + j, differential diffusion, memory-bounded sampler calls
decode    nodes/decode.py  crops back to pixels, crop latents for the LATENT output
refine    nodes/refine.py  (Inpaint Options refine) large regions upscaled, re-encoded, sampled again
stitch    crop_stitch.Stitcher.stitch  feathered blend into the original, untouched outside

One row order inside: region-major (region r, variant j at r * V + j), crop_stitch/layout.py. One crop,
plan to stitch:
1. nodes/crop_stage.py    plan_crops gives region r (plan order) its box and target size
2. nodes/prepare.py       its group encodes it once, repeated to rows r * V + j (diff_attention/latent_prep.py)
3. nodes/sampling.py      rows r * V + j sampled with noise seed + j (split into calls, never reordered)
4. nodes/decode.py        rows r * V ... r * V + V - 1 decoded into crops[r] = [V,h,w,3]
5. crop_stitch/stitch.py  crops[r] blended into image b at rows b * V + j (the `image` output);
                          the `latent` output alone converts, to variant-major j * R + r (decode.latent_output)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import comfy.model_management
import torch
from comfy_api.latest import io

from ..crop_stitch import Stitcher
from ..diff_attention import wrap_seed
from .auto_settings import resolve_automatic
from .clip_sampling import check_clip_inputs, sample_clips
from .crop_stage import crop_stage
from .decode import decode_groups, empty_latent, latent_output
from .family import model_traits
from .inputs import check_conditioning, check_spatial_condition
from .modes import crop_sizes, resolve_mode
from .option_values import InpaintOptions
from .prepare import prepare_context, prepare_groups
from .prompts import encode_prompts, with_guidance
from .refine import estimated_steps, refine_pass
from .sampling import Progress, sample_groups
from .types import Connected, PerRegion, SamplerSettings
from .ui import regions_ui

log = logging.getLogger("fluxfill_inpainter")


@dataclass(frozen=True)
class Prompt:
    """What conditions the sampler: `condition` wins over `clip` + `text`."""

    text: str
    clip: object | None
    condition: list | None


def stitch_crops(stitcher: Stitcher, crops: PerRegion, variants: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The stitched images and, from the changed-only stitch (which composites less than the composite mask),
    the mask it used (None: the composite mask)."""
    ordered = [crops[r] for r in range(len(stitcher.plan.regions))]
    if stitcher.changed is None:
        return stitcher.stitch(ordered, variants), None
    stitched = stitcher.stitch_masked(ordered, variants)
    return stitched.images, stitched.mask


def inpaint(cls, node: str, connected: Connected, image: torch.Tensor, mask: torch.Tensor, prompt: Prompt,
            settings: SamplerSettings, options: InpaintOptions) -> io.NodeOutput:
    """Run the whole pipeline; returns the Inpainter's outputs and its UI message. `options` carry the
    node's crop widgets already (InpaintOptions.with_main_widgets)."""
    model, vae = connected.model, connected.vae
    traits = model_traits(model, vae, node)
    auto = resolve_automatic(settings, options, traits, node)
    settings, options = auto.settings, auto.options
    positive, negative = encode_prompts(prompt.clip, prompt.text, prompt.condition, model, settings.cfg, node)
    check_conditioning(model, positive, node, "condition" if prompt.condition is not None else "clip")
    for warning in check_spatial_condition(prompt.condition or [], node):
        log.warning("%s", warning)

    video_model = traits.frame_window > 0
    stage = crop_stage(image, mask, options.for_model(traits.multiple, crop_sizes(options.mode, traits)), node,
                       clip=options.video.clip(video_model))
    variants, stitcher = settings.variants, stage.stitcher
    composite = None  # the mask output: the composite mask, unless the stitch says what it used
    reference = False
    if stage.empty or settings.denoise <= 0:
        images = stitcher.originals.repeat_interleave(variants, dim=0)
        latent = empty_latent(traits.latent_channels, traits.latent_dimensions)
    elif video_model and stage.clips:  # a clip: each region's frames sampled as one video latent
        check_clip_inputs(options, connected, node)
        conditioning = (with_guidance(positive, traits, settings), negative)
        crops, latent = sample_clips(stage, connected, conditioning, settings, options.video, traits.frame_window,
                                     traits.vace)
        images, composite = stitch_crops(stitcher, crops, variants)
    else:
        mode = resolve_mode(options.mode, options.prefill, traits, settings.noise_mask, node)
        reference = mode.reference_latent
        positive = with_guidance(positive, traits, settings, reference=reference)
        ctx = prepare_context(stage, connected, (positive, negative), variants, traits, mode, node)
        groups = prepare_groups(ctx)
        progress = Progress()
        sampled = sample_groups(model, groups, settings, mode.noise_mask, progress,
                                later_steps=estimated_steps(stage, settings, traits, mode))
        crops, latents = decode_groups(vae, groups, sampled, variants)
        crops, latents = refine_pass(model, ctx, crops, latents, settings, progress)
        images, composite = stitch_crops(stitcher, crops, variants)
        latent = latent_output(latents)

    if composite is None:
        composite = stage.composite_mask.full_rows(variants)  # one mask on a batch stays one (a broadcast view)
    home = comfy.model_management.intermediate_device()
    seeds = ",".join(str(wrap_seed(settings.seed + j)) for j in range(variants))
    return io.NodeOutput(images.to(home), latent, composite.to(home), prompt.clip, vae, settings.seed, seeds,
                         json.dumps(stage.plan.to_dict()),
                         ui=regions_ui(stitcher.originals, stage.plan, cls, auto.summary(positive, traits, reference)))
