"""Automatic settings: what the FluxFill Inpainter's sampling widgets mean at their defaults.

`steps` 0, `cfg` 0, `sampler_name` / `scheduler` "auto" and `target_megapixels` 0 are "automatic": the
connected model's row of the family table (nodes/family.py FAMILIES, the table README prints) decides them
(its template's steps, cfg, sampler, scheduler and native size). A value the user sets wins. `guidance` 0
was automatic before (nodes/prompts.py). Saved workflows store explicit values, so they run as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from .family import Family, family_by_name
from .option_values import InpaintOptions
from .prompts import guidance_for
from .types import ModelTraits, SamplerSettings

log = logging.getLogger("fluxfill_inpainter")

AUTO = "auto"  # the first choice of the sampler_name and scheduler combos
MEGAPIXEL = 1024 * 1024  # "1 megapixel" in ComfyUI (ImageScaleToTotalPixels)


def native_megapixels(row: Family) -> float:
    """The family's native size (its template's output) in megapixels: SD 1.5 512² = 0.25, Flux 1024² = 1."""
    width, height = row.native
    return width * height / MEGAPIXEL


@dataclass(frozen=True)
class AutoSettings:
    """The sampler settings and crop options a run uses, and which widgets the family table decided."""

    settings: SamplerSettings
    options: InpaintOptions
    family: str
    automatic: tuple[str, ...]  # widget names whose value came from the family table

    def summary(self, positive: list, traits: ModelTraits, reference: bool) -> dict:
        """The settings used, for the node's region summary (nodes/ui.py). `positive`: the conditioning
        sampled (its guidance, where the model reads one), or before guidance was set (nothing sampled)."""
        s = self.settings
        guidance = None
        if traits.guidance_embed:
            found = [float(extras["guidance"]) for _, extras in positive if "guidance" in extras]
            guidance = found[0] if found else guidance_for(positive, traits, s, reference)
        return {"family": self.family, "steps": s.steps, "cfg": s.cfg, "sampler_name": s.sampler_name,
                "scheduler": s.scheduler, "guidance": guidance,
                "target_megapixels": round(self.options.crop.target_mp, 4), "automatic": list(self.automatic)}


def resolve_automatic(settings: SamplerSettings, options: InpaintOptions, traits: ModelTraits, node: str
                      ) -> AutoSettings:
    """Replace the automatic widget values with the family's; explicit values are kept as set."""
    row = family_by_name(traits.family)
    chosen: dict[str, object] = {}
    if settings.steps <= 0:
        chosen["steps"] = row.steps
    if settings.cfg <= 0:
        chosen["cfg"] = row.cfg
    if settings.sampler_name == AUTO:
        chosen["sampler_name"] = row.sampler
    if settings.scheduler == AUTO:
        chosen["scheduler"] = row.scheduler
    if options.crop.target_mp <= 0:
        options = replace(options, crop=replace(options.crop, target_mp=native_megapixels(row)))
        chosen["target_megapixels"] = round(options.crop.target_mp, 4)
    if chosen:
        log.info("%s: automatic settings for the %s model: %s", node, row.name,
                 ", ".join(f"{k} {v}" for k, v in chosen.items()))
    settings = replace(settings, **{k: v for k, v in chosen.items() if k != "target_megapixels"})
    return AutoSettings(settings, options, row.name, tuple(chosen))
