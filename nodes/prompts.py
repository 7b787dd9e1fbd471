"""Positive and negative conditioning for the sampler, with the family's guidance rule."""

from __future__ import annotations

import logging

import node_helpers

import nodes as core_nodes

from .inputs import InputError
from .types import ModelTraits, SamplerSettings

log = logging.getLogger("fluxfill_inpainter")


def zero_out(conditioning: list) -> list:
    """Core `ConditioningZeroOut` (on copies): the negative guidance-distilled models are run with."""
    return core_nodes.ConditioningZeroOut().zero_out(conditioning)[0]


def encode_prompts(clip, text: str, condition, model, cfg: float, node: str) -> tuple[list, list]:
    """(positive, negative): the positive from `condition` (wins) or `clip` + `text`.

    The negative is a real one, the empty prompt through `clip`, wherever CFG is on (cfg != 1), as
    models sampled with CFG (SD, Chroma, Qwen-Image) expect; at cfg 1 the sampler never reads it, and
    it is the zeroed positive. With CFG on and no `clip`, the zeroed positive is used and a warning
    logged. Nothing of `condition` is modified.
    """
    if condition is None and clip is None:
        raise InputError(f"{node}: connect either input 'clip' (to encode 'text') or input 'condition' "
                         f"(pre-computed conditioning); neither is connected.")
    if condition is not None:
        positive = [[t, dict(d)] for t, d in condition]
    else:
        positive = clip.encode_from_tokens_scheduled(clip.tokenize(text))
    uses_cfg = cfg != 1.0
    if uses_cfg and clip is not None:
        negative = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    else:
        if uses_cfg:
            log.warning("%s: cfg %.2f with no 'clip' connected: the negative is the zeroed positive", node, cfg)
        negative = zero_out(positive)
    return positive, negative


def guidance_for(positive: list, traits: ModelTraits, settings: SamplerSettings, reference: bool = False
                 ) -> float | None:
    """The Flux guidance to set on the positive, or None to leave the conditioning as it is.

    Only models with a guidance embedding read it. A `guidance` widget above 0 is set as asked. At 0
    (automatic) guidance already on `condition` (e.g. from FluxGuidance) is kept, else the family's
    default from the table in nodes/family.py (Flux Fill 30, Flux dev 3.5 / 2.5 in reference mode as
    Kontext, Flux.2 4). Models without a guidance embedding (Chroma, Qwen-Image, Z-Image, SD) get none.
    """
    if not traits.guidance_embed:
        return None
    if settings.guidance > 0:
        return settings.guidance
    if any("guidance" in extras for _, extras in positive):
        return None
    return traits.reference_guidance if reference else traits.default_guidance


def with_guidance(positive: list, traits: ModelTraits, settings: SamplerSettings, reference: bool = False) -> list:
    """The positive with `guidance_for`'s value set (core conditioning_set_values, on copies)."""
    guidance = guidance_for(positive, traits, settings, reference)
    if guidance is None:
        return positive
    return node_helpers.conditioning_set_values(positive, {"guidance": guidance})
