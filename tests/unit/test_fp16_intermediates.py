"""crop_stitch with float16 IMAGE / MASK, as newer ComfyUI's `--fp16-intermediates` delivers them.

Every oracle is computed here from the inputs (slices, distances, boxes), never from what the
function under test returned. stitch() is left out on purpose: its signature is being changed.
"""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import CropPlan, CropSettings, MaskSettings, crop_regions, plan_crops, prefill
from fluxfill_inpainter.crop_stitch.color import color_correct
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.plan import Region

H, W = 40, 56
HALF = torch.float16


def _image(seed: int = 0, batch: int = 2) -> torch.Tensor:
    """A float16 IMAGE [B,H,W,3]: gradient plus noise (every pixel different)."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    base = torch.stack([x, y, 0.5 + 0.3 * torch.sin(5 * x)], dim=-1)
    noisy = base[None] * 0.8 + 0.2 * torch.rand(batch, H, W, 3, generator=g)
    return noisy.clamp(0, 1).to(HALF)


def _mask(batch: int = 2) -> torch.Tensor:
    """A float16 MASK [B,H,W]: a hard rectangle, a soft (0.4, rounds to 0) rim above it."""
    m = torch.zeros(batch, H, W, dtype=HALF)
    m[:, 12:24, 18:34] = 1.0
    m[:, 11, 18:34] = 0.4
    return m


def _distance_to(support: torch.Tensor) -> torch.Tensor:
    """[H,W] Euclidean distance of every pixel to the nearest True pixel of [H,W] `support`."""
    ys, xs = torch.nonzero(support, as_tuple=True)
    yy, xx = torch.meshgrid(torch.arange(support.shape[0]), torch.arange(support.shape[1]), indexing="ij")
    d2 = (yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2
    return d2.min(dim=-1).values.float().sqrt()


def _tight_box(support: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(support, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


SMALL = dict(min_side=16, max_side=256, min_crop_px=16, min_context_px=4, multiple=8)


# --- prepare_masks ------------------------------------------------------------------------------

@pytest.mark.parametrize("grow_px,feather_px", [(0, 0), (0, 4), (3, 5), (-2, 3)])
def test_prepare_masks_float16_keeps_dtype_and_exact_zeros_far_away(grow_px, feather_px):
    mask = _mask()
    masks = prepare_masks(mask, MaskSettings(grow_px=grow_px, feather_px=feather_px))
    for name, m in (("denoise", masks.denoise), ("composite", masks.composite)):
        assert m.dtype == HALF, name
        assert m.shape == mask.shape, name
        assert torch.isfinite(m).all(), name
        assert m.min() >= 0 and m.max() <= 1, name
    # nothing reaches farther than grow + feather from the user's mask: exactly 0 there
    reach = max(grow_px, 0) + feather_px + 1
    far = _distance_to(mask[0] > 0) > reach
    assert far.any() and (~far).any()
    for b in range(mask.shape[0]):
        assert (masks.denoise[b][far] == 0).all()
        assert (masks.composite[b][far] == 0).all()
    # the hard rectangle (shrunk by an erosion) is still fully denoised and composited
    inner = _distance_to(mask[0] < 1) > max(-grow_px, 0) + 1
    assert inner.any()
    assert (masks.denoise[0][inner] == 1).all() and (masks.composite[0][inner] == 1).all()


def test_prepare_masks_float16_sanitizes_nan_and_inf():
    mask = _mask(batch=1)
    mask[0, 2, 2] = float("nan")
    mask[0, 3, 48] = float("inf")
    mask[0, 35, 50] = float("-inf")
    masks = prepare_masks(mask, MaskSettings(feather_px=0))
    assert torch.isfinite(masks.denoise).all() and torch.isfinite(masks.composite).all()
    assert masks.denoise[0, 3, 48] == 1, "+inf means 'inpaint here'"
    assert masks.denoise[0, 2, 2] == 0 and masks.denoise[0, 35, 50] == 0
    grown = prepare_masks(mask, MaskSettings(grow_px=2, feather_px=2))
    assert torch.isfinite(grown.denoise).all() and torch.isfinite(grown.composite).all()


def test_prepare_masks_float16_stabilizes_nearly_opaque_values():
    mask = _mask(batch=1)
    mask[0, 12:24, 18:34] = 0.995  # fp16 rounds this to 0.99512; >= 0.99 must become 1
    masks = prepare_masks(mask, MaskSettings(stabilize=0.99, feather_px=0))
    assert (masks.denoise[0, 12:24, 18:34] == 1).all()


def test_prepare_masks_does_not_modify_the_float16_input():
    mask = _mask()
    before = mask.clone()
    prepare_masks(mask, MaskSettings(grow_px=2, feather_px=3, invert=True))
    assert torch.equal(mask, before) and mask.dtype == HALF


# --- plan_crops ---------------------------------------------------------------------------------

def test_plan_crops_float16_mask_box_is_the_tight_box_of_the_mask():
    mask = _mask(batch=1)
    mask[0, 30, 40] = 0.001  # a faint grey pixel (representable in fp16) still asks for inpainting
    settings = CropSettings(target_mode="none", merge_gap_px=64, **SMALL)
    plan = plan_crops(mask, settings)
    assert (plan.batch, plan.height, plan.width) == (1, H, W)
    (region,) = plan.regions
    assert region.mask_box == _tight_box(mask[0] > 0)
    x0, y0, x1, y1 = region.box
    mx0, my0, mx1, my1 = region.mask_box
    assert x0 <= mx0 and y0 <= my0 and x1 >= mx1 and y1 >= my1, "the crop holds its mask"


@pytest.mark.parametrize("target_mode", ["none", "area", "fixed"])
def test_plan_crops_float16_matches_the_float32_plan(target_mode):
    """Mask values exactly representable in both dtypes give the same plan."""
    mask = _mask()
    mask[1, 34:39, 46:55] = 0.5  # a second, grey region in image 1
    settings = CropSettings(target_mode=target_mode, target_mp=0.004, fixed_width=48, fixed_height=32,
                            context_factor=0.0, merge_gap_px=0, **SMALL)
    half = plan_crops(mask, settings)
    single = plan_crops(mask.to(torch.float32), settings)
    assert half.to_dict() == single.to_dict()
    assert len(half.regions) == 3
    # and the mask boxes are the tight boxes of the two blobs of image 1
    support = mask[1] > 0
    left, right = support.clone(), support.clone()
    left[:, 40:], right[:, :40] = False, False
    assert {r.mask_box for r in half.regions if r.image_index == 1} == {_tight_box(left), _tight_box(right)}


# --- crop_regions -------------------------------------------------------------------------------

def _one_region_batch(image, inpaint, denoise, settings):
    plan = plan_crops(denoise, settings)
    assert len(plan.regions) == image.shape[0]
    return plan, crop_regions(image, inpaint, denoise, plan, region_indices=[0])


def test_crop_regions_float16_without_resize_equals_the_source_slice():
    image, mask = _image(), _mask()
    masks = prepare_masks(mask, MaskSettings(feather_px=3))
    settings = CropSettings(target_mode="none", **SMALL)
    plan, batch = _one_region_batch(image, masks.inpaint, masks.denoise, settings)
    region = plan.regions[0]
    assert region.pad == (0, 0, 0, 0) and region.target == region.size, "setting up a crop without resize"
    x0, y0, x1, y1 = region.box
    assert batch.images.dtype == HALF and batch.denoise.dtype == HALF and batch.inpaint.dtype == HALF
    assert torch.isfinite(batch.images).all()
    # the crop is the float16 source, bit for bit, masked and unmasked pixels alike
    assert torch.equal(batch.images[0], image[0, y0:y1, x0:x1])
    unmasked = mask[0, y0:y1, x0:x1] == 0
    assert unmasked.any()
    assert torch.equal(batch.images[0][unmasked], image[0, y0:y1, x0:x1][unmasked])


@pytest.mark.parametrize("pad_mode", ["replicate", "reflect"])
def test_crop_regions_float16_padding_without_resize(pad_mode):
    """A box leaving the image at the top-left corner, sampled at its own size: the crop is the
    float16 source where it lies inside and the padded source (indices computed here) outside."""
    image = _image(batch=1)
    mask = torch.zeros(1, H, W, dtype=HALF)
    mask[0, 0:6, 0:6] = 1.0
    x0, y0, x1, y1 = -4, -3, 20, 13
    region = Region(image_index=0, box=(x0, y0, x1, y1), mask_box=(0, 0, 6, 6), target=(x1 - x0, y1 - y0),
                    scale=1.0, pad=(4, 3, 0, 0))
    plan = CropPlan(height=H, width=W, batch=1, regions=[region], pad_mode=pad_mode)
    batch = crop_regions(image, mask, mask, plan)
    assert batch.images.dtype == HALF and batch.denoise.dtype == HALF
    ys, xs = torch.arange(y0, y1), torch.arange(x0, x1)
    if pad_mode == "replicate":
        src_y, src_x = ys.clamp(0, H - 1), xs.clamp(0, W - 1)
    else:  # mirror without repeating the edge pixel: -1 -> 1, -2 -> 2
        src_y, src_x = ys.abs(), xs.abs()
    assert torch.equal(batch.images[0], image[0][src_y][:, src_x])
    inside = (ys >= 0)[:, None] & (xs >= 0)[None, :]
    assert torch.equal(batch.images[0][inside], image[0, 0:y1, 0:x1].reshape(-1, 3))
    assert (batch.denoise[0][~inside] == 0).all(), "no inpainting asked for in the padding"
    assert torch.equal(batch.denoise[0][inside], mask[0, 0:y1, 0:x1].reshape(-1))


@pytest.mark.parametrize("resample", ["bicubic", "bilinear", "area", "nearest-exact"])
def test_crop_regions_float16_resized_is_finite_and_in_range(resample):
    image, mask = _image(), _mask()
    masks = prepare_masks(mask, MaskSettings(feather_px=2))
    settings = CropSettings(target_mode="fixed", fixed_width=64, fixed_height=48, **SMALL)
    plan = plan_crops(masks.denoise, settings)
    batch = crop_regions(image, masks.inpaint, masks.denoise, plan, resample=resample)
    assert batch.images.shape[1:] == (48, 64, 3)
    for t in (batch.images, batch.denoise, batch.inpaint):
        assert t.dtype == HALF and torch.isfinite(t).all()
        assert t.min() >= 0 and t.max() <= 1


# --- color_correct ------------------------------------------------------------------------------

def _cc_inputs():
    image = _image(batch=1)[0]
    denoise = torch.zeros(H, W, dtype=HALF)
    denoise[12:24, 18:34] = 1.0
    return image, denoise


def test_color_correct_float16_identity_and_dtype():
    image, denoise = _cc_inputs()
    out = color_correct(image[None], image, denoise, ring_px=6)
    assert out.dtype == HALF and out.shape == (1, H, W, 3)
    assert torch.isfinite(out).all()
    # same colours inside and outside: the fit is the identity, up to float16 rounding
    torch.testing.assert_close(out[0], image, atol=2e-3, rtol=0)


def test_color_correct_float16_too_small_a_ring_is_an_exact_copy():
    image, _ = _cc_inputs()
    denoise = torch.ones(H, W, dtype=HALF)  # denoise everywhere: no ring pixel at all
    shifted = (image * 0.7 + 0.1).to(HALF)
    out = color_correct(shifted[None], image, denoise, ring_px=6)
    assert out.dtype == HALF
    assert torch.equal(out[0], shifted)


def test_color_correct_float16_pulls_a_colour_shift_back():
    image, denoise = _cc_inputs()
    shifted = (image.float() * 0.8 + 0.15).clamp(0, 1).to(HALF)  # a global tone shift of the whole crop
    before = shifted.clone()
    out = color_correct(shifted[None, ...], image, denoise, ring_px=6)
    assert torch.equal(shifted, before), "the input is not modified"
    assert out.dtype == HALF and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    inside = denoise > 0
    error_before = (shifted.float() - image.float()).abs()[inside].mean()
    error_after = (out[0].float() - image.float()).abs()[inside].mean()
    assert error_after < error_before / 4, f"{error_before:.4f} -> {error_after:.4f}"


# --- prefill ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["grey", "blur"])
@pytest.mark.parametrize("mask_dtype", [HALF, torch.float32])
def test_prefill_float16_unmasked_pixels_bit_identical(method, mask_dtype):
    image, mask = _image(), _mask().to(mask_dtype)
    before = image.clone()
    out = prefill(image, mask, method)
    assert torch.equal(image, before), "the input is not modified"
    assert out.dtype == HALF and out.shape == image.shape
    assert torch.isfinite(out).all()
    keep = mask.round() == 0  # the 0.4 rim rounds to 0: untouched too
    assert (mask[keep] > 0).any(), "the soft rim is part of the check"
    assert torch.equal(out[keep], image[keep])
    hole = ~keep
    if method == "grey":
        assert (out[hole] == 0.5).all()
    else:
        # a convex mix of known pixels: within their range (plus float16 rounding)
        known = image[keep]
        assert out[hole].float().min() >= known.float().min() - 1e-3
        assert out[hole].float().max() <= known.float().max() + 1e-3
        assert not torch.equal(out[hole], image[hole])


# --- stitch ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("color", [False, True])
def test_stitch_float16_is_exact_outside_and_finite_inside(color):
    """--fp16-intermediates: a float16 image and float32 or float16 crops stitch back as float16, the
    pixels outside the user's mask grown by the feather bit-exact (oracle: distance from the mask)."""
    from fluxfill_inpainter.crop_stitch.stitch import stitch

    image = _image(batch=1)
    mask = torch.zeros(1, H, W, dtype=HALF)
    mask[0, 20:40, 30:60] = 1.0
    feather = 4
    masks = prepare_masks(mask, MaskSettings(feather_px=feather))
    plan = plan_crops(masks.denoise, CropSettings(target_mode="fixed", fixed_width=64, fixed_height=48, **SMALL))
    crops = [torch.rand(2, r.target[1], r.target[0], 3, generator=torch.Generator().manual_seed(1)).to(dtype)
             for r, dtype in zip(plan.regions, (torch.float32, HALF), strict=False)]
    out = stitch(image, masks.composite, plan, crops, 2, denoise_full=masks.denoise, color_correct=color)
    assert out.dtype == HALF and torch.isfinite(out).all()
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    dy = torch.clamp(torch.maximum(20 - ys, ys - 39), min=0)
    dx = torch.clamp(torch.maximum(30 - xs, xs - 59), min=0)
    outside = (dy * dy + dx * dx) > feather * feather
    assert outside.any() and (~outside).any()
    for row in out:
        assert torch.equal(row[outside], image[0][outside])
    assert not torch.equal(out[0][~outside], image[0][~outside])
