"""Tiny but architecturally real models, built from ComfyUI's own classes with seeded random weights.

Two families:
- Loader-detectable files (`write_tiny_models`): a Flux Fill (in_channels 96, hidden 3072, one
  double + one single block, context/vec 768), a Flux dev-shaped model without inpaint channels, a
  16-channel Flux VAE and a CLIP-L text encoder, as safetensors that `UNETLoader`, `VAELoader` and
  `CLIPLoader(type=stable_diffusion)` detect like the real files; and an SD 1.5 inpainting
  checkpoint (UNet in_channels 9 + CLIP-L + 4-channel SD VAE in one file, with a real checkpoint's
  key prefixes) that `CheckpointLoaderSimple` detects as SD15 inpaint.
- Small in-process variants (`small_flux_patcher`, `small_flux_vae`): any hidden size and a
  narrow VAE, for fast tests that never touch a loader.

Random weights produce noise images: only pixels composited back from the original stay exact.
Requires ComfyUI importable (see `comfy_host.boot_comfy`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

# Bump when the generated weights change, so caches are rebuilt.
WEIGHTS_VERSION = "1"
CLIP_CONTEXT_DIM = 768

FLUX_FILL_FILE = "ffi_tiny_flux_fill.safetensors"
FLUX_DEV_FILE = "ffi_tiny_flux_dev.safetensors"
FLUX_VAE_FILE = "ffi_tiny_flux_vae.safetensors"
CLIP_L_FILE = "ffi_tiny_clip_l.safetensors"
SD15_INPAINT_FILE = "ffi_tiny_sd15_inpaint.safetensors"
LAMA_FILE = "ffi_tiny_lama.safetensors"  # tests/tiny_fill_model.py

# folder under ComfyUI's models/ that each file belongs to
MODEL_FOLDERS = {
    FLUX_FILL_FILE: "diffusion_models",
    FLUX_DEV_FILE: "diffusion_models",
    FLUX_VAE_FILE: "vae",
    CLIP_L_FILE: "text_encoders",
    SD15_INPAINT_FILE: "checkpoints",
    LAMA_FILE: "inpaint",
}


def host_params(params: str, config: dict, **newer) -> dict:
    """`config` plus the entries of `newer` that this host's params dataclass (`flux` FluxParams, `chroma`
    ChromaParams) has: fields later ComfyUI added (0.8.0: `txt_ids_dims`; Chroma's `vec_in_dim`), with the
    values the host's own model detection gives the real models."""
    import dataclasses

    import comfy.ldm.chroma.model
    import comfy.ldm.flux.model

    cls = {"flux": comfy.ldm.flux.model.FluxParams, "chroma": comfy.ldm.chroma.model.ChromaParams}[params]
    fields = {f.name for f in dataclasses.fields(cls)}
    return config | {k: v for k, v in newer.items() if k in fields}


def flux_kwargs(in_channels: int, hidden: int = 3072, heads: int = 24,
                axes_dim: tuple[int, ...] = (16, 56, 56), context_dim: int = CLIP_CONTEXT_DIM) -> dict:
    return host_params("flux", dict(
        image_model="flux", in_channels=in_channels, out_channels=16, vec_in_dim=CLIP_CONTEXT_DIM,
        context_in_dim=context_dim, hidden_size=hidden, mlp_ratio=4.0, num_heads=heads, depth=1,
        depth_single_blocks=1, axes_dim=list(axes_dim), theta=10000, patch_size=2, qkv_bias=True,
        guidance_embed=True,
    ), txt_ids_dims=[])


FLUX_VAE_DDCONFIG = {
    "double_z": True, "z_channels": 16, "resolution": 256, "in_channels": 3, "out_ch": 3,
    "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
}


def _seeded_value(name: str, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """A random value for one parameter that keeps activations of a deep random net finite."""
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 0:
        return torch.zeros(())
    if leaf in ("scale",) or (leaf == "weight" and len(shape) == 1):
        return torch.ones(shape)  # RMSNorm / LayerNorm / GroupNorm gains
    if leaf == "bias":
        return torch.randn(shape, generator=generator) * 0.02
    if "embedding" in name:
        return torch.randn(shape, generator=generator) * 0.02
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return torch.randn(shape, generator=generator) / math.sqrt(max(fan_in, 1))


def random_state_dict(module: torch.nn.Module, seed: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Seeded random values for every tensor of a (meta-device) module, keyed as it names them."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in module.state_dict().items():
        out[name] = _seeded_value(name, tensor.shape, generator).to(dtype).contiguous()
    return out


def flux_state_dict(in_channels: int, seed: int, dtype: torch.dtype = torch.bfloat16,
                    **overrides) -> dict[str, torch.Tensor]:
    import comfy.ldm.flux.model
    import comfy.ops

    kwargs = flux_kwargs(in_channels, **overrides)
    model = comfy.ldm.flux.model.Flux(dtype=dtype, device="meta",
                                      operations=comfy.ops.disable_weight_init, **kwargs)
    return random_state_dict(model, seed, dtype)


def flux_vae_state_dict(seed: int, ch: int = 128, dtype: torch.dtype = torch.float16
                        ) -> dict[str, torch.Tensor]:
    from comfy.ldm.models.autoencoder import AutoencodingEngine

    ddconfig = dict(FLUX_VAE_DDCONFIG, ch=ch)
    with torch.device("meta"):
        model = AutoencodingEngine(
            regularizer_config={"target": "comfy.ldm.models.autoencoder.DiagonalGaussianRegularizer"},
            encoder_config={"target": "comfy.ldm.modules.diffusionmodules.model.Encoder", "params": ddconfig},
            decoder_config={"target": "comfy.ldm.modules.diffusionmodules.model.Decoder", "params": ddconfig},
        )
    return random_state_dict(model, seed, dtype)


def clip_l_state_dict(seed: int, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    import comfy.clip_model
    import comfy.ops
    import comfy.sd1_clip

    config_path = Path(comfy.sd1_clip.__file__).parent / "sd1_clip_config.json"
    config = json.loads(config_path.read_text())
    model = comfy.clip_model.CLIPTextModel(config, dtype, "meta", comfy.ops.disable_weight_init)
    sd = random_state_dict(model, seed, dtype)
    # positions are looked up by index: keep the ids buffer if the module registers one
    return {k: v for k, v in sd.items() if not k.endswith("position_ids")}


# The smallest UNet that model_detection.detect_unet_config + supported_models.SD15 still read as
# SD 1.5: SD15 pins only model_channels 320, context_dim 768 (so at least one cross-attention
# transformer), use_linear_in_transformer False, no adm and no temporal layers. Depth is free, so
# one level (no downsampling), one res block with a depth-1 transformer, no middle block (detected
# as transformer_depth_middle -2). in_channels 9 = 4 noise + 1 mask + 4 masked-image latent.
SD15_INPAINT_UNET_CONFIG = {
    "use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": None, "in_channels": 9, "out_channels": 4, "model_channels": 320,
    "num_res_blocks": [1], "transformer_depth": [1], "transformer_depth_output": [1, 1],
    "channel_mult": [1], "transformer_depth_middle": -2, "use_linear_in_transformer": False,
    "context_dim": CLIP_CONTEXT_DIM, "use_temporal_resblock": False, "use_temporal_attention": False,
    "num_heads": 8, "num_head_channels": -1,
}
# The SD 1.x VAE as comfy.sd.VAE builds it for a checkpoint (its widths are fixed there).
SD_VAE_DDCONFIG = dict(FLUX_VAE_DDCONFIG, z_channels=4)


def sd15_unet_state_dict(seed: int, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    model = UNetModel(**SD15_INPAINT_UNET_CONFIG, dtype=dtype, device="meta",
                      operations=comfy.ops.disable_weight_init)
    return random_state_dict(model, seed, dtype)


def sd_vae_state_dict(seed: int, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """The 4-channel SD VAE (AutoencoderKL with quant_conv / post_quant_conv, as in SD 1.5 files)."""
    from comfy.ldm.models.autoencoder import AutoencoderKL

    with torch.device("meta"):
        model = AutoencoderKL(ddconfig=SD_VAE_DDCONFIG, embed_dim=4)
    return random_state_dict(model, seed, dtype)


def sd15_inpaint_checkpoint(seed: int, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """One SD 1.5 inpainting checkpoint: UNet, CLIP-L and VAE under a real checkpoint's prefixes."""
    parts = (
        ("model.diffusion_model.", sd15_unet_state_dict(seed, dtype)),
        # (a real SD 1.5 file has no text_projection: SD1ClipModel does not use it)
        ("cond_stage_model.transformer.", {k: v for k, v in clip_l_state_dict(seed + 1, dtype).items()
                                           if k.startswith("text_model.")}),
        ("first_stage_model.", sd_vae_state_dict(seed + 2, dtype)),
    )
    return {prefix + k: v for prefix, sd in parts for k, v in sd.items()}


def _builders() -> dict:
    from tiny_fill_model import lama_state_dict

    return {
        FLUX_FILL_FILE: lambda: flux_state_dict(96, seed=1),
        FLUX_DEV_FILE: lambda: flux_state_dict(16, seed=2),
        FLUX_VAE_FILE: lambda: flux_vae_state_dict(seed=3),
        CLIP_L_FILE: lambda: clip_l_state_dict(seed=4),
        SD15_INPAINT_FILE: lambda: sd15_inpaint_checkpoint(seed=5),
        LAMA_FILE: lambda: lama_state_dict(seed=6),
    }


def write_tiny_models(models_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write (once; cached by WEIGHTS_VERSION) the loader-detectable tiny models under models_dir.

    Returns file name -> path; each file lies in the ComfyUI model folder its loader reads.
    """
    return write_cached(models_dir, _builders(), MODEL_FOLDERS, WEIGHTS_VERSION, names)


def write_cached(models_dir: Path, builders: dict, folders: dict[str, str], version: str,
                 names: list[str] | None = None) -> dict[str, Path]:
    """Write each builders[name]() to models_dir/folders[name]/name unless a file stamped `version` is there."""
    from safetensors.torch import save_file

    paths = {}
    for name, build in builders.items():
        if names is not None and name not in names:
            continue
        folder = models_dir / folders[name]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        stamp = path.with_suffix(".version")
        if not (path.exists() and stamp.exists() and stamp.read_text() == version):
            tmp = path.with_suffix(".tmp")
            save_file(build(), str(tmp), metadata={"ffi_tiny": version})
            tmp.replace(path)
            stamp.write_text(version)
        paths[name] = path
    return paths


def link_models(cache_models: Path, base_models: Path, folders: dict[str, str] | None = None) -> None:
    """Expose cached model files inside a ComfyUI base directory's models/ (symlinks, no copies)."""
    for name, folder in (folders or MODEL_FOLDERS).items():
        src = cache_models / folder / name
        if not src.exists():
            continue
        dst = base_models / folder / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            dst.symlink_to(src)


def small_flux_patcher(in_channels: int = 96, hidden: int = 128, heads: int = 2,
                       axes_dim: tuple[int, ...] = (16, 24, 24), seed: int = 11):
    """A ModelPatcher around `comfy.model_base.Flux` of a small config, built as the loader would."""
    import comfy.model_detection
    import comfy.model_management
    import comfy.model_patcher

    sd = flux_state_dict(in_channels, seed=seed, dtype=torch.float32, hidden=hidden, heads=heads,
                         axes_dim=axes_dim)
    unet_config = comfy.model_detection.detect_unet_config(sd, "")
    unet_config.update(num_heads=heads, axes_dim=list(axes_dim))
    model_config = comfy.model_detection.model_config_from_unet_config(unet_config, sd)
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model(sd, "")
    model.load_model_weights(sd, "")
    return comfy.model_patcher.ModelPatcher(
        model, load_device=comfy.model_management.get_torch_device(),
        offload_device=comfy.model_management.unet_offload_device(),
    )


def small_flux_vae(ch: int = 32, seed: int = 12):
    """A 16-channel, Flux-layout VAE of narrow width, as a real `comfy.sd.VAE`.

    Built through `comfy.sd.VAE(config=...)` (AutoencoderKL with the given ddconfig), the host's
    own path for VAEs it cannot detect; the detector would force the full width of 128.
    """
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    params = {"ddconfig": dict(FLUX_VAE_DDCONFIG, ch=ch), "embed_dim": 16}
    with torch.device("meta"):
        meta = AutoencoderKL(**params)
    vae = comfy.sd.VAE(sd=random_state_dict(meta, seed, torch.float32), config={"params": params})
    vae.latent_channels = 16
    return vae


def _ids(graph: dict, class_type: str) -> list[str]:
    return [k for k, v in graph.items() if v["class_type"] == class_type]


def swap_in_tiny_models(graph: dict, steps: int = 4, target_mp: float = 0.25) -> None:
    """Point the workflow's loaders at the tiny models and keep the crop small enough for a CPU."""
    for nid in _ids(graph, "UNETLoader"):
        graph[nid]["inputs"]["unet_name"] = FLUX_FILL_FILE
    for nid in _ids(graph, "CheckpointLoaderSimple"):
        graph[nid]["inputs"]["ckpt_name"] = SD15_INPAINT_FILE
    for nid in _ids(graph, "VAELoader"):
        graph[nid]["inputs"]["vae_name"] = FLUX_VAE_FILE
    for nid in _ids(graph, "DualCLIPLoader"):
        graph[nid] = {"class_type": "CLIPLoader",
                      "inputs": {"clip_name": CLIP_L_FILE, "type": "stable_diffusion", "device": "default"}}
    for nid in _ids(graph, "FFI_FluxFillInpainter"):
        graph[nid]["inputs"].update(steps=steps, target_megapixels=target_mp)
    for nid in _ids(graph, "FFI_FillModelLoader"):
        graph[nid]["inputs"]["model_name"] = LAMA_FILE
