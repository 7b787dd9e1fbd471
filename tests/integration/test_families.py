"""Every model family through the FluxFill Inpainter, on tiny small-config models built from ComfyUI's
own classes (tests/tiny_families.py): 2 regions x batch 2, right sizes, bit-exact outside the user's
mask + feather band, the conditioning the family table (nodes/family.py) promises reaching the model's
`extra_conds`, guidance and negative as the table says."""

from __future__ import annotations

import json

import pytest
import tiny_families as tf
import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FEATHER = 4
VARIANTS = 2


def two_blobs(h: int = 64, w: int = 192, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, h, w, 3, generator=g)
    mask = torch.zeros(1, h, w)
    mask[:, 20:40, 10:34] = 1.0
    mask[:, 24:44, 150:178] = 1.0
    return image, mask


class ConditionSpy:
    """Records what the model's `extra_conds` got and built (model.clone() shares model.model)."""

    def __init__(self, monkeypatch, model):
        base = model.model
        self.calls: list[dict] = []
        real = base.extra_conds

        def spy(**kwargs):
            out = real(**kwargs)
            self.calls.append({"kwargs": kwargs, "out": out})
            return out

        monkeypatch.setattr(base, "extra_conds", spy)

    def out_keys(self) -> set[str]:
        return set().union(*(c["out"].keys() for c in self.calls))

    def guidance(self) -> set[float]:
        """Guidance the model built for the positive (the zeroed negative is never read at cfg 1)."""
        return {float(c["out"]["guidance"].cond.flatten()[0]) for c in self.calls
                if "guidance" in c["out"] and c["kwargs"]["cross_attn"].any()}


@pytest.fixture(scope="module")
def clip(small_models):
    return small_models[2]


def run(model, vae, *, cfg: float = 1.0, clip=None, cond=None, options=None, **kw):
    image, mask = two_blobs()
    inputs = dict(steps=1, cfg=cfg, guidance=0.0, batch_size=VARIANTS, feather=FEATHER, sampler_name="euler",
                  scheduler="simple")
    inputs.update(kw)
    if cond is not None:
        inputs["condition"] = cond
    out = inpaint((model, vae, clip), image, mask, options=options or small_options(merge_gap=0), clip=clip is not None,
                  **inputs).result
    return image, mask, out


def check_outputs(image, mask, out, regions: int = 2) -> None:
    result = out[0]
    assert result.shape == (VARIANTS, *image.shape[1:]) and torch.isfinite(result).all()
    assert_untouched_outside(result, image, mask, reach=FEATHER, variants=VARIANTS)
    assert len(json.loads(out[7])["regions"]) == regions


def sampled_negatives(spy) -> list:
    return [call["negative"][0][0] for call in spy.calls]


# family builder, VAE builder, expected: (model output keys that must / must not appear, guidance, path)
CASES = {
    "flux": (tf.flux_dev, tf.flux_vae, {"guidance"}, {"c_concat", "ref_latents"}, 3.5),
    "flux2": (tf.flux2, tf.flux2_vae, {"guidance", "ref_latents"}, {"c_concat"}, 4.0),
    "chroma": (tf.chroma, tf.flux_vae, set(), {"c_concat", "ref_latents"}, 0.0),
    "z_image": (tf.z_image, tf.flux_vae, set(), {"c_concat", "ref_latents", "guidance"}, None),
    "sdxl": (tf.sdxl_inpaint, tf.sd_vae, {"c_concat"}, {"ref_latents", "guidance"}, None),
    "sd15": (tf.sd15_plain, tf.sd_vae, set(), {"c_concat", "ref_latents", "guidance"}, None),
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_family_runs_its_table_path(family, comfy, spy, monkeypatch):
    from fluxfill_inpainter.nodes.family import FAMILIES, model_traits

    build, build_vae, present, absent, guidance = CASES[family]
    model, vae = build(), build_vae()
    traits = model_traits(model, vae, "test")
    row = next(f for f in FAMILIES if f.name == family)
    assert traits.family == family and traits.multiple == (8 if family.startswith("sd") else 16)
    assert traits.default_guidance == (row.guidance if traits.guidance_embed else None)
    seen = ConditionSpy(monkeypatch, model)
    cond = tf.condition()
    image, mask, out = run(model, vae, cond=cond)
    check_outputs(image, mask, out)
    keys = seen.out_keys()
    assert present <= keys and not (absent & keys), (family, sorted(keys))
    if guidance is not None:
        assert seen.guidance() == {guidance}
    # the positive reaching the sampler carries the family's guidance only where the model reads one
    assert {("guidance" in c["positive"][0][1]) for c in spy.calls} == {traits.guidance_embed}
    # cfg 1 (distilled families, as their templates run them): the negative is never read, zeroed
    assert all(not n.any() for n in sampled_negatives(spy))


def test_guidance_set_upstream_is_kept_and_the_widget_wins(comfy, spy, monkeypatch):
    import node_helpers

    model, vae = tf.flux_dev(), tf.flux_vae()
    seen = ConditionSpy(monkeypatch, model)
    upstream = node_helpers.conditioning_set_values(tf.condition(), {"guidance": 2.0})
    run(model, vae, cond=upstream)
    assert seen.guidance() == {2.0}
    seen.calls.clear()
    run(model, vae, cond=upstream, guidance=5.0)
    assert seen.guidance() == {5.0}


@pytest.mark.parametrize("family", ["chroma", "sdxl"])
def test_cfg_families_get_the_empty_prompt_as_negative(family, comfy, clip, spy):
    """Chroma (template CFG 3.5) and SD (7): with `clip` connected the negative is "" through clip, also
    when the positive comes from `condition`."""
    from fluxfill_inpainter.nodes.family import FAMILIES

    import nodes

    row = next(f for f in FAMILIES if f.name == family)
    assert row.real_negative and row.cfg > 1
    build, build_vae = CASES[family][:2]
    image, mask, out = run(build(), build_vae(), cfg=row.cfg, clip=clip, cond=tf.condition())
    check_outputs(image, mask, out)
    (empty,) = nodes.CLIPTextEncode().encode(clip, "")
    for negative in sampled_negatives(spy):
        torch.testing.assert_close(negative, empty[0][0])
