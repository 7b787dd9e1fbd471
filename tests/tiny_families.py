"""Small-config models of every family the pack handles, built in-process from ComfyUI's own classes.

Each diffusion model is the class `comfy.supported_models.<Config>.get_model` builds, from a small
unet config (one or two blocks, narrow widths), filled with seeded random weights; VAEs are real
`comfy.sd.VAE` objects (small widths through `config=`, or the host's own detector for the Wan VAE).
Conditioning matches each model's text width (`context_dim`), so tests pass it through `condition`.
"""

from __future__ import annotations

import torch
from tiny_models import (
    CLIP_CONTEXT_DIM,
    FLUX_VAE_DDCONFIG,
    host_params,
    random_state_dict,
    small_flux_patcher,
    small_flux_vae,
)

CONTEXT = CLIP_CONTEXT_DIM  # every small model reads 768-wide tokens, as the tiny CLIP-L gives


def small_patcher(config_name: str, unet_config: dict, seed: int, after_init: dict | None = None):
    """A ModelPatcher around `comfy.supported_models.<config_name>(unet_config).get_model()`, random weights.

    `after_init` overrides keys the config class forces in (its `unet_extra_config`).
    """
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    model_config = getattr(comfy.supported_models, config_name)(dict(unet_config))
    model_config.unet_config.update(after_init or {})
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({}, "")
    dm = model.diffusion_model
    dm.load_state_dict(random_state_dict(dm, seed, torch.float32))
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def _flux_like(txt_ids_dims: list[int] | None = None, **kw) -> dict:
    base = dict(in_channels=16, out_channels=16, vec_in_dim=CONTEXT, context_in_dim=CONTEXT, hidden_size=64,
                mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000,
                patch_size=2, qkv_bias=True, guidance_embed=True)
    return host_params("flux", base | kw, txt_ids_dims=txt_ids_dims or [])


def flux_dev():
    """FLUX.1 dev layout (16 input channels, guidance embed): the RePaint / reference path."""
    return small_flux_patcher(in_channels=16, hidden=64, heads=2, axes_dim=(8, 12, 12), seed=21)


def flux2():
    """FLUX.2 layout: 128-channel latents, patch 1, 4 rope axes, global modulation."""
    cfg = _flux_like(image_model="flux2", in_channels=128, out_channels=128, patch_size=1, axes_dim=[8, 8, 8, 8],
                     mlp_ratio=3.0, theta=2000, global_modulation=True, vec_in_dim=None, mlp_silu_act=True,
                     qkv_bias=False, ops_bias=False, default_ref_method="index", ref_index_scale=10.0,
                     txt_ids_dims=[3])
    return small_patcher("Flux2", cfg, seed=22)


def chroma():
    cfg = dict(image_model="chroma", in_channels=64, out_channels=64, context_in_dim=CONTEXT, hidden_size=64,
               mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000,
               patch_size=2, qkv_bias=True, in_dim=64, out_dim=64, hidden_dim=64, n_layers=1)
    return small_patcher("Chroma", host_params("chroma", cfg, txt_ids_dims=[], vec_in_dim=None), seed=23)


def z_image():
    """Z-Image (Lumina2 NextDiT with z_image_modulation), one layer; width 256, the least its 256-wide
    timestep modulation allows."""
    cfg = dict(image_model="lumina2", patch_size=2, in_channels=16, dim=256, cap_feat_dim=CONTEXT, n_layers=1,
               n_refiner_layers=1, qk_norm=True, n_heads=8, n_kv_heads=8, axes_dims=[8, 12, 12],
               axes_lens=[300, 64, 64], rope_theta=256.0, ffn_dim_multiplier=8.0 / 3.0, z_image_modulation=True,
               time_scale=1000.0, multiple_of=16)
    return small_patcher("ZImage", cfg, seed=24)


