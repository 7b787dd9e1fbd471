"""The harness is real: a ComfyUI server starts with the pack and samples on the tiny models."""

from __future__ import annotations

import io

import numpy as np
from api_graphs import stock_inpaint_graph
from PIL import Image

PACK_NODES = {"FFI_FluxFillInpainter", "FFI_InpaintOptions", "FFI_InpaintCrop", "FFI_InpaintStitch"}


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_server_lists_the_pack_nodes(comfy_client):
    info = comfy_client.object_info()
    assert PACK_NODES <= set(info), f"missing: {PACK_NODES - set(info)}"
    main = info["FFI_FluxFillInpainter"]
    assert main["display_name"] == "FluxFill Inpainter"
    required = list(main["input"]["required"])
    assert required[:14] == ["model", "text", "vae", "image", "mask", "seed", "steps", "cfg", "sampler_name",
                             "scheduler", "denoise", "noise_mask", "batch_size", "differential_attention"]
    assert main["output_name"][:6] == ["image", "latent", "mask", "clip", "vae", "seed"]
    for name, spec in main["input"]["required"].items():
        if len(spec) > 1 and isinstance(spec[1], dict) and name not in {"model", "vae", "image", "mask"}:
            assert spec[1].get("tooltip"), f"widget {name} has no tooltip"


def test_stock_inpaint_graph_samples_on_tiny_models(comfy_client):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    mask = np.zeros((96, 128, 3), dtype=np.uint8)
    mask[32:64, 40:88] = 255
    image_name = comfy_client.upload_image(png_bytes(image), "smoke_image.png")
    mask_name = comfy_client.upload_image(png_bytes(mask), "smoke_mask.png")
    entry = comfy_client.run(stock_inpaint_graph(image_name, mask_name), timeout=300)
    assert entry["status"]["status_str"] == "success"
    (png,) = comfy_client.images(entry, "save")
    result = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert result.shape == (96, 128, 3)
    # a random VAE cannot reconstruct the input: sampling really produced new pixels
    assert np.abs(result.astype(int) - image.astype(int)).mean() > 5
