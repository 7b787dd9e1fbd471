"""An SD 1.5 inpainting checkpoint through CheckpointLoaderSimple: detected as SD15 with 9 input
channels, and the FluxFill Inpainter feeds it concat conditioning (masked-image latent + mask)."""

from __future__ import annotations

import pytest
import torch
from node_calls import inpaint, small_options
from tiny_models import SD15_INPAINT_FILE


@pytest.fixture(scope="module")
def sd15_checkpoint(comfy_booted):
    """(model, clip, vae) of the tiny SD 1.5 inpainting checkpoint, loaded as a user's graph would."""
    from comfy_host import MODEL_CACHE
    from tiny_models import link_models, write_tiny_models

    import nodes

    write_tiny_models(MODEL_CACHE, names=[SD15_INPAINT_FILE])
    link_models(MODEL_CACHE, comfy_booted / "models")
    return nodes.CheckpointLoaderSimple().load_checkpoint(SD15_INPAINT_FILE)[:3]


def test_checkpoint_is_detected_as_sd15_inpaint(sd15_checkpoint):
    import comfy.latent_formats
    import comfy.supported_models

    model, clip, vae = sd15_checkpoint
    assert type(model.model.model_config) is comfy.supported_models.SD15
    assert model.model.model_config.unet_config["in_channels"] == 9
    assert model.model.model_config.inpaint_model()
    assert model.model.concat_keys == ("mask", "masked_image")
    assert isinstance(model.model.latent_format, comfy.latent_formats.SD15)
    assert vae.latent_channels == 4 and vae.downscale_ratio == 8
    assert clip is not None
    # the UNet really takes 9 channels (noise 4 + mask 1 + masked-image latent 4)
    assert model.model.diffusion_model.input_blocks[0][0].weight.shape[1] == 9


def test_inpainter_feeds_concat_conditioning_to_the_model(sd15_checkpoint, monkeypatch):
    model, clip, vae = sd15_checkpoint
    base = model.model
    seen: list[dict] = []
    original = base.extra_conds

    def spy(**kwargs):
        out = original(**kwargs)
        seen.append({"kwargs": kwargs, "c_concat": out.get("c_concat")})
        return out

    # model.clone() (done by the node) shares model.model, so the instance attribute reaches the sampler
    monkeypatch.setattr(base, "extra_conds", spy)

    torch.manual_seed(3)
    image = torch.rand(1, 64, 96, 3)
    mask = torch.zeros(1, 64, 96)
    mask[:, 20:44, 32:64] = 1.0
    out = inpaint((model, vae, clip), image, mask, options=small_options(), steps=2, cfg=7.0,
                  sampler_name="euler", scheduler="normal", seed=1).result
    result = out[0]
    assert result.shape == image.shape
    assert torch.isfinite(result).all()

    assert seen, "the model's extra_conds was never called: nothing was sampled"
    for call in seen:
        kwargs = call["kwargs"]
        assert "concat_latent_image" in kwargs, sorted(kwargs)
        assert "concat_mask" in kwargs, sorted(kwargs)
        latent = kwargs["concat_latent_image"]
        noise = kwargs["noise"]
        assert latent.dim() == 4 and latent.shape[1] == 4, tuple(latent.shape)
        assert latent.shape[-2:] == noise.shape[-2:]
        assert kwargs["concat_mask"].max() > 0, "the concat mask is empty"
        assert "guidance" not in kwargs, "SD has no guidance input: none is set"
        # what the UNet receives beside the 4 noise channels: mask 1 + masked-image latent 4
        c_concat = call["c_concat"]
        assert c_concat is not None, "the model built no c_concat"
        cond = c_concat.cond
        assert cond.shape[1] == 5 and cond.shape[-2:] == noise.shape[-2:]
        mask_channel = cond[:, :1]
        assert torch.equal(mask_channel, mask_channel.round()) and mask_channel.max() == 1
        assert mask_channel.min() == 0, "the mask channel covers the whole crop"
        # the masked-image channels are the latent the node passed, not core's blank fallback
        expected = base.process_latent_in(latent).to(cond)
        torch.testing.assert_close(cond[:latent.shape[0], 1:], expected)
