"""crop_stitch.model_fill: every masked crop pixel stays masked at the fill network's working size.

Oracle (geometry, not the code under test): crop pixel y lies in working pixel floor((y + 0.5) * wh / h), the
one that holds its centre. For lines of every width >= 1 px at every offset, horizontal and vertical, and single
dots at every phase, that working pixel must be masked in what the network receives.
"""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import FillGeometry, model_fill


def _mask_seen(mask: torch.Tensor, geometry: FillGeometry) -> torch.Tensor:
    """The [wh, ww] mask the network receives for a [h, w] crop mask (padding cut off)."""
    seen: list[torch.Tensor] = []

    def run(image: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        seen.append(m.clone())
        return image

    h, w = mask.shape
    model_fill(torch.full((1, h, w, 3), 0.5), mask[None], run, geometry)
    return seen[0][0, 0]


def _owner(index: torch.Tensor, size: int, working: int) -> torch.Tensor:
    return ((index.double() + 0.5) * working / size).floor().long().clamp(max=working - 1)


def _assert_covered(mask: torch.Tensor, seen: torch.Tensor, wh: int, ww: int) -> None:
    h, w = mask.shape
    ys, xs = torch.nonzero(mask > 0.5, as_tuple=True)
    owners = seen[_owner(ys, h, wh), _owner(xs, w, ww)]
    assert bool((owners == 1).all()), f"{int((owners != 1).sum())} masked crop pixels unmasked at {wh}x{ww}"


@pytest.mark.parametrize("width", [1, 2, 3])
def test_thin_lines_survive_the_lama_working_size_at_every_offset(width: int):
    geometry = FillGeometry(working_side=256, multiple=8)
    for offset in range(4):  # 1024 -> 256: four phases
        for vertical in (False, True):
            mask = torch.zeros(1024, 1024)
            if vertical:
                mask[:, 500 + offset:500 + offset + width] = 1
            else:
                mask[500 + offset:500 + offset + width, :] = 1
            seen = _mask_seen(mask, geometry)
            assert seen.shape == (256, 256)
            _assert_covered(mask, seen, 256, 256)


def test_non_integer_ratio_every_offset_and_every_dot_phase():
    geometry = FillGeometry(working_side=64, multiple=8)
    h, w = 300, 170  # working 64 x 36: ratios 4.6875 and 4.72
    for offset in range(h):
        mask = torch.zeros(h, w)
        mask[offset, :] = 1
        _assert_covered(mask, _mask_seen(mask, geometry), 64, 36)
    for offset in range(w):
        mask = torch.zeros(h, w)
        mask[:, offset] = 1
        _assert_covered(mask, _mask_seen(mask, geometry), 64, 36)
    for y in range(10):
        for x in range(10):
            mask = torch.zeros(h, w)
            mask[120 + y, 80 + x] = 1
            _assert_covered(mask, _mask_seen(mask, geometry), 64, 36)


def test_coverage_does_not_bleed_beyond_the_working_pixels_that_hold_mask():
    """Max-pool keeps the mask tight: a working pixel is masked only if crop pixels it overlaps are."""
    geometry = FillGeometry(working_side=256, multiple=8)
    mask = torch.zeros(1024, 1024)
    mask[400:404, 300:700] = 1
    seen = _mask_seen(mask, geometry)
    assert int(seen.sum()) <= 2 * 101, "a 4-px line at 4:1 covers at most two working rows"
