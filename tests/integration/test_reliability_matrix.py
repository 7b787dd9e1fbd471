"""Bad-input matrix, in-process: every case is a correct result or a clear error naming node, input, shapes.

Server-level cases (schema limits, concurrency, interrupt) are in tests/e2e/test_reliability_server.py.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time

import psutil
import pytest
import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FEATHER = 4  # node_calls.inpaint runs with grow 0, feather 4

NODE = "FluxFill Inpainter"


@pytest.fixture(scope="module")
def models(small_models):
    return small_models


def blob_mask(b: int, h: int, w: int) -> torch.Tensor:
    mask = torch.zeros(b, h, w)
    mask[:, h // 4: h // 2 + 1, w // 4: w // 2 + 1] = 1.0
    return mask


def assert_safe(result: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, variants: int = 1,
                reach: int = FEATHER) -> None:
    """Right size, finite, and bit-identical to the input outside the user's mask grown by `reach`
    (the oracle is computed from the mask, never from what the node returned)."""
    assert result.shape == (image.shape[0] * variants, *image.shape[1:])
    assert torch.isfinite(result).all()
    assert_untouched_outside(result, image, mask, reach, variants)


def run(models, image, mask, **kw):
    out = inpaint(models, image, mask, options=kw.pop("options", small_options()), steps=kw.pop("steps", 1), **kw)
    return out.result


def test_full_mask_repaints_the_whole_image(models):
    image = torch.rand(1, 48, 64, 3)
    mask = torch.ones(1, 48, 64)
    result, _, composite, *_, regions = run(models, image, mask)
    plan = json.loads(regions)
    assert [r["box"] for r in plan["regions"]] == [[0, 0, 64, 48]]
    assert bool((composite == 1).all())
    assert result.shape == image.shape and torch.isfinite(result).all()
    assert (result - image).abs().mean() > 0.05


def test_grey_half_mask_changes_the_masked_area_only(models):
    image = torch.rand(1, 48, 48, 3)
    mask = blob_mask(1, 48, 48) * 0.5  # a half-opaque blob with a real outside
    result, _, composite, *_ = run(models, image, mask)
    assert_safe(result, image, mask)
    inside = mask[0] > 0
    assert (result[0][inside] - image[0][inside]).abs().mean() > 0.01
    assert composite.max() == pytest.approx(0.5), "a half-opaque mask blends half"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_mask_with_nan_or_inf_is_sanitized(models, bad):
    image = torch.rand(1, 48, 48, 3)
    mask = blob_mask(1, 48, 48)
    mask[0, 0, 0] = bad
    mask[0, 40, 40] = bad
    result, _, composite, *_ = run(models, image, mask)
    assert_safe(result, image, mask)
    expected_corner = 1.0 if bad == float("inf") else 0.0
    assert composite[0, 0, 0] == expected_corner


def test_mask_values_outside_0_1_are_clamped(models):
    image = torch.rand(1, 48, 48, 3)
    mask = blob_mask(1, 48, 48) * 7.0 - 2.0  # -2 outside, 5 inside
    result, _, composite, *_ = run(models, image, mask)
    reference = run(models, image, blob_mask(1, 48, 48))
    assert torch.equal(composite, reference[2])
    torch.testing.assert_close(result, reference[0])


@pytest.mark.parametrize("mask_hw", [(24, 32), (96, 128)])
def test_mask_of_the_same_aspect_is_resized(models, mask_hw):
    image = torch.rand(1, 48, 64, 3)
    mask = blob_mask(1, *mask_hw)
    result, _, composite, *_ = run(models, image, mask)
    assert composite.shape == (1, 48, 64)
    # oracle: the same blob drawn at the image size, 3 px of margin for the bilinear resize of a blob
    # whose integer bounds do not scale exactly
    assert_safe(result, image, blob_mask(1, 48, 64), reach=FEATHER + 3)


def test_mask_batch_1_broadcasts_over_image_batch_3(models):
    image = torch.rand(3, 40, 40, 3)
    mask = blob_mask(1, 40, 40)
    result, _, composite, *_ = run(models, image, mask)
    assert composite.shape == (3, 40, 40)
    assert_safe(result, image, mask)


def test_mask_batch_2_with_image_batch_3_is_an_error(models):
    with pytest.raises(ValueError) as err:
        run(models, torch.rand(3, 40, 40, 3), blob_mask(2, 40, 40))
    message = str(err.value)
    assert NODE in message and "mask" in message and "2" in message and "3" in message


def test_rgba_image_keeps_its_alpha_channel_exactly(models):
    image = torch.rand(1, 48, 48, 4)
    mask = blob_mask(1, 48, 48)
    result, _, composite, *_ = run(models, image, mask)
    assert result.shape == image.shape
    assert torch.equal(result[..., 3], image[..., 3])
    assert_safe(result, image, mask)


def test_one_channel_image_stays_one_channel(models):
    image = torch.rand(1, 48, 48, 1)
    mask = blob_mask(1, 48, 48)
    result, _, composite, *_ = run(models, image, mask)
    assert_safe(result, image, mask)


@pytest.mark.parametrize("hw", [(1, 1), (7, 13)])
def test_tiny_images_are_inpainted_at_their_size(models, hw):
    image = torch.rand(1, *hw, 3)
    mask = torch.ones(1, *hw)
    result, _, composite, *_ = run(models, image, mask)
    assert result.shape == image.shape and torch.isfinite(result).all()  # all masked: nothing outside


def test_region_touching_every_border(models):
    image = torch.rand(1, 64, 80, 3)
    mask = torch.ones(1, 64, 80)
    mask[:, 8:-8, 8:-8] = 0.0  # a frame along all four borders
    result, _, composite, *_ = run(models, image, mask)
    assert_safe(result, image, mask)
    assert composite[0, 0, 0] == 1 and composite[0, -1, -1] == 1


def test_a_hundred_specks_merge_into_a_sane_number_of_regions(models):
    image = torch.rand(1, 160, 160, 3)
    mask = torch.zeros(1, 160, 160)
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.randint(0, 160, (100,), generator=g), torch.randint(0, 160, (100,), generator=g)
    mask[0, ys, xs] = 1.0
    result, _, composite, *_, regions = run(models, image, mask, options=small_options(max_regions=8))
    assert 1 <= len(json.loads(regions)["regions"]) <= 8
    assert bool((composite[0, ys, xs] == 1).all()), "every speck is inpainted"
    assert_safe(result, image, mask)


def test_condition_from_another_model_family_is_a_clear_error(models):
    sdxl_like = [[torch.zeros(1, 77, 2048), {"pooled_output": torch.zeros(1, 1280)}]]
    with pytest.raises(ValueError) as err:
        run(models, torch.rand(1, 32, 32, 3), torch.ones(1, 32, 32), condition=sdxl_like, clip=False)
    message = str(err.value)
    assert NODE in message and "'condition'" in message and "(1, 77, 2048)" in message and "768" in message


def test_model_without_inpaint_channels_uses_the_noise_mask_path(comfy, models, caplog):
    from tiny_models import small_flux_patcher

    plain = (small_flux_patcher(in_channels=16), models[1], models[2])
    image = torch.rand(1, 48, 48, 3)
    with caplog.at_level(logging.INFO, logger="fluxfill_inpainter"):
        mask = blob_mask(1, 48, 48)
        result, _, composite, *_ = run(plain, image, mask, noise_mask=False)
    assert any("no inpaint channels" in r.message for r in caplog.records)
    assert_safe(result, image, mask)


def test_sd_vae_with_flux_model_is_a_clear_error(comfy, models):
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from tiny_models import FLUX_VAE_DDCONFIG, random_state_dict

    params = {"ddconfig": dict(FLUX_VAE_DDCONFIG, ch=32, z_channels=4), "embed_dim": 4}
    with torch.device("meta"):
        meta = AutoencoderKL(**params)
    sd_vae = comfy.sd.VAE(sd=random_state_dict(meta, 0, torch.float32), config={"params": params})
    with pytest.raises(ValueError) as err:
        run((models[0], sd_vae, models[2]), torch.rand(1, 32, 32, 3), torch.ones(1, 32, 32))
    message = str(err.value)
    assert NODE in message and "'vae'" in message and "4-channel" in message and "16-channel" in message


@pytest.mark.parametrize("text", ["a cat " * 1700, "ein Käfer 🐞 на столе, 猫と犬 — ½ ∑"])
def test_long_and_unicode_text(models, text):
    image = torch.rand(1, 40, 40, 3)
    mask = blob_mask(1, 40, 40)
    result, _, composite, *_ = run(models, image, mask, text=text)
    assert_safe(result, image, mask)


def test_interrupt_during_sampling_leaves_the_model_unpatched_and_the_next_run_works(models):
    import comfy.model_management
    from comfy.model_management import InterruptProcessingException

    model = models[0]
    before = copy.deepcopy(model.model_options)
    image, mask = torch.rand(1, 64, 64, 3), blob_mask(1, 64, 64)
    timer = threading.Timer(0.5, comfy.model_management.interrupt_current_processing, args=(True,))
    timer.start()
    try:
        with pytest.raises(InterruptProcessingException):
            run(models, image, mask, steps=10000)
    finally:
        timer.cancel()
        comfy.model_management.interrupt_current_processing(False)
    assert model.model_options == before
    result, _, composite, *_ = run(models, image, mask)
    assert_safe(result, image, mask)


def test_8192_image_with_a_tiny_mask_stays_within_bounded_memory(models):
    image = torch.rand(1, 8192, 8192, 3)
    mask = torch.zeros(1, 8192, 8192)
    mask[:, 4000:4040, 5000:5040] = 1.0
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result, _, composite, *_ = run(models, image, mask)
    finally:
        done.set()
        watcher.join()
    image_bytes = image.numel() * image.element_size()
    extra = peak[0] - baseline
    # the result itself is one more full-size image; everything else must be region-sized
    assert extra < 2.5 * image_bytes, f"extra RSS {extra / 2**30:.2f} GiB for a {image_bytes / 2**30:.2f} GiB image"
    keep = composite[0] == 0
    assert torch.equal(result[0][keep], image[0][keep])
