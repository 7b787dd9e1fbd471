"""Region preview thumbnails."""

from __future__ import annotations

import torch
from fluxfill_inpainter.crop_stitch import CropPlan, draw_regions_preview
from fluxfill_inpainter.crop_stitch.plan import Region
from fluxfill_inpainter.crop_stitch.preview import MASK_BOX_COLOR, PALETTE


def test_preview_draws_boxes_on_a_thumbnail() -> None:
    images = torch.zeros(2, 400, 1000, 4)
    region = Region(1, (-50, 100, 500, 300), (100, 150, 300, 250), (512, 512), 1.0, (50, 0, 0, 0))
    out = draw_regions_preview(images, CropPlan(400, 1000, 2, [region]), max_side=500)
    assert out.shape == (2, 200, 500, 3)
    assert torch.all(out[0] == 0)  # image 0 has no region
    box_color = torch.tensor(PALETTE[0])
    assert torch.equal(out[1, 50, 100], box_color)  # top edge of the box (scaled by 0.5)
    assert torch.equal(out[1, 100, 0], box_color)  # left edge clipped to the thumbnail
    assert torch.equal(out[1, 90, 50], torch.tensor(MASK_BOX_COLOR))  # mask box left edge
    assert torch.all(out[1, 100, 60] == 0)  # inside the boxes: the image


def test_preview_grey_images_and_small_sizes() -> None:
    images = torch.full((1, 30, 20, 1), 0.5)
    out = draw_regions_preview(images, CropPlan(30, 20, 1, []), max_side=512)
    assert out.shape == (1, 30, 20, 3) and torch.allclose(out, torch.full_like(out, 0.5))
