"""Differential diffusion: a per-step threshold on a soft denoise mask, as a ModelPatcher option.

Same contract as ComfyUI's `DifferentialDiffusion` node (comfy_extras/nodes_differential_diffusion.py,
0.3.75): the sampler (`KSamplerX0Inpaint`) calls `model_options["denoise_mask_function"]` every step
as `fn(sigma, denoise_mask, extra_options={"model": <wrapped model>, "sigmas": <schedule>})`. Pixels
whose mask value is at least the current normalised timestep are fully denoised this step, so a
soft mask edge is revealed gradually instead of blended.
"""

from __future__ import annotations

import functools
from typing import Any

from torch import Tensor


def differential_denoise_mask(sigma: Tensor, denoise_mask: Tensor, extra_options: dict, strength: float
                              ) -> Tensor:
    """The denoise mask to use at `sigma`: blend of the thresholded and the soft mask.

    The threshold τ is the current timestep normalised between the schedule's first sigma and its
    last one (or the model's `sigma_min` if larger), read from
    `extra_options["model"].inner_model.model_sampling` and `extra_options["sigmas"]`;
    `binary = (denoise_mask >= τ)` and the result is `strength·binary + (1−strength)·denoise_mask`.

    Equal to core `DifferentialDiffusion.forward` for strength in (0, 1] (and > 1, which both treat
    as 1). One deliberate difference: core treats strength 0 as 1 (`if strength and strength < 1`);
    here strength 0 really means "no differential diffusion" and the soft mask is returned as is.
    Nothing is modified in place.
    """
    if strength <= 0:
        return denoise_mask
    model_sampling = extra_options["model"].inner_model.model_sampling
    step_sigmas = extra_options["sigmas"]
    sigma_to = model_sampling.sigma_min
    if step_sigmas[-1] > sigma_to:
        sigma_to = step_sigmas[-1]
    sigma_from = step_sigmas[0]

    ts_from = model_sampling.timestep(sigma_from)
    ts_to = model_sampling.timestep(sigma_to)
    current_ts = model_sampling.timestep(sigma[0])
    threshold = (current_ts - ts_to) / (ts_from - ts_to)

    binary_mask = (denoise_mask >= threshold).to(denoise_mask.dtype)
    if strength >= 1:
        return binary_mask
    # the same expression, in the same order, as core: bit-identical results
    return strength * binary_mask + (1 - strength) * denoise_mask


def apply_differential_diffusion(model: Any, strength: float = 1.0) -> Any:
    """A clone of the ModelPatcher `model` whose denoise mask function is differential diffusion.

    The function is a `functools.partial` of `differential_denoise_mask` (picklable and
    deep-copyable, as `ModelPatcher.clone` deep-copies model_options). The input model, its
    model_options included, is left unchanged: `clone()` deep-copies them before the option is set.
    """
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    patched = model.clone()
    patched.set_model_denoise_mask_function(functools.partial(differential_denoise_mask, strength=strength))
    return patched
