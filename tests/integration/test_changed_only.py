"""Inpaint Options `changed_only` through the real nodes: FluxFill Crop → (an edit model that drifts) →
FluxFill Stitch brings back only what changed and outputs the mask it composited; the main node turns it on
by itself in reference mode and keeps today's stitch in inpaint mode. Oracles: the user's photo, mask and
the drift and edit this file applies (tests/photo_scenes.py), never the node's own masks."""

from __future__ import annotations

import logging

import pytest
import tiny_families as tf
import torch
from comfy_host import run_node
from family_calls import run
from node_calls import assert_untouched_outside, node_classes, outside_band, small_options
from photo_scenes import drifted_box, photo

FEATHER = 8
MASK_BOX = (190, 190, 330, 320)  # x0, y0, x1, y1 on the astronaut photo (her face and helmet rim)
EDIT_BOX = (230, 230, 270, 266)  # what the "edit model" changes, well inside the mask


def astronaut_scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image [1,H,W,3], mask [1,H,W], truth): the truth is the photo with a coffee patch pasted as the edit."""
    image = photo("astronaut.png")[:, 64:448, 64:448].contiguous()
    mask = torch.zeros(image.shape[:3])
    x0, y0, x1, y1 = MASK_BOX
    mask[:, y0:y1, x0:x1] = 1.0
    truth = image.clone()
    x0, y0, x1, y1 = EDIT_BOX
    truth[:, y0:y1, x0:x1] = photo("coffee.png")[:, 120:120 + y1 - y0, 220:220 + x1 - x0]
    return image, mask, truth


def drifted_crops(truth: torch.Tensor, regions: list[dict], like: torch.Tensor) -> torch.Tensor:
    """What an edit model returns for each crop: the truth at the crop box, shifted (1.3, -0.7) px, zoomed 2 %,
    colour-cast, at the crop's size."""
    from fluxfill_inpainter.crop_stitch.resize import resize_hwc

    out = []
    for region, crop in zip(regions, like, strict=True):
        box = tuple(region["box"])
        moved = drifted_box(truth, box, 1.02, (1.3, -0.7)) * torch.tensor([1.04, 0.98, 0.95]) + 0.01
        out.append(resize_hwc(moved.clamp(0, 1), crop.shape[0], crop.shape[1], "bicubic"))
    return torch.cat(out)


def test_stitch_node_brings_back_only_what_the_edit_model_changed(comfy, caplog):
    import json

    _, InpaintCrop, InpaintStitch, _ = node_classes()
    image, mask, truth = astronaut_scene()
    opts = small_options(changed_only="on", min_side=128, max_side=384, min_crop=256)
    stitcher, crops, _, regions = run_node(InpaintCrop, image=image, mask=mask, context=0.5, grow=0,
                                           feather=FEATHER, target_megapixels=0.06, snap=8, options=opts).result
    plan = json.loads(regions)["regions"]
    assert len(plan) == 1
    with caplog.at_level(logging.INFO):
        stitched, used = run_node(InpaintStitch, stitcher=stitcher,
                                  inpainted_image=drifted_crops(truth, plan, crops)).result
    assert any("aligned" in r.getMessage() for r in caplog.records), "the drift was not undone"
    assert_untouched_outside(stitched, image, mask, reach=FEATHER)
    x0, y0, x1, y1 = EDIT_BOX
    away = torch.ones_like(mask, dtype=torch.bool)
    away[:, y0 - 16:y1 + 16, x0 - 16:x1 + 16] = False
    inside_away = (mask > 0.5) & away
    assert inside_away.sum() > 0.5 * (mask > 0.5).sum(), "most of the mask lies away from the edit"
    assert torch.equal(stitched[inside_away], image[inside_away]), "the unedited part of the mask came back"
    edit = torch.zeros_like(mask, dtype=torch.bool)
    edit[:, y0 + 4:y1 - 4, x0 + 4:x1 - 4] = True
    assert (stitched[edit] - truth[edit]).abs().mean() < 0.05, "the edit is present"
    assert not used[inside_away].any() and bool((used[edit] > 0.99).all()), "the mask output is what changed"
    assert not used[outside_band(mask, FEATHER)].any()


@pytest.mark.parametrize("mode", ["reference", "inpaint"])
def test_the_main_node_stitches_changed_only_by_itself_in_reference_mode(comfy, caplog, mode):
    """auto: on in reference mode (the drift step runs and logs per region and variant), off in inpaint mode
    (the mask output is the composite mask, as before); outside mask + feather untouched either way."""
    from fluxfill_inpainter.crop_stitch.masks import MaskSettings, prepare_masks

    model, vae = tf.flux_dev(), tf.flux_vae()
    with caplog.at_level(logging.INFO, logger="fluxfill_inpainter.crop_stitch"):
        image, mask, out = run(model, vae, cond=tf.condition(), options=small_options(merge_gap=0, mode=mode),
                               feather=4)
    drift_logs = [r for r in caplog.records if "crop left as sampled" in r.getMessage()
                  or "aligned" in r.getMessage()]
    assert_untouched_outside(out[0], image, mask, reach=4, variants=out[0].shape[0] // image.shape[0])
    composite = prepare_masks(mask, MaskSettings(feather_px=4)).composite.repeat_interleave(
        out[2].shape[0] // mask.shape[0], dim=0)
    if mode == "inpaint":
        assert not drift_logs
        torch.testing.assert_close(out[2], composite, atol=0, rtol=0)
    else:
        assert len(drift_logs) == out[2].shape[0] * 2  # two regions, each variant
        outside = outside_band(mask, 4).expand(out[2].shape[0], -1, -1)
        assert bool((out[2] <= composite + 1e-6).all()) and bool(outside.any()) and not out[2][outside].any()
