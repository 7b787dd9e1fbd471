"""region_variant_noise: layout, per-variant seeding, equality with ComfyUI's batch-1 noise."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.diff_attention import region_variant_noise

SHAPES = [(1, 16, 8, 6), (1, 16, 4, 10), (1, 4, 5, 5)]


def core_style_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """What comfy.sample.prepare_noise draws for a batch-1 float32 latent (without its global seeding)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(shape, dtype=torch.float32, generator=generator, device="cpu")


def test_shapes_layout_and_dtype() -> None:
    out = region_variant_noise(SHAPES, seed=7, variants=3)
    assert [tuple(t.shape) for t in out] == [(3,) + s[1:] for s in SHAPES]
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in out)
    # rows differ across variants and regions (no accidental reuse of one stream)
    assert not torch.equal(out[0][0], out[0][1])
    assert not torch.equal(out[0][1], out[0][2])


def test_single_region_variant_zero_matches_prepare_noise_draw() -> None:
    shape = (1, 16, 8, 6)
    (noise,) = region_variant_noise([shape], seed=1234, variants=1)
    assert torch.equal(noise, torch.randn(shape, generator=torch.manual_seed(1234)))
    assert torch.equal(noise, core_style_noise(shape, 1234))


def test_variant_j_equals_batch_one_run_with_seed_plus_j() -> None:
    seed, variants = 99, 4
    batched = region_variant_noise(SHAPES, seed=seed, variants=variants)
    for j in range(variants):
        single = region_variant_noise(SHAPES, seed=seed + j, variants=1)
        for region in range(len(SHAPES)):
            assert torch.equal(batched[region][j:j + 1], single[region])


def test_regions_share_one_stream_per_variant_in_plan_order() -> None:
    seed = 5
    out = region_variant_noise(SHAPES, seed=seed, variants=2)
    for j in range(2):
        generator = torch.Generator().manual_seed(seed + j)
        for region, shape in enumerate(SHAPES):
            expected = torch.randn(shape, generator=generator, dtype=torch.float32)
            assert torch.equal(out[region][j:j + 1], expected)


def test_more_variants_keep_existing_rows() -> None:
    two = region_variant_noise(SHAPES, seed=3, variants=2)
    five = region_variant_noise(SHAPES, seed=3, variants=5)
    for a, b in zip(two, five, strict=True):
        assert torch.equal(a, b[:2])


def test_seed_wraps_at_64_bits() -> None:
    top = 2**64 - 1
    out = region_variant_noise([SHAPES[0]], seed=top, variants=2)
    assert torch.equal(out[0][0:1], core_style_noise(SHAPES[0], top))
    assert torch.equal(out[0][1:2], core_style_noise(SHAPES[0], 0))


@pytest.mark.parametrize("bad", [dict(variants=0), dict(shapes=[(2, 16, 8, 8)]), dict(shapes=[(16,)])])
def test_rejects_bad_arguments(bad: dict) -> None:
    kwargs = dict(shapes=SHAPES, seed=0, variants=2) | bad
    with pytest.raises(ValueError):
        region_variant_noise(**kwargs)


def test_empty_plan() -> None:
    assert region_variant_noise([], seed=0, variants=3) == []
