"""Mask ops of crop_stitch: true-pixel grow/feather, hole filling, fitting, prepare_masks."""

from __future__ import annotations

import math
from collections import deque

import pytest
import torch
from fluxfill_inpainter.crop_stitch import DEFAULT_THRESHOLD, MaskSettings, fit_mask_to_image
from fluxfill_inpainter.crop_stitch.masks import (
    fill_holes,
    grow,
    hipass,
    invert,
    prepare_masks,
    sanitize_mask,
    stabilize,
)


def brute_grow(m: torch.Tensor, r: int) -> torch.Tensor:
    """Reference grey dilation/erosion by a Euclidean disk with clamped (replicate) borders."""
    h, w = m.shape
    out = torch.empty_like(m)
    rr = abs(r)
    offs = [(dy, dx) for dy in range(-rr, rr + 1) for dx in range(-rr, rr + 1)]
    offs = [(dy, dx) for dy, dx in offs if dy * dy + dx * dx <= rr * rr]
    for y in range(h):
        for x in range(w):
            vals = [m[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)] for dy, dx in offs]
            out[y, x] = max(vals) if r > 0 else min(vals)
    return out


def brute_fill(binary: torch.Tensor) -> torch.Tensor:
    """Reference binary hole fill: background not 4-connected to the border becomes 1."""
    h, w = binary.shape
    seen = torch.zeros(h, w, dtype=torch.bool)
    q: deque[tuple[int, int]] = deque()
    for y in range(h):
        for x in range(w):
            if (y in (0, h - 1) or x in (0, w - 1)) and binary[y, x] == 0:
                seen[y, x] = True
                q.append((y, x))
    while q:
        y, x = q.popleft()
        for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and binary[ny, nx] == 0:
                seen[ny, nx] = True
                q.append((ny, nx))
    return (~seen).float()


def test_sanitize_maps_non_finite_and_clamps() -> None:
    m = torch.tensor([[float("nan"), float("inf"), -float("inf"), 1.7, -0.3, 0.4]])
    out = sanitize_mask(m)
    assert out.tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0, pytest.approx(0.4)]]
    assert torch.isnan(m[0, 0])  # input untouched


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_grow_single_pixel_is_exact_disk(n: int) -> None:
    m = torch.zeros(1, 31, 33)
    m[0, 15, 16] = 1.0
    g = grow(m, n)[0]
    ys, xs = torch.nonzero(g, as_tuple=True)
    assert (ys.min().item(), ys.max().item()) == (15 - n, 15 + n)
    assert (xs.min().item(), xs.max().item()) == (16 - n, 16 + n)
    disk = sum(
        1 for dy in range(-n, n + 1) for dx in range(-n, n + 1) if dy * dy + dx * dx <= n * n
    )
    assert int(g.sum()) == disk
    assert grow(g[None], -n)[0].sum() == 1.0  # a disk erodes back to its centre


