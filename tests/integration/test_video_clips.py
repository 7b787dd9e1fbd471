"""Video clips through the FluxFill Inpainter on tiny Wan 2.1, Wan 2.2 (5B layout) and Wan 2.1 VACE models:
a blob moving over 17 frames (absent from some), one box per region for the clip (or a tracked box), one
sampler call per region and variant with a 5-D latent of the Wan frame count, VACE inputs on the VACE model,
the image bit-exact outside the mask and its feather band in every frame, unmasked frames identical."""

from __future__ import annotations

import json

import pytest
import tiny_families as tf
import tiny_video as tv
import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FRAMES, H, W = 17, 80, 112
EMPTY = (0, 1, 9)  # frames without mask: before the blob appears, and one in the middle
FEATHER = 4


def moving_blob(speed: int = 2, radius: int = 7):
    """A textured clip and a disk moving `speed` px per frame (right and down), absent from EMPTY frames."""
    g = torch.Generator().manual_seed(3)
    frames = torch.rand(FRAMES, H, W, 3, generator=g)
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    mask = torch.zeros(FRAMES, H, W)
    for t in range(FRAMES):
        if t not in EMPTY:
            cy, cx = 20 + speed * t // 2, 18 + speed * t
            mask[t] = (((ys - cy) ** 2 + (xs - cx) ** 2) <= radius * radius).float()
    return frames, mask


