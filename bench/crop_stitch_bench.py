"""Time prepare_masks + plan_crops + crop_regions + stitch on a 4096^2 image with 3 regions.

    .venv/bin/python bench/crop_stitch_bench.py [--device cpu|cuda] [--runs 5] [--size 4096]

Prints JSON: median milliseconds per stage and in total (after one warm-up run).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
PACK_NAME = "fluxfill_inpainter"


def register_pack() -> None:
    """Make the repo importable as `fluxfill_inpainter`, as tests/conftest.py does."""
    if PACK_NAME in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)


def make_scene(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth image and a mask with three separated blobs (a disk, a bar, a ring)."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, 64, 64, generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
    img = img.permute(0, 2, 3, 1).contiguous().to(device)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    s = size / 4096
    disk = (ys - 900 * s) ** 2 + (xs - 800 * s) ** 2 <= (220 * s) ** 2
    bar = (ys >= 1000 * s) & (ys < 1150 * s) & (xs >= 2900 * s) & (xs < 3500 * s)
    r2 = (ys - 3100 * s) ** 2 + (xs - 2000 * s) ** 2
    ring = (r2 <= (300 * s) ** 2) & (r2 >= (150 * s) ** 2)
    mask = (disk | bar | ring).float()[None].to(device)
    return img, mask


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_once(img, mask, cs, device) -> dict[str, float]:
    stages: dict[str, float] = {}

    def timed(name, fn):
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        stages[name] = (time.perf_counter() - t0) * 1000.0
        return out

    pm = timed(
        "prepare_masks",
        lambda: cs.prepare_masks(mask, cs.MaskSettings(fill_holes=True, grow_px=8, feather_px=16)),
    )
    plan = timed("plan_crops", lambda: cs.plan_crops(pm.denoise, cs.CropSettings()))
    assert len(plan.regions) == 3, plan.regions

    def crop_all():
        crops = [None] * len(plan.regions)
        for ids in plan.groups_by_target().values():
            batch = cs.crop_regions(img, pm.inpaint, pm.denoise, plan, ids)
            for row, i in enumerate(ids):
                crops[i] = batch.images[row : row + 1]
        return crops

    crops = timed("crop_regions", crop_all)
    timed(
        "stitch",
        lambda: cs.stitch(img, pm.composite, plan, crops, 1, denoise_full=pm.denoise),
    )
    timed(
        "stitch_color_correct",
        lambda: cs.stitch(
            img, pm.composite, plan, crops, 1, color_correct=True, denoise_full=pm.denoise
        ),
    )
    stages["total"] = sum(v for k, v in stages.items() if k != "stitch_color_correct")
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available")
    register_pack()
    import fluxfill_inpainter.crop_stitch as cs

    device = torch.device(args.device)
    img, mask = make_scene(args.size, device)
    run_once(img, mask, cs, device)  # warm-up
    runs = [run_once(img, mask, cs, device) for _ in range(args.runs)]
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name()
        if device.type == "cuda"
        else platform.processor(),
        "threads": torch.get_num_threads(),
        "size": args.size,
        "regions": 3,
        "runs": args.runs,
        "median_ms": {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
