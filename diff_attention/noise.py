"""Initial noise for a plan of regions × variants, reproducible against ComfyUI's own seeding.

ComfyUI's `comfy.sample.prepare_noise(latent, seed)` seeds the CPU generator with `seed` and draws
`torch.randn(latent.size(), dtype=latent.dtype, generator=g, device="cpu")`. For a batch-1 latent of
shape (1,C,h,w) that is one draw of that shape.

`region_variant_noise` keeps that property per variant: variant j uses its own generator seeded
with `seed + j`, which draws the regions' noise one after the other in plan order. Hence

- one region, variant 0  ==  `prepare_noise(latent, seed)`, bit for bit;
- variant j of a batched run  ==  a batch_size=1 run of the same plan with seed `seed + j`;
- adding variants never changes the noise of the existing ones.

`seed + j` wraps modulo 2**64 (the range of ComfyUI's seed widget and of torch seeds).
"""

from __future__ import annotations

import torch
from torch import Tensor

SEED_SPACE = 2**64  # torch seeds are unsigned 64-bit; seed + j wraps instead of failing


def wrap_seed(seed: int) -> int:
    """`seed` modulo 2**64, the range of ComfyUI's seed widget and of torch seeds."""
    return int(seed) % SEED_SPACE


class WrappingSeed(int):
    """A sampler call's seed whose sums stay modulo 2**64.

    ComfyUI 0.8 seeds a CPU sampler's step noise with `seed + 1` (k_diffusion `default_noise_sampler`); at
    the widget's top seed 2**64 - 1 that is out of torch's range and core KSampler fails. Given this int the
    host's `seed + 1` wraps to 0: the host's own rule taken modulo 2**64, unchanged for every lower seed.
    """

    def __new__(cls, seed: int) -> WrappingSeed:
        return super().__new__(cls, wrap_seed(seed))

    def __add__(self, other: object) -> WrappingSeed | int:
        if isinstance(other, int) and not isinstance(other, bool):
            return WrappingSeed(int(self) + other)
        return super().__add__(other)

    __radd__ = __add__


def region_variant_noise(shapes: list[tuple[int, ...]], seed: int, variants: int) -> list[Tensor]:
    """Noise [variants, C, h, w] (float32, on the CPU) per region, for regions of latent shape (1,C,h,w).

    Row j of every region's tensor comes from a CPU generator seeded `seed + j` (as ComfyUI's
    `prepare_noise`), which draws region 0, then region 1, ... (plan order), each with
    `torch.randn(shape, generator=g, dtype=torch.float32)`.
    """
    variants = int(variants)
    if variants < 1:
        raise ValueError(f"variants must be at least 1, got {variants}")
    shapes = [tuple(int(d) for d in shape) for shape in shapes]
    for shape in shapes:
        if len(shape) < 2 or shape[0] != 1:
            raise ValueError(f"each region's latent shape must be (1, C, ...), got {shape}")

    per_region: list[list[Tensor]] = [[] for _ in shapes]
    for j in range(variants):
        generator = torch.Generator(device="cpu").manual_seed(wrap_seed(int(seed) + j))
        for r, shape in enumerate(shapes):
            per_region[r].append(torch.randn(shape, generator=generator, dtype=torch.float32))
    return [torch.cat(draws, dim=0) for draws in per_region]
