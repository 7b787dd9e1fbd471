"""README: "Empty mask ... the input comes back untouched and nothing is sampled" — for an empty mask of any
size, core LoadImage's 64x64 zero mask of a photo without alpha included: the main node, FluxFill Crop +
Stitch and the crop preview route."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from comfy_host import run_node
from node_calls import inpaint, node_classes, small_options
from PIL import Image


@pytest.fixture(scope="module")
def photo(comfy) -> str:
    """A non-square RGB photo (no alpha) in ComfyUI's input directory, as a user loads it before painting."""
    import folder_paths

    rng = np.random.default_rng(11)
    name = "ffi_unpainted_photo.png"
    Image.fromarray(rng.integers(0, 255, (72, 120, 3), dtype=np.uint8)).save(
        f"{folder_paths.get_input_directory()}/{name}")
    return name


def load(name: str):
    import nodes

    return nodes.LoadImage().load_image(name)


def test_core_load_image_gives_a_64x64_zero_mask_for_a_photo(photo):
    image, mask = load(photo)
    assert tuple(image.shape) == (1, 72, 120, 3) and tuple(mask.shape) == (1, 64, 64) and not mask.any()


@pytest.mark.parametrize("mask_shape", [(1, 64, 64), (64, 64), (3, 10, 7), (1, 72, 120)])
def test_inpainter_returns_an_unpainted_photo_untouched(small_models, photo, spy, mask_shape):
    image, _ = load(photo)
    out = inpaint(small_models, image, torch.zeros(mask_shape), options=small_options(), batch_size=2)
    assert torch.equal(out.result[0], image.repeat_interleave(2, dim=0))
    assert out.result[2].shape == (2, 72, 120) and not out.result[2].any()
    assert json.loads(out.result[7])["regions"] == [] and spy.calls == []


def test_inpainter_with_core_load_image_mask(small_models, photo, spy):
    image, mask = load(photo)
    out = inpaint(small_models, image, mask, options=small_options())
    assert torch.equal(out.result[0], image) and spy.calls == []


def test_crop_and_stitch_return_an_unpainted_photo_untouched(photo):
    _, InpaintCrop, InpaintStitch, _ = node_classes()
    image, mask = load(photo)
    crop = run_node(InpaintCrop, image=image, mask=mask, context=1.0, grow=0, feather=4, target_megapixels=0.02,
                    snap=16).result
    assert json.loads(crop[3])["regions"] == [] and not crop[2].any()
    stitched = run_node(InpaintStitch, stitcher=crop[0], inpainted_image=crop[1]).result[0]
    assert torch.equal(stitched, image)


def test_a_nonzero_mask_of_another_aspect_is_still_an_error(small_models, photo):
    image, _ = load(photo)
    with pytest.raises(ValueError, match="does not match the image size"):
        inpaint(small_models, image, torch.ones(1, 64, 64), options=small_options())


def test_the_preview_plans_no_crop_for_an_unpainted_photo(photo):
    from fluxfill_inpainter.nodes.plan_preview_route import plan_preview

    plan = plan_preview({"image": photo})
    assert plan["regions"] == [] and (plan["width"], plan["height"]) == (120, 72)
