"""Clip planning: one steady crop per masked region over a video clip's frames."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch
from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings, MaskWindows, prepare_windowed_masks
from fluxfill_inpainter.crop_stitch.clip_plan import ClipSettings, plan_clip

H, W = 96, 128
S = CropSettings(context_factor=0.25, min_context_px=2, min_crop_px=8, merge_gap_px=0, target_mp=0.02,
                 min_side=32, max_side=512, multiple=8)
UNION, TRACK = ClipSettings(), ClipSettings(box="track")


def disks(centres: list[tuple[float, float] | None], radius: float = 6.0) -> torch.Tensor:
    """[len(centres),H,W] float clip: a disk at each (x, y) centre, an empty frame for None."""
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                            indexing="ij")
    frames = [torch.zeros(H, W) if c is None else (((xx - c[0]) ** 2 + (yy - c[1]) ** 2) <= radius ** 2).float()
              for c in centres]
    return torch.stack(frames)


def line(x: float, y: float, dx: float, dy: float, n: int) -> list[tuple[float, float] | None]:
    return [(x + dx * i, y + dy * i) for i in range(n)]


def bbox(frame: torch.Tensor) -> tuple[int, int, int, int] | None:
    idx = torch.nonzero(frame > 0)
    if idx.numel() == 0:
        return None
    return int(idx[:, 1].min()), int(idx[:, 0].min()), int(idx[:, 1].max()) + 1, int(idx[:, 0].max()) + 1


def contains(outer: tuple[int, ...], inner: tuple[int, ...]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def assert_steady(plan, clip_region, mask: torch.Tensor) -> None:
    """Same size, target and scale in every frame; each crop holds its frame's mask pixels."""
    regions = [plan.regions[i] for i in clip_region.region_indices]
    assert [r.image_index for r in regions] == list(clip_region.frames)
    assert len({(r.size, r.target, r.scale) for r in regions}) == 1
    for r in regions:
        b = bbox(mask[r.image_index])
        if b is not None:
            assert contains(r.box, b), (r.image_index, r.box, b)


def test_union_gives_every_frame_one_box_holding_every_frames_mask() -> None:
    mask = disks(line(30, 40, 2, 0, 20))
    plan, clips = plan_clip(mask, S, UNION)
    assert len(clips) == 1 and clips[0].frames == tuple(range(20)) and plan.batch == 20
    regions = [plan.regions[i] for i in clips[0].region_indices]
    assert len({r.box for r in regions}) == 1
    assert all(contains(regions[0].box, bbox(f)) for f in mask)
    assert regions[0].mask_box == bbox(mask.amax(0))
    assert_steady(plan, clips[0], mask)


@pytest.mark.parametrize(("step", "speed"), [((2, 0), 8.0), ((3, 2), 2.5), ((3, 2), 1.5), ((3, 3), 3.0), ((3, 0), 2.0)])
def test_track_keeps_one_size_and_bounds_the_centres_speed(step: tuple[int, int], speed: float) -> None:
    mask = disks(line(25, 25, *step, 17))
    plan, clips = plan_clip(mask, S, ClipSettings(box="track", max_speed_px=speed))
    assert len(clips) == 1 and clips[0].frames == tuple(range(17))
    assert_steady(plan, clips[0], mask)
    boxes = [plan.regions[i].box for i in clips[0].region_indices]
    assert all(math.hypot(b[0] - a[0], b[1] - a[1]) <= speed for a, b in pairwise(boxes))
    assert boxes[0][:2] != boxes[-1][:2]


def test_track_follows_a_slow_mask_with_a_smaller_box_than_union() -> None:
    mask = disks(line(30, 40, 2, 0, 20))
    union, _ = plan_clip(mask, S, UNION)
    track, _ = plan_clip(mask, S, ClipSettings(box="track", smooth_frames=1))
    assert track.regions[0].size[0] < union.regions[0].size[0]
    for r in track.regions:
        b = bbox(mask[r.image_index])
        assert abs((r.box[0] + r.box[2]) - (b[0] + b[2])) <= 2 and abs((r.box[1] + r.box[3]) - (b[1] + b[3])) <= 2


def test_track_adds_the_context_and_min_crop_of_the_crop_settings() -> None:
    mask = disks(line(40, 45, 2, 0, 17))
    pad = math.ceil(1.0 * max(max(H, W) / 16, (13 + 13) / 4))  # Krita-style context of a 13 x 13 disk box
    plan, _ = plan_clip(mask, CropSettings(**{**S.__dict__, "context_factor": 1.0}), TRACK)
    for r in plan.regions:
        b = bbox(mask[r.image_index])
        assert contains(r.box, (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad))
    plan, _ = plan_clip(mask, CropSettings(**{**S.__dict__, "min_crop_px": 60}), TRACK)
    assert min(plan.regions[0].size) >= 60


def test_a_mask_outrunning_the_speed_limit_gets_a_bigger_box() -> None:
    mask = disks(line(20, 40, 4, 0, 17))
    fast, _ = plan_clip(mask, S, ClipSettings(box="track", max_speed_px=8.0))
    slow, clips = plan_clip(mask, S, ClipSettings(box="track", max_speed_px=1.5))
    assert slow.regions[0].size[0] > fast.regions[0].size[0]
    assert_steady(slow, clips[0], mask)


