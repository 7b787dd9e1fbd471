"""Colour correction: removes a smooth synthetic colour shift, no-op on identical input."""

from __future__ import annotations

import torch
from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings, plan_crops
from fluxfill_inpainter.crop_stitch.color import color_correct
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.stitch import stitch


def texture(h: int, w: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 8, w // 8, generator=gen)
    up = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear")
    return (0.2 + 0.6 * up)[0].permute(1, 2, 0)


def shifted(img: torch.Tensor) -> torch.Tensor:
    """A smooth, spatially varying per-channel gain and offset, like a VAE tone drift."""
    h, w, _ = img.shape
    ys = torch.linspace(-1, 1, h).view(h, 1, 1)
    xs = torch.linspace(-1, 1, w).view(1, w, 1)
    gain = 1.0 + torch.tensor([0.12, -0.08, 0.05]) * xs
    offset = torch.tensor([0.06, 0.03, -0.05]) + torch.tensor([0.03, -0.04, 0.02]) * ys
    return (img * gain + offset).clamp(0, 1)


def disk(h: int, w: int, r: float) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (((ys - h / 2) ** 2 + (xs - w / 2) ** 2) <= r * r).float()


def test_color_correct_removes_smooth_shift() -> None:
    orig = texture(128, 160)
    den = disk(128, 160, 40)
    inp = shifted(orig)[None]
    fixed = color_correct(inp, orig, den, ring_px=16)
    inside = den > 0
    before = (inp[0][inside] - orig[inside]).abs().mean()
    after = (fixed[0][inside] - orig[inside]).abs().mean()
    assert before > 0.04
    assert after < 0.25 * before
    assert fixed.shape == inp.shape and fixed.dtype == inp.dtype


def test_color_correct_is_noop_on_identical_input() -> None:
    orig = texture(96, 64, seed=3)
    den = disk(96, 64, 20)
    for inp in (orig[None], orig.expand(3, 96, 64, 3)):
        out = color_correct(inp, orig, den, ring_px=8)
        assert (out - inp).abs().max() <= 1e-6


def test_color_correct_ignores_invalid_pixels_and_tiny_rings() -> None:
    orig = texture(64, 64, seed=5)
    den = torch.ones(64, 64)  # no ring at all
    inp = shifted(orig)[None]
    assert torch.equal(color_correct(inp, orig, den, ring_px=8), inp)
    den = disk(64, 64, 15)
    valid = torch.zeros(64, 64, dtype=torch.bool)  # every ring pixel is padding
    assert torch.equal(color_correct(inp, orig, den, ring_px=8, valid=valid), inp)


def test_stitch_with_color_correct_reduces_error() -> None:
    orig = texture(128, 128, seed=9)[None]
    m = disk(128, 128, 24)[None]
    pm = prepare_masks(m, MaskSettings(feather_px=4))
    plan = plan_crops(pm.denoise, CropSettings(min_crop_px=96, target_mode="none"))
    (r,) = plan.regions
    x0, y0, x1, y1 = r.box
    crop = shifted(orig[0, y0:y1, x0:x1])[None]
    plain = stitch(orig, pm.composite, plan, [crop], 1)
    corrected = stitch(
        orig, pm.composite, plan, [crop], 1, color_correct=True, denoise_full=pm.denoise
    )
    inside = pm.composite > 0
    err_plain = (plain[inside] - orig[inside]).abs().mean()
    err_fixed = (corrected[inside] - orig[inside]).abs().mean()
    assert err_fixed < 0.3 * err_plain
    assert torch.equal(corrected[~inside], orig[~inside])
