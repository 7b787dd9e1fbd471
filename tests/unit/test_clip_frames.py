"""Clip frames: a temporal VAE's whole frame counts, windows of a long clip, the crossfade over overlaps."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch.clip_frames import blend_windows, frame_windows, whole_length


@pytest.mark.parametrize(("frames", "step", "expected"), [
    (1, 4, 1), (2, 4, 5), (5, 4, 5), (6, 4, 9), (17, 4, 17), (18, 4, 21), (7, 1, 7), (7, 0, 7)])
def test_whole_length_is_the_next_step_k_plus_1(frames, step, expected):
    assert whole_length(frames, step) == expected


def test_whole_length_refuses_an_empty_clip():
    with pytest.raises(ValueError, match="at least one frame"):
        whole_length(0, 4)


def test_a_clip_within_the_window_is_one_window():
    assert frame_windows(17, 81, 8, 4) == [range(17)]


@pytest.mark.parametrize(("frames", "window", "overlap"), [(33, 17, 4), (41, 9, 4), (81, 21, 8), (29, 13, 0)])
def test_windows_cover_the_clip_with_whole_lengths_and_the_overlap(frames, window, overlap):
    windows = frame_windows(frames, window, overlap, 4)
    assert windows[0].start == 0 and windows[-1].stop == frames
    covered = torch.zeros(frames, dtype=torch.int64)
    for w in windows:
        assert (len(w) - 1) % 4 == 0 and len(w) <= window
        covered[w.start:w.stop] += 1
    assert bool((covered >= 1).all())
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.start > a.start and a.stop - b.start >= overlap  # each next window overlaps at least `overlap`


def test_a_window_is_rounded_down_to_a_whole_length():
    windows = frame_windows(40, 20, 4, 4)  # 20 -> 17 frames
    assert {len(w) for w in windows} == {17}


def test_the_crossfade_is_linear_over_an_overlap():
    windows = [range(0, 9), range(5, 14)]  # frames 5..8 in both
    a, b = torch.zeros(9, 2), torch.ones(9, 2)
    out = blend_windows([a, b], windows)
    assert out.shape == (14, 2)
    assert bool((out[:5] == 0).all()) and bool((out[9:] == 1).all())  # outside the overlap: each window's own
    expected = torch.tensor([1, 2, 3, 4], dtype=torch.float32) / 5  # the later window's share, rising
    assert torch.allclose(out[5:9, 0], expected, atol=1e-6)


def test_one_window_comes_back_as_it_was():
    part = torch.rand(5, 3, 4)
    assert blend_windows([part], [range(5)]) is part


def test_a_part_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="covers 9 frames"):
        blend_windows([torch.zeros(8, 1), torch.zeros(9, 1)], [range(0, 9), range(5, 14)])
