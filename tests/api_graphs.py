"""API-format graphs used by the end-to-end tests (node ids are strings, links are [id, output])."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from tiny_models import CLIP_L_FILE, FLUX_FILL_FILE, FLUX_VAE_FILE


def loaders(unet: str = FLUX_FILL_FILE) -> dict:
    return {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": FLUX_VAE_FILE}},
        "clip": {"class_type": "CLIPLoader",
                 "inputs": {"clip_name": CLIP_L_FILE, "type": "stable_diffusion", "device": "default"}},
    }


def load_image_and_mask(image_name: str, mask_name: str) -> dict:
    return {
        "load_image": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "load_mask": {"class_type": "LoadImageMask", "inputs": {"image": mask_name, "channel": "red"}},
    }


def stock_inpaint_graph(image_name: str, mask_name: str, seed: int = 1, steps: int = 2) -> dict:
    """The five-node graph users wire today, on the full image."""
    graph = loaders() | load_image_and_mask(image_name, mask_name)
    graph |= {
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["clip", 0], "text": "a red apple"}},
        "neg": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["pos", 0]}},
        "dd": {"class_type": "DifferentialDiffusion", "inputs": {"model": ["unet", 0]}},
        "cond": {"class_type": "InpaintModelConditioning",
                 "inputs": {"positive": ["pos", 0], "negative": ["neg", 0], "vae": ["vae", 0],
                            "pixels": ["load_image", 0], "mask": ["load_mask", 0], "noise_mask": True}},
        "sampler": {"class_type": "KSampler",
                    "inputs": {"model": ["dd", 0], "seed": seed, "steps": steps, "cfg": 1.0,
                               "sampler_name": "euler", "scheduler": "simple", "positive": ["cond", 0],
                               "negative": ["cond", 1], "latent_image": ["cond", 2], "denoise": 1.0}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sampler", 0], "vae": ["vae", 0]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": "ffi_stock"}},
    }
    return graph


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


def upload_inputs(client) -> dict:
    """A random 128x96 image, a rectangle mask and a mask of another aspect, uploaded to the server."""
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