def mask_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(mask > 0, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def span_latent_frames(mask: torch.Tensor) -> int:
    """The Wan latent frames of the blob's span (first to last masked frame), from the user's mask alone."""
    masked = [t for t in range(mask.shape[0]) if bool(mask[t].any())]
    frames = masked[-1] - masked[0] + 1
    return (frames - 1 + 3) // 4 + 1


MODELS = {
    "wan21": lambda: (tv.wan21_t2v(), tv.wan21_vae()),
    "wan22": lambda: (tv.wan22_ti2v(), tv.wan22_vae()),
    "vace": lambda: (tv.wan21_vace(), tv.wan21_vae()),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def wan(request, comfy):
    return request.param, *MODELS[request.param]()


def run_clip(model, vae, frames, mask, **kw):
    options = kw.pop("options", small_options())
    return inpaint((model, vae, None), frames, mask, clip=False, condition=tf.condition(pooled=None),
                   options=options, feather=FEATHER, sampler_name="euler", scheduler="simple", steps=2, cfg=1.0,
                   **kw)


def test_a_clip_is_one_video_latent_per_region_and_variant(wan, spy):
    import comfy.sample

    name, model, vae = wan
    frames, mask = moving_blob()
    out = run_clip(model, vae, frames, mask, batch_size=2, seed=11)

    assert len(spy.calls) == 2, "one sampler call per region and variant"
    t_latent = span_latent_frames(mask)
    for j, call in enumerate(spy.calls):
        latent = call["latent_image"]
        assert latent.ndim == 5 and latent.shape[0] == 1 and latent.shape[2] == t_latent
        assert latent.shape[1] == vae.latent_channels
        assert call["noise_mask"].shape[2] == t_latent
        torch.testing.assert_close(call["noise"], comfy.sample.prepare_noise(latent, 11 + j), rtol=0, atol=0)
        vace = [extras for _, extras in call["positive"] if "vace_frames" in extras]
        if name == "vace":
            assert vace, "the VACE model got no control video"
            assert vace[0]["vace_frames"][0].shape == (1, 32, *latent.shape[2:])
            assert vace[0]["vace_mask"][0].shape == (1, 64, *latent.shape[2:])
        else:
            assert not vace

    regions = json.loads(out[7])["regions"]
    boxes = {tuple(r["box"]) for r in regions}
    assert len(boxes) == 1, f"one box for the whole clip, got {boxes}"
    box = boxes.pop()
    masked = [t for t in range(FRAMES) if bool(mask[t].any())]
    for t in masked:
        x0, y0, x1, y1 = mask_box(mask[t])
        assert box[0] <= x0 and box[1] <= y0 and box[2] >= x1 and box[3] >= y1, f"frame {t}'s mask is not in the box"

    result = out[0]
    assert result.shape == (2 * FRAMES, H, W, 3) and bool(torch.isfinite(result).all())
    assert_untouched_outside(result, frames, mask, reach=FEATHER, variants=2)
    for t in EMPTY:
        for j in range(2):
            assert torch.equal(result[t * 2 + j], frames[t]), f"unmasked frame {t} changed (variant {j})"
    inside = mask.repeat_interleave(2, dim=0) > 0.5
    assert not torch.equal(result[inside], frames.repeat_interleave(2, dim=0)[inside]), "nothing was inpainted"
    assert out[1]["samples"].ndim == 5 and out[1]["samples"].shape[0] == 2


def test_the_tracked_box_has_one_size_and_moves_at_most_track_speed(comfy, spy):
    model, vae = tv.wan21_t2v(), tv.wan21_vae()
    frames, mask = moving_blob(speed=4)
    speed = 3.0
    out = run_clip(model, vae, frames, mask, options=small_options(video="tracked box", track_speed=speed))
    assert len(spy.calls) == 1 and spy.calls[0]["latent_image"].shape[2] == span_latent_frames(mask)
    regions = sorted(json.loads(out[7])["regions"], key=lambda r: r["image_index"])
    sizes = {(r["box"][2] - r["box"][0], r["box"][3] - r["box"][1]) for r in regions}
    assert len(sizes) == 1 and len({tuple(r["target"]) for r in regions}) == 1
    assert len({tuple(r["box"]) for r in regions}) > 1, "the box never moved: not a track"
    for a, b in zip(regions, regions[1:], strict=False):
        ca = torch.tensor([a["box"][0] + a["box"][2], a["box"][1] + a["box"][3]]) / 2
        cb = torch.tensor([b["box"][0] + b["box"][2], b["box"][1] + b["box"][3]]) / 2
        assert float(torch.linalg.vector_norm(cb - ca)) <= speed + 1e-6
    for r in regions:
        t = r["image_index"]
        if bool(mask[t].any()):
            x0, y0, x1, y1 = mask_box(mask[t])
            bx0, by0, bx1, by1 = r["box"]
            assert bx0 <= x0 and by0 <= y0 and bx1 >= x1 and by1 >= y1
    assert_untouched_outside(out[0], frames, mask, reach=FEATHER)
    for t in EMPTY:
        assert torch.equal(out[0][t], frames[t])


def test_a_long_clip_is_sampled_in_overlapping_windows(comfy, spy, monkeypatch):
    import comfy.model_management

    model, vae = tv.wan21_t2v(), tv.wan21_vae()
    frames, mask = moving_blob()
    options = small_options(frame_window=9, frame_overlap=4)
    out = run_clip(model, vae, frames, mask, options=options)
    # the span's 15 frames padded to 17; windows of 9 frames starting 0, 5 and 8: 3 latent frames each
    assert [c["latent_image"].shape[2] for c in spy.calls] == [3, 3, 3]
    g = torch.Generator().manual_seed(5)  # the seed run_clip passes: window w gets the generator's draw w + 1
    for call in spy.calls:
        expected = torch.randn(call["latent_image"].shape, generator=g, dtype=torch.float32)
        torch.testing.assert_close(call["noise"], expected, rtol=0, atol=0)
    assert_untouched_outside(out[0], frames, mask, reach=FEATHER)
    for t in EMPTY:
        assert torch.equal(out[0][t], frames[t])

    spy.calls.clear()
    real = spy.real

    def interrupt_after_first(*args, **kw):
        samples = real(*args, **kw)
        spy.calls.append(samples)
        comfy.model_management.interrupt_current_processing(True)
        return samples

    import comfy.sample
    monkeypatch.setattr(comfy.sample, "sample", interrupt_after_first)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        run_clip(model, vae, frames, mask, options=options)
    comfy.model_management.interrupt_current_processing(False)
    assert len(spy.calls) == 1, "the interrupt was not honoured before the next window"


def test_video_off_samples_every_frame_as_an_image(comfy, spy):
    model, vae = tv.wan21_t2v(), tv.wan21_vae()
    frames, mask = moving_blob()
    frames, mask = frames[:5], mask[:5]
    out = run_clip(model, vae, frames, mask, options=small_options(video="off"))
    latents = [c["latent_image"] for c in spy.calls]
    assert sum(x.shape[0] for x in latents) == 3 and all(x.shape[2] == 1 for x in latents)  # frames 2, 3, 4
    assert_untouched_outside(out[0], frames, mask, reach=FEATHER)


def test_an_image_model_with_a_union_box_crops_every_frame_in_one_box(comfy, spy):
    frames, mask = moving_blob()
    out = inpaint((tf.flux_dev(), tf.flux_vae(), None), frames[:8], mask[:8], clip=False,
                  condition=tf.condition(), options=small_options(video="union box"), feather=FEATHER, steps=2)
    regions = json.loads(out[7])["regions"]
    assert len({tuple(r["box"]) for r in regions}) == 1
    assert sorted(r["image_index"] for r in regions) == [2, 3, 4, 5, 6, 7]  # the blob's frames, one crop each
    assert all(x.ndim == 4 for x in (c["latent_image"] for c in spy.calls)), "an image model samples images"
    assert_untouched_outside(out[0], frames[:8], mask[:8], reach=FEATHER)


def test_edit_modes_on_a_clip_are_refused_naming_the_node_and_the_option(comfy):
    from fluxfill_inpainter.nodes.inputs import InputError

    model, vae = tv.wan21_t2v(), tv.wan21_vae()
    frames, mask = moving_blob()
    with pytest.raises(InputError, match=r"FluxFill Inpainter: .*mode 'channel_edit'"):
        run_clip(model, vae, frames[:5], mask[:5], options=small_options(mode="channel_edit"))


def test_wan_models_are_video_families_and_vace_is_read_off_its_layers(wan):
    from fluxfill_inpainter.nodes.family import model_traits

    name, model, vae = wan
    traits = model_traits(model, vae, "test")
    expected = {"wan21": ("wan21", 16, 81, False), "wan22": ("wan22", 32, 121, False),
                "vace": ("wan21", 16, 81, True)}[name]
    assert (traits.family, traits.multiple, traits.frame_window, traits.vace) == expected
    assert traits.latent_dimensions == 3 and traits.temporal_vae and traits.path == "noise_mask"


def test_one_mask_for_every_frame_is_one_clip_of_all_frames(comfy, spy):
    model, vae = tv.wan21_t2v(), tv.wan21_vae()
    frames, mask = moving_blob()
    still = mask[5:6]  # one [1,H,W] mask for the whole clip
    out = run_clip(model, vae, frames, still)
    assert len(spy.calls) == 1 and spy.calls[0]["latent_image"].shape[2] == (FRAMES - 1) // 4 + 1
    regions = json.loads(out[7])["regions"]
    assert sorted(r["image_index"] for r in regions) == list(range(FRAMES))
    assert_untouched_outside(out[0], frames, still.expand(FRAMES, -1, -1), reach=FEATHER)
    inside = still.expand(FRAMES, -1, -1) > 0.5
    changed = [not torch.equal(out[0][t][inside[t]], frames[t][inside[t]]) for t in range(FRAMES)]
    assert all(changed), "a frame of the clip was not inpainted"


def test_the_crop_node_gives_a_clip_one_box_when_the_options_ask(comfy):
    from comfy_host import run_node
    from node_calls import node_classes

    _, InpaintCrop, InpaintStitch, _ = node_classes()
    frames, mask = moving_blob()
    stitcher, crops, crop_masks, regions = run_node(
        InpaintCrop, image=frames, mask=mask, context=1.0, grow=0, feather=FEATHER, target_megapixels=0.02, snap=16,
        options=small_options(video="union box")).result
    plan = json.loads(regions)["regions"]
    assert [r["image_index"] for r in plan] == list(range(2, FRAMES)), "one crop per frame of the blob's span"
    assert len({tuple(r["box"]) for r in plan}) == 1 and crops.shape[0] == FRAMES - 2
    painted = crops * 0.5
    out = run_node(InpaintStitch, stitcher=stitcher, inpainted_image=painted).result[0]
    assert_untouched_outside(out, frames, mask, reach=FEATHER)
    for t in EMPTY:
        assert torch.equal(out[t], frames[t])