def test_smoothing_steadies_a_jittering_mask() -> None:
    mask = disks([(30 + 2 * i + (3 if i % 2 else -3), 40) for i in range(20)])

    def travel(frames: int) -> int:
        plan, _ = plan_clip(mask, S, ClipSettings(box="track", smooth_frames=frames))
        return sum(abs(b.box[0] - a.box[0]) for a, b in pairwise(plan.regions))

    assert travel(5) < travel(1)


@pytest.mark.parametrize("clip", [UNION, TRACK])
def test_an_empty_frame_inside_the_span_keeps_its_crop_and_frames_outside_get_none(clip: ClipSettings) -> None:
    centres = [None] * 3 + line(30, 40, 2, 1, 13) + [None] * 4
    centres[9] = None
    mask = disks(centres)
    plan, clips = plan_clip(mask, S, clip)
    assert len(clips) == 1 and clips[0].frames == tuple(range(3, 16))
    assert sorted(r.image_index for r in plan.regions) == list(range(3, 16))
    assert_steady(plan, clips[0], mask)


@pytest.mark.parametrize("clip", [UNION, TRACK])
def test_two_separate_blobs_are_two_clip_regions_in_y_x_order(clip: ClipSettings) -> None:
    low = disks([None] * 5 + line(100, 75, -2, 0, 8) + [None] * 5)
    high = disks(line(20, 15, 2, 0, 18))
    mask = low + high
    plan, clips = plan_clip(mask, S, clip)
    assert [c.frames for c in clips] == [tuple(range(18)), tuple(range(5, 13))]
    assert [c.region_indices for c in clips] == [tuple(range(18)), tuple(range(18, 26))]
    boxes = [plan.regions[c.region_indices[0]].mask_box for c in clips]
    assert boxes == [bbox(high.amax(0)), bbox(low.amax(0))]
    assert boxes[0][3] <= boxes[1][1] or boxes[0][2] <= boxes[1][0]
    for c, part in zip(clips, (high, low), strict=True):
        assert_steady(plan, c, part)


@pytest.mark.parametrize("clip", [UNION, TRACK])
def test_an_empty_mask_plans_nothing(clip: ClipSettings) -> None:
    for mask in (torch.zeros(17, H, W), prepare_windowed_masks(torch.zeros(17, H, W)).denoise):
        plan, clips = plan_clip(mask, S, clip)
        assert plan.regions == [] and clips == [] and plan.batch == 17


@pytest.mark.parametrize("clip", [UNION, TRACK])
def test_windowed_masks_plan_as_the_dense_mask(clip: ClipSettings) -> None:
    mask = disks(line(20, 15, 2, 0, 18)) + disks([None] * 5 + line(100, 75, -2, 0, 8) + [None] * 5)
    windows = prepare_windowed_masks(mask, MaskSettings(feather_px=4)).denoise
    assert isinstance(windows, MaskWindows) and len(windows.windows) == 2
    dense = plan_clip(windows.full(), S, clip)
    assert plan_clip(windows, S, clip) == dense and len(dense[1]) == 2


def test_a_track_box_near_the_border_is_shifted_inside() -> None:
    mask = disks(line(5, 90, 2, 0, 17), radius=4)
    plan, clips = plan_clip(mask, S, TRACK)
    assert all(r.pad == (0, 0, 0, 0) and contains((0, 0, W, H), r.box) for r in plan.regions)
    assert_steady(plan, clips[0], mask)


@pytest.mark.parametrize("clip", [UNION, TRACK])
def test_a_box_wider_than_the_image_is_padded(clip: ClipSettings) -> None:
    wide = CropSettings(**{**S.__dict__, "target_mode": "fixed", "fixed_width": 512, "fixed_height": 64})
    mask = disks(line(40, 40, 2, 1, 17))
    plan, clips = plan_clip(mask, wide, clip)
    for r in plan.regions:
        assert r.size[0] > W and r.pad[0] > 0 and r.pad[2] > 0
        assert r.valid_box[0] == 0 and r.valid_box[2] == W
    assert_steady(plan, clips[0], mask)


def test_shared_target_gives_every_region_the_largest_ones_target() -> None:
    mask = disks(line(20, 15, 2, 0, 17), radius=4) + disks(line(90, 70, -1, 0, 17), radius=14)
    for clip in (UNION, TRACK):
        own, _ = plan_clip(mask, S, clip)
        shared, _ = plan_clip(mask, CropSettings(**{**S.__dict__, "shared_target": True}), clip)
        assert len({r.target for r in own.regions}) == 2
        assert len({r.target for r in shared.regions}) == 1


@pytest.mark.parametrize("bad", [{"box": "x"}, {"max_speed_px": 0}, {"smooth_frames": 0}])
def test_clip_settings_reject_bad_values(bad: dict) -> None:
    ClipSettings().validate()
    with pytest.raises(ValueError):
        ClipSettings(**bad).validate()
    with pytest.raises(ValueError):
        plan_clip(disks(line(30, 40, 2, 0, 3)), S, ClipSettings(**bad))


def test_a_track_slower_than_its_mask_moves_at_the_full_speed_limit() -> None:
    mask = disks(line(30, 30, 3, 0.5, 16))  # 3 px per frame right, half a pixel down
    plan, clips = plan_clip(mask, S, ClipSettings(box="track", max_speed_px=2.0, smooth_frames=1))
    corners = [plan.regions[i].box[:2] for i in clips[0].region_indices]
    steps = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in pairwise(corners)][2:10]
    assert max(steps) <= 2.0 and sum(steps) / len(steps) >= 1.4, f"the box lags more than the limit asks: {steps}"
    assert_steady(plan, clips[0], mask)
