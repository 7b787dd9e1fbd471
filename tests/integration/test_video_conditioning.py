"""What a Wan clip's sampler call gets, judged from the user's masks and core's own VAE: the noise mask per
latent frame, VACE's control video and mask, and one call per region when a clip has two regions."""

from __future__ import annotations

import json

import tiny_families as tf
import tiny_video as tv
import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FRAMES, H, W = 17, 80, 160
GAP = range(7, 11)  # the blob's span starts at frame 2: latent frame 2 of the span holds frames 7-10


def blob_clip(second: bool = False):
    g = torch.Generator().manual_seed(4)
    frames = torch.rand(FRAMES, H, W, 3, generator=g)
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    mask = torch.zeros(FRAMES, H, W)
    for t in range(2, FRAMES):
        if t not in GAP:
            mask[t] = (((ys - 30 - t) ** 2 + (xs - 20 - t) ** 2) <= 36).float()
            if second:
                mask[t] = torch.maximum(mask[t], (((ys - 50) ** 2 + (xs - 140 + t) ** 2) <= 36).float())
    return frames, mask


def run(model, vae, frames, mask, **kw):
    return inpaint((model, vae, None), frames, mask, clip=False, condition=tf.condition(pooled=None),
                   options=small_options(merge_gap=0), feather=4, steps=2, cfg=1.0, sampler_name="euler",
                   scheduler="simple", **kw)


def test_a_latent_frame_without_masked_frames_keeps_its_latents(comfy, spy):
    frames, mask = blob_clip()
    run(tv.wan21_t2v(), tv.wan21_vae(), frames, mask)
    noise_mask = spy.calls[0]["noise_mask"]
    assert noise_mask.shape[:3] == (1, 1, 5)  # frames 2..16: 15, padded to 17 -> 5 latent frames
    per_latent = noise_mask[0, 0].flatten(1).amax(dim=1)
    assert float(per_latent[2]) == 0.0, "latent frame 2 holds only unmasked frames (7-10) but is repainted"
    assert bool((per_latent[[0, 1, 3, 4]] > 0).all())


def test_vace_gets_a_grey_control_video_where_masked_and_the_mask_per_latent_frame(comfy, spy):
    vae = tv.wan21_vae()
    frames, mask = blob_clip()
    run(tv.wan21_vace(), vae, frames, mask)
    call = spy.calls[0]
    vace = next(extras for _, extras in call["positive"] if "vace_frames" in extras)
    control, vace_mask = vace["vace_frames"][0], vace["vace_mask"][0]
    latent = call["latent_image"]
    t, h, w = latent.shape[2:]
    # WanVaceToVideo encodes (video - 0.5) * mask + 0.5 as its second half: all grey when the masked pixels are
    grey = vae.encode(torch.full((17, h * 8, w * 8, 3), 0.5))
    torch.testing.assert_close(control[:, 16:], grey.to(control), rtol=0, atol=1e-5)
    assert not torch.allclose(control[:, :16], grey.to(control), atol=1e-3), "the known pixels are missing"
    # core samples one frame per latent frame (nearest-exact over the 17 frames): which ones, from the user's masks
    presence = torch.tensor([float(mask[f].any()) for f in range(2, FRAMES)] + [0.0, 0.0])  # span + padding
    picked = torch.nn.functional.interpolate(presence[None, None], size=t, mode="nearest-exact")[0, 0]
    assert vace_mask.shape == (1, 64, t, h, w)
    torch.testing.assert_close(vace_mask[0].amax(dim=(0, 2, 3)), picked.to(vace_mask), rtol=0, atol=0)


def test_two_regions_of_a_clip_are_one_call_each(comfy, spy):
    frames, mask = blob_clip(second=True)
    out = run(tv.wan21_t2v(), tv.wan21_vae(), frames, mask, batch_size=2)
    assert len(spy.calls) == 4 and all(c["latent_image"].ndim == 5 for c in spy.calls)
    regions = json.loads(out[7])["regions"]
    assert len({tuple(r["box"]) for r in regions}) == 2
    assert out[1]["samples"].shape[0] == 4 and out[1]["samples"].ndim == 5
    assert_untouched_outside(out[0], frames, mask, reach=4, variants=2)
    for t in (0, 1, *GAP):
        assert torch.equal(out[0][2 * t], frames[t]) and torch.equal(out[0][2 * t + 1], frames[t])
