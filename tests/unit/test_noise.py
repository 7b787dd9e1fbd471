"""region_variant_noise without ComfyUI: layout, dtype, per-variant rows, argument checks.

Equality with ComfyUI's own `comfy.sample.prepare_noise` (the seeding itself, 64-bit wrap) is
tested against the host in tests/integration/test_noise_prepare_noise.py.
"""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.diff_attention import region_variant_noise

SHAPES = [(1, 16, 8, 6), (1, 16, 4, 10), (1, 4, 5, 5)]


def test_shapes_layout_and_dtype() -> None:
    out = region_variant_noise(SHAPES, seed=7, variants=3)
    assert [tuple(t.shape) for t in out] == [(3,) + s[1:] for s in SHAPES]
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in out)
    # rows differ across variants and regions (no accidental reuse of one stream)
    assert not torch.equal(out[0][0], out[0][1])
    assert not torch.equal(out[0][1], out[0][2])


def test_variant_j_equals_batch_one_run_with_seed_plus_j() -> None:
    seed, variants = 99, 4
    batched = region_variant_noise(SHAPES, seed=seed, variants=variants)
    for j in range(variants):
        single = region_variant_noise(SHAPES, seed=seed + j, variants=1)
        for region in range(len(SHAPES)):
            assert torch.equal(batched[region][j:j + 1], single[region])


def test_more_variants_keep_existing_rows() -> None:
    two = region_variant_noise(SHAPES, seed=3, variants=2)
    five = region_variant_noise(SHAPES, seed=3, variants=5)
    for a, b in zip(two, five, strict=True):
        assert torch.equal(a, b[:2])


@pytest.mark.parametrize("bad", [dict(variants=0), dict(shapes=[(2, 16, 8, 8)]), dict(shapes=[(16,)])])
def test_rejects_bad_arguments(bad: dict) -> None:
    kwargs = dict(shapes=SHAPES, seed=0, variants=2) | bad
    with pytest.raises(ValueError):
        region_variant_noise(**kwargs)


def test_empty_plan() -> None:
    assert region_variant_noise([], seed=0, variants=3) == []


def test_wrapping_seed_sums_stay_in_torchs_seed_range() -> None:
    from fluxfill_inpainter.diff_attention import WrappingSeed

    top = WrappingSeed(2**64 - 1)
    assert top == 2**64 - 1 and isinstance(top, int)
    assert top + 1 == 0 and 1 + top == 0 and WrappingSeed(2**64 + 5) == 5
    seed = WrappingSeed(2**64 - 1)
    seed += 1  # what ComfyUI 0.8's CPU step noise does to the call's seed
    g = torch.Generator().manual_seed(seed)
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch.Generator().manual_seed(0)))
    assert WrappingSeed(7) + 1 == 8 and WrappingSeed(7) + 0.5 == 7.5  # below the top: plain arithmetic
