"""Pre-fill of the masked area before encoding (object removal): grey, blur, OpenCV inpainting, or a
fill network (LaMa / MAT, see model_fill.py).

IMAGE is [B,H,W,C] float 0..1 and MASK is [B,H,W] (1 = fill); pixels where the mask rounds to 1 are
replaced, every other pixel is returned unchanged (bit for bit). No ComfyUI imports.

- "grey": 0.5, what ComfyUI's `InpaintModelConditioning` puts under the mask.
- "blur": a push-pull normalized convolution: the known pixels are averaged down an image pyramid
  (colour x coverage and coverage alike) and pulled back up, so every hole gets a smooth colour
  continued from its surroundings however large it is. Pure torch, same on CPU and GPU.
- "telea" / "navier_stokes": `cv2.inpaint` (INPAINT_TELEA / INPAINT_NS) when OpenCV is importable;
  without OpenCV they raise `PrefillUnavailable` naming the option and the install command (no
  silent fallback, so a shared workflow never changes its result with the machine).
- "fill_model": the caller's `filler(image, mask)` (a fill network such as LaMa, run by nodes/);
  without one it raises `PrefillUnavailable`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .channels import to_rgb
from .masks import broadcast_mask

FILL_MODEL = "fill_model"  # the masked pixels come from a fill network (LaMa, MAT) the caller supplies
GREY = "grey"  # core's behaviour: 0.5 under the mask, in the concat image only
PREFILL_MODES = (GREY, "blur", "telea", "navier_stokes", FILL_MODEL)  # the one list: nodes/ and the docs read it
OPENCV_MODES = ("telea", "navier_stokes")
OPENCV_RADIUS = 5
INSTALL_HINT = "pip install opencv-python-headless"


class PrefillUnavailable(RuntimeError):
    """A pre-fill needs a library that is not installed."""


def opencv_available() -> bool:
    return importlib.util.find_spec("cv2") is not None


def _hard_mask(mask: Tensor, image: Tensor) -> Tensor:
    """[B,H,W,1] 0/1 mask (round(m)) on the image's device and dtype; batch 1 broadcasts."""
    b, h, w = image.shape[:3]
    m = broadcast_mask(mask, b, h, w, name="prefill: mask", device=image.device, dtype=image.dtype)
    return m.round().clamp(0, 1).unsqueeze(-1)


def push_pull_fill(image: Tensor, known: Tensor) -> Tensor:
    """Smooth fill of [B,H,W,C] from the pixels where `known` [B,H,W,1] is 1 (all of the image).

    Levels are 2x2 box averages of colour x coverage and of coverage; going back up, each level
    keeps its own normalized colour in proportion to its coverage and takes the rest from the
    coarser level (bilinear). Where nothing is known at all the fill is 0.5 grey.
    """
    work = image.float().permute(0, 3, 1, 2)
    weight = known.float().permute(0, 3, 1, 2)
    premult, weights = [work * weight], [weight]
    while min(premult[-1].shape[-2:]) > 1:
        premult.append(F.avg_pool2d(premult[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    coarse_w = weights[-1].sum(dim=(-2, -1), keepdim=True)
    coarse = torch.where(coarse_w > 0, premult[-1].sum(dim=(-2, -1), keepdim=True) / coarse_w.clamp_min(1e-12),
                         torch.full_like(coarse_w, 0.5))
    result = coarse.expand_as(premult[-1])
    for level in range(len(premult) - 1, -1, -1):
        p, w = premult[level], weights[level]
        up = F.interpolate(result, size=p.shape[-2:], mode="bilinear", align_corners=False)
        colour = p / w.clamp_min(1e-12)
        alpha = w.clamp(0.0, 1.0)
        result = colour * alpha + up * (1.0 - alpha)
    return result.permute(0, 2, 3, 1).to(image.dtype)


def _opencv_fill(image: Tensor, hard: Tensor, method: str, node: str) -> Tensor:
    if not opencv_available():
        raise PrefillUnavailable(
            f"{node}: prefill '{method}' needs OpenCV, which is not installed in ComfyUI's Python. "
            f"Install it with `{INSTALL_HINT}` (then restart ComfyUI), or choose prefill 'blur' "
            f"(pure torch, no extra package).")
    import cv2
    import numpy as np

    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    rgb = to_rgb(image)
    pixels = (rgb.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    masks = (hard[..., 0] > 0.5).to(torch.uint8).cpu().numpy() * 255
    filled = np.stack([cv2.inpaint(np.ascontiguousarray(p), np.ascontiguousarray(m), OPENCV_RADIUS, flag)
                       for p, m in zip(pixels, masks, strict=True)])
    out = torch.from_numpy(filled).to(device=image.device, dtype=torch.float32) / 255.0
    if image.shape[-1] == 1:
        out = out.mean(dim=-1, keepdim=True)
    elif image.shape[-1] == 4:
        out = torch.cat([out, image[..., 3:].float()], dim=-1)
    return out.to(image.dtype)


def prefill(image: Tensor, mask: Tensor, method: str = GREY, *, node: str = "prefill",
            filler: Callable[[Tensor, Tensor], Tensor] | None = None) -> Tensor:
    """A copy of `image` with the pixels under round(mask) replaced by the `method` fill.

    `node` names the caller in errors (the missing-OpenCV message, an unknown method, no filler).
    `filler(image, mask)` is what "fill_model" uses (a filled copy of the image).
    """
    if method not in PREFILL_MODES:
        raise ValueError(f"{node}: prefill must be one of {PREFILL_MODES}, got {method!r}")
    hard = _hard_mask(mask, image)
    if method == GREY:
        fill = torch.full_like(image, 0.5)
    elif method == "blur":
        fill = push_pull_fill(image, 1.0 - hard)
    elif method == FILL_MODEL:
        if filler is None:
            raise PrefillUnavailable(
                f"{node}: prefill '{FILL_MODEL}' needs a fill model: connect a 'Load Fill Model (FluxFill)' "
                f"node (LaMa from models/inpaint) to the 'fill_model' input of Inpaint Options.")
        fill = filler(image, hard[..., 0])
    else:
        fill = _opencv_fill(image, hard, method, node)
    return torch.where(hard > 0.5, fill, image)
