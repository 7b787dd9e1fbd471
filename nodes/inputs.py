"""Input checks: every bad input is reported with the node's name, the input's name and the shapes."""

from __future__ import annotations

import torch

from ..crop_stitch import fit_mask_to_image


class InputError(ValueError):
    """A bad input, reported with the node's name, the input's name and the shapes involved."""


def _shape(value) -> object:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def check_image(image: torch.Tensor, node: str, name: str = "image") -> torch.Tensor:
    """An IMAGE [B,H,W,C] with 1, 3 or 4 channels and finite values, or InputError."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise InputError(f"{node}: input '{name}' must be an IMAGE [batch, height, width, channels], "
                         f"got {_shape(image)}.")
    b, h, w, c = image.shape
    if b < 1 or h < 1 or w < 1 or c not in (1, 3, 4):
        raise InputError(f"{node}: input '{name}' has shape {tuple(image.shape)}; expected at least one image "
                         f"with 1, 3 or 4 channels.")
    low, high = torch.aminmax(image)  # NaN/Inf propagate: no full-size boolean temporary
    if not (torch.isfinite(low) and torch.isfinite(high)):
        raise InputError(f"{node}: input '{name}' contains NaN or infinite values (shape {tuple(image.shape)}).")
    return image


def check_mask(mask: torch.Tensor, image: torch.Tensor, node: str) -> torch.Tensor:
    """The MASK fitted to the image ([B,H,W], sanitised, broadcast or resized), or InputError."""
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise InputError(f"{node}: input 'mask' must be a MASK [batch, height, width], got {_shape(mask)} "
                         f"(image is {tuple(image.shape)}).")
    try:
        return fit_mask_to_image(mask, image, node=node)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _expected_context(model) -> tuple[int | None, int | None]:
    """(token dim, pooled dim) the diffusion model accepts, where it can be read off its layers."""
    dm = model.model.diffusion_model
    txt_in = getattr(dm, "txt_in", None)
    vector_in = getattr(getattr(dm, "vector_in", None), "in_layer", None)
    if txt_in is not None and hasattr(txt_in, "in_features"):
        return txt_in.in_features, getattr(vector_in, "in_features", None)
    return model.model.model_config.unet_config.get("context_dim"), None


def check_conditioning(model, conditioning: list, node: str, name: str) -> None:
    """Text embeddings whose width the model accepts, or InputError (another family's encoder)."""
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


# Conditioning parts made for the full image that cannot follow the crops: key -> the core node that sets it.
SPATIAL_ERRORS = {"control": "a ControlNet apply node (connect the ControlNet to input 'control_net' instead)",
                  "area": "ConditioningSetArea", "mask": "ConditioningSetMask"}


def check_spatial_condition(conditioning: list, node: str) -> list[str]:
    """InputError for parts of `condition` placed on the full image (a ControlNet hint, an area, a mask): every
    crop would get them unchanged, misaligned. Returns the warnings for `reference_latents` (a full-image
    reference reaches every crop as it is: fine for a style or subject reference, misaligned for the image)."""
    keys = {key for _, extras in conditioning for key in extras}
    bad = sorted(keys & SPATIAL_ERRORS.keys())
    if bad:
        names = "; ".join(f"'{k}' from {SPATIAL_ERRORS[k]}" for k in bad)
        raise InputError(f"{node}: input 'condition' carries parts placed on the full image ({names}); every crop "
                         f"would get them unchanged, misaligned. Remove them from 'condition'.")
    if "reference_latents" in keys:
        return [f"{node}: input 'condition' carries reference latents; each crop gets them unchanged (the whole "
                f"reference, not its crop). For the crop as reference use Inpaint Options mode 'reference'."]
    return []
