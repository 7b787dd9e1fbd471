"""Every model family through the FluxFill Inpainter, on tiny small-config models built from ComfyUI's
own classes (tests/tiny_families.py): 2 regions x batch 2, right sizes, bit-exact outside the user's
mask + feather band, the conditioning the family table (nodes/family.py) promises reaching the model's
`extra_conds`, guidance and negative as the table says."""

from __future__ import annotations

import pytest
import tiny_families as tf
import torch
from family_calls import ConditionSpy, check_outputs, run, sampled_negatives


@pytest.fixture(scope="module")
def clip(small_models):
    return small_models[2]


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


def test_readme_table_matches_the_code_table(comfy):
    """README's "Model families" rows say what nodes/family.py FAMILIES says (template, guidance, cfg /
    steps / sampler / scheduler and native size, which automatic settings pick, negative)."""
    import re
    from pathlib import Path

    from fluxfill_inpainter.nodes.family import FAMILIES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = readme.split("### Model families", 1)[1].split("\n\n")
    table = next(b.strip() for b in blocks if b.strip().startswith("| family"))
    rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in table.splitlines()[2:]]
    by_template = {re.split("[,;]", cells[7].replace("`", ""))[0].strip(): cells for cells in rows}
    assert len(rows) == len(FAMILIES)
    for family in FAMILIES:
        cells = by_template.get(re.split("[,;]", family.template)[0].strip())
        assert cells is not None, f"README has no row for {family.name} ({family.template})"
        assert cells[4] == f"{family.cfg:g} / {family.steps} / {family.sampler} / {family.scheduler}", family.name
        guidance = cells[3]
        assert guidance.startswith("none") if family.guidance is None else guidance.startswith(f"{family.guidance:g}")
        assert ("empty prompt" in cells[6]) == family.real_negative, family.name
        width, height = family.native  # what automatic target_megapixels picks (nodes/auto_settings.py)
        assert cells[5].startswith(f"{width}²" if width == height else f"{width}×{height}"), family.name
