"""Seeded property tests over many random masks: shapes, blobs, borders, specks, batches."""

from __future__ import annotations

import torch
from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings, crop_regions, plan_crops
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.regions import context_box
from fluxfill_inpainter.crop_stitch.stitch import stitch

SHAPES = [(7, 13), (13, 7), (97, 61), (61, 97), (1, 9), (32, 32), (45, 120), (120, 45), (3, 3)]
CASES = 40


def random_mask(gen: torch.Generator, h: int, w: int) -> torch.Tensor:
    """1-5 blobs: single pixels, rectangles, disks and border-touching strips."""
    m = torch.zeros(h, w)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for _ in range(int(torch.randint(1, 6, (1,), generator=gen))):
        kind = int(torch.randint(0, 4, (1,), generator=gen))
        cy = int(torch.randint(0, h, (1,), generator=gen))
        cx = int(torch.randint(0, w, (1,), generator=gen))
        size = 1 + int(torch.randint(0, max(1, min(h, w) // 3), (1,), generator=gen))
        if kind == 0:
            m[cy, cx] = 1
        elif kind == 1:
            m[cy : cy + size, cx : cx + 2 * size] = 1
        elif kind == 2:
            m[(yy - cy) ** 2 + (xx - cx) ** 2 <= size * size] = 1
        else:
            m[: size if cy % 2 else h, -size:] = 1
    return m


def cases():
    gen = torch.Generator().manual_seed(1234)
    for i in range(CASES):
        h, w = SHAPES[i % len(SHAPES)]
        b = 1 + i % 3
        masks = torch.stack([random_mask(gen, h, w) for _ in range(b)])
        if i % 7 == 3:
            masks[0] = 0  # an empty image inside a batch
        feather = [0, 1, 3, 6][i % 4]
        settings = CropSettings(
            min_context_px=i % 5,
            min_crop_px=[8, 16, 512][i % 3],
            context_factor=[0.0, 0.5, 1.0][i % 3],
            merge_gap_px=i % 4,
            max_regions=[1, 3, 8][i % 3],
            target_mp=0.01,
            min_side=32,
            max_side=128,
            multiple=[8, 16][i % 2],
        )
        yield i, masks, MaskSettings(feather_px=feather, grow_px=[0, 1, -1][i % 3]), settings


def test_mask_relations_hold_for_random_masks() -> None:
    for i, masks, ms, _ in cases():
        pm = prepare_masks(masks, ms)
        assert torch.all(pm.denoise[pm.composite > 0] > 0), i
        assert torch.all(pm.composite <= pm.denoise), i  # binary masks
        user = masks > 0
        if ms.grow_px >= 0:
            assert torch.all(pm.composite[user] == 1.0), i


def test_plan_boxes_for_random_masks() -> None:
    for i, masks, ms, s in cases():
        pm = prepare_masks(masks, ms)
        plan = plan_crops(pm.denoise, s)
        b, h, w = masks.shape
        covered = torch.zeros(b, h, w, dtype=torch.bool)
        for r in plan.regions:
            x0, y0, x1, y1 = r.box
            mx0, my0, mx1, my1 = r.mask_box
            cx0, cy0, cx1, cy1 = context_box(r.mask_box, h, w, s.context_factor, s.min_context_px)
            assert x0 <= cx0 <= mx0 and y0 <= cy0 <= my0 and x1 >= cx1 >= mx1, (i, r)
            assert y1 >= cy1 >= my1, (i, r)
            assert r.pad == (max(0, -x0), max(0, -y0), max(0, x1 - w), max(0, y1 - h)), (i, r)
            tw, th = r.target
            assert tw % s.multiple == 0 and th % s.multiple == 0, (i, r)
            assert 32 <= tw <= 128 and 32 <= th <= 128, (i, r)
            if min(r.size) >= 50:
                assert abs((tw / r.size[0]) / (th / r.size[1]) - 1) <= 0.01, (i, r)
            covered[r.image_index, my0:my1, mx0:mx1] = True
        assert torch.all(covered[pm.denoise > 0]), i  # every masked pixel has a region
        per_image = [sum(r.image_index == k for r in plan.regions) for k in range(b)]
        for k in range(b):
            assert (per_image[k] == 0) == (not bool((pm.denoise[k] > 0).any())), i
            assert per_image[k] <= s.max_regions, i
        mboxes = [(r.image_index, r.mask_box) for r in plan.regions]
        for a in range(len(mboxes)):
            for c in range(a + 1, len(mboxes)):
                (ia, ba), (ic, bc) = mboxes[a], mboxes[c]
                disjoint = ba[2] <= bc[0] or bc[2] <= ba[0] or ba[3] <= bc[1] or bc[3] <= ba[1]
                assert ia != ic or disjoint, (i, ba, bc)


def test_stitch_exact_outside_and_round_trip_for_random_masks() -> None:
    gen = torch.Generator().manual_seed(99)
    for i, masks, ms, s in cases():
        b, h, w = masks.shape
        yy = torch.arange(h, dtype=torch.float32).view(1, h, 1, 1)
        xx = torch.arange(w, dtype=torch.float32).view(1, 1, w, 1)
        # smooth at the pixel scale, so resampling there and back loses little
        img = (0.5 + 0.3 * torch.sin(0.05 * yy + 0.08 * xx + torch.arange(3.0))).expand(b, h, w, 3)
        img = img.contiguous()
        pm = prepare_masks(masks, ms)
        plan = plan_crops(pm.denoise, s)
        noise = [torch.rand(2, r.target[1], r.target[0], 3, generator=gen) for r in plan.regions]
        out = stitch(img, pm.composite, plan, noise, variants=2)
        outside = (pm.composite == 0).repeat_interleave(2, dim=0)
        assert torch.equal(out[outside], img.repeat_interleave(2, dim=0)[outside]), i
        if plan.regions:
            crops = [
                crop_regions(img, pm.denoise, pm.composite, plan, [k]).images
                for k in range(len(plan.regions))
            ]
            back = stitch(img, pm.composite, plan, crops, variants=1)
            assert torch.equal(back[pm.composite == 0], img[pm.composite == 0]), i
            assert (back - img).abs().max() < 0.03, i


def test_full_and_empty_masks_in_one_batch() -> None:
    masks = torch.zeros(3, 61, 97)
    masks[1] = 1
    pm = prepare_masks(masks)
    plan = plan_crops(pm.denoise)
    assert len(plan.regions) == 1
    r = plan.regions[0]
    assert r.image_index == 1 and r.box == (0, 0, 97, 61) and r.pad == (0, 0, 0, 0)
    img = torch.rand(3, 61, 97, 3)
    out = stitch(img, pm.composite, plan, [torch.zeros(1, r.target[1], r.target[0], 3)], 1)
    assert torch.equal(out[0], img[0]) and torch.equal(out[2], img[2])
    assert torch.all(out[1] == 0)
