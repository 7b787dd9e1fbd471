"""Cropping and stitching: padding, layouts, exactness outside the composite, composition."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import (
    CropPlan,
    CropSettings,
    MaskSettings,
    Stitcher,
    crop_regions,
    crops_by_region,
    plan_crops,
    variant_major,
)
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.plan import Region
from fluxfill_inpainter.crop_stitch.stitch import stitch

SETTINGS = CropSettings(
    min_context_px=6,
    min_crop_px=24,
    context_factor=0.25,
    target_mp=0.02,
    min_side=64,
    max_side=256,
    multiple=8,
)


def smooth_image(b: int, h: int, w: int, c: int = 3) -> torch.Tensor:
    ys = torch.linspace(0, 1, h).view(1, h, 1, 1)
    xs = torch.linspace(0, 1, w).view(1, 1, w, 1)
    phase = torch.arange(b * c, dtype=torch.float32).view(b, 1, 1, c)
    return 0.5 + 0.4 * torch.sin(2.0 * ys + 3.0 * xs + phase)


def scene() -> tuple[torch.Tensor, torch.Tensor]:
    img = smooth_image(2, 90, 130)
    m = torch.zeros(2, 90, 130)
    m[0, 10:25, 10:30] = 1
    m[0, 60:80, 100:125] = 1
    m[1, 0:15, 40:90] = 1
    return img, m


def test_outside_composite_is_bit_exact_and_alpha_kept() -> None:
    img, m = scene()
    rgba = torch.cat([img, torch.rand(2, 90, 130, 1)], dim=-1)
    pm = prepare_masks(m, MaskSettings(feather_px=3))
    plan = plan_crops(pm.denoise, SETTINGS)
    noise = [torch.rand(2, r.target[1], r.target[0], 3) for r in plan.regions]
    out = stitch(rgba, pm.composite, plan, noise, variants=2)
    assert out.shape == (4, 90, 130, 4)
    outside = (pm.composite == 0).repeat_interleave(2, dim=0)
    ref = rgba.repeat_interleave(2, dim=0)
    assert torch.equal(out[outside], ref[outside])
    assert torch.equal(out[..., 3], ref[..., 3])  # alpha untouched everywhere
    inside = (m > 0).repeat_interleave(2, dim=0)
    assert (out[inside][:, :3] - ref[inside][:, :3]).abs().mean() > 0.1
    assert not torch.equal(out[0], out[1])  # variants differ: row b*V + j is image b, variant j


def test_round_trip_unmodified_crops() -> None:
    img, m = scene()
    pm = prepare_masks(m, MaskSettings(feather_px=4))
    plan = plan_crops(pm.denoise, SETTINGS)
    crops = [
        crop_regions(img, pm.inpaint, pm.denoise, plan, [i]).images
        for i in range(len(plan.regions))
    ]
    out = stitch(img, pm.composite, plan, crops, variants=1)
    assert torch.equal(out[pm.composite == 0], img[pm.composite == 0])
    assert (out - img).abs().max() < 0.02


def test_variant_major_layout_round_trips_and_feeds_the_stitcher() -> None:
    """One batch layout: row j * R + r = variant j of region r (what RepeatImageBatch of R crops gives)."""
    img, m = scene()
    pm = prepare_masks(m, MaskSettings(feather_px=8))
    plan = plan_crops(pm.denoise, CropSettings(**{**SETTINGS.__dict__, "shared_target": True}))
    batch = crop_regions(img, pm.inpaint, pm.denoise, plan)
    regions, v = len(plan.regions), 3
    assert batch.images.shape[0] == regions == 3
    per_region = [torch.rand(v, *batch.images.shape[1:]) for _ in range(regions)]
    repeated = torch.cat([torch.stack([per_region[r][j] for r in range(regions)]) for j in range(v)])
    assert torch.equal(variant_major(per_region), repeated)
    assert all(torch.equal(a, b) for a, b in zip(crops_by_region(repeated, regions), per_region, strict=True))
    st = Stitcher.build(img, pm.composite, plan, denoise=pm.denoise)
    assert torch.equal(st.stitch(crops_by_region(repeated, regions), v),
                       stitch(img, pm.composite, plan, per_region, variants=v, denoise_full=pm.denoise))
    with pytest.raises(ValueError):
        crops_by_region(repeated[:-1], regions)


def test_crop_regions_requires_one_target_and_pads() -> None:
    img, m = scene()
    pm = prepare_masks(m, MaskSettings(feather_px=8))
    plan = plan_crops(pm.denoise, SETTINGS)
    assert len(plan.groups_by_target()) == 3
    with pytest.raises(ValueError, match="different target"):
        crop_regions(img, pm.inpaint, pm.denoise, plan)
    with pytest.raises(ValueError):
        crop_regions(img, pm.inpaint, pm.denoise, plan, [])
    for target, ids in plan.groups_by_target().items():
        batch = crop_regions(img, pm.inpaint, pm.denoise, plan, ids, resample="bilinear")
        assert batch.images.shape == (len(ids), target[1], target[0], 3)
        assert batch.denoise.shape == batch.inpaint.shape == (len(ids), target[1], target[0])
        assert batch.region_indices == ids


@pytest.mark.parametrize("pad_mode", ["replicate", "reflect"])
def test_padding_is_filled_but_never_masked(pad_mode: str) -> None:
    img = smooth_image(1, 20, 30)
    den = torch.ones(1, 20, 30)
    region = Region(0, (-4, -2, 34, 22), (0, 0, 30, 20), (38, 24), 1.0, (4, 2, 4, 2))
    plan = CropPlan(20, 30, 1, [region], pad_mode=pad_mode)
    batch = crop_regions(img, den, den, plan, resample="nearest-exact")
    crop, mask = batch.images[0], batch.denoise[0]
    assert torch.equal(crop[2:22, 4:34], img[0])
    assert torch.all(mask[2:22, 4:34] == 1) and mask.sum() == 20 * 30
    if pad_mode == "replicate":
        assert torch.equal(crop[2:22, 0], img[0, :, 0]) and torch.equal(crop[0, 4:34], img[0, 0])
    else:
        assert torch.equal(crop[2:22, 3], img[0, :, 1]) and torch.equal(crop[1, 4:34], img[0, 1])
    out = stitch(img, den, plan, [torch.zeros(1, 24, 38, 3)], variants=1)
    assert torch.all(out == 0)  # the padded crop maps back onto exactly the image


def test_overlapping_regions_compose_in_plan_order() -> None:
    img = torch.full((1, 40, 40, 3), 0.5)
    comp = torch.zeros(1, 40, 40)
    comp[0, 5:15, 5:15] = 1.0
    comp[0, 25:35, 25:35] = 0.5
    first = Region(0, (0, 0, 30, 30), (5, 5, 15, 15), (30, 30), 1.0, (0, 0, 0, 0))
    second = Region(0, (10, 10, 40, 40), (25, 25, 35, 35), (30, 30), 1.0, (0, 0, 0, 0))
    plan = CropPlan(40, 40, 1, [first, second])
    out = stitch(img, comp, plan, [torch.ones(1, 30, 30, 3), torch.zeros(1, 30, 30, 3)], 1)
    assert torch.all(out[0, 5:15, 5:15] == 1.0)  # the second box overlaps but does not own it
    assert torch.allclose(out[0, 25:35, 25:35], torch.full((10, 10, 3), 0.25))
    untouched = comp[0] == 0
    assert torch.equal(out[0][untouched], img[0][untouched])


def test_stitch_validates_inputs() -> None:
    img, m = scene()
    pm = prepare_masks(m, MaskSettings(feather_px=8))
    plan = plan_crops(pm.denoise, SETTINGS)
    crops = [torch.rand(1, r.target[1], r.target[0], 3) for r in plan.regions]
    with pytest.raises(ValueError):
        stitch(img, pm.composite, plan, crops[:-1], 1)
    with pytest.raises(ValueError):
        stitch(img, pm.composite, plan, crops, 2)
    with pytest.raises(ValueError):
        stitch(img[:1], pm.composite, plan, crops, 1)
    empty = CropPlan(90, 130, 2, [])
    out = stitch(img, pm.composite, empty, [], 2)
    assert torch.equal(out, img.repeat_interleave(2, dim=0))


def test_no_input_is_mutated() -> None:
    img, m = scene()
    pm = prepare_masks(m, MaskSettings(feather_px=8))
    plan = plan_crops(pm.denoise, SETTINGS)
    keep = (img.clone(), pm.denoise.clone(), pm.composite.clone())
    crops = [torch.rand(1, r.target[1], r.target[0], 3) for r in plan.regions]
    crops_before = [c.clone() for c in crops]
    stitch(img, pm.composite, plan, crops, 1, color_correct=True, denoise_full=pm.denoise)
    for ids in plan.groups_by_target().values():
        crop_regions(img, pm.inpaint, pm.denoise, plan, ids)
    assert all(
        torch.equal(a, b) for a, b in zip(keep, (img, pm.denoise, pm.composite), strict=True)
    )
    assert all(torch.equal(a, b) for a, b in zip(crops_before, crops, strict=True))


def test_batch_one_masks_broadcast_over_images() -> None:
    img = smooth_image(2, 40, 50)
    m = torch.zeros(1, 40, 50)
    m[0, 10:20, 10:20] = 1
    plan = plan_crops(m.expand(2, 40, 50), SETTINGS)
    assert [r.image_index for r in plan.regions] == [0, 1]
    batch = crop_regions(img, m, m, plan)
    assert torch.equal(batch.denoise[0], batch.denoise[1]) and batch.denoise.max() == 1
    out = stitch(img, m, plan, [torch.zeros(1, *batch.images.shape[1:])] * 2, 1)
    assert torch.all(out[:, 10:20, 10:20] == 0) and torch.equal(out[:, 30:], img[:, 30:])


@pytest.mark.parametrize("resample", ["bicubic", "bilinear", "area", "nearest-exact"])
@pytest.mark.parametrize("size", [(300, 200), (90, 60), (30, 20), (100, 30)])  # up, up, down, up + down
def test_resize_window_equals_the_full_resize_sliced(resample, size) -> None:
    from fluxfill_inpainter.crop_stitch import resize_hwc
    from fluxfill_inpainter.crop_stitch.resize import resize_window_hwc

    x = torch.rand(2, 64, 48, 3, generator=torch.Generator().manual_seed(2))
    h, w = size
    rows, cols = slice(h // 5, h // 2), slice(w // 3, w // 3 + w // 4)
    window = resize_window_hwc(x, h, w, rows, cols, resample)
    torch.testing.assert_close(window, resize_hwc(x, h, w, resample)[:, rows, cols], atol=1e-5, rtol=0)


def test_stitch_equals_blending_the_whole_resized_box() -> None:
    """Stitch resizes only each region's blend window; the oracle resizes the whole box (the simple way)
    and blends by the formula: bit-exact outside the composite, within 1/255 inside."""
    from fluxfill_inpainter.crop_stitch import resize_hwc

    img = torch.rand(1, 400, 500, 3, generator=torch.Generator().manual_seed(3))
    m = torch.zeros(1, 400, 500)
    m[0, 100:130, 120:160] = 1.0
    m[0, 300:380, 400:470] = 1.0
    pm = prepare_masks(m, MaskSettings(feather_px=6))
    plan = plan_crops(pm.denoise, CropSettings(min_crop_px=256, min_context_px=64, target_mp=0.02,
                                               min_side=64, max_side=256))
    crops = [torch.rand(2, r.target[1], r.target[0], 3, generator=torch.Generator().manual_seed(i))
             for i, r in enumerate(plan.regions)]
    out = stitch(img, pm.composite, plan, crops, 2)
    expected = img.repeat_interleave(2, dim=0).clone()
    for region, crop in zip(plan.regions, crops, strict=True):
        full = resize_hwc(crop, region.size[1], region.size[0], "bicubic")
        x0, y0, x1, y1 = region.mask_box
        bx, by = region.box[0], region.box[1]
        mm = pm.composite[0, y0:y1, x0:x1, None]
        cur = expected[:, y0:y1, x0:x1]
        expected[:, y0:y1, x0:x1] = mm * full[:, y0 - by:y1 - by, x0 - bx:x1 - bx] + (1 - mm) * cur
    outside = (pm.composite[0] == 0).expand(2, -1, -1)
    assert bool(outside.any()) and bool((~outside).any())
    assert torch.equal(out[outside], img.repeat_interleave(2, dim=0)[outside])
    assert (out - expected).abs().max() <= 1 / 255


def test_stitcher_keeps_mask_windows_not_full_size_masks() -> None:
    """The STITCHER ComfyUI caches holds the originals and each region's window, never full-size masks."""
    img = torch.rand(1, 600, 800, 3)
    m = torch.zeros(1, 600, 800)
    m[0, 100:140, 100:150] = 1.0
    m[0, 400:460, 600:700] = 1.0
    pm = prepare_masks(m, MaskSettings(feather_px=8))
    plan = plan_crops(pm.denoise, SETTINGS)
    for color in (False, True):
        st = Stitcher.build(img, pm.composite, plan, denoise=pm.denoise, color_correct=color)
        held = sum(t.numel() for rm in st.masks if rm for t in (rm.composite, rm.denoise) if t is not None)
        assert 0 < held < 0.1 * m.numel()
        crops = [torch.rand(1, r.target[1], r.target[0], 3) for r in plan.regions]
        assert torch.equal(st.stitch(crops, 1), stitch(img, pm.composite, plan, crops, 1, denoise_full=pm.denoise,
                                                       color_correct=color))
