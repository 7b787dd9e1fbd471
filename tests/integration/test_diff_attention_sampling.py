"""diff_attention in real sampling runs: differential diffusion against core's node, per-variant
seeding against batch-1 runs, model kinds, and the loaded tiny-file pipeline against core nodes."""

from __future__ import annotations

import copy
import functools
import pickle
from types import SimpleNamespace

import pytest
import torch
from fluxfill_inpainter.diff_attention import (
    apply_differential_diffusion,
    differential_denoise_mask,
    region_variant_noise,
)
from node_calls import prepare

SEED = 1234


@pytest.fixture(scope="module")
def host(comfy, tiny_model_files):
    import comfy.sample
    import comfy.utils
    import comfy_extras.nodes_differential_diffusion as ndd
    from tiny_models import small_flux_patcher, small_flux_vae

    import nodes

    return SimpleNamespace(nodes=nodes, sample=comfy.sample, utils=comfy.utils,
                           core_dd=ndd.DifferentialDiffusion,
                           fill=small_flux_patcher(96), vae=small_flux_vae())


@pytest.fixture(scope="module")
def loaded(host):
    nodes = host.nodes
    clip = nodes.CLIPLoader().load_clip("ffi_tiny_clip_l.safetensors", "stable_diffusion")[0]
    return SimpleNamespace(
        fill=nodes.UNETLoader().load_unet("ffi_tiny_flux_fill.safetensors", "default")[0],
        vae=nodes.VAELoader().load_vae("ffi_tiny_flux_vae.safetensors")[0],
        positive=nodes.CLIPTextEncode().encode(clip, "a red door")[0],
        negative=nodes.CLIPTextEncode().encode(clip, "")[0],
    )


def make_cond(seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 8, 768, generator=g), {"pooled_output": torch.randn(1, 768, generator=g)}]]


def make_image(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, h, w, 3, generator=torch.Generator().manual_seed(seed))


def blob_mask(n: int, h: int, w: int) -> torch.Tensor:
    """A soft blob: 1 in the centre, a ramp through every value, exactly 0 beyond 3/4 of the radius."""
    ys = torch.linspace(-1, 1, h).view(h, 1)
    xs = torch.linspace(-1, 1, w).view(1, w)
    return (1.2 - (ys ** 2 + xs ** 2).sqrt() * 1.6).clamp(0, 1).expand(n, h, w).clone()


def ksample(host, model, seed, positive, negative, latent, steps=4, cfg=2.0) -> torch.Tensor:
    return host.nodes.common_ksampler(model, seed, steps, cfg, "euler", "simple", positive, negative,
                                      latent)[0]["samples"]


def sample_with_noise(host, model, noise, positive, negative, latent, steps=4, cfg=2.0) -> torch.Tensor:
    return host.sample.sample(model, noise, steps, cfg, "euler", "simple", positive, negative,
                              latent["samples"], noise_mask=latent.get("noise_mask"), seed=SEED,
                              disable_pbar=True)


@pytest.fixture(scope="module")
def small_inputs(host):
    pixels, mask = make_image(1, 64, 64, seed=1), blob_mask(1, 64, 64)
    prep = prepare(host.vae, pixels, mask, make_cond(1), make_cond(2))
    return SimpleNamespace(pixels=pixels, mask=mask, prep=prep)


def record_mask_calls(host, small_inputs, steps: int = 6) -> list:
    """Every denoise-mask call of a real sampling run, as (sigma, denoise_mask, extra_options).

    The host's `extra_options["model"]` (a CFGGuider) drops its `inner_model` when sampling ends, so
    the recorded options carry a stand-in holding the same `model_sampling` object.
    """
    calls = []

    def record(sigma, denoise_mask, extra_options):
        frozen = {"model": SimpleNamespace(inner_model=SimpleNamespace(
            model_sampling=extra_options["model"].inner_model.model_sampling)),
            "sigmas": extra_options["sigmas"]}
        calls.append((sigma.clone(), denoise_mask.clone(), frozen))
        # the live options, inside the run, give the same result as the stand-in
        assert torch.equal(differential_denoise_mask(sigma, denoise_mask, extra_options, 0.5),
                           differential_denoise_mask(sigma, denoise_mask, frozen, 0.5))
        return denoise_mask

    model = host.fill.clone()
    model.set_model_denoise_mask_function(record)
    prep = small_inputs.prep
    ksample(host, model, SEED, prep.positive, prep.negative, prep.latent, steps=steps, cfg=1.0)
    assert len(calls) == steps
    assert calls[0][2]["model"].inner_model.model_sampling is host.fill.model.model_sampling
    return calls


