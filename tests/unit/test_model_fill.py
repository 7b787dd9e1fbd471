"""crop_stitch.model_fill: a fill network's geometry (working size, multiple, square) and the contract that
only pixels under round(mask) change; no network needed (a recording stand-in)."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import FILL_MODEL, FillGeometry, model_fill, prefill
from fluxfill_inpainter.crop_stitch.prefill import PrefillUnavailable


class Recorder:
    """A stand-in fill network: records its inputs, returns a flat colour where the mask is 1."""

    def __init__(self, value: float = 0.25):
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.value = value

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.calls.append((image.clone(), mask.clone()))
        return image * (1 - mask) + self.value * mask


def scene(n: int = 2, h: int = 300, w: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    image = torch.rand(n, h, w, 3)
    mask = torch.zeros(n, h, w)
    y0, y1, x0, x1 = h // 3, h * 3 // 5, w * 3 // 10, w * 7 // 10
    mask[:, y0:y1, x0:x1] = 1.0
    mask[:, y0 - 1, x0:x1] = 0.4  # rounds to 0: must stay untouched
    return image, mask


def test_only_masked_pixels_change_and_take_the_fill():
    image, mask = scene()
    run = Recorder()
    out = model_fill(image, mask, run, FillGeometry(working_side=0, multiple=8))
    keep = mask.round() == 0
    assert torch.equal(out[keep], image[keep])
    inner = torch.zeros_like(mask, dtype=torch.bool)
    inner[:, 104:176, 64:136] = True
    torch.testing.assert_close(out[inner], torch.full_like(out[inner], 0.25), atol=2e-3, rtol=0)
    assert len(run.calls) == 2, "one call per crop (fill networks take one image)"


def test_network_sees_working_size_padded_to_its_multiple():
    image, mask = scene(1, 300, 200)
    run = Recorder()
    model_fill(image, mask, run, FillGeometry(working_side=256, multiple=8, minimum=16))
    x, m = run.calls[0]
    assert x.shape == (1, 3, 256, 176), "longest side shrunk to 256 (171 -> padded to 176)"
    assert m.shape == (1, 1, 256, 176) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert m[..., 171:].sum() == 0, "padding is never masked"


def test_square_geometry_and_no_upscale_of_small_crops():
    image, mask = scene(1, 40, 24)
    run = Recorder()
    model_fill(image, mask, run, FillGeometry(working_side=512, multiple=16, minimum=32, square=True))
    x, _ = run.calls[0]
    assert x.shape[-2:] == (48, 48), "kept at crop size (never enlarged), padded to a square multiple"


def test_rows_without_mask_skip_the_network_and_alpha_is_kept():
    image, mask = scene(2, 64, 64)
    image = torch.cat([image, torch.rand(2, 64, 64, 1)], dim=-1)
    mask[1] = 0
    run = Recorder()
    out = model_fill(image, mask, run, FillGeometry())
    assert len(run.calls) == 1
    assert torch.equal(out[1], image[1]) and torch.equal(out[..., 3], image[..., 3])


def test_prefill_fill_model_needs_a_filler_and_uses_it():
    image, mask = scene(1, 32, 32)
    with pytest.raises(PrefillUnavailable, match="fill model"):
        prefill(image, mask, FILL_MODEL, node="X")
    out = prefill(image, mask, FILL_MODEL, filler=lambda img, m: torch.zeros_like(img))
    hard = mask.round() == 1
    assert (out[hard] == 0).all() and torch.equal(out[~hard], image[~hard])
