"""diff_attention latent prep against the real ComfyUI host's `InpaintModelConditioning`.

Sampling-level checks (differential diffusion, variant seeding, model kinds, the loaded-file
pipeline) live in test_diff_attention_sampling.py.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from fluxfill_inpainter.diff_attention import vae_downscale
from node_calls import prepare


@pytest.fixture(scope="module")
def host(comfy, tiny_model_files):
    from tiny_models import small_flux_vae

    import nodes

    return SimpleNamespace(nodes=nodes, vae=small_flux_vae())


@pytest.fixture(scope="module")
def loaded_vae(host):
    return host.nodes.VAELoader().load_vae("ffi_tiny_flux_vae.safetensors")[0]


def make_cond(seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 8, 768, generator=g), {"pooled_output": torch.randn(1, 768, generator=g),
                                                   "guidance": 3.5}]]


def make_image(n: int, h: int, w: int, seed: int = 0, channels: int = 3) -> torch.Tensor:
    return torch.rand(n, h, w, channels, generator=torch.Generator().manual_seed(seed))


def soft_mask(n: int, h: int, w: int) -> torch.Tensor:
    """A radial ramp: 1 in the centre, 0 at the corners, every value in between."""
    ys = torch.linspace(-1, 1, h).view(h, 1)
    xs = torch.linspace(-1, 1, w).view(1, w)
    ramp = (1.4 - (ys ** 2 + xs ** 2).sqrt() * 1.3).clamp(0, 1)
    return torch.stack([ramp.roll(i, dims=1) for i in range(n)])


def box_mask(n: int, h: int, w: int) -> torch.Tensor:
    mask = torch.zeros(n, h, w)
    mask[:, h // 4: 3 * h // 4, w // 3: 5 * w // 6] = 1.0
    return mask


def core_prepare(host, vae, pixels, mask, positive, negative, noise_mask=True):
    return host.nodes.InpaintModelConditioning().encode(positive, negative, pixels, vae, mask, noise_mask)


def assert_same_as_core(ours: SimpleNamespace, core: tuple) -> None:
    core_pos, core_neg, core_latent = core
    assert ours.latent.keys() == core_latent.keys()
    for key, value in core_latent.items():
        assert ours.latent[key].shape == value.shape, key
        assert torch.equal(ours.latent[key], value), key
    for mine, theirs in ((ours.positive, core_pos), (ours.negative, core_neg)):
        assert len(mine) == len(theirs)
        for (emb_a, opts_a), (emb_b, opts_b) in zip(mine, theirs, strict=True):
            assert emb_a is emb_b
            assert opts_a.keys() == opts_b.keys()
            for key, value in opts_b.items():
                if torch.is_tensor(value):
                    assert opts_a[key].shape == value.shape, key
                    assert torch.equal(opts_a[key], value), key
                else:
                    assert opts_a[key] == value, key


def counting(vae):
    """A shallow copy of the VAE whose encode calls are recorded (instrumentation, real encode)."""
    twin = copy.copy(vae)
    twin.calls = []
    real_encode = type(vae).encode

    def encode(pixels):
        twin.calls.append(tuple(pixels.shape))
        return real_encode(twin, pixels)

    twin.encode = encode
    return twin


CASES = {
    "soft": dict(size=(64, 48), mask=soft_mask, mask_size=None, n=1),
    "binary": dict(size=(48, 64), mask=box_mask, mask_size=None, n=2),
    "odd-size": dict(size=(70, 54), mask=soft_mask, mask_size=(35, 27), n=2),
}


@pytest.mark.parametrize("noise_mask", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_prepare_matches_core_small_vae(host, case: str, noise_mask: bool) -> None:
    spec = CASES[case]
    h, w = spec["size"]
    pixels = make_image(spec["n"], h, w, seed=1)
    mask = spec["mask"](spec["n"], *(spec["mask_size"] or spec["size"]))
    pos, neg = make_cond(1), make_cond(2)
    ours = prepare(host.vae, pixels, mask, pos, neg, noise_mask=noise_mask)
    assert_same_as_core(ours, core_prepare(host, host.vae, pixels, mask, pos, neg, noise_mask))
    assert ours.latent["samples"].shape[-2:] == (h // 8, w // 8)


def test_prepare_matches_core_loaded_flux_vae(host, loaded_vae) -> None:
    assert vae_downscale(loaded_vae) == 8
    pixels, mask = make_image(1, 38, 30, seed=2), soft_mask(1, 19, 15)
    pos, neg = make_cond(3), make_cond(4)
    ours = prepare(loaded_vae, pixels, mask, pos, neg)
    assert_same_as_core(ours, core_prepare(host, loaded_vae, pixels, mask, pos, neg))
    assert ours.latent["noise_mask"].shape == (1, 1, 32, 24)


def test_binarize_rounds_only_the_concat_mask(host) -> None:
    pixels, mask = make_image(1, 64, 64, seed=3), soft_mask(1, 64, 64)
    pos, neg = make_cond(5), make_cond(6)
    soft = prepare(host.vae, pixels, mask, pos, neg)
    hard = prepare(host.vae, pixels, mask, pos, neg, binarize_concat_mask=True)
    assert torch.equal(hard.latent["noise_mask"], soft.latent["noise_mask"])
    assert torch.equal(hard.latent["samples"], soft.latent["samples"])
    for a, b in ((hard.positive, soft.positive), (hard.negative, soft.negative)):
        assert torch.equal(a[0][1]["concat_latent_image"], b[0][1]["concat_latent_image"])
        assert torch.equal(a[0][1]["concat_mask"], b[0][1]["concat_mask"].round())
        assert set(a[0][1]["concat_mask"].unique().tolist()) == {0.0, 1.0}
    soft_values = soft.positive[0][1]["concat_mask"]
    assert ((soft_values > 0.05) & (soft_values < 0.95)).any()


def test_variants_repeat_rows_without_reencoding(host) -> None:
    regions, variants = 2, 3
    pixels, mask = make_image(regions, 40, 48, seed=4), soft_mask(regions, 40, 48)
    pos, neg = make_cond(7), make_cond(8)
    vae = counting(host.vae)
    single = prepare(vae, pixels, mask, pos, neg)
    vae.calls.clear()
    multi = prepare(vae, pixels, mask, pos, neg, variants=variants)
    assert vae.calls == [(regions, 40, 48, 3)] * 2  # plain + greyed, each once for all variants

    def check(many: torch.Tensor, one: torch.Tensor) -> None:
        assert many.shape[0] == regions * variants
        for r in range(regions):
            for j in range(variants):
                assert torch.equal(many[r * variants + j], one[r])

    check(multi.latent["samples"], single.latent["samples"])
    check(multi.latent["noise_mask"], single.latent["noise_mask"])
    for key in ("concat_latent_image", "concat_mask"):
        check(multi.positive[0][1][key], single.positive[0][1][key])
        check(multi.negative[0][1][key], single.negative[0][1][key])


def test_single_mask_broadcasts_over_regions_and_variants(host) -> None:
    pixels, mask = make_image(2, 32, 32, seed=5), soft_mask(1, 32, 32)
    out = prepare(host.vae, pixels, mask, make_cond(1), make_cond(2), variants=2)
    assert out.latent["noise_mask"].shape == (4, 1, 32, 32)
    assert all(torch.equal(row, out.latent["noise_mask"][0]) for row in out.latent["noise_mask"])
    with pytest.raises(ValueError):
        prepare(host.vae, pixels, soft_mask(3, 32, 32), make_cond(1), make_cond(2))


def test_no_grey_and_no_concat_encode_once(host) -> None:
    pixels, mask = make_image(1, 32, 40, seed=6), box_mask(1, 32, 40)
    pos, neg = make_cond(9), make_cond(10)
    vae = counting(host.vae)
    plain = prepare(vae, pixels, mask, pos, neg, grey_masked=False)
    assert len(vae.calls) == 1
    assert torch.equal(plain.positive[0][1]["concat_latent_image"], plain.latent["samples"])
    greyed = prepare(vae, pixels, mask, pos, neg)
    assert not torch.equal(greyed.positive[0][1]["concat_latent_image"], greyed.latent["samples"])

    vae.calls.clear()
    bare = prepare(vae, pixels, mask, pos, neg, concat=False)
    assert len(vae.calls) == 1
    assert torch.equal(bare.latent["samples"], greyed.latent["samples"])
    for out, src in ((bare.positive, pos), (bare.negative, neg)):
        assert out is not src and out[0][1] is not src[0][1]
        assert out[0][1] == src[0][1] and out[0][0] is src[0][0]


def test_all_ones_inpaint_mask_for_channel_edit(host) -> None:
    pixels, mask = make_image(1, 36, 44, seed=7), soft_mask(1, 36, 44)
    out = prepare(host.vae, pixels, mask, make_cond(1), make_cond(2), grey_masked=False,
                  inpaint_mask=torch.ones(1, 9, 11), variants=2)
    concat_mask = out.positive[0][1]["concat_mask"]
    assert concat_mask.shape == (2, 1, 32, 40) and bool((concat_mask == 1).all())
    ref = prepare(host.vae, pixels, mask, make_cond(1), make_cond(2))
    assert torch.equal(out.latent["noise_mask"][:1], ref.latent["noise_mask"])  # noise mask untouched


def test_rgba_pixels_use_rgb(host) -> None:
    rgba = make_image(1, 32, 32, seed=8, channels=4)
    mask = soft_mask(1, 32, 32)
    pos, neg = make_cond(1), make_cond(2)
    ours = prepare(host.vae, rgba, mask, pos, neg)
    assert_same_as_core(ours, core_prepare(host, host.vae, rgba[..., :3].clone(), mask, pos, neg))


def test_inputs_are_not_modified(host) -> None:
    pixels, mask = make_image(2, 45, 37, seed=9), soft_mask(2, 45, 37)
    pos, neg = make_cond(11), make_cond(12)
    pos[0][1]["concat_mask"] = torch.zeros(1, 1, 4, 4)  # an earlier value must survive in the input
    snapshot = copy.deepcopy((pixels, mask, pos, neg))
    ids = [id(pos), id(pos[0]), id(pos[0][1]), id(neg), id(neg[0]), id(neg[0][1])]
    out = prepare(host.vae, pixels, mask, pos, neg, variants=2, binarize_concat_mask=True)
    assert torch.equal(pixels, snapshot[0]) and torch.equal(mask, snapshot[1])
    for now, before in ((pos, snapshot[2]), (neg, snapshot[3])):
        assert len(now) == len(before) and now[0][1].keys() == before[0][1].keys()
        assert torch.equal(now[0][0], before[0][0])
        for key, value in before[0][1].items():
            assert torch.equal(now[0][1][key], value) if torch.is_tensor(value) else now[0][1][key] == value
    assert ids == [id(pos), id(pos[0]), id(pos[0][1]), id(neg), id(neg[0]), id(neg[0][1])]
    assert out.positive[0][1] is not pos[0][1] and out.positive[0][1]["concat_mask"].shape[0] == 4


def test_inpaint_mask_is_greyed_and_concat_while_the_noise_mask_stays(host) -> None:
    """The pack's noise mask adds a feather band; the concat image and mask follow the inpaint mask.

    Oracle: core InpaintModelConditioning run with the inpaint mask gives the concat values, and run
    with the noise mask gives the noise mask.
    """
    pixels = make_image(1, 48, 48, seed=10)
    inpaint = box_mask(1, 48, 48)
    noise = soft_mask(1, 48, 48).maximum(inpaint)
    pos, neg = make_cond(13), make_cond(14)
    ours = prepare(host.vae, pixels, noise, pos, neg, inpaint_mask=inpaint)
    core_inpaint = core_prepare(host, host.vae, pixels, inpaint, pos, neg)
    core_noise = core_prepare(host, host.vae, pixels, noise, pos, neg)
    for key in ("concat_latent_image", "concat_mask"):
        assert torch.equal(ours.positive[0][1][key], core_inpaint[0][0][1][key]), key
    assert torch.equal(ours.latent["noise_mask"], core_noise[2]["noise_mask"])
    assert torch.equal(ours.latent["samples"], core_noise[2]["samples"])
