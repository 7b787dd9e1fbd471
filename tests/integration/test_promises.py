"""README promises of the FluxFill Inpainter at default settings, judged by oracles the node does not supply.

Each test names the behaviour it proves; the expected values come from the user's inputs, core nodes run
side by side, or math in the test, never from a tensor the node returned.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from comfy_host import run_node
from node_calls import assert_untouched_outside, inpaint, node_classes, outside_band, small_options

DEFAULT_FEATHER = 16  # the `feather` widget's default


@pytest.fixture(scope="module")
def models(small_models):
    return small_models


@pytest.fixture(scope="module")
def condition(small_models):
    """The prompt encoded once (text encoding is not under test here)."""
    import nodes

    return nodes.CLIPTextEncode().encode(small_models[2], "a red apple")[0]


def disk_scene(h: int = 96, w: int = 96, radius: int = 14, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, h, w, 3, generator=g)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    mask = (((ys - h // 2) ** 2 + (xs - w // 2) ** 2) <= radius * radius).float()[None]
    return image, mask


def distance_to(mask: torch.Tensor) -> torch.Tensor:
    """Brute-force Euclidean distance of every pixel of [H,W] to the nearest mask pixel."""
    ys, xs = torch.nonzero(mask > 0.5, as_tuple=True)
    gy, gx = torch.meshgrid(torch.arange(mask.shape[0]), torch.arange(mask.shape[1]), indexing="ij")
    return ((gy[..., None] - ys) ** 2 + (gx[..., None] - xs) ** 2).min(dim=-1).values.float().sqrt()


class DenoiseMaskSpy:
    """Records the latent denoise mask each differential-diffusion call gets (wraps the real function)."""

    def __init__(self, monkeypatch):
        from fluxfill_inpainter.diff_attention import differential

        self.masks: list[torch.Tensor] = []
        real = differential.differential_denoise_mask

        def spy(sigma, denoise_mask, extra_options, strength):
            self.masks.append(denoise_mask.detach().clone())
            return real(sigma, denoise_mask, extra_options, strength)

        monkeypatch.setattr(differential, "differential_denoise_mask", spy)


def test_differential_diffusion_sees_a_grey_band_at_default_settings(models, condition, monkeypatch):
    """Default widgets and options: the latent noise mask reaching the sampler has a grey band at least
    feather / 8 latent pixels wide, and switching differential diffusion off changes the band's pixels."""
    image, mask = disk_scene()
    dd = DenoiseMaskSpy(monkeypatch)
    on = inpaint(models, image, mask, condition=condition, clip=False, steps=2, feather=DEFAULT_FEATHER,
                 target_megapixels=1.0).result
    assert dd.masks, "differential diffusion was never asked for the denoise mask"
    latent_mask = dd.masks[0][0, 0]
    row = latent_mask[latent_mask.shape[0] // 2]
    grey = ((row > 0.01) & (row < 0.99)).sum().item() / 2  # two edges on the centre row
    assert grey >= DEFAULT_FEATHER / 8, f"grey band {grey} latent px < feather / 8"
    share = ((latent_mask > 0.01) & (latent_mask < 0.99)).sum() / (latent_mask > 0.01).sum()
    assert share > 0.2, f"only {share:.1%} of the noise mask is grey"

    off = inpaint(models, image, mask, condition=condition, clip=False, steps=2, feather=DEFAULT_FEATHER,
                  target_megapixels=1.0, differential_attention=False).result
    d = distance_to(mask[0])
    band = (d > 2) & (d < DEFAULT_FEATHER - 2)
    assert (on[0][0][band] - off[0][0][band]).abs().mean() > 1e-3
    for result in (on[0], off[0]):
        assert_untouched_outside(result, image, mask, reach=DEFAULT_FEATHER)


def test_faint_mask_noise_leaves_one_region_and_the_specks_untouched(models, condition):
    """A JPEG-like haze of 0.002-0.05 over the whole mask plus one real blob: one region, specks unchanged."""
    image, mask = disk_scene(128, 160, radius=10)
    haze = torch.rand(mask.shape, generator=torch.Generator().manual_seed(3)) * 0.05
    noisy = torch.maximum(mask, haze)
    out = inpaint(models, image, noisy, options=small_options(), condition=condition, clip=False, steps=1).result
    assert len(json.loads(out[7])["regions"]) == 1
    assert_untouched_outside(out[0], image, mask, reach=4)  # the blob's own band only: the haze is not masked


def test_seed_at_the_top_of_the_range_wraps(models, condition):
    out = inpaint(models, *disk_scene(48, 48, 8), options=small_options(), condition=condition, clip=False,
                  steps=1, seed=2**64 - 1, batch_size=2, sampler_name="euler_ancestral").result
    assert out[6] == f"{2**64 - 1},0"
    single = inpaint(models, *disk_scene(48, 48, 8), options=small_options(), condition=condition, clip=False,
                     steps=1, seed=0, sampler_name="euler_ancestral").result[0]
    torch.testing.assert_close(out[0][1:2], single, atol=1e-4, rtol=0)


def test_crop_then_stitch_of_the_same_crops_equals_the_inpainter(models, condition, spy):
    """One layout: the Inpainter's decoded crops, laid out variant-major as RepeatImageBatch gives them,
    through FluxFill Crop + FluxFill Stitch reproduce the Inpainter's own stitch."""
    import copy

    _, InpaintCrop, InpaintStitch, _ = node_classes()
    image = torch.rand(1, 64, 320, 3, generator=torch.Generator().manual_seed(5))
    mask = torch.zeros(1, 64, 320)
    mask[:, 24:40, 16:32] = 1.0
    mask[:, 20:44, 270:300] = 1.0
    options = small_options(merge_gap=0, min_crop=48, shared_target=True)
    model, vae, clip = models
    recorder = copy.copy(vae)
    decoded = []
    recorder.decode = lambda samples: decoded.append(type(vae).decode(recorder, samples)) or decoded[-1]
    variants = 2
    out = inpaint((model, recorder, clip), image, mask, options=options, condition=condition, clip=False,
                  steps=1, batch_size=variants, context=0.5, target_megapixels=0.01).result
    (group,) = decoded  # one crop size: one decode, rows region r * variants + j
    regions = group.shape[0] // variants
    assert regions == 2
    repeated = torch.cat([group[[r * variants + j for r in range(regions)]] for j in range(variants)])
    stitcher, *_, plan = run_node(InpaintCrop, image=image, mask=mask, context=0.5, grow=0, feather=4,
                                  target_megapixels=0.01, snap=16, options=options).result
    assert json.loads(plan)["regions"] == json.loads(out[7])["regions"]
    stitched, _ = run_node(InpaintStitch, stitcher=stitcher, inpainted_image=repeated).result
    assert torch.equal(stitched, out[0])
    # the latent output uses the same layout: row j * R + r, from the sampler's rows r * V + j
    (sampled,) = [c["samples"] for c in spy.calls]
    expected = torch.cat([sampled[[r * variants + j for r in range(regions)]] for j in range(variants)])
    assert torch.equal(out[1]["samples"], expected)


def test_sampler_calls_split_to_a_row_cap_give_the_same_result(models, condition, monkeypatch, spy):
    from fluxfill_inpainter.nodes import sampling

    image = torch.rand(1, 64, 320, 3, generator=torch.Generator().manual_seed(6))
    mask = torch.zeros(1, 64, 320)
    mask[:, 24:40, 16:32] = 1.0
    mask[:, 24:40, 280:296] = 1.0
    options = small_options(merge_gap=0, min_crop=48, shared_target=True)
    kw = dict(options=options, condition=condition, clip=False, steps=2, batch_size=3, context=0.5,
              target_megapixels=0.01)
    whole = inpaint(models, image, mask, **kw).result[0]
    assert len(spy.calls) == 1 and spy.calls[0]["latent_image"].shape[0] == 6
    monkeypatch.setattr(sampling, "MAX_ROWS_PER_CALL", 2)
    split = inpaint(models, image, mask, **kw).result[0]
    assert [c["latent_image"].shape[0] for c in spy.calls[1:]] == [2, 2, 2]
    torch.testing.assert_close(split, whole, atol=1e-5, rtol=0)


def test_rows_per_call_follow_the_free_memory(models, monkeypatch):
    import comfy.model_management
    from fluxfill_inpainter.nodes import sampling

    model = models[0]
    per_row = model.model.memory_required([1, 16, 32, 32])
    monkeypatch.setattr(comfy.model_management, "get_free_memory", lambda *a, **k: per_row * 3.9)
    assert sampling.rows_per_call(model, (8, 16, 32, 32), cfg=1.0) == 3
    monkeypatch.setattr(comfy.model_management, "get_free_memory", lambda *a, **k: per_row * 0.1)
    assert sampling.rows_per_call(model, (8, 16, 32, 32), cfg=1.0) == 1


def test_rows_per_call_leave_room_for_the_part_of_the_model_not_yet_loaded(models, monkeypatch):
    """Free memory is read before the sampler loads the model: on a device the model is offloaded from (a GPU,
    stubbed here), the not-yet-loaded part of the model is subtracted first, so a cold first run does not
    over-batch and a warm one (model loaded) may take more rows. Oracle: the host's own row size."""
    import comfy.model_management
    from fluxfill_inpainter.nodes import sampling

    model = models[0].clone()
    model.load_device = torch.device("cuda", 0)  # never used: free memory is stubbed
    per_row = model.model.memory_required([1, 16, 32, 32])
    size = per_row * 10  # a model as large as ten rows (the tiny one is far smaller than its activations)
    free = size + per_row * 6.3
    monkeypatch.setattr(model, "model_size", lambda: size)
    monkeypatch.setattr(comfy.model_management, "get_free_memory", lambda *a, **k: free)
    monkeypatch.setattr(model, "loaded_size", lambda: 0)
    cold = sampling.rows_per_call(model, (16, 16, 32, 32), cfg=1.0)
    assert cold == int((free - size) * sampling.MEMORY_HEADROOM // per_row) == 5
    monkeypatch.setattr(model, "loaded_size", lambda: size)
    warm = sampling.rows_per_call(model, (16, 16, 32, 32), cfg=1.0)
    assert warm == min(sampling.MAX_ROWS_PER_CALL, int(free * sampling.MEMORY_HEADROOM // per_row)) > cold


@pytest.mark.parametrize("upstream, widget, expected", [(None, 0.0, 30.0), (3.5, 0.0, 3.5), (3.5, 7.0, 7.0)])
def test_guidance_rule_on_flux_fill(models, condition, spy, upstream, widget, expected):
    """0 = automatic: guidance set upstream (FluxGuidance) is kept, else Flux Fill's 30; above 0: as set."""
    from comfy_extras.nodes_flux import FluxGuidance

    cond = condition if upstream is None else FluxGuidance.execute(condition, upstream).result[0]
    inpaint(models, *disk_scene(48, 48, 8), options=small_options(), condition=cond, clip=False, steps=1,
            guidance=widget)
    assert spy.calls[0]["positive"][0][1]["guidance"] == expected
    assert all("guidance" not in extras for _, extras in cond) or upstream is not None  # input untouched


def test_guidance_default_of_a_distilled_flux_without_fill_channels(models, condition, spy):
    """Flux dev shape (guidance embedding, no concat channels): automatic guidance is 3.5, not Fill's 30."""
    from tiny_models import small_flux_patcher

    dev = small_flux_patcher(in_channels=16)
    assert dev.model.diffusion_model.params.guidance_embed
    inpaint((dev, models[1], models[2]), *disk_scene(48, 48, 8), options=small_options(), condition=condition,
            clip=False, steps=1, guidance=0.0)
    assert spy.calls[0]["positive"][0][1]["guidance"] == 3.5
    assert "concat_latent_image" not in spy.calls[0]["positive"][0][1]


def test_real_negative_when_cfg_is_on(models, spy):
    import nodes

    clip = models[2]
    inpaint(models, *disk_scene(48, 48, 8), options=small_options(), steps=1, cfg=2.0)
    inpaint(models, *disk_scene(48, 48, 8), options=small_options(), steps=1, cfg=1.0)
    (empty,) = nodes.CLIPTextEncode().encode(clip, "")
    torch.testing.assert_close(spy.calls[0]["negative"][0][0], empty[0][0])
    assert spy.calls[0]["negative"][0][0].abs().sum() > 0
    assert not spy.calls[1]["negative"][0][0].any(), "cfg 1: the negative is never read; zeroed"


@pytest.mark.parametrize("mode_kw, word", [({"mode": "kontext"}, "mode"),
                                           ({"reference": torch.rand(1, 8, 8, 3)}, "reference")])
def test_crop_node_rejects_options_it_cannot_apply(comfy, mode_kw, word):
    _, InpaintCrop, _, build_options = node_classes()
    image, mask = disk_scene(48, 48, 8)
    with pytest.raises(ValueError, match=f"FluxFill Crop.*{word}"):
        run_node(InpaintCrop, image=image, mask=mask, context=1.0, grow=0, feather=4, target_megapixels=0.01,
                 snap=16, options=build_options(**mode_kw))


def test_resample_applies_when_stitching_back(comfy):
    """nearest-exact: every blended pixel where the composite is fully on is one of the crop's own values."""
    _, InpaintCrop, InpaintStitch, _ = node_classes()
    image, mask = disk_scene(64, 64, 12)
    results = {}
    for resample in ("nearest-exact", "bicubic"):
        stitcher, crops, *_ = run_node(InpaintCrop, image=image, mask=mask, context=1.0, grow=0, feather=0,
                                       target_megapixels=0.05, snap=16,
                                       options=small_options(resample=resample)).result
        painted = torch.rand(crops.shape, generator=torch.Generator().manual_seed(1))
        results[resample] = run_node(InpaintStitch, stitcher=stitcher, inpainted_image=painted).result[0]
        region = stitcher.plan.regions[0]
        assert region.target != region.size, "the crop must be resized for this test to mean anything"
    inside = mask[0] > 0.5
    crop_values = {tuple(v) for v in painted[0].reshape(-1, 3).tolist()}
    nearest = results["nearest-exact"][0][inside]
    assert all(tuple(v) in crop_values for v in nearest.tolist())
    assert not torch.equal(results["nearest-exact"][0][inside], results["bicubic"][0][inside])


@pytest.mark.parametrize("soft", [False, True])
def test_whole_image_crop_equals_core_inpaint_model_conditioning(models, soft):
    """Crop = the whole image, no resize, feather 0, no binarize, no threshold: the node is the stock graph
    (InpaintModelConditioning + FluxGuidance + DifferentialDiffusion + KSampler + VAEDecode +
    ImageCompositeMasked), for a binary and a soft mask, up to float noise."""
    from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion
    from comfy_extras.nodes_flux import FluxGuidance
    from comfy_extras.nodes_mask import ImageCompositeMasked

    import nodes

    model, vae, clip = models
    image = torch.rand(1, 64, 96, 3, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 64, 96)
    mask[:, 16:48, 24:72] = 1.0
    if soft:  # a radial ramp 0.15..0.9 inside the box
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 48), indexing="ij")
        mask[:, 16:48, 24:72] = (0.9 - 0.75 * (ys ** 2 + xs ** 2).sqrt() / math.sqrt(2)).clamp(0.15, 0.9)
    options = small_options(target_mode="none", min_crop=4096, hipass=0.0, stabilize=1.0,
                            binarize_concat_mask=False)
    ours = inpaint(models, image, mask, options=options, feather=0, seed=7).result[0]

    (text,) = nodes.CLIPTextEncode().encode(clip, "a red apple")
    positive = FluxGuidance.execute(text, 30.0).result[0]
    (negative,) = nodes.ConditioningZeroOut().zero_out(text)
    pos, neg, latent = nodes.InpaintModelConditioning().encode(positive, negative, image, vae, mask, True)
    dd_model = DifferentialDiffusion.execute(model).result[0]
    (sampled,) = nodes.KSampler().sample(dd_model, 7, 3, 1.0, "euler", "simple", pos, neg, latent, 1.0)
    (decoded,) = nodes.VAEDecode().decode(vae, sampled)
    (stock,) = ImageCompositeMasked().composite(image, decoded, 0, 0, False, mask)

    torch.testing.assert_close(ours, stock, atol=1e-5, rtol=0)
    assert not torch.equal(ours, image), "the masked area was not repainted"
    assert bool(outside_band(mask, 0).any())
