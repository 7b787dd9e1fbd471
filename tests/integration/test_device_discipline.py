"""Device discipline on a CUDA host (skipped without one; `make gpu-check` runs it on a lent GPU): the node's
full-size tensors live on ComfyUI's intermediate device, its crops go to the GPU; after the Crop node and the
Inpainter return, the GPU holds nothing more than the models it held before (a STITCHER is cached by ComfyUI,
so it must not pin VRAM)."""

from __future__ import annotations

import pytest
import torch
from comfy_host import run_node
from node_calls import inpaint, node_classes, small_options

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
SIDE = 2048
SLACK = 4 * 2**20  # allocator rounding and cuBLAS workspaces, far below one full-size mask (16 MiB)


def scene() -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(1, SIDE, SIDE, 3, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, SIDE, SIDE)
    mask[0, 900:1000, 1200:1330] = 1.0
    return image, mask


def tensors_of(value) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += tensors_of(item)
    elif isinstance(value, dict):
        for item in value.values():
            found += tensors_of(item)
    elif hasattr(value, "__dict__"):
        for item in vars(value).values():
            found += tensors_of(item)
    return found


@cuda
def test_crop_node_keeps_the_stitcher_off_the_gpu(comfy):
    import comfy.model_management as mm

    image, mask = scene()
    crop = node_classes()[1]
    widgets = dict(context=1.0, grow=0, feather=16, target_megapixels=0.25, snap=16)
    run_node(crop, image=image, mask=mask, **widgets)  # warm-up: kernels, allocator pools
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    stitcher, crops, crop_masks, _ = run_node(crop, image=image, mask=mask, **widgets).result
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() - before < SLACK
    home = mm.intermediate_device()
    held = tensors_of(stitcher)
    assert held and all(t.device == home for t in held)
    assert crops.device == home and crop_masks.device == home


@cuda
def test_inpainter_leaves_nothing_full_size_on_the_gpu(comfy, small_models):
    import comfy.model_management as mm

    image, mask = scene()
    options = small_options(min_side=256, max_side=512)
    run = dict(options=options, target_megapixels=0.25, steps=1, batch_size=2)
    inpaint(small_models, image, mask, **run)  # loads the models and warms the allocator
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    out = inpaint(small_models, image, mask, **run).result
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() - before < SLACK, "the node left tensors on the GPU"
    home = mm.intermediate_device()
    assert out[0].device == home and out[2].device == home and out[1]["samples"].device == home
    assert out[0].shape == (2, SIDE, SIDE, 3)


@cuda
def test_inpainter_samples_crops_on_the_gpu(comfy, small_models, monkeypatch):
    import comfy.model_management as mm
    from fluxfill_inpainter.nodes import prepare

    devices: list[torch.device] = []
    crop_images = prepare.crop_images

    def spy(*args, **kwargs):
        batch = crop_images(*args, **kwargs)
        devices.extend((batch.images.device, batch.inpaint.device, batch.denoise.device))
        return batch

    monkeypatch.setattr(prepare, "crop_images", spy)
    image, mask = scene()
    inpaint(small_models, image, mask, options=small_options(min_side=256, max_side=512), target_megapixels=0.25,
            steps=1)
    assert mm.get_torch_device().type == "cuda", "ComfyUI was booted on the CPU"
    assert devices and all(d.type == "cuda" for d in devices)


@cuda
def test_crop_size_masks_wait_on_the_intermediate_device_for_their_sampler_call(comfy, small_models, spy):
    """Noise masks and concat masks are held (for every group, until all are sampled) where core keeps them,
    on the intermediate device, not on the GPU; each sampler call moves its rows."""
    import comfy.model_management as mm

    image, mask = scene()
    inpaint(small_models, image, mask, options=small_options(min_side=256, max_side=512), target_megapixels=0.25,
            steps=1, batch_size=2)
    home = mm.intermediate_device()
    assert spy.calls
    for call in spy.calls:
        assert call["noise_mask"].device == home
        concat = [extras["concat_mask"] for _, extras in call["positive"] if "concat_mask" in extras]
        assert concat and all(t.device == home for t in concat)
