"""The optional `model_patch` input (MODEL_PATCH from core ModelPatchLoader): a tiny real Qwen-Image DiffSynth
inpaint ControlNet (core's QwenImageBlockWiseControlNet, random weights) on the tiny Qwen-Image, 2 regions x
batch 2, and the clear errors for patches this host cannot apply per crop."""

from __future__ import annotations

import json

import pytest
import tiny_families as tf
import torch
from family_calls import VARIANTS, check_outputs, run, two_blobs, user_crops
from node_calls import small_options


@pytest.fixture(scope="module")
def qwen(comfy):
    return tf.qwen_image(), tf.wan_vae(), tf.qwen_diffsynth_controlnet()


class PatchSpy:
    """Records, for every model call, the image / mask / encoded control input the host's DiffSynthCnetPatch
    holds when the Qwen-Image block calls it (block 0), and the batch of the model call."""

    def __init__(self, monkeypatch):
        from comfy_extras import nodes_model_patch

        self.calls: list[dict] = []
        real = nodes_model_patch.DiffSynthCnetPatch.__call__

        def spy(patch, kwargs):
            self.calls.append(dict(image=patch.image, mask=patch.mask, encoded=patch.encoded_image,
                                   rows=kwargs["x"].shape[0]))
            return real(patch, kwargs)

        monkeypatch.setattr(nodes_model_patch.DiffSynthCnetPatch, "__call__", spy)


def core_patched(model, model_patch, vae, crop, crop_mask):
    """Core DifferentialDiffusion then core QwenImageDiffsynthControlnet on one crop: the model they return and
    its DiffSynthCnetPatch."""
    from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion
    from comfy_extras.nodes_model_patch import QwenImageDiffsynthControlnet

    (differential,) = DifferentialDiffusion.execute(model, 1.0).result
    (patched,) = QwenImageDiffsynthControlnet().diffsynth_controlnet(differential, model_patch, vae, image=crop,
                                                                     strength=1.0, mask=crop_mask)
    (patch,) = patched.model_options["transformer_options"]["patches"]["double_block"]
    return patched, patch


def test_qwen_diffsynth_inpaint_controlnet_per_crop(qwen, spy, monkeypatch):
    """Each sampler call's rows are sampled as core QwenImageDiffsynthControlnet + core sampling would sample
    their own crop (cfg 4: cond and uncond in one model call); outside the mask band untouched; the incoming
    model is not modified; the result differs from the run without the patch."""
    import comfy.sample

    model, vae, model_patch = qwen
    options_before = repr(model.model_options)
    seen = PatchSpy(monkeypatch)
    image, mask, out = run(model, vae, cfg=4.0, cond=tf.condition(pooled=None), model_patch=model_patch)
    check_outputs(image, mask, out)
    assert repr(model.model_options) == options_before and "patches" not in model.model_options["transformer_options"]
    # cond + uncond in one model call: the patch is repeated for both chunks, each call with its 2 rows
    assert [c["rows"] for c in seen.calls] == [2 * VARIANTS] * 2
    assert all(c["image"].shape[0] == c["encoded"].shape[0] == c["rows"] for c in seen.calls)

    crops = user_crops(image, mask, json.loads(out[7]))
    calls = list(spy.calls)  # the core sample calls below are recorded too
    assert len(calls) == len(crops) == 2
    for call, (crop, crop_mask) in zip(calls, crops, strict=True):
        patched = call["model"].model_options["transformer_options"]["patches"]["double_block"][0]
        rows = patched.inner
        assert rows.image.shape[0] == VARIANTS and call["latent_image"].shape[0] == VARIANTS
        core_model, core_patch = core_patched(model, model_patch, vae, crop, crop_mask)
        for j in range(VARIANTS):  # the patch's image, mask and encoded control input are the crop's own
            torch.testing.assert_close(rows.image[j:j + 1], crop.to(rows.image))
            torch.testing.assert_close(rows.mask[j:j + 1], core_patch.mask.to(rows.mask), rtol=0, atol=0)
            torch.testing.assert_close(rows.encoded_image[j:j + 1], core_patch.encoded_image, rtol=1e-5, atol=1e-5)
            one = slice(j, j + 1)
            core = comfy.sample.sample(
                core_model, call["noise"][one], 1, 4.0, "euler", "simple", call["positive"], call["negative"],
                call["latent_image"][one], denoise=1.0, noise_mask=call["noise_mask"][one], seed=call["seed"])
            torch.testing.assert_close(call["samples"][one], core, rtol=1e-4, atol=1e-4)

    spy.calls.clear()
    _, _, plain = run(model, vae, cfg=4.0, cond=tf.condition(pooled=None))
    assert (out[0] - plain[0]).abs().max() > 1e-4, "the patch changed nothing"