def test_dd_function_matches_core_forward(host, small_inputs) -> None:
    calls = record_mask_calls(host, small_inputs)
    extra_options = calls[0][2]
    sigmas = extra_options["sigmas"]
    ramp = torch.linspace(0, 1, 16 * 8 * 8).reshape(1, 16, 8, 8)
    means = []
    for sigma, recorded_mask, options in calls:
        assert torch.equal(options["sigmas"], sigmas)
        for mask in (recorded_mask, ramp):
            for strength in (0.25, 0.5, 1.0):
                ours = differential_denoise_mask(sigma, mask, options, strength)
                core = host.core_dd.forward(sigma, mask, options, strength=strength)
                assert torch.equal(ours, core)
        means.append(differential_denoise_mask(sigma, ramp, options, 1.0).mean().item())
    # every sigma of the schedule, not only those the sampler visited
    for s in sigmas:
        sigma = s.reshape(1)
        for strength in (0.25, 0.5, 1.0):
            assert torch.equal(differential_denoise_mask(sigma, ramp, extra_options, strength),
                               host.core_dd.forward(sigma, ramp, extra_options, strength=strength))
    assert len(set(means)) == len(means) and means == sorted(means)  # the threshold sweeps the ramp


def test_dd_strength_zero_returns_soft_mask(host, small_inputs) -> None:
    sigma, mask, options = record_mask_calls(host, small_inputs, steps=2)[1]
    assert torch.equal(differential_denoise_mask(sigma, mask, options, 0.0), mask)
    # core treats 0 like 1 (documented difference)
    assert torch.equal(host.core_dd.forward(sigma, mask, options, strength=0.0),
                       differential_denoise_mask(sigma, mask, options, 1.0))


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_sampling_matches_core_dd_node(host, small_inputs, strength: float) -> None:
    prep = small_inputs.prep
    core_model = host.core_dd.execute(host.fill, strength).result[0]
    ours = ksample(host, apply_differential_diffusion(host.fill, strength), SEED, prep.positive,
                   prep.negative, prep.latent)
    core = ksample(host, core_model, SEED, prep.positive, prep.negative, prep.latent)
    plain = ksample(host, host.fill, SEED, prep.positive, prep.negative, prep.latent)
    torch.testing.assert_close(ours, core, atol=1e-6, rtol=0)
    assert (ours - plain).abs().max() > 1e-3  # the patch really changes sampling


def some_option(sigma, denoise_mask, extra_options):
    return denoise_mask


def test_apply_dd_leaves_input_model_unchanged(host) -> None:
    model = host.fill.clone()
    model.model_options["transformer_options"]["ffi_probe"] = {"nested": [1, 2, 3]}
    model.set_model_denoise_mask_function(some_option)
    before = copy.deepcopy(model.model_options)
    patched = apply_differential_diffusion(model, 0.3)
    assert model.model_options == before
    assert model.model_options["denoise_mask_function"] is some_option
    assert patched is not model and patched.model is model.model
    fn = patched.model_options["denoise_mask_function"]
    assert isinstance(fn, functools.partial) and fn.func is differential_denoise_mask
    assert fn.keywords == {"strength": 0.3} and fn.args == ()
    assert pickle.loads(pickle.dumps(fn)).keywords == {"strength": 0.3}
    rest = {k: v for k, v in patched.model_options.items() if k != "denoise_mask_function"}
    assert rest == {k: v for k, v in before.items() if k != "denoise_mask_function"}
    with pytest.raises(ValueError):
        apply_differential_diffusion(model, 1.5)


def test_variant_batch_matches_seed_plus_j_runs(host, small_inputs) -> None:
    """Holds for deterministic samplers (euler here): ancestral/SDE samplers draw their per-step noise
    for the whole batch from one seed, so their batched variants j > 0 differ from seed + j runs."""
    variants = 3
    model = apply_differential_diffusion(host.fill, 0.7)
    pos, neg = make_cond(3), make_cond(4)
    batch = prepare(host.vae, small_inputs.pixels, small_inputs.mask, pos, neg,
                                   variants=variants)
    single = prepare(host.vae, small_inputs.pixels, small_inputs.mask, pos, neg)
    shape = tuple(single.latent["samples"].shape)
    (noise,) = region_variant_noise([shape], SEED, variants)
    assert torch.equal(noise[:1], host.sample.prepare_noise(single.latent["samples"], SEED))
    batched = sample_with_noise(host, model, noise, batch.positive, batch.negative, batch.latent)
    outputs = []
    for j in range(variants):
        one = ksample(host, model, SEED + j, single.positive, single.negative, single.latent)
        # batched vs batch-1 matmuls round differently: ~5e-6 observed on latents of magnitude ~1
        torch.testing.assert_close(batched[j:j + 1], one, atol=1e-5, rtol=1e-5)
        outputs.append(one)
    assert (outputs[0] - outputs[1]).abs().max() > 1e-2  # variants really differ


