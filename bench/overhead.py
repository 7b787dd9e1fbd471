"""B2: the cost of crop + stitch itself, through the pack's public crop_stitch API (no model, no VAE).

    python -m bench.overhead [--size 4096] [--runs 7] [--device cpu]

One call = prepare_windowed_masks + plan_crops + crop_regions (every target group) + stitch + the
full-size `mask` output the Inpainter returns, as nodes/crop_stage.py runs them, with the mask and
crop settings B1 gives our node (feather 16, context 1.0, target 0.25 MP, min_side 512, multiple 16).
Reported: median ms per stage and in total over `runs` calls after one warm-up call. Also timed, but
not in the total: the node's other full-image work around that API (the input check's isfinite,
fit_mask_to_image, the regions preview thumbnail).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from .common import use_repo_imports

FEATHER = 16
STAGES = ("prepare_masks", "plan_crops", "crop_regions", "stitcher", "stitch", "mask_output")


def three_regions(size: int, device: torch.device, mask_scale: float | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth [1,S,S,3] image and a mask of three separate blobs (a disk, a bar, a ring), laid out
    for a 4096² image scaled to `size` (or by `mask_scale`, for the same mask on every size)."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, 16, 16, generator=gen)
    image = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    image = image.permute(0, 2, 3, 1).contiguous().to(device)
    s = size / 4096 if mask_scale is None else mask_scale
    ys = torch.arange(size, device=device).view(-1, 1).float()
    xs = torch.arange(size, device=device).view(1, -1).float()
    disk = (ys - 900 * s) ** 2 + (xs - 800 * s) ** 2 <= (220 * s) ** 2
    bar = (ys >= 1000 * s) & (ys < 1150 * s) & (xs >= 2900 * s) & (xs < 3500 * s)
    r2 = (ys - 3100 * s) ** 2 + (xs - 2000 * s) ** 2
    ring = (r2 <= (300 * s) ** 2) & (r2 >= (150 * s) ** 2)
    return image, (disk | bar | ring).float()[None]


def settings(target_mp: float = 0.25, min_side: int = 512, min_crop: int = 512, context: float = 1.0
             ) -> tuple[Any, Any]:
    """MaskSettings and CropSettings as the node builds them for B1's widgets and options."""
    from fluxfill_inpainter.crop_stitch import CropSettings, MaskSettings

    mask = MaskSettings(grow_px=0, feather_px=FEATHER)
    crop = CropSettings(context_factor=context, target_mp=target_mp, min_side=min_side, min_crop_px=min_crop,
                        multiple=16)
    return mask, crop


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def one_call(image: torch.Tensor, mask: torch.Tensor, mask_settings: Any, crop_settings: Any,
             device: torch.device) -> tuple[dict[str, float], dict[str, float]]:
    """Wall and process-CPU milliseconds of each stage of one crop + stitch call (and the node's extras)."""
    from fluxfill_inpainter.crop_stitch import (
        Stitcher,
        crop_regions,
        draw_regions_preview,
        fit_mask_to_image,
        plan_crops,
        prepare_windowed_masks,
    )

    ms: dict[str, float] = {}
    cpu_ms: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        _sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        _sync(device)
        ms[name] = (time.perf_counter() - start) * 1000.0
        cpu_ms[name] = (time.process_time() - start_cpu) * 1000.0
        return out

    prepared = timed("prepare_masks", lambda: prepare_windowed_masks(mask, mask_settings))
    plan = timed("plan_crops", lambda: plan_crops(prepared.denoise, crop_settings))

    def crop_all() -> list[torch.Tensor]:
        crops: list[torch.Tensor] = [image[:1, :1, :1]] * len(plan.regions)
        for indices in plan.groups_by_target().values():
            batch = crop_regions(image, prepared.inpaint, prepared.denoise, plan, indices)
            for row, i in enumerate(indices):
                crops[i] = batch.images[row:row + 1]
        return crops

    crops = timed("crop_regions", crop_all)
    stitcher = timed("stitcher", lambda: Stitcher.build(image, prepared.composite, plan, denoise=prepared.denoise))
    timed("stitch", lambda: stitcher.stitch(crops, 1))
    timed("mask_output", lambda: prepared.composite.full())
    ms["total"], cpu_ms["total"] = sum(ms.values()), sum(cpu_ms.values())
    ms["regions"] = len(plan.regions)
    timed("extra_isfinite", lambda: [bool(torch.isfinite(v)) for v in torch.aminmax(image)])  # as check_image
    timed("extra_fit_mask", lambda: fit_mask_to_image(mask, image))
    timed("extra_preview", lambda: draw_regions_preview(image, plan))
    return ms, cpu_ms


