"""The changed-only stitch on a real photograph (scikit-image's bundled astronaut): a crop that comes back
drifted (sub-pixel shift, zoom, colour cast) with a local edit inside a larger mask. Every oracle is built
here: the drift is applied by this file's own resampling, the truth is the original with the edit pasted."""

from __future__ import annotations

import logging
import math

import pytest
import torch
import torch.nn.functional as F
from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings, Stitcher, plan_crops
from fluxfill_inpainter.crop_stitch.changed_only import ChangedOnly
from fluxfill_inpainter.crop_stitch.drift import estimate_drift
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.stitch import stitch
from photo_scenes import drifted_box, photo

SHIFT = (1.3, -0.7)  # px, in original pixels
ZOOM = 1.02
GAIN = torch.tensor([1.04, 0.98, 0.95])
OFFSET = torch.tensor([0.02, -0.01, 0.015])
MASK = (180, 190, 370, 340)  # x0, y0, x1, y1 of the user's mask
EDIT = (206, 214, 262, 262)  # the model's local edit, well inside the mask
AWAY_PX = 24  # farther than this from the edit, the mask must come back as the original's bytes
FEATHER = 12
CROP = CropSettings(min_crop_px=288, min_context_px=64, context_factor=0.5, target_mp=0.05, min_side=128,
                    max_side=384, multiple=8)


