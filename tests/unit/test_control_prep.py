"""Z-Image Fun ControlNet inpaint input, checked against its convention: [control latent 16 | keep mask 1 |
masked-image latent 16], the mask 1 = keep, nearest-downsampled to the latent, binary by rounding."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.diff_attention.control_prep import ZIMAGE_FUN_CHANNELS, keep_mask_at, zimage_fun_inpaint_control


def latents(n: int = 2, h: int = 4, w: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 16, h, w, generator=g), torch.randn(n, 16, h, w, generator=g)


def test_layout_is_control_then_keep_mask_then_masked_latent():
    control, masked = latents()
    mask = torch.zeros(2, 32, 48)
    mask[0, :16, :24] = 1.0  # top-left quarter of crop 0 is inpainted
    mask[1, 16:, 24:] = 1.0  # bottom-right quarter of crop 1
    out = zimage_fun_inpaint_control(control, mask, masked)
    assert out.shape == (2, ZIMAGE_FUN_CHANNELS, 4, 6) == (2, 33, 4, 6)
    assert torch.equal(out[:, :16], control) and torch.equal(out[:, 17:], masked)
    keep = out[:, 16]
    expected = torch.ones(2, 4, 6)
    expected[0, :2, :3] = 0.0  # 1 = keep: the inpainted quarter is 0
    expected[1, 2:, 3:] = 0.0
    assert torch.equal(keep, expected)


def test_keep_mask_is_nearest_then_rounded_never_averaged():
    mask = torch.zeros(1, 8, 8)
    mask[0, ::2, ::2] = 1.0  # a checkerboard-like pattern that bilinear/area would average to 0.25
    keep = keep_mask_at(mask, 4, 4)
    assert set(keep.unique().tolist()) <= {0.0, 1.0}
    nearest = 1.0 - torch.nn.functional.interpolate(mask[:, None], size=(4, 4), mode="nearest")
    assert torch.equal(keep, nearest)
    soft = torch.full((1, 4, 4), 0.6)
    assert torch.equal(keep_mask_at(soft, 4, 4), torch.zeros(1, 1, 4, 4))  # 0.6 rounds to inpaint
    assert torch.equal(keep_mask_at(soft * 0.5, 4, 4), torch.ones(1, 1, 4, 4))  # 0.3 rounds to keep


def test_one_mask_broadcasts_and_bad_shapes_are_refused():
    control, masked = latents(3)
    out = zimage_fun_inpaint_control(control, torch.ones(1, 32, 48), masked)
    assert out.shape[0] == 3 and not out[:, 16].any()
    with pytest.raises(ValueError, match="mask batch"):
        zimage_fun_inpaint_control(control, torch.ones(2, 32, 48), masked)
    with pytest.raises(ValueError, match="16-channel"):
        zimage_fun_inpaint_control(torch.zeros(1, 4, 4, 4), torch.ones(1, 8, 8), torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match="same"):
        zimage_fun_inpaint_control(control, torch.ones(1, 8, 8), masked[:1])
