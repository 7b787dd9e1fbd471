"""The tiny Wan video models of tests/tiny_video.py are the host's real classes and run core's stock video
inpaint graph: VAEEncode -> SetLatentNoiseMask (per-frame mask) -> KSampler -> VAEDecode, and for VACE core's
WanVaceToVideo conditioning."""

from __future__ import annotations

import pytest
import tiny_families as tf
import tiny_video as tv
import torch
from comfy_host import run_node

FRAMES, SIZE = 9, 64
# latent frame t of a Wan VAE covers pixel frames 4t-3 .. 4t (frame 0 alone): masking pixel frames 5..8 leaves
# latent frames 0 and 1 kept and frame 2 sampled (core's trilinear reshape_mask samples pixel frames 1, 4, 7)
MASKED_FROM = 5


@pytest.fixture(scope="module")
def models(comfy):
    """name -> (ModelPatcher, VAE, latent channels, spatial downscale)."""
    vae21, vae22 = tv.wan21_vae(), tv.wan22_vae()
    return {"wan21_t2v": (tv.wan21_t2v(), vae21, 16, 8), "wan21_vace": (tv.wan21_vace(), vae21, 16, 8),
            "wan22_ti2v": (tv.wan22_ti2v(), vae22, 48, 16)}


def _frames(count: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(count, SIZE, SIZE, 3, generator=torch.Generator().manual_seed(seed))


def test_models_are_the_classes_they_claim(models):
    import comfy.model_base

    expected = {"wan21_t2v": comfy.model_base.WAN21, "wan21_vace": comfy.model_base.WAN21_Vace,
                "wan22_ti2v": comfy.model_base.WAN22}
    for name, (patcher, _, channels, _) in models.items():
        model = patcher.model
        assert type(model) is expected[name], name
        assert model.latent_format.latent_channels == channels, name
        assert model.diffusion_model.patch_size == (1, 2, 2), name
        assert model.get_dtype() == torch.float32, name
        assert all(p.dtype == torch.float32 for p in model.diffusion_model.parameters()), name
    assert type(models["wan21_t2v"][0].model.diffusion_model).__name__ == "WanModel"
    assert type(models["wan21_vace"][0].model.diffusion_model).__name__ == "VaceWanModel"


@pytest.mark.parametrize("make, module, channels, down", [
    (tv.wan21_vae, "comfy.ldm.wan.vae", 16, 8),
    (tv.wan22_vae, "comfy.ldm.wan.vae2_2", 48, 16),
])
def test_vaes_are_detected_wan_vaes_that_round_trip_video(comfy, make, module, channels, down):
    vae = make()
    assert type(vae.first_stage_model).__module__ == module
    assert vae.latent_dim == 3 and vae.latent_channels == channels
    assert vae.spacial_compression_encode() == down and vae.spacial_compression_decode() == down
    assert vae.temporal_compression_decode() == 4
    assert vae.vae_dtype == torch.float32
    latent = vae.encode(_frames(17))
    assert latent.shape == (1, channels, 5, SIZE // down, SIZE // down)
    assert latent.dtype == torch.float32 and latent.isfinite().all()
    decoded = vae.decode(latent)
    assert decoded.shape == (1, 17, SIZE, SIZE, 3) and decoded.isfinite().all()


def test_vace_models_are_recognised_by_their_vace_layers(models):
    has_vace = {name: hasattr(m.model.diffusion_model, "vace_patch_embedding") for name, (m, *_) in models.items()}
    assert has_vace == {"wan21_t2v": False, "wan21_vace": True, "wan22_ti2v": False}
    vace = models["wan21_vace"][0].model.diffusion_model
    assert len(vace.vace_blocks) == 1 and vace.vace_patch_embedding.weight.shape[1] == 96


def _sample(model, positive, latent: dict, negative: list | None = None) -> dict:
    import nodes

    negative = negative or tf.condition(seed=41, pooled=None)
    return nodes.common_ksampler(model, 7, 2, 1.0, "euler", "simple", positive, negative, latent)[0]


def _per_frame_mask() -> torch.Tensor:
    mask = torch.zeros(FRAMES, SIZE, SIZE)
    mask[MASKED_FROM:] = 1.0
    return mask


@pytest.mark.parametrize("name", ["wan21_t2v", "wan21_vace", "wan22_ti2v"])
def test_core_noise_mask_graph_samples_only_the_masked_frames(models, name):
    import nodes

    model, vae, channels, down = models[name]
    (latent,) = nodes.VAEEncode().encode(vae, _frames(FRAMES))
    assert latent["samples"].shape == (1, channels, 3, SIZE // down, SIZE // down)
    (masked,) = nodes.SetLatentNoiseMask().set_mask(latent, _per_frame_mask())
    out = _sample(model, tf.condition(pooled=None), masked)
    kept, sampled = out["samples"][:, :, :2], out["samples"][:, :, 2:]
    torch.testing.assert_close(kept, latent["samples"][:, :, :2], atol=1e-4, rtol=1e-4)
    assert (sampled - latent["samples"][:, :, 2:]).abs().mean() > 0.05
    assert out["samples"].isfinite().all()
    (images,) = nodes.VAEDecode().decode(vae, out)
    assert images.shape == (FRAMES, SIZE, SIZE, 3) and images.isfinite().all()


def test_core_wan_vace_to_video_conditions_and_samples_the_vace_model(models):
    from comfy_extras.nodes_wan import WanVaceToVideo

    import nodes

    model, vae, _, _ = models["wan21_vace"]
    positive, negative = tf.condition(pooled=None), tf.condition(seed=41, pooled=None)
    masks = _per_frame_mask()
    out = run_node(WanVaceToVideo, positive=positive, negative=negative, vae=vae, width=SIZE, height=SIZE,
                   length=FRAMES, batch_size=1, strength=1.0, control_video=_frames(FRAMES, seed=2),
                   control_masks=masks)
    vace_positive, vace_negative, latent, trim = out.result
    assert trim == 0 and latent["samples"].shape == (1, 16, 3, SIZE // 8, SIZE // 8)
    for cond in (vace_positive, vace_negative):
        extras = cond[0][1]
        (frames,), (mask,) = extras["vace_frames"], extras["vace_mask"]
        assert frames.shape == (1, 32, 3, SIZE // 8, SIZE // 8)
        assert mask.shape == (1, 64, 3, SIZE // 8, SIZE // 8)
        assert extras["vace_strength"] == [1.0]
    # nearest-exact over time: latent frames 0 and 1 read unmasked pixel frames, frame 2 a masked one
    assert mask[:, :, :2].max() == 0 and mask[:, :, 2].min() == 1

    seen = []

    def record(apply_model, args):
        seen.append(args["c"]["vace_context"].shape)
        return apply_model(args["input"], args["timestep"], **args["c"])

    spied = model.clone()
    spied.set_model_unet_function_wrapper(record)
    sampled = _sample(spied, vace_positive, latent, negative=vace_negative)
    assert sampled["samples"].shape == latent["samples"].shape and sampled["samples"].isfinite().all()
    # the model read the node's control video + mask: 32 + 64 channels per VACE context
    assert seen and all(shape[-4:] == (96, 3, SIZE // 8, SIZE // 8) for shape in seen)
    (images,) = nodes.VAEDecode().decode(vae, sampled)
    assert images.shape == (FRAMES, SIZE, SIZE, 3)
