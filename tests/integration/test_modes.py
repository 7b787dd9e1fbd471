"""Edit modes of the FluxFill Inpainter on small real models: the conditioning and latents each mode builds,
the Outpaint Canvas node, and pre-fill."""

from __future__ import annotations

import pytest
import torch
from comfy_host import run_node
from node_calls import assert_untouched_outside

NODE = "FluxFill Inpainter"


@pytest.fixture(scope="module")
def models(comfy):
    from tiny_models import CLIP_L_FILE, small_flux_patcher, small_flux_vae

    import nodes

    (clip,) = nodes.CLIPLoader().load_clip(CLIP_L_FILE, "stable_diffusion")
    return {"fill": small_flux_patcher(in_channels=96), "flux": small_flux_patcher(in_channels=16),
            "vae": small_flux_vae(), "clip": clip}


def options(**kw):
    from fluxfill_inpainter.nodes.options import build_options

    return build_options(**({"min_side": 64, "max_side": 256, "min_crop": 32, "min_context": 8} | kw))


def whole_image(**kw):
    """Options under which the one crop is the whole image, unresized (crop pixels = image pixels)."""
    return options(target_mode="none", min_crop=4096, **kw)


def inpaint(models, image, mask, opts, model="fill", **overrides):
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter

    inputs = dict(model=models[model], text="a red apple", vae=models["vae"], image=image, mask=mask, seed=5,
                  steps=3, cfg=1.0, sampler_name="euler", scheduler="simple", denoise=1.0, noise_mask=True,
                  batch_size=1, differential_attention=True, guidance=30.0, dd_strength=1.0, context=1.0,
                  grow=0, feather=4, target_megapixels=0.02, clip=models["clip"], options=opts)
    inputs.update(overrides)
    return run_node(FluxFillInpainter, **inputs).result


