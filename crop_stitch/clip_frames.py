"""The frames of a video clip as a video model samples them: the frame count a temporal VAE encodes whole,
windows of at most the model's frame window, and one clip again from overlapping windows (a crossfade)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def whole_length(frames: int, step: int) -> int:
    """The smallest count >= `frames` that a VAE compressing `step` frames per latent frame encodes whole
    (step * k + 1, Wan's 4k + 1); `frames` itself when the VAE is not temporal (step <= 1)."""
    if frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {frames}")
    if step <= 1:
        return frames
    return ((frames - 1 + step - 1) // step) * step + 1


def frame_windows(frames: int, window: int, overlap: int, step: int) -> list[range]:
    """Windows covering range(frames): each of `window` frames rounded down to a whole length (step * k + 1),
    the next starting `overlap` frames before the previous one ends (the last one ends at the clip's end,
    so its overlap may be larger). One window when the clip fits."""
    if window < 1 or overlap < 0:
        raise ValueError(f"window must be >= 1 and overlap >= 0, got {window} and {overlap}")
    if step > 1:
        window = ((window - 1) // step) * step + 1
    if frames <= window:
        return [range(frames)]
    stride = window - min(overlap, window - 1)
    starts = list(range(0, frames - window, stride)) + [frames - window]
    return [range(s, s + window) for s in starts]


def _weights(windows: Sequence[range], index: int) -> Tensor:
    """Per-frame weight of window `index`: rising over its overlap with the previous window, falling over
    its overlap with the next, 1 elsewhere (never 0, so every frame is covered)."""
    w = windows[index]
    frame = torch.arange(w.start, w.stop, dtype=torch.float64)
    weight = torch.ones(len(w), dtype=torch.float64)
    if index > 0:
        before = windows[index - 1].stop - w.start
        weight = weight * ((frame - w.start + 1) / (before + 1)).clamp(max=1.0)
    if index + 1 < len(windows):
        after = w.stop - windows[index + 1].start
        weight = weight * ((w.stop - frame) / (after + 1)).clamp(max=1.0)
    return weight


def blend_windows(parts: Sequence[Tensor], windows: Sequence[range]) -> Tensor:
    """One clip [frames, ...] from each window's frames parts[i] [len(windows[i]), ...]: where windows
    overlap, a linear crossfade from the earlier to the later; elsewhere the window's frames as they are."""
    if len(parts) != len(windows) or not parts:
        raise ValueError(f"{len(parts)} parts for {len(windows)} windows")
    if len(parts) == 1:
        return parts[0]
    frames = windows[-1].stop
    first = parts[0]
    total = torch.zeros((frames, *first.shape[1:]), dtype=torch.float64, device=first.device)
    norm = torch.zeros(frames, dtype=torch.float64, device=first.device)
    for i, (part, w) in enumerate(zip(parts, windows, strict=True)):
        if part.shape[0] != len(w):
            raise ValueError(f"window {i} covers {len(w)} frames but its part has {part.shape[0]}")
        weight = _weights(windows, i).to(first.device)
        total[w.start:w.stop] += part.to(torch.float64) * weight.view(-1, *([1] * (part.ndim - 1)))
        norm[w.start:w.stop] += weight
    return (total / norm.view(-1, *([1] * (first.ndim - 1)))).to(first.dtype)
