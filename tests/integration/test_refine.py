"""Two-pass refine (Inpaint Options `refine`): large regions sampled downscaled are upscaled and sampled again
at refine_denoise with the same masks and seed; small regions skip it; outside the mask nothing changes."""

from __future__ import annotations

import pytest
import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FEATHER = 4


def big_region(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A 96 px square mask in a 160 px image: its crop (~112 px) is sampled at 64 px (scale ~0.57)."""
    torch.manual_seed(seed)
    image = torch.rand(1, 160, 160, 3)
    mask = torch.zeros(1, 160, 160)
    mask[:, 32:128, 40:120] = 1.0
    return image, mask


def refine_options(**kw):
    return small_options(**({"refine": True, "refine_denoise": 0.35, "refine_max_side": 128} | kw))


def run(models, image, mask, opts, **kw):
    return inpaint(models, image, mask, options=opts, feather=FEATHER, target_megapixels=0.004, steps=2, **kw).result


def test_second_pass_runs_larger_with_the_same_masks_and_seed(small_models, spy):
    import json

    image, mask = big_region()
    result = run(small_models, image, mask, refine_options())
    region = json.loads(result[7])["regions"][0]
    assert region["scale"] < 0.75, "the test needs a downscaled crop"
    first, second = spy.calls
    h1, w1 = first["latent_image"].shape[-2:]
    h2, w2 = second["latent_image"].shape[-2:]
    assert h2 * w2 > 2 * h1 * w1 and max(h2, w2) * 8 <= 128, "refine size: min(crop size, refine_max_side)"
    assert (first["denoise"], second["denoise"]) == (1.0, 0.35)
    assert first["seed"] == second["seed"] == 5
    small = torch.nn.functional.interpolate(second["noise_mask"], size=first["noise_mask"].shape[-2:],
                                            mode="bilinear", antialias=True)
    assert (small - first["noise_mask"]).abs().mean() < 0.05, "the same mask, at the larger size"
    assert_untouched_outside(result[0], image, mask, reach=FEATHER)


def test_refine_start_is_the_first_pass_upscaled_inside_the_mask(small_models, spy, monkeypatch):
    """The second pass encodes: inside the denoise mask the first pass's decoded crop (bicubic upscale),
    outside it the original crop at the refine size."""
    from fluxfill_inpainter.crop_stitch import resize_hwc
    from fluxfill_inpainter.nodes import refine

    starts = []
    real = refine.prepare_refine_group

    def recording(*args, **kw):
        starts.append(kw["start"].clone())
        return real(*args, **kw)

    monkeypatch.setattr(refine, "prepare_refine_group", recording)
    image, mask = big_region(1)
    run(small_models, image, mask, refine_options())
    first, second = spy.calls
    (start,) = starts
    with torch.inference_mode():
        first_crop = small_models[1].decode(first["samples"])
    upscaled = resize_hwc(first_crop, start.shape[1], start.shape[2], "bicubic")
    noise_mask = second["noise_mask"][:, 0]
    inside, outside = noise_mask > 0.999, noise_mask == 0
    assert inside.any() and outside.any()
    torch.testing.assert_close(start[inside], upscaled[inside], atol=1e-5, rtol=0)
    assert (start[outside] - upscaled[outside]).abs().mean() > 0.05, "outside: the original, not the first pass"


def test_small_regions_and_refine_off_skip_the_second_pass(small_models, spy):
    image, mask = big_region(2)
    run(small_models, image, mask, small_options())
    assert len(spy.calls) == 1, "refine is off by default"
    small_mask = torch.zeros_like(mask)
    small_mask[:, 70:90, 70:90] = 1.0  # its crop is upscaled to the model's size: nothing to refine
    spy.calls.clear()
    result = run(small_models, image, small_mask, refine_options())
    assert len(spy.calls) == 1
    assert_untouched_outside(result[0], image, small_mask, reach=FEATHER)


def test_variant_j_still_equals_seed_plus_j(small_models):
    image, mask = big_region(3)
    batch = run(small_models, image, mask, refine_options(), batch_size=2)[0]
    for j in range(2):
        single = run(small_models, image, mask, refine_options(), seed=5 + j)[0]
        torch.testing.assert_close(batch[j:j + 1], single, atol=2e-3, rtol=0)
    assert (batch[0] - batch[1]).abs().mean() > 1e-3


def test_one_progress_bar_covers_both_passes(small_models, monkeypatch):
    import comfy.utils

    seen: list[tuple[int, int]] = []

    class Recorder(comfy.utils.ProgressBar):
        def update_absolute(self, value, total=None, preview=None):
            seen.append((value, total))

    monkeypatch.setattr(comfy.utils, "ProgressBar", Recorder)
    image, mask = big_region(4)
    run(small_models, image, mask, refine_options())
    assert seen[-1] == (4, 4) and {t for _, t in seen} == {4}, "2 steps x 2 passes on one bar"


def test_interrupt_during_the_refine_pass(small_models, spy, monkeypatch):
    import comfy.model_management
    import comfy.sample

    recorded = comfy.sample.sample

    def interrupt_after_first(*args, **kw):
        out = recorded(*args, **kw)
        comfy.model_management.interrupt_current_processing(True)
        return out

    monkeypatch.setattr(comfy.sample, "sample", interrupt_after_first)
    image, mask = big_region(5)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            run(small_models, image, mask, refine_options())
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert len(spy.calls) == 1, "no second pass after an interrupt"


def test_crop_node_refuses_refine(comfy):
    from comfy_host import run_node
    from node_calls import node_classes

    image, mask = big_region(6)
    with pytest.raises(ValueError, match="refine"):
        run_node(node_classes()[1], image=image, mask=mask, context=1.0, grow=0, feather=0,
                 target_megapixels=0.02, snap=16, options=refine_options())


def test_upscale_model_replaces_bicubic_in_the_refine_pass(small_models, spy, monkeypatch):
    """A connected upscale model (a tiny random spandrel Compact x2) makes the refine start."""
    from fluxfill_inpainter.crop_stitch import resize_hwc
    from fluxfill_inpainter.nodes import refine
    from spandrel import ModelLoader
    from spandrel.architectures.Compact import Compact

    generator = torch.Generator().manual_seed(7)
    shapes = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2).state_dict()
    upscaler = ModelLoader().load_from_state_dict(
        {k: torch.randn(v.shape, generator=generator) * 0.1 for k, v in shapes.items()}).eval()
    starts = []
    real = refine.prepare_refine_group
    monkeypatch.setattr(refine, "prepare_refine_group",
                        lambda *a, **kw: starts.append(kw["start"].clone()) or real(*a, **kw))
    image, mask = big_region(7)
    run(small_models, image, mask, refine_options(upscale_model=upscaler))
    first, second = spy.calls
    (start,) = starts
    with torch.inference_mode():
        first_crop = small_models[1].decode(first["samples"])
        by_model = upscaler(first_crop.movedim(-1, 1)).clamp(0, 1).movedim(1, -1)
    expected = resize_hwc(by_model, start.shape[1], start.shape[2], "bicubic")
    bicubic = resize_hwc(first_crop, start.shape[1], start.shape[2], "bicubic")
    inside = second["noise_mask"][:, 0] > 0.999
    torch.testing.assert_close(start[inside], expected[inside], atol=1e-3, rtol=0)
    assert (start[inside] - bicubic[inside]).abs().mean() > 0.02