def test_one_row_calls_get_their_own_rows_crop(qwen, spy, monkeypatch):
    """Both regions in one group (shared_target) and a sampler run one row per call: each call's patch holds
    its own row's crop and mask, not the group's first rows."""
    model, vae, model_patch = qwen
    seen = PatchSpy(monkeypatch)
    image, mask, out = run(model, vae, cond=tf.condition(pooled=None), model_patch=model_patch,
                           sampler_name="euler_ancestral", options=small_options(merge_gap=0, shared_target=True))
    check_outputs(image, mask, out)
    inner = [c["model"].model_options["transformer_options"]["patches"]["double_block"][0].inner for c in spy.calls]
    assert len(inner) == 2 * VARIANTS and all(p.image.shape[0] == 1 for p in inner)
    assert torch.equal(inner[0].image, inner[1].image) and torch.equal(inner[2].image, inner[3].image)
    assert not torch.equal(inner[0].image, inner[2].image), "the second region's calls got the first one's crop"
    assert not torch.equal(inner[0].mask, inner[2].mask)
    assert all(c["rows"] == 1 for c in seen.calls)


def test_zimage_fun_controlnet_per_crop_without_noise_mask(comfy, spy, monkeypatch):
    """On a host with the Z-Image control patch (ComfyUI after 0.3.75; skipped on 0.3.75): both the noise-refiner
    and the double-block hooks get the patch of the call's rows, no noise mask is sent, and each row (cfg 3: cond
    and uncond in one model call) samples as core ZImageFunControlnet (image = inpaint_image = the crop, mask =
    the crop's binary mask) + core sampling do on that crop alone."""
    import comfy.sample
    from comfy_extras import nodes_model_patch

    if not hasattr(nodes_model_patch, "ZImageControlPatch"):
        pytest.skip("this ComfyUI has no Z-Image control patch")
    model, vae, model_patch = tf.z_image(), tf.flux_vae(), tf.zimage_fun_controlnet()
    options_before = repr(model.model_options)
    image, mask, out = run(model, vae, cfg=3.0, cond=tf.condition(pooled=None), model_patch=model_patch)
    check_outputs(image, mask, out)
    assert repr(model.model_options) == options_before
    calls = list(spy.calls)
    assert len(calls) == 2 and all(c["noise_mask"] is None for c in calls), "a noise mask on top of the control"
    for call, (crop, crop_mask) in zip(calls, user_crops(image, mask, json.loads(out[7])), strict=True):
        patches = call["model"].model_options["transformer_options"]["patches"]
        assert patches["double_block"][0] is patches["noise_refiner"][0]
        rows = patches["double_block"][0].inner
        (core_model,) = nodes_model_patch.ZImageFunControlnet().diffsynth_controlnet(
            model, model_patch, vae, image=crop, strength=1.0, inpaint_image=crop, mask=crop_mask.round())
        core_patch = core_model.model_options["transformer_options"]["patches"]["double_block"][0]
        for j in range(VARIANTS):
            one = slice(j, j + 1)
            torch.testing.assert_close(rows.encoded_image[one], core_patch.encoded_image, rtol=1e-4, atol=1e-4)
            core = comfy.sample.sample(core_model, call["noise"][one], 1, 3.0, "euler", "simple", call["positive"],
                                       call["negative"], call["latent_image"][one], denoise=1.0, seed=call["seed"])
            torch.testing.assert_close(call["samples"][one], core, rtol=1e-4, atol=1e-4)
    _, _, plain = run(model, vae, cfg=3.0, cond=tf.condition(pooled=None))
    assert (out[0] - plain[0]).abs().max() > 1e-4, "the patch changed nothing"


