"""Region finding and crop planning: components, clusters, context boxes, target sizes."""

from __future__ import annotations

import json
from collections import deque

import pytest
import torch
from fluxfill_inpainter.crop_stitch import CropSettings, plan_crops
from fluxfill_inpainter.crop_stitch.components import label_components
from fluxfill_inpainter.crop_stitch.regions import context_box, find_clusters

SMALL = CropSettings(
    min_context_px=4,
    min_crop_px=16,
    merge_gap_px=0,
    target_mp=0.05,
    min_side=64,
    max_side=512,
    multiple=8,
)


def brute_labels(occ: torch.Tensor) -> list[set[tuple[int, int]]]:
    """Reference 8-connected components as pixel sets."""
    h, w = occ.shape
    seen = torch.zeros(h, w, dtype=torch.bool)
    comps = []
    for y in range(h):
        for x in range(w):
            if occ[y, x] and not seen[y, x]:
                comp, q = set(), deque([(y, x)])
                seen[y, x] = True
                while q:
                    cy, cx = q.popleft()
                    comp.add((cy, cx))
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            ny, nx = cy + dy, cx + dx
                            if 0 <= ny < h and 0 <= nx < w and occ[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                q.append((ny, nx))
                comps.append(comp)
    return comps


@pytest.mark.parametrize("seed", range(8))
def test_label_components_matches_bfs(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    h, w = [(7, 13), (13, 7), (20, 31), (1, 9), (9, 1), (16, 16), (25, 3), (30, 30)][seed]
    occ = torch.rand(h, w, generator=gen) > 0.6
    labels, count = label_components(occ, 8)
    ref = brute_labels(occ)
    assert count == len(ref)
    for comp in ref:
        values = {int(labels[y, x]) for y, x in comp}
        assert len(values) == 1 and values.pop() >= 0
    assert torch.all(labels[~occ] == -1)


def test_empty_and_full_masks() -> None:
    empty = plan_crops(torch.zeros(2, 40, 60))
    assert empty.regions == [] and (empty.batch, empty.height, empty.width) == (2, 40, 60)
    for h, w in [(600, 900), (1000, 700), (97, 61), (61, 97), (64, 64), (7, 13), (512, 2048)]:
        plan = plan_crops(torch.ones(1, h, w))
        assert len(plan.regions) == 1, (h, w)
        r = plan.regions[0]
        assert r.box == (0, 0, w, h) and r.mask_box == (0, 0, w, h) and r.pad == (0, 0, 0, 0)
        tw, th = r.target
        assert abs((tw / w) / (th / h) - 1) <= 0.01


def test_mixed_batch_regions_per_image() -> None:
    m = torch.zeros(3, 300, 400)
    m[0, 10:20, 10:20] = 1
    m[0, 250:290, 350:390] = 1
    m[2] = 1
    plan = plan_crops(m, CropSettings(min_crop_px=64, context_factor=0.5, min_context_px=8))
    assert [r.image_index for r in plan.regions] == [0, 0, 2]
    assert not any(r.image_index == 1 for r in plan.regions)
    assert plan.regions[0].mask_box == (10, 10, 20, 20)
    assert plan.regions[1].mask_box == (350, 250, 390, 290)


def test_context_heuristic_and_min_crop() -> None:
    m = torch.zeros(1, 1024, 1024)
    m[0, 500:540, 600:620] = 1
    plan = plan_crops(m, CropSettings(min_crop_px=0, target_mode="none", multiple=1))
    r = plan.regions[0]
    pad = 1024 // 16  # longest side / 16 beats half the mean side (15)
    assert r.box == (600 - pad, 500 - pad, 620 + pad, 540 + pad)
    plan = plan_crops(m, CropSettings(target_mode="none", multiple=1))
    r = plan.regions[0]
    assert r.size == (512, 512) and r.scale == 1.0
    assert r.box[0] <= 600 - pad and r.box[2] >= 620 + pad


def test_merge_gap_and_max_regions() -> None:
    m = torch.zeros(1, 200, 400)
    m[0, 100, 100] = 1
    m[0, 100, 140] = 1
    m[0, 100, 300] = 1
    tight = dict(context_factor=0.0, min_context_px=0, min_crop_px=1, target_mode="none")
    assert len(plan_crops(m, CropSettings(merge_gap_px=38, **tight)).regions) == 3
    assert len(plan_crops(m, CropSettings(merge_gap_px=39, **tight)).regions) == 2
    two = plan_crops(m, CropSettings(merge_gap_px=0, max_regions=2, **tight))
    assert [r.mask_box for r in two.regions] == [(100, 100, 141, 101), (300, 100, 301, 101)]


def test_hundred_specks_capped_and_covered() -> None:
    gen = torch.Generator().manual_seed(7)
    m = torch.zeros(1, 640, 960)
    ys = torch.randint(0, 640, (100,), generator=gen)
    xs = torch.randint(0, 960, (100,), generator=gen)
    m[0, ys, xs] = 1
    for settings in (
        CropSettings(),
        CropSettings(context_factor=0, min_context_px=0, merge_gap_px=0, max_regions=5),
    ):
        plan = plan_crops(m, settings)
        assert 1 <= len(plan.regions) <= settings.max_regions
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            assert any(
                r.mask_box[0] <= x < r.mask_box[2] and r.mask_box[1] <= y < r.mask_box[3]
                for r in plan.regions
            )


@pytest.mark.parametrize("seed", range(6))
def test_coarse_grid_gives_the_same_clusters(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    h, w = [(97, 61), (128, 200), (61, 97), (150, 150), (40, 300), (256, 64)][seed]
    occ = torch.rand(1, h, w, generator=gen) > 0.997
    occ[0, : 1 + seed, : 2 + seed] = True
    args = (0.3, 5, 3, 100)
    assert find_clusters(occ, *args) == find_clusters(occ, *args, cell=1)


def test_plan_dict_is_json_and_groups() -> None:
    m = torch.zeros(2, 300, 500)
    m[0, 10:30, 10:30] = 1
    m[0, 100:280, 300:480] = 1
    m[1, 50:60, 10:490] = 1
    plan = plan_crops(
        m, CropSettings(min_crop_px=64, min_context_px=8, context_factor=0.2, pad_mode="reflect")
    )
    as_json = json.loads(json.dumps(plan.to_dict()))  # what the nodes' `regions` output carries
    assert as_json["pad_mode"] == "reflect" and as_json["version"] == 1
    assert [tuple(r["box"]) for r in as_json["regions"]] == [r.box for r in plan.regions]
    groups = plan.groups_by_target()
    assert sorted(i for ids in groups.values() for i in ids) == list(range(len(plan.regions)))
    for target, ids in groups.items():
        assert all(plan.regions[i].target == target for i in ids) and ids == sorted(ids)


def test_shared_target_gives_one_size() -> None:
    m = torch.zeros(2, 400, 600)
    m[0, 10:40, 10:200] = 1  # wide
    m[0, 200:390, 500:540] = 1  # tall
    m[1, 100:200, 100:200] = 1
    s = CropSettings(shared_target=True, min_crop_px=64, min_context_px=8, context_factor=0.2)
    plan = plan_crops(m, s)
    assert len(plan.regions) == 3 and len(plan.groups_by_target()) == 1
    for r in plan.regions:
        bw, bh = r.size
        tw, th = r.target
        assert abs((tw / bw) / (th / bh) - 1) <= 0.01
        assert r.box[0] <= r.mask_box[0] and r.box[2] >= r.mask_box[2]


def test_fixed_and_none_modes() -> None:
    m = torch.zeros(1, 300, 300)
    m[0, 100:120, 50:250] = 1
    fixed = plan_crops(
        m,
        CropSettings(
            target_mode="fixed",
            fixed_width=500,
            fixed_height=1000,
            min_crop_px=0,
            min_context_px=4,
            context_factor=0,
        ),
    )
    r = fixed.regions[0]
    assert r.target == (496, 1008)
    assert r.size[1] > 300 and r.pad[1] > 0 and r.pad[3] > 0  # taller than the image: padded
    assert abs((496 / r.size[0]) / (1008 / r.size[1]) - 1) <= 0.01
    none = plan_crops(
        m,
        CropSettings(
            target_mode="none", min_crop_px=0, min_context_px=5, context_factor=0, multiple=16
        ),
    )
    r = none.regions[0]
    assert r.size == r.target == (224, 32) and r.scale == 1.0 and r.pad == (0, 0, 0, 0)


def test_extreme_aspect_enlarges_short_side_with_pad() -> None:
    m = torch.ones(1, 100, 4000)
    r = plan_crops(m).regions[0]
    tw, th = r.target
    assert (tw, th) == (2048, 512)
    assert r.size[0] == 4000 and r.pad[1] + r.pad[3] == r.size[1] - 100 > 0
    assert abs((tw / r.size[0]) / (th / r.size[1]) - 1) <= 0.01


def test_invalid_settings() -> None:
    for bad in (
        dict(target_mode="huge"),
        dict(pad_mode="zeros"),
        dict(multiple=0),
        dict(min_side=900, max_side=100),
        dict(target_mp=0),
    ):
        with pytest.raises(ValueError):
            plan_crops(torch.ones(1, 8, 8), CropSettings(**bad))


def test_large_image_few_blobs() -> None:
    m = torch.zeros(1, 4096, 4096)
    m[0, 700:900, 700:900] = 1
    m[0, 1000:1100, 3000:3300] = 1
    m[0, 3200:3500, 1800:2000] = 1
    plan = plan_crops(m)
    boxes = sorted(r.mask_box for r in plan.regions)
    assert boxes == [(700, 700, 900, 900), (1800, 3200, 2000, 3500), (3000, 1000, 3300, 1100)]
    for r in plan.regions:
        ctx = context_box(r.mask_box, 4096, 4096, 1.0, 64)
        assert r.box[0] <= ctx[0] and r.box[1] <= ctx[1] and r.box[2] >= ctx[2]
        assert r.box[3] >= ctx[3] and r.pad == (0, 0, 0, 0)


def test_area_target_keeps_aspect_area_and_bounds() -> None:
    from fluxfill_inpainter.crop_stitch.sizing import area_target

    gen = torch.Generator().manual_seed(3)
    for _ in range(200):
        bw, bh = (int(v) for v in torch.randint(20, 3000, (2,), generator=gen))
        tw, th = area_target(bw, bh, 1.0, 512, 2048, 16)
        assert tw % 16 == 0 and th % 16 == 0 and 512 <= min(tw, th) <= max(tw, th) <= 2048
        if 0.25 <= bw / bh <= 4:  # aspect reachable within the side bounds
            assert abs((tw / th) / (bw / bh) - 1) < 0.02, (bw, bh, tw, th)
            assert 0.8 * 2**20 <= tw * th <= 1.2 * 2**20, (bw, bh, tw, th)
    assert area_target(512, 512, 1.0, 512, 2048, 16) == (1024, 1024)  # 1 MP = 1024 x 1024, as in ComfyUI
    assert area_target(64, 64, 0.1, 512, 2048, 16) == (512, 512)  # small masks upscale to min
    assert area_target(100, 4000, 1.0, 512, 2048, 16) == (512, 2048)


def test_preferred_sizes_pick_the_nearest_aspect_at_one_megapixel() -> None:
    sizes = ((672, 1568), (1024, 1024), (1568, 672))
    m = torch.zeros(1, 400, 1000)
    m[0, 150:250, 100:900] = 1  # wide: the wide size
    s = CropSettings(target_mp=1.0, multiple=16, preferred_sizes=sizes)
    assert [r.target for r in plan_crops(m, s).regions] == [(1568, 672)]
    m = torch.zeros(1, 1000, 1000)
    m[0, 400:600, 400:600] = 1  # square: the square size
    assert [r.target for r in plan_crops(m, s).regions] == [(1024, 1024)]
    with pytest.raises(ValueError, match="preferred_sizes"):
        plan_crops(m, CropSettings(preferred_sizes=((0, 5),)))
