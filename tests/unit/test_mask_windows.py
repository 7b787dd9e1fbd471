"""Windowed prepared masks give exactly what the full-size masks give: plan, crops, stitch record.

The oracle is the same public call made with full-size [B,H,W] tensors built by the whole-image mask
chain (mask_chain), never a tensor the windowed path produced itself.
"""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import (
    CropSettings,
    MaskSettings,
    MaskWindows,
    crop_regions,
    fit_mask_to_image,
    plan_crops,
    prepare_windowed_masks,
)
from fluxfill_inpainter.crop_stitch.components import cell_boxes
from fluxfill_inpainter.crop_stitch.mask_windows import level_windows, tile_max
from fluxfill_inpainter.crop_stitch.masks import is_empty_mask, mask_chain
from fluxfill_inpainter.crop_stitch.stitch import region_masks


def _masks(seed: int) -> torch.Tensor:
    """Two images, 333 x 517 (no multiple of any tile), blobs near borders, specks, NaN and a soft patch."""
    g = torch.Generator().manual_seed(seed)
    m = torch.zeros(2, 333, 517)
    m[0, 0:40, 0:60] = 1.0  # a corner
    m[0, 150:200, 250:300] = torch.rand(50, 50, generator=g)
    m[0, 300:333, 480:517] = 0.6  # the other corner
    m[1, 100:102, 30:32] = 1.0  # a speck
    m[1, 90:180, 350:470] = 1.0
    m[1, 120:140, 380:400] = 0.0  # a hole
    m[1, 10, 500] = float("nan")
    return m


SETTINGS = [
    MaskSettings(),
    MaskSettings(fill_holes=True, grow_px=7, feather_px=11, hipass=0.2),
    MaskSettings(grow_px=-2, feather_px=0),
    MaskSettings(invert=True, feather_px=4),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_windowed_masks_equal_the_whole_image_chain(settings: MaskSettings, seed: int) -> None:
    m = _masks(seed)
    windowed = prepare_windowed_masks(m, settings)
    whole = mask_chain(m, settings)
    for name in ("inpaint", "denoise", "composite"):
        assert torch.equal(getattr(windowed, name).full(), getattr(whole, name)), name
    if not settings.invert:  # the point of windows: they cover a small part of the image
        area = sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in windowed.denoise.windows)
        assert area < 0.6 * 333 * 517


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("crop", [CropSettings(min_crop_px=64, min_context_px=8, multiple=8),
                                  CropSettings(min_crop_px=32, min_context_px=4, merge_gap_px=0, multiple=16,
                                               target_mode="none")])