@pytest.mark.parametrize("seed", range(6))
def test_grow_matches_brute_force_on_grey_masks(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    h, w = [(7, 13), (13, 7), (9, 9), (5, 16), (16, 5), (11, 4)][seed]
    m = (torch.rand(h, w, generator=gen) > 0.7).float() * torch.rand(h, w, generator=gen)
    for r in (1, 2, 3, -1, -2):
        assert torch.equal(grow(m, r), brute_grow(m, r)), r


def test_grow_negative_shrinks_and_borders_replicate() -> None:
    m = torch.zeros(1, 40, 40)
    m[0, 0:20, 0:20] = 1.0  # touches the top-left border
    shrunk = grow(m, -5)[0]
    ys, xs = torch.nonzero(shrunk, as_tuple=True)
    # replicate borders: erosion does not eat in from the image edge, only from the inside
    assert (ys.min().item(), xs.min().item()) == (0, 0)
    assert (ys.max().item(), xs.max().item()) == (14, 14)
    grown = grow(m, 5)[0]
    ys, xs = torch.nonzero(grown, as_tuple=True)
    assert (ys.max().item(), xs.max().item()) == (24, 24)
    assert grow(m, 0).data_ptr() != m.data_ptr()


def test_grow_works_on_2d_and_keeps_input() -> None:
    m = torch.zeros(10, 10)
    m[5, 5] = 0.5
    before = m.clone()
    out = grow(m, 2)
    assert out.shape == (10, 10) and out.max() == 0.5
    assert torch.equal(m, before)


def test_fill_holes_grey_level() -> None:
    m = torch.zeros(1, 24, 24)
    m[0, 4:20, 4:20] = 0.6
    m[0, 8:16, 8:16] = 0.0
    m[0, 10:12, 10:12] = 0.2
    out = fill_holes(m)[0]
    assert torch.allclose(out[8:16, 8:16], torch.full((8, 8), 0.6))
    assert out[0, 0] == 0.0 and out[4, 4] == pytest.approx(0.6)


@pytest.mark.parametrize("seed", range(5))
def test_fill_holes_binary_matches_flood_fill(seed: int) -> None:
    gen = torch.Generator().manual_seed(100 + seed)
    h, w = [(12, 17), (17, 12), (20, 20), (7, 13), (31, 9)][seed]
    m = (torch.rand(h, w, generator=gen) > 0.55).float()
    assert torch.equal(fill_holes(m), brute_fill(m))


def test_fill_holes_maze_is_fast_and_exact() -> None:
    m = torch.zeros(256, 256)
    for k in range(6, 120, 8):  # nested square rings with alternating gaps: a long corridor
        m[128 - k, 128 - k : 128 + k + 1] = 1
        m[128 + k, 128 - k : 128 + k + 1] = 1
        m[128 - k : 128 + k + 1, 128 - k] = 1
        m[128 - k : 128 + k + 1, 128 + k] = 1
        m[128 - k if (k // 8) % 2 else 128 + k, 128] = 0
    out = fill_holes(m)
    assert torch.equal(out, m)  # every corridor reaches the border: nothing to fill
    closed = m.clone()
    closed[128 + 6, 128] = 1  # close the innermost ring (gap at the bottom): a hole now
    filled = fill_holes(closed)
    assert filled[128, 128] == 1.0 and filled.sum() == closed.sum() + 11 * 11


def test_invert_hipass_stabilize() -> None:
    m = torch.tensor([[0.0, 0.05, 0.5, 0.98, 0.99, 1.0]])
    assert torch.allclose(invert(m), 1 - m)
    assert hipass(m, 0.1).tolist()[0][:3] == [0.0, 0.0, 0.5]
    assert stabilize(m).tolist()[0][3:] == [pytest.approx(0.98), 1.0, 1.0]
    assert stabilize(m, 0.98)[0, 3] == 1.0  # a nearly opaque 0.98 can be made fully opaque
    assert torch.equal(stabilize(m, 0.0), m) and torch.equal(hipass(m, 0.0), m)


def test_fit_mask_broadcast_resize_and_errors() -> None:
    image = torch.zeros(3, 64, 96, 3, dtype=torch.float16)
    m = torch.ones(32, 48)
    out = fit_mask_to_image(m, image)
    assert out.shape == (3, 64, 96) and out.dtype == torch.float16 and torch.all(out == 1)
    with pytest.raises(ValueError) as err:
        fit_mask_to_image(torch.ones(2, 64, 96), image, node="My Node")
    msg = str(err.value)
    assert "My Node" in msg and "'mask'" in msg and "(2, 64, 96)" in msg and "(3, 64, 96, 3)" in msg
    with pytest.raises(ValueError) as err:
        fit_mask_to_image(torch.ones(1, 64, 64), image, node="My Node")
    msg = str(err.value)
    assert "My Node" in msg and "'mask'" in msg and "(1, 64, 64)" in msg and "(3, 64, 96, 3)" in msg
    odd = fit_mask_to_image(torch.full((1, 65, 97), float("nan")), image)  # within 1 px
    assert odd.shape == (3, 64, 96) and torch.all(odd == 0)


def brute_distance(support: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of every pixel of [H,W] to the nearest True pixel (brute force)."""
    ys, xs = torch.nonzero(support, as_tuple=True)
    gy, gx = torch.meshgrid(torch.arange(support.shape[0]), torch.arange(support.shape[1]), indexing="ij")
    d2 = (gy[..., None] - ys) ** 2 + (gx[..., None] - xs) ** 2
    return d2.min(dim=-1).values.float().sqrt()


def test_prepare_masks_composite_and_denoise_relations() -> None:
    m = torch.zeros(2, 50, 70)
    m[0, 10:20, 5:30] = 1.0
    m[1, 0:5, 60:70] = 0.98  # nearly opaque, at the border
    pm = prepare_masks(m, MaskSettings(stabilize=0.98, feather_px=6))
    assert torch.all(pm.composite[m > 0] == 1.0) and torch.all(pm.denoise[m > 0] == 1.0)
    assert torch.equal(pm.inpaint, (m > 0).float())
    assert torch.all(pm.denoise[pm.composite > 0] > 0)
    assert torch.all(pm.composite <= pm.denoise)
    # both ramps fall strictly and reach exactly feather_px pixels out
    for ramp in (pm.composite[0, 15, 29:40].tolist(), pm.denoise[0, 15, 29:40].tolist()):
        assert all(a > b for a, b in zip(ramp[:7], ramp[1:8], strict=True)) and ramp[7] == 0.0
    assert m[1, 0, 60] == pytest.approx(0.98)  # input untouched


def test_denoise_band_is_a_gradient_of_feather_pixels() -> None:
    """A painted (binary) mask gets a grey denoise band feather px wide: what differential diffusion acts on.

    Oracle: t = 1 - d / (feather + 1) from a brute-force distance; denoise = 2t - t^2, composite = smoothstep(t).
    """
    feather = 8
    m = torch.zeros(1, 48, 48)
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    m[0][(yy - 24) ** 2 + (xx - 22) ** 2 <= 64] = 1.0
    pm = prepare_masks(m, MaskSettings(feather_px=feather))
    d = brute_distance(m[0] > 0)
    t = (1 - d / (feather + 1)).clamp(min=0) * (d <= feather)
    assert torch.allclose(pm.denoise[0], 2 * t - t * t, atol=1e-5)
    assert torch.allclose(pm.composite[0], t * t * (3 - 2 * t), atol=1e-5)
    band = (d > 0) & (d <= feather)
    grey = (pm.denoise[0] > 0) & (pm.denoise[0] < 1)
    assert torch.equal(grey, band)  # every band pixel is grey, no pixel outside it is
    assert pm.denoise[0, 24, 22 + 8 + 4].item() == pytest.approx(1 - (4 / 9) ** 2, abs=1e-6)  # 4 px out: 2t - t^2


def test_soft_masks_keep_composite_at_or_below_denoise() -> None:
    gen = torch.Generator().manual_seed(3)
    m = torch.rand(2, 40, 40, generator=gen) * (torch.rand(2, 40, 40, generator=gen) > 0.9)
    pm = prepare_masks(m, MaskSettings(feather_px=5, hipass=0.0))
    assert torch.all(pm.composite <= pm.denoise + 1e-7)
    assert torch.equal(pm.composite > 0, pm.denoise > 0)
    assert torch.all(pm.denoise >= m)  # the sampler may change at least what was asked


def test_default_threshold_drops_faint_specks() -> None:
    assert MaskSettings().hipass == DEFAULT_THRESHOLD == 0.1
    m = torch.full((1, 32, 32), 0.002)
    m[0, 8:12, 8:12] = 1.0
    pm = prepare_masks(m, MaskSettings(feather_px=2))
    assert torch.count_nonzero(pm.denoise[0, 20:, 20:]) == 0  # the haze is gone far from the blob
    assert torch.all(pm.inpaint[0, 8:12, 8:12] == 1.0)


def test_prepare_masks_order_invert_hipass_fill_grow() -> None:
    m = torch.ones(1, 30, 30)
    m[0, 10:20, 10:20] = 0.0  # after invert: a square
    m[0, 14:16, 14:16] = 1.0  # after invert: a hole in it
    m[0, 0, 0] = 0.95  # after invert 0.05: removed by hipass
    pm = prepare_masks(
        m, MaskSettings(invert=True, hipass=0.1, fill_holes=True, grow_px=2, feather_px=0)
    )
    expected = torch.zeros(30, 30)
    expected[8:22, 8:22] = 1.0
    for y, x in ((8, 8), (8, 9), (9, 8)):  # a radius-2 disk rounds the square's corners
        expected[y, x] = expected[y, 29 - x] = expected[29 - y, x] = expected[29 - y, 29 - x] = 0
    assert torch.equal(pm.inpaint[0], expected)
    assert torch.equal(pm.denoise[0], expected)
    assert torch.equal(pm.composite[0], expected)


def test_composite_ramp_smoothstep_profile() -> None:
    m = torch.zeros(1, 1, 40)
    m[0, 0, 20] = 1.0
    pm = prepare_masks(m, MaskSettings(feather_px=4))
    ramp = pm.composite[0, 0, 20:26].tolist()
    for d, value in enumerate(ramp):
        t = max(0.0, 1 - d / 5) if d <= 4 else 0.0
        assert value == pytest.approx(t * t * (3 - 2 * t), abs=1e-6)
    assert math.isclose(sum(pm.composite[0, 0, :20].tolist()), sum(ramp[1:]), rel_tol=1e-6)


def test_windowed_ops_equal_full_image_ops() -> None:
    from fluxfill_inpainter.crop_stitch.morphology import (
        above_minimum_windows,
        dilate_disk,
        erode_disk,
        fill_holes_window,
    )

    m = torch.zeros(2, 160, 230)
    m[0, 5:30, 5:40] = 0.8  # near a corner
    m[0, 12:20, 12:20] = 0.1  # a grey hole
    m[0, 100:150, 180:230] = 1.0  # touching two borders
    m[1, 60:61, 100:101] = 1.0  # a single pixel
    m[1, 70:90, 120:200] = 0.5
    m[1, 75:85, 150:160] = 0.0  # a hole
    assert len(above_minimum_windows(m, 6)) >= 2  # the blobs really get separate windows
    assert torch.equal(grow(m, 6), dilate_disk(m, 6))
    assert torch.equal(grow(m, -3), erode_disk(m, 3))
    assert torch.equal(fill_holes(m), fill_holes_window(m))


@pytest.mark.parametrize("settings", [
    MaskSettings(feather_px=16),
    MaskSettings(fill_holes=True, grow_px=6, feather_px=9, stabilize=0.9),
    MaskSettings(grow_px=-3, feather_px=5, hipass=0.3),
])
def test_windowed_preparation_equals_the_whole_image_chain(settings: MaskSettings) -> None:
    """prepare_masks works on windows around the mask only; the result is the chain run on the whole image."""
    from fluxfill_inpainter.crop_stitch.masks import mask_chain

    g = torch.Generator().manual_seed(5)
    m = torch.zeros(2, 300, 420)
    m[0, 10:60, 20:90] = 1.0
    m[0, 30:40, 40:60] = 0.0  # a hole
    m[0, 250:300, 380:420] = 0.7  # touching two borders
    m[1, 140:160, 200:330] = torch.rand(20, 130, generator=g)
    m[1, 5, 5] = float("nan")
    m[1, 0:3, 400:420] = float("inf")
    windowed_result = prepare_masks(m, settings)
    whole = mask_chain(m, settings)
    for name in ("inpaint", "denoise", "composite"):
        assert torch.equal(getattr(windowed_result, name), getattr(whole, name)), name