def box_slice(t: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    x0, y0, x1, y1 = box
    return t[:, y0:y1, x0:x1]


def scene(zoom: float = ZOOM, shift: tuple[float, float] = SHIFT, edit: bool = True, cast: bool = True):
    """(original, truth, prepared masks, plan, sampled crop): the sampled crop is the truth's crop box drifted,
    colour-cast, resized to the crop size and given a little VAE-like grain."""
    original = photo("astronaut.png")
    truth = original.clone()
    if edit:
        x0, y0, x1, y1 = EDIT
        patch = photo("coffee.png")[:, 100:100 + y1 - y0, 200:200 + x1 - x0]
        truth[:, y0:y1, x0:x1] = patch
    mask = torch.zeros(original.shape[:3])
    mask[0, MASK[1]:MASK[3], MASK[0]:MASK[2]] = 1.0
    prepared = prepare_masks(mask, MaskSettings(feather_px=FEATHER))
    plan = plan_crops(prepared.denoise, CROP)
    (region,) = plan.regions
    assert region.pad == (0, 0, 0, 0) and region.target != region.size  # a real resize, inside the image
    sample = drifted_box(truth, region.box, zoom, shift)
    if cast:
        sample = (sample * GAIN + OFFSET).clamp(0, 1)
    tw, th = region.target
    sample = F.interpolate(sample.permute(0, 3, 1, 2), size=(th, tw), mode="bicubic", align_corners=False,
                           antialias=True).permute(0, 2, 3, 1)
    grain = 0.004 * torch.randn(sample.shape, generator=torch.Generator().manual_seed(7))
    return original, truth, prepared, plan, (sample + grain).clamp(0, 1)


def displacement_error(drift, box, zoom: float, shift: tuple[float, float]) -> float:
    """Largest distance over the box between where the estimate and the applied drift put a point."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0
    xs = torch.tensor([x0, x1 - 1, x0, x1 - 1, cx], dtype=torch.float64)
    ys = torch.tensor([y0, y0, y1 - 1, y1 - 1, cy], dtype=torch.float64)
    px, py = drift.apply(xs, ys)
    tx, ty = cx + zoom * (xs - cx) + shift[0], cy + zoom * (ys - cy) + shift[1]
    return float(torch.hypot(px - tx, py - ty).max())


def boundary_gradient_error(out: torch.Tensor, truth: torch.Tensor, band: torch.Tensor) -> float:
    """Mean |grad(out) - grad(truth)| (forward differences, both axes, all channels) over the [H,W] band."""
    d = (out - truth)[0]
    gx = (d[:, 1:] - d[:, :-1]).abs().sum(-1)
    gy = (d[1:] - d[:-1]).abs().sum(-1)
    return float((gx[:-1, :][band[:-1, :-1]].mean() + gy[:, :-1][band[:-1, :-1]].mean()) / 2)


def transition(m: torch.Tensor) -> torch.Tensor:
    """[H,W] pixels where a [H,W] composite is between 0 and 1, grown by one pixel (the seam and its sides)."""
    t = ((m > 0) & (m < 1)).float()[None, None]
    return F.max_pool2d(t, 3, stride=1, padding=1)[0, 0] > 0


def far_from(box: tuple[int, int, int, int], px: int, h: int, w: int) -> torch.Tensor:
    x0, y0, x1, y1 = box
    ys, xs = torch.arange(h)[:, None], torch.arange(w)[None, :]
    dx = (x0 - xs).clamp_min(0) + (xs - (x1 - 1)).clamp_min(0)
    dy = (y0 - ys).clamp_min(0) + (ys - (y1 - 1)).clamp_min(0)
    return torch.hypot(dx.float(), dy.float()) > px


@pytest.fixture(scope="module")
def drifted_edit():
    original, truth, prepared, plan, sample = scene()
    stitcher = Stitcher.build(original, prepared.composite, plan, denoise=prepared.denoise, changed=ChangedOnly())
    result = stitcher.stitch_masked([sample], 1)
    return original, truth, prepared, plan, sample, result


def test_drift_is_recovered_to_a_quarter_pixel(drifted_edit) -> None:
    _, _, _, plan, _, result = drifted_edit
    (drift,) = result.drifts[0]
    error = displacement_error(drift, plan.regions[0].valid_box, ZOOM, SHIFT)
    print(f"\nrecovered drift: shift ({drift.shift[0]:.3f}, {drift.shift[1]:.3f}) px, zoom {drift.scale:.5f}, "
          f"rotation {math.degrees(drift.angle):.4f} deg; largest displacement error over the box {error:.3f} px")
    assert drift.accepted, drift.reason
    assert error <= 0.25


@pytest.mark.parametrize(("zoom", "shift"), [(0.985, (-0.6, 2.4)), (1.03, (0.4, 0.3)), (1.01, (-2.7, -1.1))])
def test_other_drifts_are_recovered_too(zoom: float, shift: tuple[float, float]) -> None:
    original, _, prepared, plan, sample = scene(zoom=zoom, shift=shift)
    result = Stitcher.build(original, prepared.composite, plan, changed=ChangedOnly()).stitch_masked([sample], 1)
    (drift,) = result.drifts[0]
    error = displacement_error(drift, plan.regions[0].valid_box, zoom, shift)
    print(f"\napplied zoom {zoom}, shift {shift}: largest displacement error {error:.3f} px")
    assert drift.accepted, drift.reason
    assert error <= 0.25
    outside = prepared.composite[0] == 0
    assert torch.equal(result.images[0][outside], original[0][outside])


def test_only_the_edit_comes_back_and_nothing_outside_the_feather_changes(drifted_edit) -> None:
    original, truth, prepared, _, _, result = drifted_edit
    out, used = result.images, result.mask
    h, w = original.shape[1:3]
    outside = prepared.composite[0] == 0
    assert int(outside.sum()) > 0.5 * h * w
    assert torch.equal(out[0][outside], original[0][outside])
    assert torch.equal(used[0][outside], torch.zeros(int(outside.sum())))
    away = (prepared.inpaint[0] > 0) & far_from(EDIT, AWAY_PX, h, w)
    assert int(away.sum()) > 0.5 * int((prepared.inpaint[0] > 0).sum())
    assert torch.equal(out[0][away], original[0][away])
    assert torch.all(used[0][away] == 0)
    x0, y0, x1, y1 = EDIT
    core = (slice(y0 + 3, y1 - 3), slice(x0 + 3, x1 - 3))
    assert (out[0][core] - original[0][core]).abs().mean() > 0.1  # the edit differs from the original...
    assert (out[0][core] - truth[0][core]).abs().mean() < 0.03  # ...and it is what came back
    assert torch.all(used[0][core] == 1)


def test_no_seam_compared_with_todays_stitch(drifted_edit) -> None:
    original, truth, prepared, plan, sample, result = drifted_edit
    today = {cc: stitch(original, prepared.composite, plan, [sample], 1, denoise_full=prepared.denoise,
                        color_correct=cc) for cc in (False, True)}
    band = transition(prepared.composite[0]) | transition(result.mask[0])
    ours = boundary_gradient_error(result.images, truth, band)
    theirs = {cc: boundary_gradient_error(img, truth, band) for cc, img in today.items()}
    print(f"\nboundary gradient error (mean |grad(out) - grad(truth)| over {int(band.sum())} seam px): changed-only "
          f"{ours:.5f}; today's stitch {theirs[False]:.5f} (colour correction off), {theirs[True]:.5f} (on)")
    assert ours <= min(theirs.values())


def test_an_undrifted_unedited_crop_leaves_the_image_untouched() -> None:
    original, _, prepared, plan, sample = scene(zoom=1.0, shift=(0.0, 0.0), edit=False, cast=True)
    stitcher = Stitcher.build(original, prepared.composite, plan, changed=ChangedOnly())
    result = stitcher.stitch_masked([sample], 1)
    assert torch.equal(result.images, original)
    assert torch.all(result.mask == 0)


@pytest.mark.parametrize("kind", ["flat", "linear ramp", "smooth blob"])
def test_low_texture_refuses_alignment(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    h, w = 320, 320
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    if kind == "flat":
        grey = torch.full((h, w), 0.45)
    elif kind == "linear ramp":
        grey = 0.2 + 0.6 * xs
    else:
        grey = 0.3 + 0.5 * torch.exp(-((xs - 0.5) ** 2 + (ys - 0.45) ** 2) / 0.08)
    image = torch.stack([grey, 0.9 * grey, 0.8 * grey + 0.1], dim=-1)[None]
    mask = torch.zeros(1, h, w)
    mask[0, 120:200, 110:210] = 1
    prepared = prepare_masks(mask, MaskSettings(feather_px=8))
    plan = plan_crops(prepared.denoise, CropSettings(min_crop_px=256, min_context_px=64, target_mode="none",
                                                     multiple=8))
    (region,) = plan.regions
    sample = drifted_box(image, region.box, 1.02, (1.3, -0.7))
    sample = sample + 0.004 * torch.randn(sample.shape, generator=torch.Generator().manual_seed(3))
    direct = estimate_drift(sample[0], box_slice(image, region.box)[0], torch.ones(sample.shape[1:3]))
    assert not direct.accepted and "texture" in direct.reason
    with caplog.at_level(logging.INFO, logger="fluxfill_inpainter.crop_stitch.changed_only"):
        result = Stitcher.build(image, prepared.composite, plan, changed=ChangedOnly()).stitch_masked([sample], 1)
    (drift,) = result.drifts[0]
    assert not drift.accepted and "texture" in drift.reason
    assert any("alignment refused" in r.getMessage() for r in caplog.records)
    outside = prepared.composite[0] == 0
    assert bool(outside.any()) and torch.equal(result.images[0][outside], image[0][outside])


def test_variants_are_aligned_on_their_own() -> None:
    original, _, prepared, plan, first = scene()
    second = scene(zoom=0.99, shift=(-1.6, 0.9))[4]
    result = Stitcher.build(original, prepared.composite, plan, changed=ChangedOnly()).stitch_masked(
        [torch.cat([first, second])], 2)
    box = plan.regions[0].valid_box
    errors = [displacement_error(d, box, z, s) for d, (z, s) in
              zip(result.drifts[0], [(ZOOM, SHIFT), (0.99, (-1.6, 0.9))], strict=True)]
    assert all(d.accepted for d in result.drifts[0]) and max(errors) <= 0.25
    outside = prepared.composite[0] == 0
    for row in range(2):
        assert torch.equal(result.images[row][outside], original[0][outside])


@pytest.mark.parametrize("kind", ["grey", "rgba", "float16"])
def test_grey_alpha_and_half_precision_images(kind: str) -> None:
    original, _, prepared, plan, sample = scene()
    if kind == "grey":
        original = original.mean(dim=-1, keepdim=True)
    elif kind == "rgba":
        original = torch.cat([original, torch.rand(original.shape[:3] + (1,))], dim=-1)
    else:
        original, sample = original.half(), sample.half()
    result = Stitcher.build(original, prepared.composite, plan, changed=ChangedOnly()).stitch_masked([sample], 1)
    assert result.images.shape == original.shape and result.images.dtype == original.dtype
    assert result.drifts[0][0].accepted
    outside = prepared.composite[0] == 0
    assert torch.equal(result.images[0][outside], original[0][outside])
    x0, y0, x1, y1 = EDIT
    assert (result.images[0, y0 + 3:y1 - 3, x0 + 3:x1 - 3, :1] - original[0, y0 + 3:y1 - 3, x0 + 3:x1 - 3, :1]
            ).abs().float().mean() > 0.05
    if kind == "rgba":
        assert torch.equal(result.images[..., 3], original[..., 3])


def test_the_plain_stitch_is_unchanged_and_reports_its_composite() -> None:
    original, _, prepared, plan, sample = scene()
    crops = [torch.cat([sample, sample.flip(1)])]
    for cc in (False, True):
        stitcher = Stitcher.build(original, prepared.composite, plan, denoise=prepared.denoise, color_correct=cc)
        result = stitcher.stitch_masked(crops, 2)
        today = stitch(original, prepared.composite, plan, crops, 2, denoise_full=prepared.denoise, color_correct=cc)
        assert torch.equal(result.images, today) and torch.equal(stitcher.stitch(crops, 2), today)
        assert torch.equal(result.mask, prepared.composite.repeat_interleave(2, dim=0))
        assert result.drifts == [None]
