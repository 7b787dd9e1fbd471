"""region_variant_noise against ComfyUI's own `comfy.sample.prepare_noise` (the oracle is the host's
function, never a re-implementation of its seeding)."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.diff_attention import region_variant_noise

SHAPES = [(1, 16, 8, 6), (1, 16, 4, 10), (1, 4, 5, 5)]
TOP = 2**64 - 1


@pytest.fixture(scope="module")
def prepare_noise(comfy_booted):
    import comfy.sample

    def draw(shape: tuple[int, ...], seed: int, noise_inds=None) -> torch.Tensor:
        return comfy.sample.prepare_noise(torch.zeros(shape, dtype=torch.float32), seed, noise_inds)

    return draw


@pytest.mark.parametrize("shape", SHAPES)
def test_region_zero_variant_zero_equals_prepare_noise(prepare_noise, shape) -> None:
    (noise,) = region_variant_noise([shape], seed=1234, variants=1)
    expected = prepare_noise(shape, 1234)
    assert expected.dtype == noise.dtype == torch.float32
    assert torch.equal(noise, expected)


def test_first_region_variant_j_equals_prepare_noise_with_seed_plus_j(prepare_noise) -> None:
    seed, variants = 99, 4
    out = region_variant_noise(SHAPES, seed=seed, variants=variants)
    for j in range(variants):
        assert torch.equal(out[0][j:j + 1], prepare_noise(SHAPES[0], seed + j)), f"variant {j}"
    # and the variants really differ (seed + j, not one seed repeated)
    assert not torch.equal(out[0][0], out[0][1])


def test_regions_continue_one_stream_per_variant(prepare_noise) -> None:
    """Same-shape regions: region r of variant j is draw r of prepare_noise(seed + j) with
    noise_inds (core's own "several draws from one generator", as for batch_index)."""
    shape, regions, seed = (1, 4, 6, 5), 3, 17
    out = region_variant_noise([shape] * regions, seed=seed, variants=2)
    for j in range(2):
        draws = prepare_noise(shape, seed + j, noise_inds=list(range(regions)))
        assert draws.shape == (regions,) + shape[1:]
        for r in range(regions):
            assert torch.equal(out[r][j:j + 1], draws[r:r + 1]), f"region {r} variant {j}"


def test_later_regions_do_not_restart_the_stream(prepare_noise) -> None:
    """Regions of other shapes: only region 0 starts the seed's stream; the rest are not a restart."""
    out = region_variant_noise(SHAPES, seed=5, variants=1)
    assert torch.equal(out[0], prepare_noise(SHAPES[0], 5))
    for r in range(1, len(SHAPES)):
        assert not torch.equal(out[r], prepare_noise(SHAPES[r], 5)), f"region {r}"


def test_seed_near_the_top_wraps_modulo_2_64(prepare_noise) -> None:
    # what the host does with such seeds: the largest 64-bit seed is accepted, one more is not
    prepare_noise(SHAPES[0], TOP)
    with pytest.raises((ValueError, RuntimeError, OverflowError)):
        prepare_noise(SHAPES[0], TOP + 1)

    out = region_variant_noise([SHAPES[0]], seed=TOP, variants=3)  # must not raise
    assert out[0].shape == (3,) + SHAPES[0][1:]
    assert torch.equal(out[0][0:1], prepare_noise(SHAPES[0], TOP))
    assert torch.equal(out[0][1:2], prepare_noise(SHAPES[0], 0))
    assert torch.equal(out[0][2:3], prepare_noise(SHAPES[0], 1))
