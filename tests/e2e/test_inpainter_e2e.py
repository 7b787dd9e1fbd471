"""FluxFill Inpainter through a real ComfyUI server: upload, queue over HTTP, fetch with /view."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from api_graphs import H, W, decode, inpainter_graph, png, upload_inputs
from comfy_host import ExecutionError
from node_calls import outside_band


@pytest.fixture(scope="module")
def uploaded(comfy_server):
    return upload_inputs(comfy_server.client())


def test_outside_the_mask_and_its_feather_band_the_png_is_byte_identical(comfy_client, uploaded):
    entry = comfy_client.run(inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], batch_size=3))
    results = [decode(b) for b in comfy_client.images(entry, "save")]
    assert len(results) == 3
    image, mask = uploaded["image"], uploaded["mask"][..., 0] > 0
    # oracle from the uploaded mask: farther than grow + feather (2 + 6, the graph's widgets) from it
    outside = outside_band(torch.from_numpy(mask).float()[None], 2 + 6)[0].numpy()
    assert outside.sum() > 0.5 * H * W and not outside[mask].any()
    for result in results:
        assert result.shape == image.shape
        assert np.array_equal(result[outside], image[outside])
        assert np.abs(result[mask].astype(int) - image[mask].astype(int)).mean() > 5
    assert not np.array_equal(results[0], results[1])


def test_neither_clip_nor_condition_is_an_execution_error_naming_them(comfy_client, uploaded):
    graph = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], clip=False, seed=11)
    with pytest.raises(ExecutionError) as err:
        comfy_client.run(graph)
    message = str(err.value)
    assert "FFI_FluxFillInpainter" in message and "'clip'" in message and "'condition'" in message


def test_mask_that_cannot_be_matched_is_an_execution_error_naming_it(comfy_client, uploaded):
    graph = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["odd_mask_name"], seed=12)
    with pytest.raises(ExecutionError) as err:
        comfy_client.run(graph)
    message = str(err.value)
    assert "FluxFill Inpainter" in message and "'mask'" in message
    assert f"{H}, {H}" in message and f"{H}, {W}" in message


def test_empty_mask_latent_decodes_with_core_vae_decode(comfy_client, uploaded):
    """Nothing to inpaint: the image comes back as it was, and the `latent` output feeds core VAEDecode."""
    empty = comfy_client.upload_image(png(np.zeros((H, W, 3), dtype=np.uint8)), "e2e_empty_mask.png")
    graph = inpainter_graph(comfy_client, uploaded["image_name"], empty, seed=13)
    graph["decode_latent"] = {"class_type": "VAEDecode", "inputs": {"samples": ["inpaint", 1], "vae": ["vae", 0]}}
    graph["save_latent"] = {"class_type": "SaveImage",
                            "inputs": {"images": ["decode_latent", 0], "filename_prefix": "ffi_e2e_empty"}}
    entry = comfy_client.run(graph)
    (result,) = [decode(b) for b in comfy_client.images(entry, "save")]
    assert np.array_equal(result, uploaded["image"])
    (decoded,) = [decode(b) for b in comfy_client.images(entry, "save_latent")]
    assert decoded.shape == (64, 64, 3)
