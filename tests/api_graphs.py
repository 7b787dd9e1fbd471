"""API-format graphs used by the end-to-end tests (node ids are strings, links are [id, output])."""

from __future__ import annotations

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