def run(size: int = 4096, runs: int = 7, device_name: str = "cpu", target_mp: float = 0.25,
        min_side: int = 512, min_crop: int = 512) -> dict[str, Any]:
    """B2 result: median ms per stage over `runs` calls after one warm-up call."""
    use_repo_imports()
    device = torch.device(device_name)
    image, mask = three_regions(size, device)
    mask_settings, crop_settings = settings(target_mp, min_side, min_crop)
    one_call(image, mask, mask_settings, crop_settings, device)  # warm-up
    pairs = [one_call(image, mask, mask_settings, crop_settings, device) for _ in range(runs)]
    calls, cpu_calls = [p[0] for p in pairs], [p[1] for p in pairs]
    median = {k: round(statistics.median(c[k] for c in calls), 2) for k in calls[0] if k != "regions"}
    median_cpu = {k: round(statistics.median(c[k] for c in cpu_calls), 2) for k in cpu_calls[0]}
    return {
        "size": size, "regions": int(calls[0]["regions"]), "runs": runs, "device": str(device),
        "threads": torch.get_num_threads(), "median_ms": median, "median_cpu_ms": median_cpu,
        "total_ms_all_runs": [round(c["total"], 1) for c in calls],
        "settings": {"feather": FEATHER, "context": 1.0, "target_mp": target_mp, "min_side": min_side,
                     "min_crop": min_crop},
    }


def run_flat(sizes: tuple[int, ...] = (2048, 8192), runs: int = 5, target_mp: float = 0.25,
             min_side: int = 512, min_crop: int = 512) -> dict[str, Any]:
    """Crop + stitch for the SAME mask (the 2048² layout) on images of each size: flat in image size?

    Measured twice: with the node's context (factor 1: the context pad grows with the image side / 16,
    so the same mask gets larger crop boxes on a larger image, by design) and with a fixed context
    (factor 0: the 64 px minimum), where the boxes are the same on every size. `floor_ms` is what no
    crop + stitch can avoid: one copy of the image (the output) and one of the mask (the mask output).
    Figures are the best of `runs` calls (the machine is shared; the best is the least disturbed).
    """
    use_repo_imports()
    device = torch.device("cpu")
    out: dict[str, Any] = {"sizes": list(sizes), "runs": runs}
    for label, context in (("context_1", 1.0), ("context_0", 0.0)):
        mask_settings, crop_settings = settings(target_mp, min_side, min_crop, context)
        totals, stages, floors, regions = {}, {}, {}, {}
        for size in sizes:
            image, mask = three_regions(size, device, mask_scale=min(sizes) / 4096)
            one_call(image, mask, mask_settings, crop_settings, device)  # warm-up
            calls = [one_call(image, mask, mask_settings, crop_settings, device)[0] for _ in range(runs)]
            totals[size] = round(min(c["total"] for c in calls), 2)
            stages[size] = {k: round(min(c[k] for c in calls), 2) for k in STAGES}
            regions[size] = int(calls[0]["regions"])
            floors[size] = round(min(_copy_ms(image, mask) for _ in range(runs)), 2)
            del image, mask
        small, big = min(sizes), max(sizes)
        out[label] = {"total_ms": totals, "stage_ms": stages, "regions": regions, "floor_ms": floors,
                      "ratio": round(totals[big] / totals[small], 2)}
    out.update(total_ms=out["context_1"]["total_ms"], stage_ms=out["context_1"]["stage_ms"],
               ratio=out["context_1"]["ratio"])
    return out


def _copy_ms(image: torch.Tensor, mask: torch.Tensor) -> float:
    start = time.perf_counter()
    image.clone()
    mask.clone()
    return (time.perf_counter() - start) * 1000.0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    print(json.dumps(run(args.size, args.runs, args.device), indent=2))


if __name__ == "__main__":
    main()
