"""README: a `condition` with parts placed on the full image (ConditioningSetArea, ConditioningSetMask, a
ControlNet hint) is refused, naming them; full-image reference latents pass with a warning. The parts are
made by the host's own core nodes."""

from __future__ import annotations

import logging

import pytest
import tiny_families as tf
import torch
from node_calls import inpaint, small_options


def scene():
    image = torch.rand(1, 48, 64, 3, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, 48, 64)
    mask[:, 12:30, 16:40] = 1.0
    return image, mask


def area(cond):
    import nodes

    return nodes.ConditioningSetArea().append(cond, 64, 64, 0, 0, 1.0)[0]


def masked(cond):
    import nodes

    return nodes.ConditioningSetMask().append(cond, torch.ones(1, 48, 64), "default", 1.0)[0]


def controlled(cond):
    import nodes

    return nodes.ControlNetApply().apply_controlnet(cond, tf.sd15_controlnet(), torch.rand(1, 48, 64, 3), 1.0)[0]


@pytest.mark.parametrize("make, part", [(area, "'area' from ConditioningSetArea"),
                                        (masked, "'mask' from ConditioningSetMask"),
                                        (controlled, "'control' from a ControlNet apply node")])
def test_full_image_parts_are_refused_naming_them(small_models, make, part, spy):
    image, mask = scene()
    with pytest.raises(ValueError) as info:
        inpaint(small_models, image, mask, options=small_options(), clip=False, condition=make(tf.condition()))
    assert "input 'condition'" in str(info.value) and part in str(info.value) and spy.calls == []


def test_full_image_reference_latents_pass_with_a_warning(comfy, caplog):
    from comfy_extras.nodes_edit_model import ReferenceLatent

    latent = {"samples": torch.zeros(1, 16, 6, 8)}
    out = ReferenceLatent.execute(tf.condition(), latent)
    cond = out[0] if isinstance(out, tuple) else out.result[0]
    image, mask = scene()
    with caplog.at_level(logging.WARNING, logger="fluxfill_inpainter"):
        result = inpaint((tf.flux_dev(), tf.flux_vae(), None), image, mask, options=small_options(), clip=False,
                         condition=cond, steps=1)
    assert result.result[0].shape == image.shape
    assert any("reference latents" in r.getMessage() for r in caplog.records)
