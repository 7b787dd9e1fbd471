"""Every model family whose loader detection accepts a small file, over HTTP through the real loaders.

One ComfyUI server (the session's `comfy_server`); per family an API graph UNETLoader + VAELoader +
CLIPLoader (SDXL: DualCLIPLoader) + LoadImage / LoadImageMask + FluxFill Inpainter + SaveImage, with a
mask of two separate blobs (two regions) and `batch_size` 2. The oracle for "untouched" comes from the
uploaded mask alone. Files: tests/tiny_models.py (Flux) and tests/tiny_checkpoints.py (the others).

Families that cannot run here (README, Development): FLUX.2 (0.3.75 pins it at 48 heads x 128, so the
one double block detection needs is 981 M parameters, the smallest loadable file 1.7 B) and Qwen-Image
(its text width 3584 is not read from the weights, so only the Qwen2.5-VL 7 B text encoder, 7.1 B
parameters at a fixed config, can feed it). They run in-process: tests/integration/test_families.py,
test_qwen_image.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from api_graphs import decode, png
from comfy_host import ComfyClient, ComfyServer
from node_calls import outside_band
from tiny_checkpoints import (
    CHROMA_FILE,
    CLIP_G_FILE,
    SD_VAE_FILE,
    SDXL_INPAINT_FILE,
    Z_IMAGE_FILE,
    link_family_models,
    write_family_models,
)
from tiny_models import CLIP_L_FILE, FLUX_DEV_FILE, FLUX_FILL_FILE, FLUX_VAE_FILE

H, W = 64, 192
GROW, FEATHER = 2, 6
BLOBS = ((slice(20, 40), slice(10, 34)), (slice(24, 44), slice(150, 178)))


@dataclass(frozen=True)
class HttpFamily:
    """What one family's graph loads and how it samples (cfg above 1: the empty-prompt negative)."""

    unet: str
    cfg: float
    multiple: int  # the family's crop multiple: every region's target size is one
    vae: str = FLUX_VAE_FILE
    clip_g: str | None = None  # with CLIP-L through DualCLIPLoader type sdxl
    condition: bool = False  # the prompt through core CLIPTextEncode into `condition` (else `clip` + `text`)


# Chroma samples with cfg 2, so its empty-prompt negative goes through `clip` here; SDXL's (CLIP-G
# encodes at ~7 s a prompt on 2 CPU cores) is checked in-process (test_families.py).
HTTP_FAMILIES = {
    "flux_fill": HttpFamily(FLUX_FILL_FILE, 1.0, 16),
    "flux_dev": HttpFamily(FLUX_DEV_FILE, 1.0, 16, condition=True),
    "chroma": HttpFamily(CHROMA_FILE, 2.0, 16),
    "z_image": HttpFamily(Z_IMAGE_FILE, 1.0, 16),
    "sdxl_inpaint": HttpFamily(SDXL_INPAINT_FILE, 1.0, 8, vae=SD_VAE_FILE, clip_g=CLIP_G_FILE),
}


@pytest.fixture(scope="module")
def family_server(comfy_base: Path, comfy_booted: Path, tiny_model_files: dict, comfy_server: ComfyServer
                  ) -> ComfyServer:
    """The session's server, with the tiny_checkpoints files built (once, cached) and linked in.

    ComfyUI re-lists a model folder when its mtime changes, so files linked after start-up are seen."""
    from comfy_host import MODEL_CACHE

    write_family_models(MODEL_CACHE)
    link_family_models(MODEL_CACHE, comfy_base / "models")
    return comfy_server


@pytest.fixture(scope="module")
def uploaded(family_server: ComfyServer) -> dict:
    client = family_server.client()
    rng = np.random.default_rng(15)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W, 3), dtype=np.uint8)
    for rows, cols in BLOBS:
        mask[rows, cols] = 255
    return {"image": image, "mask": mask[..., 0] > 0,
            "image_name": client.upload_image(png(image), "families_image.png"),
            "mask_name": client.upload_image(png(mask), "families_mask.png")}


