"""Seed + j for every sampler the host lists: variant j of a batched run equals a batch_size 1 run with
seed + j (the oracle is the node's own single runs, which core's seeding defines: one call, one seed).

Samplers in nodes/sampling.py BATCHABLE_SAMPLERS are sampled many rows per call; this proves that list
(a sampler wrongly listed fails here) and the per-row calls of every other sampler.
"""

from __future__ import annotations

import pytest
import torch
from comfy_host import comfyui_version
from node_calls import inpaint, small_options


@pytest.fixture(scope="module")
def setup(small_models):
    import nodes

    condition = nodes.CLIPTextEncode().encode(small_models[2], "a red apple")[0]
    image = torch.rand(1, 48, 64, 3, generator=torch.Generator().manual_seed(4))
    mask = torch.zeros(1, 48, 64)
    mask[:, 12:36, 16:48] = 1.0
    return small_models, condition, image, mask


def test_the_host_lists_the_samplers_this_file_covers(comfy):
    import comfy.samplers
    from fluxfill_inpainter.nodes.sampling import BATCHABLE_SAMPLERS

    names = set(comfy.samplers.KSampler.SAMPLERS)
    assert BATCHABLE_SAMPLERS <= names, "every batchable sampler is one the host has"
    assert {"sa_solver", "sa_solver_pece", "ddim", "euler_ancestral", "dpmpp_sde"} <= names - BATCHABLE_SAMPLERS


SAMPLERS_0_3_75 = ["euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "dpm_2",
            "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp",
            "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
            "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm",
            "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
            "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde",
            "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"]
# ComfyUI 0.8.0 adds two exponential Heun samplers after heunpp2.
SAMPLERS_BY_HOST = {(0, 3, 75): SAMPLERS_0_3_75,
                    (0, 8, 0): [*SAMPLERS_0_3_75[:6], "exp_heun_2_x0", "exp_heun_2_x0_sde", *SAMPLERS_0_3_75[6:]]}
SAMPLERS = SAMPLERS_BY_HOST[comfyui_version()]


def test_the_parametrised_list_is_the_hosts_list(comfy):
    import comfy.samplers

    assert SAMPLERS == list(comfy.samplers.KSampler.SAMPLERS)


@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_variant_j_equals_a_single_run_with_seed_plus_j(setup, sampler_name):
    models, condition, image, mask = setup
    kw = dict(options=small_options(), condition=condition, clip=False, steps=3, sampler_name=sampler_name,
              scheduler="normal")
    batched = inpaint(models, image, mask, seed=40, batch_size=2, **kw).result[0]
    for j in range(2):
        single = inpaint(models, image, mask, seed=40 + j, **kw).result[0]
        torch.testing.assert_close(batched[j:j + 1], single, atol=1e-4, rtol=0, msg=f"{sampler_name} variant {j}")
    assert not torch.equal(batched[0], batched[1]), "variants must differ"



TOP_SEED = 2**64 - 1  # the seed widget's maximum


def seed_core_would_need(step_seed: int) -> int:
    """The `seed` a core sampler call needs so that the host's CPU step noise (k_diffusion
    default_noise_sampler) seeds its generator with `step_seed`, read off the host: 0.3.75 uses the call's
    seed as it is, 0.8.0 the seed + 1 (so -1 gives 0)."""
    from comfy.k_diffusion.sampling import default_noise_sampler

    drawn = default_noise_sampler(torch.zeros(4), seed=5)(None, None)
    for shift in (0, 1):
        if torch.equal(drawn, torch.randn(4, generator=torch.Generator().manual_seed(5 + shift))):
            return step_seed - shift
    raise AssertionError("the host's step noise follows neither the seed nor the seed + 1")


def test_the_top_seed_samples_with_step_noise_seeded_as_core_modulo_2_64(setup, spy):
    """Seed 2**64 - 1 with an ancestral sampler on the CPU: core KSampler fails on ComfyUI 0.8.0, whose
    step noise is seeded with seed + 1 (out of torch's range); the node samples, its step noise seeded
    (seed + 1) modulo 2**64 = 0 there and with the seed itself on 0.3.75. Oracle: core `comfy.sample.sample`
    on the very inputs of the node's call, with the seed that makes the host's own rule give that value."""
    models, condition, image, mask = setup
    out = inpaint(models, image, mask, seed=TOP_SEED, options=small_options(), condition=condition, clip=False,
                  steps=2, sampler_name="euler_ancestral", scheduler="normal").result[0]
    assert torch.isfinite(out).all()
    (call,) = spy.calls
    assert int(call["seed"]) == TOP_SEED
    host_adds_one = seed_core_would_need(0) == -1
    core_seed = seed_core_would_need((TOP_SEED + 1) % 2**64 if host_adds_one else TOP_SEED)
    core = spy.real(call["model"], call["noise"], 2, 1.0, "euler_ancestral", "normal", call["positive"],
                    call["negative"], call["latent_image"], denoise=1.0, noise_mask=call["noise_mask"],
                    seed=core_seed)
    torch.testing.assert_close(call["samples"], core, atol=1e-5, rtol=0)
    if host_adds_one:
        with pytest.raises((RuntimeError, ValueError), match="(?i)overflow"):  # what core does with it here
            spy.real(call["model"], call["noise"], 2, 1.0, "euler_ancestral", "normal", call["positive"],
                     call["negative"], call["latent_image"], denoise=1.0, noise_mask=call["noise_mask"],
                     seed=TOP_SEED)
