"""FluxFill Inpainter, Crop and Stitch in-process on real ComfyUI with small real models."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from comfy_host import run_node
from node_calls import assert_untouched_outside, inpaint, node_classes, outside_band, small_options


@pytest.fixture(scope="module")
def models(small_models):
    return small_models


def test_variant_j_equals_a_single_run_with_seed_plus_j(models):
    torch.manual_seed(1)
    image = torch.rand(1, 64, 80, 3)
    mask = torch.zeros(1, 64, 80)
    mask[:, 20:44, 20:60] = 1.0
    options = small_options()
    batched = inpaint(models, image, mask, options=options, seed=10, batch_size=3).result
    assert batched[0].shape == (3, 64, 80, 3)
    assert batched[6] == "10,11,12"
    for j in range(3):
        single = inpaint(models, image, mask, options=options, seed=10 + j).result[0]
        torch.testing.assert_close(batched[0][j:j + 1], single, atol=1e-4, rtol=0)
    assert not torch.allclose(batched[0][0], batched[0][1]), "variants must differ"


def test_two_separate_blobs_are_two_regions_in_one_output(models):
    torch.manual_seed(2)
    image = torch.rand(1, 64, 320, 3)
    mask = torch.zeros(1, 64, 320)
    mask[:, 24:40, 16:32] = 1.0
    mask[:, 24:40, 280:296] = 1.0
    options = small_options(merge_gap=0, min_crop=48)
    out = inpaint(models, image, mask, options=options, context=0.5, target_megapixels=0.01)
    result, latent, composite = out.result[0], out.result[1], out.result[2]
    plan = json.loads(out.result[7])
    assert len(plan["regions"]) == 2
    assert latent["samples"].shape[0] == 2
    assert composite.shape == (1, 64, 320)
    assert_untouched_outside(result, image, mask, reach=4)  # node_calls.inpaint: grow 0, feather 4
    for x0, x1 in ((16, 32), (280, 296)):
        assert (result[0, 24:40, x0:x1] - image[0, 24:40, x0:x1]).abs().mean() > 0.01
    assert out.ui is not None, "the regions preview is returned as UI images"


def test_empty_mask_returns_the_input_untouched_and_samples_nothing(models, spy):
    import nodes

    image = torch.rand(2, 48, 48, 3)
    out = inpaint(models, image, torch.zeros(2, 48, 48), options=small_options(), batch_size=2)
    assert torch.equal(out.result[0], image.repeat_interleave(2, dim=0))
    assert json.loads(out.result[7])["regions"] == []
    assert spy.calls == [], "nothing may be sampled"
    latent = out.result[1]
    assert latent["samples"].shape == (1, 16, 8, 8) and not latent["samples"].any()
    with torch.inference_mode():  # as ComfyUI's executor runs nodes
        (decoded,) = nodes.VAEDecode().decode(models[1], latent)  # any core latent node accepts it
    assert decoded.shape == (1, 64, 64, 3)


def test_denoise_zero_returns_the_input_untouched(models, spy):
    image = torch.rand(1, 48, 48, 3)
    mask = torch.ones(1, 48, 48)
    out = inpaint(models, image, mask, options=small_options(), denoise=0.0)
    assert torch.equal(out.result[0], image)
    assert spy.calls == []


def test_inputs_are_not_mutated(models):
    model = models[0]
    image = torch.rand(1, 48, 64, 3)
    mask = torch.zeros(1, 48, 64)
    mask[:, 10:30, 10:40] = 0.7
    image_before, mask_before = image.clone(), mask.clone()
    options_before = copy.deepcopy(model.model_options)
    inpaint(models, image, mask, options=small_options(), batch_size=2)
    assert torch.equal(image, image_before) and torch.equal(mask, mask_before)
    assert model.model_options == options_before


def test_condition_wins_over_clip_and_is_not_mutated(models):
    import nodes

    clip = models[2]
    (condition,) = nodes.CLIPTextEncode().encode(clip, "something else")
    snapshot = [[t.clone(), dict(d)] for t, d in condition]
    image = torch.rand(1, 48, 48, 3)
    mask = torch.zeros(1, 48, 48)
    mask[:, 8:40, 8:40] = 1
    with_condition = inpaint(models, image, mask, options=small_options(), condition=condition, clip=False)
    assert len(condition) == len(snapshot)
    for (t, d), (t0, d0) in zip(condition, snapshot, strict=True):
        assert torch.equal(t, t0) and d.keys() == d0.keys() and "guidance" not in d
    both = inpaint(models, image, mask, options=small_options(), condition=condition)
    torch.testing.assert_close(both.result[0], with_condition.result[0])


def test_neither_clip_nor_condition_is_a_clear_error(models):
    with pytest.raises(ValueError) as err:
        inpaint(models, torch.rand(1, 32, 32, 3), torch.ones(1, 32, 32), clip=False)
    message = str(err.value)
    assert "FluxFill Inpainter" in message and "'clip'" in message and "'condition'" in message


def test_mask_of_another_aspect_is_a_clear_error(models):
    with pytest.raises(ValueError) as err:
        inpaint(models, torch.rand(1, 32, 64, 3), torch.ones(1, 32, 32))
    message = str(err.value)
    assert "FluxFill Inpainter" in message and "mask" in message
    assert "32, 32" in message and "32, 64" in message


def test_crop_then_stitch_of_unchanged_crops_returns_the_input(models):
    _, InpaintCrop, InpaintStitch, _ = node_classes()
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 320), indexing="ij")
    image = torch.stack([x, y, 0.5 + 0.4 * torch.sin(6 * x + 3 * y)], dim=-1)[None]  # smooth: survives resampling
    mask = torch.zeros(1, 64, 320)
    mask[:, 20:40, 20:40] = 1
    mask[:, 20:40, 270:300] = 1
    stitcher, crops, crop_masks, regions = run_node(
        InpaintCrop, image=image, mask=mask, context=0.5, grow=0, feather=4, target_megapixels=0.01, snap=16,
        options=small_options(merge_gap=0, min_crop=48)).result
    assert crops.shape[0] == 2 and crops.shape[1:3] == crop_masks.shape[1:3]
    assert len(json.loads(regions)["regions"]) == 2
    # two variations, laid out as ComfyUI repeats a batch: all regions, then all regions again
    stitched, used = run_node(InpaintStitch, stitcher=stitcher, inpainted_image=crops.repeat(2, 1, 1, 1)).result
    assert stitched.shape == (2, 64, 320, 3)
    torch.testing.assert_close(stitched[0], image[0], atol=0.02, rtol=0)
    torch.testing.assert_close(stitched[1], stitched[0])
    keep = outside_band(mask, 4).expand(2, -1, -1)  # the mask output: what was composited, inside mask + band
    assert used.shape == (2, 64, 320) and bool(keep.any()) and not used[keep].any() and bool((used > 0.99).any())
    noise = torch.rand_like(crops)
    painted, _ = run_node(InpaintStitch, stitcher=stitcher, inpainted_image=noise).result
    assert_untouched_outside(painted, image, mask, reach=4)
    with pytest.raises(ValueError, match="FluxFill Stitch.*inpainted_image"):
        run_node(InpaintStitch, stitcher=stitcher, inpainted_image=crops[:1].repeat(3, 1, 1, 1))


def test_stochastic_sampler_variants_also_equal_seed_plus_j(models):
    torch.manual_seed(4)
    image = torch.rand(1, 48, 64, 3)
    mask = torch.zeros(1, 48, 64)
    mask[:, 12:36, 16:48] = 1.0
    options = small_options()
    batched = inpaint(models, image, mask, options=options, seed=20, batch_size=2,
                      sampler_name="euler_ancestral").result[0]
    for j in range(2):
        single = inpaint(models, image, mask, options=options, seed=20 + j, sampler_name="euler_ancestral").result[0]
        torch.testing.assert_close(batched[j:j + 1], single, atol=1e-4, rtol=0)
