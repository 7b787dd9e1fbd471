"""FluxFill Inpainter through a real ComfyUI server: upload, queue over HTTP, fetch with /view."""

from __future__ import annotations

import io

import numpy as np
import pytest
from api_graphs import load_image_and_mask, loaders
from comfy_host import ExecutionError
from PIL import Image

H, W = 96, 128


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def inpainter_graph(client, image_name: str, mask_name: str, *, batch_size: int = 1, seed: int = 3, clip: bool = True,
                    text: str = "a red apple") -> dict:
    graph = loaders() | load_image_and_mask(image_name, mask_name)
    inputs = {"model": ["unet", 0], "vae": ["vae", 0], "image": ["load_image", 0], "mask": ["load_mask", 0],
              "text": text, "seed": seed, "steps": 2, "cfg": 1.0, "sampler_name": "euler",
              "scheduler": "simple", "denoise": 1.0, "noise_mask": True, "batch_size": batch_size,
              "differential_attention": True, "guidance": 30.0, "dd_strength": 1.0, "context": 1.0, "grow": 2,
              "feather": 6, "target_megapixels": 0.02, "options": ["options", 0]}
    if clip:
        inputs["clip"] = ["clip", 0]
    graph |= {
        "options": {"class_type": "FFI_InpaintOptions",
                    "inputs": {"min_side": 64, "max_side": 256, "min_crop": 32, "min_context": 8}},
        "inpaint": {"class_type": "FFI_FluxFillInpainter", "inputs": inputs},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["inpaint", 0], "filename_prefix": "ffi_e2e"}},
        "mask_image": {"class_type": "MaskToImage", "inputs": {"mask": ["inpaint", 2]}},
        "save_mask": {"class_type": "SaveImage",
                      "inputs": {"images": ["mask_image", 0], "filename_prefix": "ffi_e2e_mask"}},
    }
    return client.with_defaults(graph)


@pytest.fixture(scope="module")
def uploaded(comfy_server):
    client = comfy_server.client()
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W, 3), dtype=np.uint8)
    mask[30:60, 40:90] = 255
    odd_mask = np.zeros((H, H, 3), dtype=np.uint8)
    odd_mask[10:20, 10:20] = 255
    return {"image": image, "mask": mask,
            "image_name": client.upload_image(png(image), "e2e_image.png"),
            "mask_name": client.upload_image(png(mask), "e2e_mask.png"),
            "odd_mask_name": client.upload_image(png(odd_mask), "e2e_odd_mask.png")}


def test_outside_the_composite_mask_the_png_is_byte_identical(comfy_client, uploaded):
    entry = comfy_client.run(inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], batch_size=3))
    results = [decode(b) for b in comfy_client.images(entry, "save")]
    (composite,) = [decode(b)[..., 0] for b in comfy_client.images(entry, "save_mask")][:1]
    assert len(results) == 3
    image, mask = uploaded["image"], uploaded["mask"][..., 0] > 0
    outside = composite == 0
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