def test_plan_crop_and_stitch_record_from_windows_equal_full_size(settings: MaskSettings,
                                                                  crop: CropSettings) -> None:
    m = _masks(3)
    images = torch.rand(2, 333, 517, 3, generator=torch.Generator().manual_seed(9))
    windowed = prepare_windowed_masks(m, settings)
    whole = mask_chain(m, settings)
    plan = plan_crops(windowed.denoise, crop)
    assert plan.to_dict() == plan_crops(whole.denoise, crop).to_dict()
    assert len(plan.regions) >= (2 if settings.invert else 3)
    for indices in plan.groups_by_target().values():
        got = crop_regions(images, windowed.inpaint, windowed.denoise, plan, indices)
        want = crop_regions(images, whole.inpaint, whole.denoise, plan, indices)
        for name in ("images", "inpaint", "denoise"):
            assert torch.equal(getattr(got, name), getattr(want, name)), name
    got_rm = region_masks(plan, windowed.composite, windowed.denoise, color_correct=True)
    want_rm = region_masks(plan, whole.composite, whole.denoise, color_correct=True)
    for a, b in zip(got_rm, want_rm, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert (a.blend, a.ring) == (b.blend, b.ring)
            assert torch.equal(a.composite, b.composite) and torch.equal(a.denoise, b.denoise)


@pytest.mark.parametrize("cell", [1, 7, 32, 64])
def test_cells_of_windows_equal_cells_of_the_full_mask(cell: int) -> None:
    m = _masks(4)
    windowed = prepare_windowed_masks(m, MaskSettings(feather_px=9))
    full = windowed.denoise.full()
    occ, boxes = windowed.denoise.cells(cell)
    want_occ, want_boxes = cell_boxes(full > 0, cell)
    assert torch.equal(occ, want_occ) and occ.any()
    assert torch.equal(boxes[occ], want_boxes[want_occ])


def test_read_pads_with_zeros_outside_the_image_and_the_windows() -> None:
    m = torch.zeros(1, 20, 30)
    m[0, 2:5, 3:9] = torch.arange(18.0).view(3, 6) / 20
    windows = MaskWindows(1, 20, 30, ((1, 6, 2, 10),), (m[:, 1:6, 2:10].clone(),))
    padded = torch.nn.functional.pad(m[0], (5, 5, 4, 4))  # the image inside a zero border
    assert torch.equal(windows.read(0, -4, 24, -5, 35), padded)
    assert torch.equal(windows.read(3, 0, 20, 0, 30), m[0])  # batch 1 stands for every image
    assert torch.equal(windows.full(batch=2), m.expand(2, -1, -1))


def test_tile_scan_sees_every_pixel_at_the_level_and_nan() -> None:
    x = torch.zeros(2, 70, 101)
    x[1, 69, 100] = 0.5  # the last pixel, in a partial tile
    x[0, 0, 40] = float("nan")
    peaks = tile_max(torch.nan_to_num(x, nan=0.0), 32)
    want = torch.nn.functional.max_pool2d(torch.nan_to_num(x, nan=0.0).amax(0)[None, None], 32, ceil_mode=True)
    assert torch.equal(peaks, want[0, 0])
    wins = level_windows(x, 0.4, 3)
    covered = torch.zeros(70, 101, dtype=torch.bool)
    for y0, y1, x0, x1 in wins:
        covered[y0:y1, x0:x1] = True
    assert covered[69, 100] and covered[0, 40] and not covered.all()


def test_a_clean_mask_is_fitted_without_a_copy_and_a_dirty_one_is_sanitized() -> None:
    image = torch.zeros(1, 8, 8, 3)
    clean = torch.rand(1, 8, 8)
    assert fit_mask_to_image(clean, image).data_ptr() == clean.data_ptr()
    dirty = clean.clone()
    dirty[0, 0, 0] = float("nan")
    dirty[0, 1, 1] = 3.0
    fitted = fit_mask_to_image(dirty, image)
    assert fitted.data_ptr() != dirty.data_ptr() and torch.isnan(dirty[0, 0, 0])
    assert fitted[0, 0, 0] == 0 and fitted[0, 1, 1] == 1


def test_full_rows_keeps_one_shared_mask_as_one_storage():
    from fluxfill_inpainter.crop_stitch.mask_windows import MaskWindows

    one = torch.zeros(1, 40, 50)
    one[0, 10:20, 5:15] = 0.5
    same = MaskWindows(3, 40, 50, ((10, 20, 5, 15),), (one[:, 10:20, 5:15].expand(3, 10, 10).clone(),))
    rows = same.full_rows(2)
    assert rows.shape == (6, 40, 50) and torch.equal(rows, one.expand(6, 40, 50))
    assert rows.untyped_storage().nbytes() == 40 * 50 * rows.element_size()
    differ = same.values[0].clone()
    differ[1] = 1.0
    mixed = MaskWindows(3, 40, 50, ((10, 20, 5, 15),), (differ,)).full_rows(2)
    assert mixed.shape == (6, 40, 50) and torch.equal(mixed[2], mixed[3]) and mixed[2, 10, 5] == 1.0
    assert mixed[0, 10, 5] == 0.5 and mixed[4, 10, 5] == 0.5


@pytest.mark.parametrize("shape", [(1, 64, 64), (64, 64), (5, 3, 9), (0, 8, 8)])
def test_an_empty_mask_of_any_size_fits_as_zeros(shape) -> None:
    """README: an empty mask returns the input; core LoadImage's 64x64 zero mask of a photo included."""
    image = torch.rand(2, 40, 70, 3)
    empty = torch.zeros(shape)
    if empty.numel():
        empty.view(-1)[0] = float("nan")  # NaN counts as 0
    fitted = fit_mask_to_image(empty, image)
    assert fitted.shape == (2, 40, 70) and fitted.dtype == image.dtype and not fitted.any()
    assert is_empty_mask(empty) and not is_empty_mask(torch.full((1, 2, 2), 1e-6))
