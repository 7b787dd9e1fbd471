"""Mode 'reference' (alias 'kontext') on every family: accepted, and effective, for models that read
reference latents (Flux dev / Kontext, Flux.2, Qwen-Image-Edit); refused with a clear error for models
that would silently ignore them (Chroma, Z-Image, SD)."""

from __future__ import annotations

import pytest
import tiny_families as tf
import torch
from family_calls import ConditionSpy, run
from node_calls import small_options

ACCEPTED = {"flux": (tf.flux_dev, tf.flux_vae), "flux2": (tf.flux2, tf.flux2_vae),
            "qwen_image": (tf.qwen_image, tf.wan_vae)}
REFUSED = {"chroma": (tf.chroma, tf.flux_vae), "z_image": (tf.z_image, tf.flux_vae),
           "sd15": (tf.sd15_plain, tf.sd_vae)}


@pytest.mark.parametrize("family", sorted(ACCEPTED))
def test_reference_mode_reaches_the_model_and_changes_the_result(family, comfy, monkeypatch):
    build, build_vae = ACCEPTED[family]
    model, vae = build(), build_vae()
    cond = tf.condition(pooled=None if family == "qwen_image" else tf.CONTEXT)
    seen = ConditionSpy(monkeypatch, model)
    image, mask, reference = run(model, vae, cond=cond, options=small_options(merge_gap=0, mode="reference"))
    refs = [c["out"]["ref_latents"] for c in seen.calls if "ref_latents" in c["out"]]
    assert refs, f"{family}: no ref_latents reached the model"
    seen.calls.clear()
    _, _, repaint = run(model, vae, cond=cond, options=small_options(merge_gap=0, mode="repaint"))
    assert not any("ref_latents" in c["out"] for c in seen.calls)
    inside = mask[0] > 0.5
    diff = (reference[0][:, inside] - repaint[0][:, inside]).abs().max()
    assert diff > 1e-4, f"{family}: reference mode changed nothing"


def test_kontext_is_kept_as_an_alias_of_reference(comfy, monkeypatch):
    model, vae = tf.flux_dev(), tf.flux_vae()
    seen = ConditionSpy(monkeypatch, model)
    _, _, kontext = run(model, vae, cond=tf.condition(), options=small_options(merge_gap=0, mode="kontext"))
    assert any("ref_latents" in c["out"] for c in seen.calls)
    _, _, reference = run(model, vae, cond=tf.condition(), options=small_options(merge_gap=0, mode="reference"))
    assert torch.equal(kontext[0], reference[0])
    # reference mode on Flux dev uses the Kontext template's guidance 2.5
    assert {float(c["out"]["guidance"].cond.flatten()[0]) for c in seen.calls
            if c["kwargs"]["cross_attn"].any()} == {2.5}


@pytest.mark.parametrize("family", sorted(REFUSED))
def test_reference_mode_is_refused_where_the_model_ignores_it(family, comfy):
    build, build_vae = REFUSED[family]
    with pytest.raises(ValueError) as err:
        run(build(), build_vae(), cond=tf.condition(), options=small_options(merge_gap=0, mode="reference"))
    message = str(err.value)
    assert "FluxFill Inpainter" in message and "'reference'" in message and family in message
    assert "ignores" in message


def test_reference_mode_on_flux_crops_at_kontext_trained_sizes(comfy):
    """Flux Kontext was trained at the sizes the host's FluxKontextImageScale picks from: in reference mode
    a region is sampled at the one nearest its aspect (scaled to target_megapixels); in inpaint mode at the
    box's own aspect."""
    import json

    from comfy_extras.nodes_flux import PREFERED_KONTEXT_RESOLUTIONS
    from node_calls import inpaint

    image = torch.rand(1, 64, 256, 3, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(1, 64, 256)
    mask[0, 24:40, 16:240] = 1.0  # a strip wider than any trained aspect: the widest size wins
    k = 0.02 ** 0.5  # target_megapixels 0.02 (inpaint()'s default)
    widest = max(PREFERED_KONTEXT_RESOLUTIONS, key=lambda s: s[0] / s[1])
    expected = tuple(max(16, round(side * k / 16) * 16) for side in widest)
    model, vae = tf.flux_dev(), tf.flux_vae()
    models = (model, vae, None)
    common = dict(clip=False, condition=tf.condition(), steps=1, guidance=0.0, feather=4)
    out = inpaint(models, image, mask, options=small_options(merge_gap=0, mode="reference"), **common).result
    targets = [tuple(r["target"]) for r in json.loads(out[7])["regions"]]
    assert targets == [expected]
    assert tuple(out[1]["samples"].shape[-2:]) == (expected[1] // 8, expected[0] // 8)
    out = inpaint(models, image, mask, options=small_options(merge_gap=0, mode="inpaint"), **common).result
    inpaint_target = tuple(json.loads(out[7])["regions"][0]["target"])
    assert inpaint_target != expected and inpaint_target[0] / inpaint_target[1] > 3  # the strip's own aspect