def _unet(in_channels: int, **kw) -> dict:
    return dict(use_checkpoint=False, image_size=32, use_spatial_transformer=True, legacy=False, adm_in_channels=None,
                in_channels=in_channels, out_channels=4, model_channels=32, num_res_blocks=[1],
                transformer_depth=[1], transformer_depth_output=[1, 1], channel_mult=[1],
                transformer_depth_middle=-2, use_linear_in_transformer=True, context_dim=CONTEXT,
                use_temporal_resblock=False, use_temporal_attention=False) | kw


def sdxl_inpaint():
    """SDXL inpaint (9 input channels); adm = CLIP-L pooled 768 + 6 size embeddings of 256."""
    return small_patcher("SDXL", _unet(9, adm_in_channels=CONTEXT + 6 * 256, num_classes="sequential"), seed=25,
                         after_init={"num_heads": 2, "num_head_channels": -1})


def sd15_plain():
    """Plain SD 1.5 (4 input channels): no inpaint channels, the noise-mask path."""
    return small_patcher("SD15", _unet(4, use_linear_in_transformer=False), seed=26,
                         after_init={"num_heads": 2, "num_head_channels": -1})


def qwen_image():
    """Qwen-Image (in_channels 64 = 16 latent x 2 x 2 patch), reads 5-D Wan latents."""
    cfg = dict(image_model="qwen_image", patch_size=2, in_channels=64, out_channels=16, num_layers=1,
               attention_head_dim=32, num_attention_heads=2, joint_attention_dim=CONTEXT, axes_dims_rope=[8, 12, 12])
    return small_patcher("QwenImage", cfg, seed=27)


def _config_vae(ddconfig: dict, embed_dim: int, seed: int):
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    params = {"ddconfig": ddconfig, "embed_dim": embed_dim}
    with torch.device("meta"):
        meta = AutoencoderKL(**params)
    sd = random_state_dict(meta, seed, torch.float32)
    for key in [k for k in sd if k.endswith("running_var")]:
        sd[key] = torch.ones_like(sd[key])
    return comfy.sd.VAE(sd=sd, config={"params": params})


def sd_vae(seed: int = 31):
    vae = _config_vae(dict(FLUX_VAE_DDCONFIG, ch=32, z_channels=4), 4, seed)
    vae.latent_channels = 4
    return vae


def flux2_vae(seed: int = 32):
    """The FLUX.2 VAE layout: 32 z channels, 2x2 patchified + batch-normed to 128 channels at /16."""
    vae = _config_vae(dict(FLUX_VAE_DDCONFIG, ch=32, z_channels=32, batch_norm_latent=True), 32, seed)
    vae.latent_channels, vae.downscale_ratio, vae.upscale_ratio = 128, 16, 16
    return vae


def wan_vae(seed: int = 33, dim: int = 8):
    """A Wan 2.1 VAE (Qwen-Image's) of small width, detected by the host from its keys."""
    import comfy.sd
    from comfy.ldm.wan.vae import WanVAE

    with torch.device("meta"):
        meta = WanVAE(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                      temperal_downsample=[False, True, True], dropout=0.0)
    return comfy.sd.VAE(sd=random_state_dict(meta, seed, torch.float32))


def flux_vae():
    return small_flux_vae()


def condition(tokens: int = 8, pooled: int | None = CONTEXT, seed: int = 40) -> list:
    """Random positive conditioning [[tokens, {pooled_output}]] of the small models' width."""
    g = torch.Generator().manual_seed(seed)
    extras = {} if pooled is None else {"pooled_output": torch.randn(1, pooled, generator=g)}
    return [[torch.randn(1, tokens, CONTEXT, generator=g), extras]]


