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
