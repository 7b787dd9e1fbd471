"""Edit modes: what each mode of Inpaint Options changes in the one crop → prepare → sample → stitch
pipeline, checked against the model.

- inpaint: the model's own path from the family table (nodes/family.py): Flux Fill / SD inpaint concat;
  reference latents + noise mask for families whose path is "reference" (Flux.2); else noise mask.
- channel_edit: Flux Fill with an all-ones concat mask and un-greyed pixels (InFluxEdit); the noise
  mask still comes from the user's mask.
- spatial_concat: canvas [reference | crop] (ACE++), only the right half masked; the right half is
  what gets stitched back.
- reference (saved workflows may say 'kontext', the same mode): the encoded crop (or `reference`)
  appended to the positive's `reference_latents`, as core `ReferenceLatent` does; the masked crop is
  sampled by noise mask. Only for models that read reference latents (Flux Kontext / dev, Flux.2,
  Qwen-Image-Edit); refused for the others (Chroma, Z-Image, SD), which would silently ignore it.
- repaint: noise mask only, no concat values (flow-matching RePaint via core's KSamplerX0Inpaint).

Pre-fill: "grey" is core's greying of the concat image only. Any other fill replaces the masked
pixels before both encodes, so denoise < 1 starts from the filled background; channel_edit ignores it.
"""

from __future__ import annotations

import logging

from ..crop_stitch import GREY
from .inputs import InputError
from .types import (
    CHANNEL_EDIT,
    INPAINT,
    KONTEXT,
    NO_CONCAT,
    REFERENCE,
    REPAINT,
    SPATIAL_CONCAT,
    ModelTraits,
    ModePlan,
)

log = logging.getLogger("fluxfill_inpainter")


def crop_sizes(mode: str, traits: ModelTraits) -> tuple[tuple[int, int], ...]:
    """The trained sizes crops snap to in `mode`: the family's reference sizes (Flux Kontext's) in mode
    reference, where the model works as the edit model it was trained as; none otherwise."""
    return traits.reference_sizes if mode in (REFERENCE, KONTEXT) else ()


def resolve_mode(mode: str, prefill: str, traits: ModelTraits, noise_mask_widget: bool, node: str) -> ModePlan:
    """The plan for `mode` on a model with `traits`; clear errors for combinations that cannot work."""
    concat = traits.inpaint_kind != NO_CONCAT
    noise_mask = noise_mask_widget or not concat
    if mode == INPAINT:
        if not concat and traits.path == "reference" and traits.reads_reference_latents:
            return ModePlan(REFERENCE, False, True, True, False, False, True, prefill)
        if not concat:
            log.info("%s: the %s model has no inpaint channels; using the noise-mask (RePaint) path",
                     node, traits.family)
        return ModePlan(mode, concat, noise_mask, True, False, False, False, prefill)
    if mode == CHANNEL_EDIT:
        if not concat:
            raise InputError(
                f"{node}: mode 'channel_edit' (Inpaint Options) needs an inpaint model with concat channels "
                f"(Flux Fill, or an SD inpainting model); the connected model has none. Use mode 'reference' "
                f"or 'repaint' for models without inpaint channels.")
        if prefill != GREY:
            log.warning("%s: prefill '%s' is ignored in mode 'channel_edit' (the model must see the original)",
                        node, prefill)
        return ModePlan(mode, True, noise_mask_widget, False, True, False, False, GREY)
    if mode == SPATIAL_CONCAT:
        return ModePlan(mode, concat, noise_mask, True, False, True, False, prefill)
    if mode in (REFERENCE, KONTEXT):
        if traits.concat_inputs:
            raise InputError(
                f"{node}: mode '{mode}' (Inpaint Options) samples without concat values, but the connected "
                f"{traits.family} model has concat inpaint channels that would get a blank image. For Flux "
                f"Fill use mode 'channel_edit' or 'spatial_concat'.")
        if not traits.reads_reference_latents:
            raise InputError(
                f"{node}: mode '{mode}' (Inpaint Options) needs a model that reads reference latents (Flux "
                f"Kontext / dev, Flux.2, Qwen-Image-Edit); the connected {traits.family} model ignores them. "
                f"Use mode 'inpaint' or 'repaint'; for Flux Fill 'channel_edit' or 'spatial_concat'.")
        return ModePlan(REFERENCE, False, True, True, False, False, True, prefill)
    if mode == REPAINT:
        return ModePlan(mode, False, True, True, False, False, False, prefill)
    raise InputError(f"{node}: unknown mode {mode!r} in Inpaint Options.")
