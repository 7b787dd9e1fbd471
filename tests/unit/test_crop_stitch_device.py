"""CPU and CUDA give the same plan and matching masks (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings, crop_regions, plan_crops, prepare_windowed_masks
from fluxfill_inpainter.crop_stitch.masks import prepare_masks
from fluxfill_inpainter.crop_stitch.stitch import stitch

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def scene() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    m = torch.zeros(2, 300, 420)
    m[0, 20:80, 30:90] = 1
    m[0, 200:290, 300:410] = 0.7
    m[1, 0:40, 0:420] = 1
    specks = (
        torch.randint(0, 300, (30,), generator=gen),
        torch.randint(0, 420, (30,), generator=gen),
    )
    m[1, specks[0], specks[1]] = 1
    return torch.rand(2, 300, 420, 3, generator=gen), m


@cuda
def test_cpu_and_cuda_plans_match() -> None:
    img, m = scene()
    ms = MaskSettings(grow_px=3, feather_px=6, fill_holes=True)
    s = CropSettings(min_crop_px=128, min_context_px=16)
    cpu = prepare_masks(m, ms)
    gpu = prepare_masks(m.cuda(), ms)
    assert gpu.denoise.is_cuda and gpu.composite.is_cuda
    assert torch.equal(cpu.denoise, gpu.denoise.cpu())
    assert torch.allclose(cpu.composite, gpu.composite.cpu(), atol=1e-6)
    plan_cpu = plan_crops(cpu.denoise, s)
    plan_gpu = plan_crops(gpu.denoise, s)
    assert plan_cpu == plan_gpu and len(plan_cpu.regions) >= 2
    ids = plan_gpu.groups_by_target()[plan_gpu.regions[0].target]
    batch = crop_regions(img.cuda(), gpu.inpaint, gpu.denoise, plan_gpu, ids)
    assert batch.images.is_cuda
    crops = [torch.rand(1, r.target[1], r.target[0], 3) for r in plan_gpu.regions]
    out_gpu = stitch(img.cuda(), gpu.composite, plan_gpu, [c.cuda() for c in crops], 1)
    out_cpu = stitch(img, cpu.composite, plan_cpu, crops, 1)
    assert torch.allclose(out_gpu.cpu(), out_cpu, atol=1e-4)
    windowed = prepare_windowed_masks(m.cuda(), ms)  # the node's path: masks kept as windows
    assert plan_crops(windowed.denoise, s) == plan_cpu
    from_windows = crop_regions(img.cuda(), windowed.inpaint, windowed.denoise, plan_gpu, ids)
    assert torch.allclose(from_windows.denoise, batch.denoise, atol=1e-6)


def test_plan_is_device_independent_on_cpu_dtypes() -> None:
    _, m = scene()
    ms = MaskSettings(feather_px=5)
    a = plan_crops(prepare_masks(m, ms).denoise)
    b = plan_crops(prepare_masks(m.double(), ms).denoise)
    c = plan_crops(prepare_masks(m.half(), ms).denoise)
    assert a == b == c and len(a.regions) >= 2