def small_sd15(in_channels: int):
    """An SD1.5-shaped UNet model (BaseModel through SD15's own config class), built on the meta device."""
    import comfy.supported_models

    unet_config = {
        "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
        "legacy": False, "adm_in_channels": None, "dtype": torch.float32, "in_channels": in_channels,
        "model_channels": 32, "num_res_blocks": [1, 1], "transformer_depth": [1, 1], "channel_mult": [1, 2],
        "transformer_depth_middle": 1, "use_linear_in_transformer": False, "context_dim": 768,
        "num_heads": 8, "transformer_depth_output": [1, 1, 1, 1], "use_temporal_attention": False,
        "use_temporal_resblock": False,
    }
    return comfy.supported_models.SD15(unet_config).get_model({}, device="meta")


def test_inpaint_kind(host, loaded) -> None:
    from fluxfill_inpainter.nodes.family import inpaint_kind
    from tiny_models import small_flux_patcher

    assert inpaint_kind(loaded.fill) == "flux_fill"
    assert inpaint_kind(host.fill) == "flux_fill"
    dev = host.nodes.UNETLoader().load_unet("ffi_tiny_flux_dev.safetensors", "default")[0]
    assert inpaint_kind(dev) == "none"
    del dev
    assert inpaint_kind(small_flux_patcher(16)) == "none"
    assert inpaint_kind(small_flux_patcher(32)) == "concat"  # Flux with image-only concat
    sd_inpaint = small_sd15(9)
    assert sd_inpaint.concat_keys == ("mask", "masked_image") and inpaint_kind(sd_inpaint) == "concat"
    assert inpaint_kind(small_sd15(4)) == "none"


@pytest.fixture(scope="module")
def loaded_run(host, loaded):
    """Our path on the loader-detected files: prepare, DD patch, region noise, sample (2 steps)."""
    pixels, mask = make_image(1, 36, 44, seed=5), blob_mask(1, 36, 44)
    prep = prepare(loaded.vae, pixels, mask, loaded.positive, loaded.negative)
    model = apply_differential_diffusion(loaded.fill, 1.0)
    (noise,) = region_variant_noise([tuple(prep.latent["samples"].shape)], SEED, 1)
    samples = sample_with_noise(host, model, noise, prep.positive, prep.negative, prep.latent,
                                steps=2, cfg=1.0)
    return SimpleNamespace(pixels=pixels, mask=mask, prep=prep, model=model, noise=noise, samples=samples)


def test_loaded_files_pipeline_matches_core_nodes(host, loaded, loaded_run) -> None:
    """InpaintModelConditioning + DifferentialDiffusion + KSampler vs ours, on the loader-detected files."""
    nodes = host.nodes
    c_pos, c_neg, c_latent = nodes.InpaintModelConditioning().encode(
        loaded.positive, loaded.negative, loaded_run.pixels, loaded.vae, loaded_run.mask, True)
    core_model = host.core_dd.execute(loaded.fill, 1.0).result[0]
    core = nodes.KSampler().sample(core_model, SEED, 2, 1.0, "euler", "simple", c_pos, c_neg, c_latent)[0]
    torch.testing.assert_close(loaded_run.samples, core["samples"], atol=1e-6, rtol=0)


def test_binarized_concat_mask_effect_on_loaded_fill(host, loaded, loaded_run) -> None:
    """Measured, not judged: how much rounding the concat mask moves a soft-mask result."""
    hard = prepare(loaded.vae, loaded_run.pixels, loaded_run.mask, loaded.positive,
                                  loaded.negative, binarize_concat_mask=True)
    soft_samples = loaded_run.samples
    hard_samples = sample_with_noise(host, loaded_run.model, loaded_run.noise, hard.positive, hard.negative,
                                     hard.latent, steps=2, cfg=1.0)
    diff = (soft_samples - hard_samples).abs()
    inside = host.utils.reshape_mask(loaded_run.prep.latent["noise_mask"], diff.shape) > 0
    print(f"\nbinarize concat mask (loaded tiny Flux Fill, soft blob, 2 steps, DD 1.0): "
          f"mean|Δ| all {diff.mean():.5f}, inside mask {diff[inside].mean():.5f}, "
          f"max {diff.max():.5f}, mean|latent| {soft_samples.abs().mean():.5f}")
    assert torch.isfinite(diff).all()
    assert diff[inside].mean() > 1e-4  # the model reads the concat mask
    assert diff[~inside].max() == 0  # outside the noise mask both keep the original latent