def family_graph(client: ComfyClient, family: HttpFamily, image_name: str, mask_name: str, seed: int) -> dict:
    graph = {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": family.unet, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": family.vae}},
        "clip": {"class_type": "CLIPLoader",
                 "inputs": {"clip_name": CLIP_L_FILE, "type": "stable_diffusion", "device": "default"}},
        "load_image": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "load_mask": {"class_type": "LoadImageMask", "inputs": {"image": mask_name, "channel": "red"}},
        "options": {"class_type": "FFI_InpaintOptions",
                    "inputs": {"min_side": 64, "max_side": 128, "min_crop": 32, "min_context": 8,
                                "merge_gap": 0}},
        "inpaint": {"class_type": "FFI_FluxFillInpainter",
                    "inputs": {"model": ["unet", 0], "vae": ["vae", 0], "clip": ["clip", 0],
                               "image": ["load_image", 0], "mask": ["load_mask", 0], "options": ["options", 0],
                               "text": "a red apple", "seed": seed, "steps": 1, "cfg": family.cfg,
                               "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0,
                               "batch_size": 2, "guidance": 0.0, "grow": GROW, "feather": FEATHER,
                               "context": 1.0, "target_megapixels": 0.01}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["inpaint", 0], "filename_prefix": "ffi_family"}},
    }
    if family.clip_g is not None:
        graph["clip"] = {"class_type": "DualCLIPLoader",
                         "inputs": {"clip_name1": CLIP_L_FILE, "clip_name2": family.clip_g, "type": "sdxl",
                                    "device": "default"}}
    if family.condition:
        graph["encode"] = {"class_type": "CLIPTextEncode", "inputs": {"clip": ["clip", 0], "text": "a red apple"}}
        inputs = graph["inpaint"]["inputs"]
        del inputs["clip"]
        inputs["condition"] = ["encode", 0]
    return client.with_defaults(graph)


def test_the_server_lists_the_node_and_every_family_file(family_server: ComfyServer) -> None:
    info = family_server.client().object_info()
    assert info["FFI_FluxFillInpainter"]["display_name"] == "FluxFill Inpainter"
    unets = info["UNETLoader"]["input"]["required"]["unet_name"][0]
    assert {f.unet for f in HTTP_FAMILIES.values()} <= set(unets)


@pytest.mark.parametrize("name", list(HTTP_FAMILIES))
def test_two_regions_batch_two_through_the_real_loaders(family_server: ComfyServer, uploaded: dict, name: str
                                                        ) -> None:
    family = HTTP_FAMILIES[name]
    client = family_server.client()
    graph = family_graph(client, family, uploaded["image_name"], uploaded["mask_name"], seed=40 + len(name))
    try:
        entry = client.run(graph, timeout=900)
    finally:  # the next family loads its own model: free this one's memory
        requests.post(client.url + "/free", json={"unload_models": True, "free_memory": True}, timeout=30)

    results = [decode(b) for b in client.images(entry, "save")]
    image, mask = uploaded["image"], uploaded["mask"]
    assert len(results) == 2 and all(r.shape == image.shape for r in results)

    # oracle from the uploaded mask: farther than grow + feather from it
    outside = outside_band(torch.from_numpy(mask).float()[None], GROW + FEATHER)[0].numpy()
    assert outside.sum() > 0.4 * H * W and not outside[mask].any()
    for result in results:
        assert np.array_equal(result[outside], image[outside])
        assert np.abs(result[mask].astype(int) - image[mask].astype(int)).mean() > 5
    assert not np.array_equal(results[0][mask], results[1][mask])

    (plan,) = entry["outputs"]["inpaint"]["ffi_regions"]
    regions = json.loads(plan)["regions"]
    assert len(regions) == 2
    assert all(side % family.multiple == 0 for r in regions for side in r["target"])