def sd15_controlnet(seed: int = 34):
    """An SD 1.5-layout ControlNet (comfy.cldm.cldm.ControlNet) matching `sd15_plain`, as core wraps it."""
    import comfy.cldm.cldm
    import comfy.controlnet
    import comfy.model_management
    import comfy.ops

    cfg = _unet(4, use_linear_in_transformer=False)
    for key in ("out_channels", "transformer_depth_output", "use_temporal_resblock", "use_temporal_attention"):
        cfg.pop(key)
    net = comfy.cldm.cldm.ControlNet(hint_channels=3, num_heads=2, num_head_channels=-1, dtype=torch.float32,
                                     operations=comfy.ops.disable_weight_init, **cfg)
    net.load_state_dict(random_state_dict(net, seed, torch.float32))
    return comfy.controlnet.ControlNet(net, load_device=comfy.model_management.get_torch_device(),
                                       manual_cast_dtype=None)


def flux_alimama_controlnet(seed: int = 35):
    """A Flux inpaint ControlNet in the Alimama layout (latent input of 16 + 1 mask channel -> concat_mask),
    matching `flux_dev`, wrapped the way core's load_controlnet_flux_instantx wraps it."""
    import comfy.controlnet
    import comfy.latent_formats
    import comfy.ldm.flux.controlnet
    import comfy.model_management
    import comfy.ops

    cfg = _flux_like()
    cfg.pop("guidance_embed")
    net = comfy.ldm.flux.controlnet.ControlNetFlux(latent_input=True, control_latent_channels=17, guidance_embed=True,
                                                   dtype=torch.float32, operations=comfy.ops.disable_weight_init,
                                                   **cfg)
    net.load_state_dict(random_state_dict(net, seed, torch.float32))
    return comfy.controlnet.ControlNet(net, compression_ratio=1, latent_format=comfy.latent_formats.Flux(),
                                       concat_mask=True, load_device=comfy.model_management.get_torch_device(),
                                       manual_cast_dtype=None, extra_conds=["y", "guidance"])


def _model_patch(net):
    """`net` wrapped as core ModelPatchLoader wraps a loaded model patch (a MODEL_PATCH)."""
    import comfy.model_management
    import comfy.model_patcher

    return comfy.model_patcher.ModelPatcher(net, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def qwen_diffsynth_controlnet(seed: int = 36, mask_channels: bool = True):
    """A Qwen-Image DiffSynth block-wise ControlNet (core's QwenImageBlockWiseControlNet) matching `qwen_image`:
    one control block per transformer block, width 64; the inpaint variant reads 1 mask channel x 2 x 2 patch."""
    import comfy.ops
    from comfy_extras.nodes_model_patch import QwenImageBlockWiseControlNet

    net = QwenImageBlockWiseControlNet(num_layers=1, in_dim=64, additional_in_dim=4 if mask_channels else 0, dim=64,
                                       dtype=torch.float32, operations=comfy.ops.manual_cast)
    net.load_state_dict(random_state_dict(net, seed, torch.float32))
    return _model_patch(net)


def uso_style_projector(seed: int = 37):
    """A USO style projector (core's SigLIPMultiFeatProjModel, small widths): a MODEL_PATCH that is no ControlNet."""
    import comfy.ops
    from comfy_extras.nodes_model_patch import SigLIPMultiFeatProjModel

    net = SigLIPMultiFeatProjModel(siglip_token_nums=8, style_token_nums=4, siglip_token_dims=16, hidden_size=32,
                                   operations=comfy.ops.manual_cast)
    net.load_state_dict(random_state_dict(net, seed, torch.float32))
    return _model_patch(net)


def zimage_fun_controlnet(seed: int = 38):
    """A Z-Image Fun ControlNet Union (inpaint layout: 16 + 17 input channels, refiner control) matching `z_image`,
    from the host's comfy.ldm.lumina.controlnet.ZImage_Control: only ComfyUI releases after 0.3.75 have it."""
    import comfy.ldm.lumina.controlnet
    import comfy.ops

    net = comfy.ldm.lumina.controlnet.ZImage_Control(dim=256, n_heads=8, n_kv_heads=8, multiple_of=16,
                                                     n_control_layers=1, additional_in_dim=17, refiner_control=True,
                                                     dtype=torch.float32, operations=comfy.ops.manual_cast)
    net.load_state_dict(random_state_dict(net, seed, torch.float32))
    return _model_patch(net)