def test_refine_pass_keeps_the_patch_at_its_own_size(qwen, spy):
    """Inpaint Options `refine`: the second pass samples with the patch too, built from the crop at the refine
    size (the first pass's at the sampled size)."""
    from node_calls import assert_untouched_outside, inpaint

    model, vae, model_patch = qwen
    image = torch.rand(1, 160, 160, 3, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 160, 160)
    mask[:, 32:128, 40:120] = 1.0  # its crop (~112 px) is sampled at 64 px, then refined at up to 128 px
    options = small_options(refine=True, refine_denoise=0.35, refine_max_side=128)
    out = inpaint((model, vae, None), image, mask, options=options, clip=False, condition=tf.condition(pooled=None),
                  model_patch=model_patch, feather=4, target_megapixels=0.004, steps=2).result
    assert_untouched_outside(out[0], image, mask, reach=4)
    first, second = spy.calls
    sizes = []
    for call in (first, second):
        rows = call["model"].model_options["transformer_options"]["patches"]["double_block"][0].inner
        sizes.append(tuple(rows.image.shape[1:3]))
        assert sizes[-1] == tuple(8 * n for n in call["latent_image"].shape[-2:]), "the patch's crop is not the call's"
    assert sizes[1][0] * sizes[1][1] > 2 * sizes[0][0] * sizes[0][1], "the refine pass got the first pass's crop"


def _error(model, vae, model_patch, cond) -> str:
    from fluxfill_inpainter.nodes.inputs import InputError

    image, mask = two_blobs()
    with pytest.raises(InputError) as info:
        run(model, vae, cond=cond, model_patch=model_patch)
    message = str(info.value)
    assert "FluxFill Inpainter" in message and "'model_patch'" in message
    return message


class FunControlLayers(torch.nn.Module):
    """A module with the layer names of a Z-Image Fun ControlNet Union checkpoint (control_all_x_embedder),
    standing for what a loader would give: this host has no class for it (its ModelPatchLoader cannot load one)."""

    def __init__(self):
        super().__init__()
        self.control_all_x_embedder = torch.nn.ModuleDict({"2-1": torch.nn.Linear(132, 8)})


def test_zimage_fun_controlnet_on_a_host_without_its_patch_is_a_clear_error(comfy):
    from comfy_extras import nodes_model_patch

    if hasattr(nodes_model_patch, "ZImageControlPatch"):
        pytest.skip("this host can apply Z-Image Fun ControlNet")
    message = _error(tf.z_image(), tf.flux_vae(), tf._model_patch(FunControlLayers()), tf.condition(pooled=None))
    assert "Z-Image Fun ControlNet (FunControlLayers)" in message
    assert "comfy_extras.nodes_model_patch has no ZImageControlPatch" in message
    assert "needs a newer ComfyUI" in message


def test_other_model_patches_are_clear_errors(qwen):
    model, vae, _ = qwen
    cond = tf.condition(pooled=None)
    assert "SigLIPMultiFeatProjModel" in _error(model, vae, tf.uso_style_projector(), cond)
    assert "without mask channels" in _error(model, vae, tf.qwen_diffsynth_controlnet(mask_channels=False), cond)
    message = _error(tf.z_image(), tf.flux_vae(), tf.qwen_diffsynth_controlnet(), cond)
    assert "made for qwen_image models, but the connected model is z_image" in message
