"""README "Automatic settings": with every FluxFill Inpainter widget at its default, the connected model's
family decides steps, cfg, sampler, scheduler and the crop size (its native area). The expected values are
the templates' (README's family table), written here, not read from the pack."""

from __future__ import annotations

import json
import time

import pytest
import tiny_families as tf
import tiny_video as tv
import torch
from comfy_host import run_node

# family -> (steps, cfg, sampler, scheduler, native area in pixels): the ComfyUI templates' values
TEMPLATES = {
    "sd15": (20, 8.0, "euler", "normal", 512 * 512),
    "sdxl": (25, 7.0, "dpmpp_2m", "karras", 1024 * 1024),
    "chroma": (26, 3.5, "euler", "beta", 1024 * 1024),
    "z_image": (8, 1.0, "res_multistep", "simple", 1024 * 1024),
    "flux_fill": (20, 1.0, "euler", "normal", 1024 * 1024),
    "qwen_image": (20, 4.0, "euler", "simple", 1328 * 1328),
    "wan21": (30, 6.0, "uni_pc", "simple", 832 * 480),
    "wan22": (20, 5.0, "uni_pc", "simple", 1280 * 704),
}


def schema_defaults() -> dict:
    """Every widget of the node at the default its schema declares (what a new node and an API prompt get)."""
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter

    inputs = FluxFillInpainter.define_schema().inputs
    return {i.id: i.default for i in inputs if not i.optional and getattr(i, "default", None) is not None}


class Stop(Exception):
    pass


def scene(width: int = 64):
    """A square image (so the crop is square: its area is the target's, not raised by min_side)."""
    g = torch.Generator().manual_seed(4)
    image = torch.rand(1, 64, width, 3, generator=g)
    mask = torch.zeros(1, 64, width)
    mask[:, 20:44, 20:44] = 1.0
    return image, mask


def first_sampler_call(monkeypatch, model, vae, cond, **widgets) -> dict:
    """What the node passes to the host's sampler on its first call (the run stops there)."""
    import comfy.sample
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter

    seen = {}

    def record(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw):
        seen.update(steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler, latent=latent_image.shape)
        raise Stop

    monkeypatch.setattr(comfy.sample, "sample", record)
    image, mask = scene()
    inputs = schema_defaults() | dict(model=model, vae=vae, image=image, mask=mask, condition=cond) | widgets
    with pytest.raises(Stop):
        run_node(FluxFillInpainter, **inputs)
    return seen


def build(family: str, small_models):
    if family == "flux_fill":
        return small_models[0], small_models[1], tf.condition()
    models = {"sd15": (tf.sd15_plain, tf.sd_vae), "sdxl": (tf.sdxl_inpaint, tf.sd_vae),
              "chroma": (tf.chroma, tf.flux_vae), "z_image": (tf.z_image, tf.flux_vae),
              "qwen_image": (tf.qwen_image, tf.wan_vae), "wan21": (tv.wan21_t2v, tv.wan21_vae),
              "wan22": (tv.wan22_ti2v, tv.wan22_vae)}
    model, vae = models[family]
    return model(), vae(), tf.condition(pooled=None if family in ("qwen_image", "wan21", "wan22") else tf.CONTEXT)


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_every_widget_at_its_default_samples_with_the_familys_template(family, small_models, monkeypatch):
    steps, cfg, sampler, scheduler, area = TEMPLATES[family]
    model, vae, cond = build(family, small_models)
    seen = first_sampler_call(monkeypatch, model, vae, cond)
    assert (seen["steps"], seen["cfg"], seen["sampler_name"], seen["scheduler"]) == (steps, cfg, sampler, scheduler)
    h, w = seen["latent"][-2:]
    ratio = vae.spacial_compression_encode()
    crop_area = h * ratio * w * ratio
    assert abs(crop_area - area) / area < 0.1, (family, seen["latent"])


def test_a_value_the_user_sets_wins(small_models, monkeypatch):
    model, vae, cond = build("sd15", small_models)
    seen = first_sampler_call(monkeypatch, model, vae, cond, steps=3, cfg=2.5, sampler_name="heun",
                              scheduler="karras", target_megapixels=0.5625)
    assert (seen["steps"], seen["cfg"], seen["sampler_name"], seen["scheduler"]) == (3, 2.5, "heun", "karras")
    h, w = seen["latent"][-2:]
    assert abs(h * 8 * w * 8 - 768 * 768) / (768 * 768) < 0.1


WIDGET_TYPES = ("INT", "FLOAT", "STRING", "COMBO", "BOOLEAN")


def saved_widgets(name: str) -> dict:
    """The Inpainter's widget values a shipped example workflow stores, by name (positional widgets_values: the
    schema's widget inputs in order, `seed` followed by its control_after_generate value)."""
    from pathlib import Path

    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter

    workflow = json.loads((Path(__file__).resolve().parents[2] / "example_workflows" / name).read_text())
    (node,) = [n for n in workflow["nodes"] if n["type"] == "FFI_FluxFillInpainter"]
    values = list(node["widgets_values"])
    out = {}
    for spec in FluxFillInpainter.define_schema().inputs:
        if spec.optional or spec.get_io_type() not in WIDGET_TYPES:
            continue
        out[spec.id] = values.pop(0)
        if getattr(spec, "control_after_generate", False):
            values.pop(0)
    assert not values, f"{name}: {len(values)} widget values left over"
    return out


@pytest.mark.parametrize("workflow, family", [("sd15_inpaint.json", "sd15"), ("flux_fill_inpaint.json", "flux_fill")])
def test_a_saved_example_workflow_samples_with_the_values_it_stores(workflow, family, small_models, monkeypatch):
    stored = saved_widgets(workflow)
    model, vae, cond = build(family, small_models)
    seen = first_sampler_call(monkeypatch, model, vae, cond, **stored)
    assert (seen["steps"], seen["cfg"], seen["sampler_name"], seen["scheduler"]) == (
        stored["steps"], stored["cfg"], stored["sampler_name"], stored["scheduler"])
    h, w = seen["latent"][-2:]
    area = stored["target_megapixels"] * 1024 * 1024
    assert abs(h * 8 * w * 8 - area) / area < 0.1


def test_a_run_at_the_defaults_names_the_settings_it_used(small_models, spy):
    """SD 1.5 end to end at every default: 512² crops, cfg 8, 20 steps; the UI message names the settings."""
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter

    image, mask = scene()
    model, vae, cond = build("sd15", small_models)
    start = time.monotonic()
    out = run_node(FluxFillInpainter, **(schema_defaults() | dict(model=model, vae=vae, image=image, mask=mask,
                                                                 condition=cond)))
    assert time.monotonic() - start < 300
    assert [(c["sampler_name"], c["latent_image"].shape[-2:]) for c in spy.calls] == [("euler", (64, 64))]
    used = json.loads(out.ui["ffi_settings"][0])
    assert used == {"family": "sd15", "steps": 20, "cfg": 8.0, "sampler_name": "euler", "scheduler": "normal",
                    "guidance": None, "target_megapixels": 0.25,
                    "automatic": ["steps", "cfg", "sampler_name", "scheduler", "target_megapixels"]}
    assert json.loads(out.result[7])["regions"][0]["target"] == [512, 512]
