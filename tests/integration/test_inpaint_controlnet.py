"""The optional `control_net` input: an SD 1.5 inpaint ControlNet (tiny, built from core's
comfy.cldm.cldm.ControlNet) applied per crop with the masked crop as hint (masked pixels -1), through
core ControlNetApplyAdvanced; rows of every sampler call get their own crop's hint."""

from __future__ import annotations

import tiny_families as tf
import torch
from family_calls import VARIANTS, check_outputs, run


def test_sd15_inpaint_controlnet_conditions_each_crop(comfy, spy, monkeypatch):
    import comfy.controlnet

    model, vae, control_net = tf.sd15_plain(), tf.sd_vae(), tf.sd15_controlnet()
    used = []
    real = comfy.controlnet.ControlNet.get_control

    def record(self, x_noisy, t, cond, batched_number, transformer_options):
        used.append(self.cond_hint_original.shape[0])
        return real(self, x_noisy, t, cond, batched_number, transformer_options)

    monkeypatch.setattr(comfy.controlnet.ControlNet, "get_control", record)
    image, mask, out = run(model, vae, cond=tf.condition(), control_net=control_net)
    check_outputs(image, mask, out)
    assert used, "the ControlNet never ran"
    for call in spy.calls:
        control = call["positive"][0][1]["control"]
        hint = control.cond_hint_original  # [rows, 3, H, W], one per row of this call
        assert hint.shape[0] == call["latent_image"].shape[0] == VARIANTS
        masked = (hint == -1).all(dim=1)
        assert masked.any() and not masked.all(), "the hint has no masked (-1) pixels, or only those"
        assert hint[:, :, ~masked[0]].min() >= 0
        assert torch.equal(hint[0], hint[1]), "both variants of one crop share its hint"
    hints = [c["positive"][0][1]["control"].cond_hint_original for c in spy.calls]
    assert hints[0].shape != hints[1].shape or not torch.equal(hints[0], hints[1]), "regions share one hint"
    spy.calls.clear()
    _, _, plain = run(model, vae, cond=tf.condition())
    assert not any("control" in c["positive"][0][1] for c in spy.calls)
    assert (out[0] - plain[0]).abs().max() > 1e-4, "the ControlNet changed nothing"


def test_one_row_calls_get_their_own_rows_hint(comfy, spy):
    """Both regions in one group (shared_target) and a sampler run one row per call: each call's hint is
    its own region's, not the group's first rows (core would broadcast the first rows)."""
    from node_calls import small_options

    model, vae, control_net = tf.sd15_plain(), tf.sd_vae(), tf.sd15_controlnet()
    image, mask, out = run(model, vae, cond=tf.condition(), control_net=control_net, sampler_name="euler_ancestral",
                           options=small_options(merge_gap=0, shared_target=True))
    check_outputs(image, mask, out)
    hints = [c["positive"][0][1]["control"].cond_hint_original for c in spy.calls]
    assert len(hints) == 2 * VARIANTS and all(h.shape[0] == 1 for h in hints)
    assert torch.equal(hints[0], hints[1]) and torch.equal(hints[2], hints[3])
    assert not torch.equal(hints[0], hints[2]), "the second region's calls got the first region's hint"


def test_alimama_flux_inpaint_controlnet_gets_the_masked_crop_and_keep_mask(comfy, spy):
    """A concat_mask ControlNet (Alimama Flux inpaint) on Flux dev: hint = crop with masked pixels 0 and
    the keep mask (1 - mask) as extra concat, as core ControlNetInpaintingAliMamaApply builds them."""
    model, vae, control_net = tf.flux_dev(), tf.flux_vae(), tf.flux_alimama_controlnet()
    image, mask, out = run(model, vae, cond=tf.condition(), control_net=control_net)
    check_outputs(image, mask, out)
    for call in spy.calls:
        control = call["positive"][0][1]["control"]
        assert control.concat_mask
        hint, (keep,) = control.cond_hint_original, control.extra_concat_orig
        assert hint.shape[0] == keep.shape[0] == call["latent_image"].shape[0]
        assert set(keep.round().unique().tolist()) == {0.0, 1.0}
        masked = keep[:, 0].round() == 0
        assert not hint.movedim(1, -1)[masked].any(), "masked pixels of the hint are not blanked"
    spy.calls.clear()
    _, _, plain = run(model, vae, cond=tf.condition())
    assert (out[0] - plain[0]).abs().max() > 1e-4, "the ControlNet changed nothing"
