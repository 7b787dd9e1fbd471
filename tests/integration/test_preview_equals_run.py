"""Preview = run: the crop-preview route plans for the connected model's family (the loader's file, read without
its weights, or the family the page sends) and the edit mode's sizes, at the node's default (automatic) crop
size, and its plan equals the node's `regions` output for Flux Fill, SD 1.5 and Flux Kontext reference mode."""

from __future__ import annotations

import json

import pytest
import tiny_families as tf
from node_calls import inpaint
from tiny_models import FLUX_DEV_FILE, FLUX_FILL_FILE, SD15_INPAINT_FILE

WIDGETS = {"context": 1.0, "grow": 0, "feather": 16, "target_megapixels": 0.0}  # the node's defaults


@pytest.fixture(scope="module")
def photo(comfy) -> str:
    """A photo with two painted areas (alpha 0, as the MaskEditor saves them) of different aspects."""
    import folder_paths
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 255, (96, 320, 3), dtype=np.uint8)
    alpha = np.full((96, 320), 255, np.uint8)
    alpha[20:44, 16:40] = 0
    alpha[40:70, 230:300] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(f"{folder_paths.get_input_directory()}/ffi_preview_run.png")
    return "ffi_preview_run.png"


def node_plan(models, name: str, option_values: dict | None) -> dict:
    from fluxfill_inpainter.nodes.options import build_options

    import nodes

    image, mask = nodes.LoadImage().load_image(name)
    options = build_options(**option_values) if option_values else None
    out = inpaint(models, image, mask, options=options, denoise=0.0, **WIDGETS)
    return json.loads(out.result[7])


CASES = {
    "flux_fill": ({"model_file": {"loader": "UNETLoader", "name": FLUX_FILL_FILE}}, None, 16),
    "sd15": ({"model_file": {"loader": "CheckpointLoaderSimple", "name": SD15_INPAINT_FILE}}, None, 8),
    "flux_kontext_reference": ({"model_file": {"loader": "UNETLoader", "name": FLUX_DEV_FILE}},
                               {"mode": "reference", "merge_gap": 0}, 16),
}


def models_for(case: str, small_models):
    if case == "flux_fill":
        return small_models
    if case == "sd15":
        return tf.sd15_plain(), tf.sd_vae(), small_models[2]
    return tf.flux_dev(), tf.flux_vae(), small_models[2]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_preview_plans_what_the_node_runs(case, small_models, photo):
    from fluxfill_inpainter.nodes.plan_preview_route import plan_preview

    model_spec, option_values, multiple = CASES[case]
    expected = node_plan(models_for(case, small_models), photo, option_values)
    assert expected["regions"]
    got = json.loads(json.dumps(plan_preview({"image": photo, **WIDGETS, "options": option_values, **model_spec})))
    assert got.pop("planned_for")["from"] == "file"
    assert got == expected
    assert all(side % multiple == 0 for r in got["regions"] for side in r["target"])
    if case == "flux_kontext_reference":  # Kontext's trained sizes (the host's list), not the box's aspect
        from comfy_extras.nodes_flux import PREFERED_KONTEXT_RESOLUTIONS

        assert all(tuple(r["target"]) in set(PREFERED_KONTEXT_RESOLUTIONS) for r in got["regions"])


def test_a_family_the_page_sends_and_what_is_assumed_without_one(photo):
    from fluxfill_inpainter.nodes.plan_preview_route import plan_preview

    sd = plan_preview({"image": photo, **WIDGETS, "family": "sd15"})
    assert sd["planned_for"] == {"family": "sd15", "from": "page", "multiple": 8}
    assumed = plan_preview({"image": photo, **WIDGETS})
    assert assumed["planned_for"] == {"family": "flux_fill", "from": "assumed", "multiple": 16}
    areas = [[r["target"][0] * r["target"][1] for r in plan["regions"]] for plan in (sd, assumed)]
    assert all(a < b for a, b in zip(*areas, strict=True))  # SD 1.5's 512² native area, not Flux's 1024²
