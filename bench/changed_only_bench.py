"""B6: the stitch with Inpaint Options `changed_only` on vs today's stitch, side by side in one run.

    python -m bench.changed_only_bench [--size 4096] [--runs 3] [--threads 1] [--device cpu]

A size² mosaic of scikit-image's bundled photographs, three masked regions (crop boxes of about 800-1150 px),
and crops as a drifting edit model returns them: each box shifted (1.3, -0.7) px, zoomed 2 %, with an
80 px edit in its middle and a little grain, at the plan's target size. Both stitchers get the same crops;
reported: the median seconds of `Stitcher.stitch_masked` and each region's recovered drift.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from .common import use_repo_imports

BOXES = ((700, 600, 420, 360), (2600, 900, 300, 260), (1500, 2800, 560, 480))  # x0, y0, w, h on 4096²
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")


def mosaic(size: int) -> torch.Tensor:
    from photo_scenes import photo

    tiles = [F.interpolate(photo(name).permute(0, 3, 1, 2), size=(size // 2, size // 2), mode="bicubic",
                           align_corners=False, antialias=True).clamp(0, 1) for name in PHOTOS]
    rows = [torch.cat(tiles[i:i + 2], dim=3) for i in (0, 2)]
    return torch.cat(rows, dim=2).permute(0, 2, 3, 1).contiguous()


def edited_crops(image: torch.Tensor, plan) -> list[torch.Tensor]:
    from photo_scenes import drifted_box

    gen = torch.Generator().manual_seed(0)
    crops = []
    for region in plan.regions:
        moved = drifted_box(image, region.box, 1.02, (1.3, -0.7))
        x0, y0, x1, y1 = region.box
        cy, cx = (y1 - y0) // 2, (x1 - x0) // 2
        moved[:, cy - 40:cy + 40, cx - 40:cx + 40] = torch.tensor([0.9, 0.3, 0.2])
        tw, th = region.target
        sized = F.interpolate(moved.permute(0, 3, 1, 2), size=(th, tw), mode="bicubic", align_corners=False)
        sized = sized.permute(0, 2, 3, 1)
        crops.append((sized + 0.004 * torch.randn(sized.shape, generator=gen)).clamp(0, 1))
    return crops


def run(size: int = 4096, runs: int = 3, device_name: str = "cpu") -> dict:
    use_repo_imports()
    from fluxfill_inpainter.crop_stitch import ChangedOnly, CropSettings, MaskSettings, Stitcher, plan_crops
    from fluxfill_inpainter.crop_stitch.masks import prepare_windowed_masks

    device = torch.device(device_name)
    image = mosaic(size)
    mask = torch.zeros(1, size, size)
    s = size / 4096
    for x0, y0, w, h in BOXES:
        mask[0, int(y0 * s):int((y0 + h) * s), int(x0 * s):int((x0 + w) * s)] = 1
    prepared = prepare_windowed_masks(mask, MaskSettings(feather_px=16))
    plan = plan_crops(prepared.denoise, CropSettings())
    crops = [c.to(device) for c in edited_crops(image, plan)]
    image, prepared = image.to(device), prepare_windowed_masks(mask.to(device), MaskSettings(feather_px=16))
    out = {"size": size, "regions": [list(r.box) for r in plan.regions], "device": device_name,
           "threads": torch.get_num_threads()}
    for label, changed in (("today", None), ("changed_only", ChangedOnly())):
        stitcher = Stitcher.build(image, prepared.composite, plan, denoise=prepared.denoise, changed=changed)
        times = []
        for _ in range(runs):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            result = stitcher.stitch_masked(crops, 1)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        out[label] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}
        if changed is not None:
            out["drifts"] = [[(round(d.shift[0], 3), round(d.shift[1], 3), round(d.scale, 5), d.accepted)
                              for d in per_variant] for per_variant in result.drifts]
    out["ratio"] = round(out["changed_only"]["median_s"] / out["today"]["median_s"], 1)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.changed_only_bench", description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = run(args.size, args.runs, args.device)
    print(f"B6 at {out['size']}², {len(out['regions'])} regions, {out['device']}, {out['threads']} thread(s): "
          f"today {out['today']['median_s']} s, changed_only {out['changed_only']['median_s']} s "
          f"({out['ratio']}×); drift (shift x, shift y, zoom, accepted) per region: {out['drifts']}")


if __name__ == "__main__":
    main()
