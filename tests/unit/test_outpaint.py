"""Outpaint canvas (crop_stitch.outpaint): sizes, pre-fill, the new-area mask and its seam."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import extend_canvas, resolve_padding
from fluxfill_inpainter.crop_stitch.outpaint import Padding, seam_mask


def test_pixels_units_and_factor_units():
    assert resolve_padding(100, 200, 8, 0, 16, 24) == Padding(8, 0, 16, 24)
    # factor 1.5 on the horizontal axis only, centred
    assert resolve_padding(100, 200, 1, 0, 1, 0, "factor", 1.5) == Padding(50, 0, 50, 0)
    # all the extra height at the bottom, width untouched
    assert resolve_padding(100, 200, 0, 0, 0, 1, "factor", 2.0) == Padding(0, 0, 0, 100)
    # 1:3 split of the extra width
    assert resolve_padding(10, 40, 1, 0, 3, 0, "factor", 2.0) == Padding(10, 0, 30, 0)
    with pytest.raises(ValueError, match="factor"):
        resolve_padding(10, 10, 1, 0, 0, 0, "factor", 0.5)
    with pytest.raises(ValueError, match="negative"):
        resolve_padding(10, 10, -1, 0, 0, 0)


@pytest.mark.parametrize("fill", ["replicate", "reflect", "grey"])
def test_canvas_size_original_preserved_mask_on_new_area(fill):
    image = torch.rand(2, 20, 30, 3)
    pad = Padding(7, 3, 50, 0)  # right pad wider than the image: reflect repeats
    canvas, mask = extend_canvas(image, pad, fill=fill, feather=0)
    assert canvas.shape == (2, 23, 87, 3) and mask.shape == (2, 23, 87)
    assert torch.equal(canvas[:, 3:23, 7:37], image), "original pixels are placed unchanged"
    assert (mask[:, 3:23, 7:37] == 0).all()
    new = torch.ones(23, 87, dtype=torch.bool)
    new[3:23, 7:37] = False
    assert (mask[:, new] == 1).all()
    if fill == "replicate":
        assert torch.equal(canvas[:, 3:23, 0], image[:, :, 0]) and torch.equal(canvas[:, 0, 7:37], image[:, 0])
        assert torch.equal(canvas[:, 10, 86], image[:, 7, 29])
    elif fill == "reflect":
        assert torch.equal(canvas[:, 3:23, 6], image[:, :, 1]), "mirrored about the edge pixel"
        assert torch.equal(canvas[:, 3:23, 37], image[:, :, 28])
    else:
        assert (canvas[:, new] == 0.5).all()


def test_feathered_seam_only_from_extended_sides():
    mask = seam_mask(10, 12, Padding(4, 0, 0, 0), 3)
    assert mask.shape == (10, 16)
    assert (mask[:, :4] == 1).all()
    torch.testing.assert_close(mask[5, 4:8], torch.tensor([0.75, 0.5, 0.25, 0.0]))
    assert (mask[:, 7:] == 0).all(), "no ramp from the sides that were not extended"


def test_input_mask_is_kept_and_empty_padding_is_identity():
    image = torch.rand(1, 16, 16, 3)
    own = torch.zeros(1, 16, 16)
    own[:, 6:10, 6:10] = 1
    canvas, mask = extend_canvas(image, Padding(0, 0, 0, 8), feather=2, mask=own)
    assert torch.equal(mask[:, 6:10, 6:10], own[:, 6:10, 6:10]) and (mask[:, 16:] == 1).all()
    same, none = extend_canvas(image, Padding(0, 0, 0, 0), feather=4)
    assert torch.equal(same, image) and (none == 0).all()
