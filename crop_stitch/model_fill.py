"""Fill the masked pixels of crops with an image-inpainting network (LaMa, MAT): the pure-tensor parts.

The network itself is a callable `run(image [1,3,h,w], mask [1,1,h,w]) -> [1,3,h,w]` supplied by the
caller (nodes/fill_model.py runs it on the compute device under ComfyUI's model management). Here:
resize each crop to the network's working size, pad it to the network's multiple (square if asked),
call it, undo the padding and the resize, and keep every pixel outside round(mask) bit for bit.
No ComfyUI imports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .masks import broadcast_mask

FillRun = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class FillGeometry:
    """How a fill network wants its input: longest side at most `working_side` (0 = any), sides a
    multiple of `multiple`, at least `minimum`, square when `square`."""

    working_side: int = 0
    multiple: int = 8
    minimum: int = 16
    square: bool = False


def working_size(height: int, width: int, geometry: FillGeometry) -> tuple[int, int]:
    """(h, w) the crop is resized to before padding: shrunk (aspect kept) so the longest side is at
    most geometry.working_side; never enlarged."""
    side = geometry.working_side
    if side <= 0 or max(height, width) <= side:
        return height, width
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def padding_for(height: int, width: int, geometry: FillGeometry) -> tuple[int, int]:
    """(pad_bottom, pad_right) that make (height, width) meet the geometry's multiple, minimum, square."""
    def up(n: int) -> int:
        n = max(n, geometry.minimum)
        return -(-n // geometry.multiple) * geometry.multiple

    th, tw = up(height), up(width)
    if geometry.square:
        th = tw = max(th, tw)
    return th - height, tw - width


def _resize_nchw(x: Tensor, height: int, width: int, mode: str) -> Tensor:
    if x.shape[-2:] == (height, width):
        return x
    if mode == "bicubic":
        down = height < x.shape[-2] or width < x.shape[-1]
        return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=down).clamp(0, 1)
    return F.interpolate(x, size=(height, width), mode=mode)


def shrink_mask_covering(mask: Tensor, height: int, width: int) -> Tensor:
    """A binary [N,1,H,W] mask shrunk to (height, width) so that every working pixel that overlaps a masked
    pixel is masked (adaptive max-pool: its windows cover every input pixel), so lines of any width >= 1 px at
    any offset survive. Never enlarges (the working size never exceeds the crop)."""
    if mask.shape[-2:] == (height, width):
        return mask
    return F.adaptive_max_pool2d(mask, (height, width))


def _pad(x: Tensor, bottom: int, right: int) -> Tensor:
    """Pad the bottom/right of [N,C,H,W]: reflect as far as the image allows, then replicate."""
    rb, rr = min(bottom, x.shape[-2] - 1), min(right, x.shape[-1] - 1)
    if rb or rr:
        x = F.pad(x, (0, rr, 0, rb), mode="reflect")
    if bottom - rb or right - rr:
        x = F.pad(x, (0, right - rr, 0, bottom - rb), mode="replicate")
    return x


def model_fill(image: Tensor, mask: Tensor, run: FillRun, geometry: FillGeometry,
               check: Callable[[], None] | None = None) -> Tensor:
    """A copy of `image` [N,H,W,C] (0..1) whose pixels under round(mask) [N|1,H,W] come from `run`.

    Each row goes through `run` on its own (fill networks take one image) at the working size; the
    mask is binarized at crop size, and where it is 0 the result is the input bit for bit. `check` is
    called before each row (interrupt point). Channels beyond RGB (alpha) are kept as they are;
    a 1-channel image is filled as grey RGB and averaged back.
    """
    n, h, w, c = image.shape
    hard = broadcast_mask(mask, n, h, w, name="model fill: mask", device=image.device,
                          dtype=torch.float32).round().clamp(0, 1)
    if not bool(hard.any()):
        return image.clone()
    rgb = image[..., :3].float() if c >= 3 else image.float().expand(-1, -1, -1, 3)
    wh, ww = working_size(h, w, geometry)
    pad_b, pad_r = padding_for(wh, ww, geometry)
    rows = []
    for i in range(n):
        if check is not None:
            check()
        if not bool(hard[i].any()):
            rows.append(rgb[i:i + 1].permute(0, 3, 1, 2))
            continue
        x = _resize_nchw(rgb[i:i + 1].permute(0, 3, 1, 2), wh, ww, "bicubic")
        m = shrink_mask_covering(hard[i:i + 1, None], wh, ww)
        filled = run(_pad(x, pad_b, pad_r), _pad(m, pad_b, pad_r))[..., :wh, :ww]
        rows.append(_resize_nchw(filled.float().clamp(0, 1), h, w, "bicubic"))
    fill = torch.cat(rows).permute(0, 2, 3, 1).to(device=image.device)
    if c == 1:
        fill = fill.mean(dim=-1, keepdim=True)
    elif c > 3:
        fill = torch.cat([fill, image[..., 3:].float()], dim=-1)
    return torch.where(hard[..., None] > 0.5, fill.to(image.dtype), image)
