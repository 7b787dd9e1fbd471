"""Qwen-Image (5-D Wan latents) through the FluxFill Inpainter on a tiny QwenImage + tiny Wan 2.1 VAE:
crops encoded one per call (the Wan VAE reads a batch as video frames), decodes flattened, and every
row's noise mask is its own region's mask (core's reshape_mask would average them over the time axis)."""

from __future__ import annotations

import pytest
import tiny_families as tf
import torch
from family_calls import VARIANTS, ConditionSpy, check_outputs, run
from node_calls import small_options


@pytest.fixture(scope="module")
def qwen(comfy):
    return tf.qwen_image(), tf.wan_vae()


def test_wan_vae_reads_a_batch_as_frames_and_encode_images_does_not(qwen):
    from fluxfill_inpainter.nodes.vae_io import decode_images, encode_images

    _, vae = qwen
    pixels = torch.rand(2, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    one = [vae.encode(pixels[i:i + 1]) for i in range(2)]
    assert vae.encode(pixels).shape[0] == 1, "the host's Wan VAE no longer folds a batch into frames"
    rows = encode_images(vae, pixels, temporal=True)
    assert rows.shape == (2, 16, 1, 4, 4)
    torch.testing.assert_close(rows, torch.cat(one))
    assert decode_images(vae, rows).shape == (2, 32, 32, 3)


def test_qwen_image_family_traits(qwen):
    from fluxfill_inpainter.nodes.family import model_traits

    traits = model_traits(*qwen, "test")
    assert (traits.family, traits.inpaint_kind, traits.path) == ("qwen_image", "none", "noise_mask")
    assert traits.multiple == 16 and traits.latent_dimensions == 3 and traits.temporal_vae
    assert traits.reads_reference_latents and not traits.guidance_embed and traits.real_negative


def test_qwen_image_rows_get_their_own_region_masks(qwen, spy, monkeypatch):
    from fluxfill_inpainter.diff_attention import differential

    model, vae = qwen
    seen = ConditionSpy(monkeypatch, model)
    processed: list[torch.Tensor] = []
    real = differential.differential_denoise_mask

    def record(sigma, denoise_mask, extra_options, strength):
        processed.append(denoise_mask.clone())
        return real(sigma, denoise_mask, extra_options, strength)

    monkeypatch.setattr(differential, "differential_denoise_mask", record)
    shared = small_options(merge_gap=0, shared_target=True)  # both regions in one latent batch
    image, mask, out = run(model, vae, cond=tf.condition(pooled=None), options=shared)
    check_outputs(image, mask, out)
    assert not ({"c_concat", "ref_latents", "guidance"} & seen.out_keys())
    qwen_masks = [c["noise_mask"] for c in spy.calls]
    latents = [c["latent_image"] for c in spy.calls]
    assert all(m.ndim == 5 and m.shape[1:3] == (1, 1) for m in qwen_masks)
    assert all(x.ndim == 5 and x.shape[2] == 1 for x in latents)

    # oracle: the same crops on a 2-D family with the same multiple and /8 VAE (Flux dev)
    qwen_used = list(processed)
    spy.calls.clear()
    processed.clear()
    run(tf.flux_dev(), tf.flux_vae(), cond=tf.condition(), options=shared)
    flux_masks = [c["noise_mask"] for c in spy.calls]
    assert len(flux_masks) == len(qwen_masks)
    for q, f in zip(qwen_masks, flux_masks, strict=True):
        torch.testing.assert_close(q.squeeze(2), f, rtol=0, atol=0)
    regions = torch.cat([m.squeeze(2) for m in qwen_masks])
    assert regions.shape[0] == 2 * VARIANTS
    assert not torch.equal(regions[0], regions[VARIANTS]), "both regions got one mask"
    # what the sampler really used per row, at latent size (after core's reshape_mask): the 2-D path's
    # per-row masks, so each row has its own region's mask, not one averaged over the batch
    assert qwen_used and processed, "the sampler never asked for the denoise mask"
    used, expected = qwen_used[0], processed[0]
    assert used.ndim == 5 and used.shape[0] == 2 * VARIANTS and used.shape[2] == 1
    torch.testing.assert_close(used[:, 0, 0], expected[:, 0].to(used))
    assert not torch.equal(used[0], used[VARIANTS])
