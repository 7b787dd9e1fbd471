"""Properties of the FluxFill Inpainter over random images, masks and options (hypothesis).

`derandomize=True` makes the examples a fixed function of the test, so every run (and CI) checks the same
cases; a failure reproduces exactly.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_calls import inpaint, outside_band, small_options
from scipy.ndimage import binary_fill_holes

PROPERTY_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def cases(draw):
    batch = draw(st.integers(1, 2))
    h, w = draw(st.integers(8, 72)), draw(st.integers(8, 72))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, h, w, draw(st.sampled_from([1, 3, 4])), generator=g)
    mask = torch.zeros(batch, h, w)
    for b in range(batch):
        for _ in range(draw(st.integers(0, 3))):
            y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
            mask[b, y0:y1, x0:x1] = draw(st.sampled_from([1.0, 0.98, 0.6, 0.3]))
    widgets = dict(grow=draw(st.integers(-3, 6)), feather=draw(st.integers(0, 10)),
                   context=draw(st.sampled_from([0.25, 1.0, 2.0])), batch_size=draw(st.integers(1, 2)),
                   seed=seed, differential_attention=draw(st.booleans()), noise_mask=draw(st.booleans()))
    options = small_options(merge_gap=draw(st.sampled_from([0, 32])), fill_holes=draw(st.booleans()),
                            color_correct=draw(st.booleans()), shared_target=draw(st.booleans()))
    return image, mask, widgets, options


@pytest.fixture(scope="module")
def condition(small_models):
    """The prompt encoded once: text encoding is not under test here and costs seconds per call."""
    import nodes

    return nodes.CLIPTextEncode().encode(small_models[2], "a red apple")[0]


@PROPERTY_SETTINGS
@given(case=cases())
def test_node_properties(small_models, condition, case):
    image, mask, widgets, options = case
    model = small_models[0]
    image_before, mask_before = image.clone(), mask.clone()
    model_options_before = copy.deepcopy(model.model_options)

    out = inpaint(small_models, image, mask, options=options, steps=1, condition=condition, clip=False,
                  **widgets).result
    result, composite, regions = out[0], out[2], json.loads(out[7])
    variants = widgets["batch_size"]

    assert result.shape == (image.shape[0] * variants, *image.shape[1:])
    assert torch.isfinite(result).all()
    assert composite.shape == (mask.shape[0] * variants, *mask.shape[1:])
    # oracle from the user's mask: outside it grown by grow + feather (holes filled first when asked)
    user = mask >= 0.1
    if options.mask.fill_holes:
        user = torch.from_numpy(np.stack([binary_fill_holes(m.numpy()) for m in user]))
    keep = outside_band(user.float(), max(0, widgets["grow"]) + widgets["feather"]).repeat_interleave(variants, 0)
    assert torch.equal(result[keep], image.repeat_interleave(variants, dim=0)[keep])
    for region in regions["regions"]:
        pad_l, pad_t, pad_r, pad_b = region["pad"]
        x0, y0, x1, y1 = region["box"]
        assert x0 + pad_l >= 0 and y0 + pad_t >= 0
        assert x1 - pad_r <= image.shape[2] and y1 - pad_b <= image.shape[1]
    assert torch.equal(image, image_before) and torch.equal(mask, mask_before)
    assert model.model_options == model_options_before