def scene(seed: int, height: int = 64, width: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    image = torch.rand(1, height, width, 3)
    mask = torch.zeros(1, height, width)
    mask[:, 16:48, 32:64] = 1.0
    return image, mask


def outside_untouched(result: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, feather: int) -> bool:
    """Bit-identical outside the user's mask grown by `feather` (oracle from the mask, see node_calls)."""
    assert_untouched_outside(result, image, mask, reach=feather)
    return True


def test_options_widgets_are_appended_and_default_to_core(comfy):
    from fluxfill_inpainter.nodes.option_schema import options_inputs
    from fluxfill_inpainter.nodes.option_values import InpaintOptions

    names = [i.id for i in options_inputs()]
    tail = ["mode", "prefill", "reference", "fill_model", "refine", "refine_denoise", "refine_threshold",
            "refine_max_side", "upscale_model", "changed_only", "video", "track_speed", "frame_window",
            "frame_overlap"]
    assert names[-len(tail):] == tail, "new inputs go at the end (positional widgets)"
    assert names.index("binarize_concat_mask") == len(names) - len(tail) - 1
    assert all(i.tooltip for i in options_inputs())
    default = InpaintOptions()
    assert (default.mode, default.prefill, default.reference) == ("inpaint", "grey", None)
    with pytest.raises(ValueError, match="Inpaint Options: mode"):
        options(mode="warp")
    with pytest.raises(ValueError, match="Inpaint Options: changed_only"):
        options(changed_only="maybe")


def test_option_widget_defaults_are_the_schemas(comfy):
    """build_options' defaults (OptionWidgets) are the Inpaint Options node's widget defaults, name for name."""
    import dataclasses

    from fluxfill_inpainter.nodes.option_schema import options_inputs
    from fluxfill_inpainter.nodes.options import OptionWidgets

    fields = {f.name: f.default for f in dataclasses.fields(OptionWidgets)}
    assert list(fields) == [i.id for i in options_inputs()]
    for i in options_inputs():
        assert fields[i.id] == getattr(i, "default", None), i.id


def test_default_mode_builds_the_core_inpaint_conditioning(models, spy):
    image, mask = scene(0)
    inpaint(models, image, mask, whole_image(), feather=0)
    pos = spy.calls[0]["positive"][0][1]
    grey = (image - 0.5) * (1 - mask.round()).unsqueeze(-1) + 0.5
    torch.testing.assert_close(pos["concat_latent_image"], models["vae"].encode(grey))
    torch.testing.assert_close(pos["concat_mask"], mask[:, None])
    assert "reference_latents" not in pos


def test_channel_edit_all_white_concat_mask_and_ungreyed_crop(models, spy):
    image, mask = scene(1)
    soft = mask.clone()
    soft[:, 14:16, 32:64] = 0.5
    result, latent, composite = inpaint(models, image, soft, whole_image(mode="channel_edit"), feather=0)[:3]
    (call,) = spy.calls
    for entry in (call["positive"][0][1], call["negative"][0][1]):
        assert torch.equal(entry["concat_mask"], torch.ones(1, 1, 64, 96))
        torch.testing.assert_close(entry["concat_latent_image"], models["vae"].encode(image), atol=1e-5, rtol=0)
    torch.testing.assert_close(call["latent_image"], models["vae"].encode(image), atol=1e-5, rtol=0)
    torch.testing.assert_close(call["noise_mask"], soft[:, None])  # the noise mask is the user's soft mask
    assert outside_untouched(result, image, soft, 0)
    assert (result[0, 20:44, 36:60] - image[0, 20:44, 36:60]).abs().mean() > 0.01


def test_channel_edit_needs_concat_channels(models):
    image, mask = scene(1)
    with pytest.raises(ValueError) as err:
        inpaint(models, image, mask, whole_image(mode="channel_edit"), model="flux")
    assert NODE in str(err.value) and "channel_edit" in str(err.value)


def test_kontext_needs_a_flux_model_without_concat_channels(models):
    image, mask = scene(1)
    with pytest.raises(ValueError) as err:
        inpaint(models, image, mask, whole_image(mode="kontext"), model="fill")
    message = str(err.value)
    assert NODE in message and "kontext" in message and "concat" in message


def test_spatial_concat_canvas_is_reference_then_crop(models, spy):
    from fluxfill_inpainter.nodes.crop_stage import crop_images, crop_stage

    image, mask = scene(2, 64, 128)
    opts = options(mode="spatial_concat")
    result, latent, composite = inpaint(models, image, mask, opts)[:3]
    (call,) = spy.calls
    staged = opts.with_main_widgets(context=1.0, grow=0, feather=4, target_mp=0.02, multiple=16)
    batch = crop_images(crop_stage(image, mask, staged, NODE), [0])
    crop, crop_mask, inpaint_mask = batch.images, batch.denoise, batch.inpaint
    h, w = crop.shape[1:3]
    assert w % 16 == 0 and call["latent_image"].shape[-2:] == (h // 8, 2 * w // 8), "canvas = 2 x crop width"
    canvas = torch.cat([crop, crop], dim=2)
    torch.testing.assert_close(call["latent_image"], models["vae"].encode(canvas), atol=1e-5, rtol=0)
    noise_mask = call["noise_mask"][:, 0]
    assert (noise_mask[..., :w] == 0).all(), "the reference half is never masked"
    torch.testing.assert_close(noise_mask[..., w:], crop_mask)
    concat = call["positive"][0][1]
    assert (concat["concat_mask"][..., :w] == 0).all()
    # only the target half is greyed (under the inpaint mask): the reference half is the plain crop
    greyed = (crop - 0.5) * (1 - inpaint_mask.round()).unsqueeze(-1) + 0.5
    expected = models["vae"].encode(torch.cat([crop, greyed], dim=2))
    torch.testing.assert_close(concat["concat_latent_image"], expected, atol=1e-5, rtol=0)
    # the output latent is the target (right) half of the sampled canvas; the image is stitched from it
    torch.testing.assert_close(latent["samples"], call["samples"][..., w // 8:])
    assert result.shape == image.shape and outside_untouched(result, image, mask, 4)


def test_spatial_concat_with_a_reference_image(models, spy):
    image, mask = scene(3, 64, 64)
    reference = torch.zeros(1, 40, 80, 3)
    reference[..., 0] = 0.9  # flat colour: any cover-resize of it is exact
    opts = whole_image(mode="spatial_concat", reference=reference)
    result, latent, composite = inpaint(models, image, mask, opts, feather=0)[:3]
    (call,) = spy.calls
    canvas = torch.cat([torch.zeros(1, 64, 64, 3) + torch.tensor([0.9, 0.0, 0.0]), image], dim=2)
    torch.testing.assert_close(call["latent_image"], models["vae"].encode(canvas), atol=1e-5, rtol=0)
    assert latent["samples"].shape[-1] == 8 and outside_untouched(result, image, mask, 0)


def test_kontext_appends_the_encoded_crop_as_reference_latent(models, spy):
    image, mask = scene(4)
    result, _, composite = inpaint(models, image, mask, whole_image(mode="kontext"), model="flux", feather=0)[:3]
    (call,) = spy.calls
    pos, neg = call["positive"][0][1], call["negative"][0][1]
    (ref,) = pos["reference_latents"]
    assert ref.shape == call["latent_image"].shape == (1, 16, 8, 12)
    torch.testing.assert_close(ref, models["vae"].encode(image), atol=1e-5, rtol=0)
    assert "reference_latents" not in neg, "as core ReferenceLatent: positive only"
    assert not any(k.startswith("concat") for k in pos), "Kontext models have no concat channels"
    torch.testing.assert_close(call["noise_mask"], mask[:, None])
    assert outside_untouched(result, image, mask, 0)


def test_kontext_reference_image_and_per_variant_calls(models, spy):
    image, mask = scene(5)
    reference = torch.full((1, 32, 48, 3), 0.25)
    opts = whole_image(mode="kontext", reference=reference)
    out = inpaint(models, image, mask, opts, model="flux", batch_size=2, sampler_name="euler_ancestral")
    assert out[0].shape == (2, 64, 96, 3)
    assert len(spy.calls) == 2, "a stochastic sampler gets one call per variant"
    expected = models["vae"].encode(torch.full((1, 64, 96, 3), 0.25))
    for call in spy.calls:
        (ref,) = call["positive"][0][1]["reference_latents"]
        assert ref.shape[0] == call["latent_image"].shape[0] == 1, "reference rows sliced with the call's rows"
        torch.testing.assert_close(ref, expected, atol=1e-5, rtol=0)


def test_repaint_on_an_inpaint_model_sends_no_concat_values(models, spy):
    image, mask = scene(6)
    result, _, composite = inpaint(models, image, mask, whole_image(mode="repaint"), noise_mask=False)[:3]
    (call,) = spy.calls
    for entry in (call["positive"][0][1], call["negative"][0][1]):
        assert not any(k.startswith("concat") for k in entry)
    assert call["noise_mask"] is not None, "repaint forces the noise mask even when noise_mask is off"
    assert outside_untouched(result, image, mask, 4)


@pytest.mark.parametrize("mode", ["repaint", "inpaint"])
def test_flow_repaint_keeps_unmasked_latents_on_the_original(models, spy, mode):
    image, mask = scene(7)
    latent = inpaint(models, image, mask, whole_image(mode=mode), model="flux", steps=4, feather=0)[1]
    (call,) = spy.calls
    assert not any(k.startswith("concat") for k in call["positive"][0][1])
    # KSamplerX0Inpaint: out = D * m + x0 * (1 - m) at the latent size; where m is 0 the original remains
    m = torch.nn.functional.interpolate(call["noise_mask"], size=latent["samples"].shape[-2:], mode="bilinear")
    keep = (m == 0).expand_as(latent["samples"])
    assert keep.any() and (~keep).any()
    original = models["vae"].encode(image)
    torch.testing.assert_close(latent["samples"][keep], original[keep], atol=1e-4, rtol=0)
    assert (latent["samples"][~keep] - original[~keep]).abs().mean() > 0.05, "the masked latents were sampled"


def outpaint(image, **kw):
    from fluxfill_inpainter.nodes.outpaint import OutpaintCanvas

    inputs = dict(image=image, left=0, top=0, right=0, bottom=0, units="pixels", factor=1.5, fill="replicate",
                  feather=8) | kw
    return run_node(OutpaintCanvas, **inputs).result


def test_outpaint_canvas_then_inpainter(models):
    torch.manual_seed(0)
    image = torch.rand(1, 48, 64, 3)
    canvas, mask = outpaint(image, left=16, right=32, feather=8)
    assert canvas.shape == (1, 48, 112, 3) and mask.shape == (1, 48, 112)
    assert torch.equal(canvas[:, :, 16:80], image), "original pixels preserved"
    assert (mask[:, :, :16] == 1).all() and (mask[:, :, 80:] == 1).all(), "1 on the new area"
    assert (mask[:, :, 16] > 0.8).all() and (mask[:, :, 16:80].amin() == 0), "feathered seam into the original"
    assert torch.equal(canvas[:, :, 0], image[:, :, 0]), "replicate pre-fill"
    result, _, composite = inpaint(models, canvas, mask, whole_image(), feather=0)[:3]
    assert result.shape == canvas.shape
    assert_untouched_outside(result, canvas, mask, reach=0)
    assert (result[0, :, 84:] - canvas[0, :, 84:]).abs().mean() > 0.01, "the new area was painted"


def test_outpaint_factor_units_and_bad_inputs():
    image = torch.rand(2, 40, 60, 3)
    canvas, mask = outpaint(image, top=1, bottom=1, units="factor", factor=2.0, fill="reflect", feather=0)
    assert canvas.shape == (2, 80, 60, 3) and torch.equal(canvas[:, 20:60], image)
    assert mask[:, :20].eq(1).all() and mask[:, 20:60].eq(0).all() and mask[:, 60:].eq(1).all()
    with pytest.raises(ValueError, match="FluxFill Outpaint Canvas"):
        outpaint(image, top=1, units="factor", factor=0.5)
    with pytest.raises(ValueError, match="FluxFill Outpaint Canvas.*mask"):
        outpaint(image, right=8, mask=torch.ones(3, 40, 60))


def test_blur_prefill_replaces_the_masked_pixels_in_both_encodes(models, spy):
    from fluxfill_inpainter.crop_stitch import prefill

    torch.manual_seed(1)
    image = torch.rand(1, 64, 96, 3)
    mask = torch.zeros(1, 64, 96)
    mask[:, 16:48, 32:64] = 1.0
    result, _, composite = inpaint(models, image, mask, whole_image(prefill="blur"), feather=0, denoise=0.6)[:3]
    (call,) = spy.calls
    filled = prefill(image, mask, "blur")
    assert torch.equal(filled[mask.round() == 0], image[mask.round() == 0])
    encoded = models["vae"].encode(filled)
    torch.testing.assert_close(call["latent_image"], encoded, atol=1e-5, rtol=0)
    torch.testing.assert_close(call["positive"][0][1]["concat_latent_image"], encoded, atol=1e-5, rtol=0)
    assert not torch.allclose(encoded, models["vae"].encode(image), atol=1e-3), "the object is gone from the latent"
    assert_untouched_outside(result, image, mask, reach=0)


def test_opencv_prefill_without_opencv_is_a_clear_error(models, spy):
    from fluxfill_inpainter.crop_stitch.prefill import opencv_available

    image = torch.rand(1, 48, 48, 3)
    mask = torch.zeros(1, 48, 48)
    mask[:, 16:32, 16:32] = 1
    if opencv_available():
        inpaint(models, image, mask, whole_image(prefill="telea"), feather=0)
        filled = spy.calls[0]["latent_image"]
        assert not torch.allclose(filled, models["vae"].encode(image), atol=1e-3)
        return
    with pytest.raises(RuntimeError) as err:
        inpaint(models, image, mask, whole_image(prefill="telea"))
    message = str(err.value)
    assert "FluxFill Inpainter" in message and "telea" in message and "opencv-python-headless" in message
    assert not spy.calls, "nothing was sampled"
