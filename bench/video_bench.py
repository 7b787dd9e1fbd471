"""B7: a clip with a small moving mask, FluxFill Inpainter vs the stock full-frame Wan inpaint graph, one run.

    python -m bench.video_bench [--frames 33] [--size 480x320] [--runs 2] [--threads 0]

Scene: `--frames` frames of scikit-image's coffee.png panning 1 px per frame, a disk mask of `--radius` px
moving `--speed` px per frame to the right. Model: the tiny Wan 2.1 T2V and Wan 2.1 VAE of tests/tiny_video.py
(ComfyUI's own classes, seeded random weights); conditioning `tiny_families.condition(pooled=None)`.

stock:     VAEEncode (all frames) -> SetLatentNoiseMask (the per-frame mask) -> KSampler -> VAEDecode.
node:      FluxFillInpainter on the same frames and mask (`condition` input, no CLIP), same seed, steps, cfg,
           sampler and scheduler, Inpaint Options min_crop 32 and target_mode none: one crop per region per
           clip, sampled at its own pixel size.
node_auto: the same with target_mode area and target_megapixels 0 (automatic: Wan 2.1's 832 x 480 area);
           `--no-auto` leaves it out.
Each run is a child process (stock, node, node_auto, stock, ...) that boots ComfyUI, builds the same seeded models
and scene, then times the one call under torch.inference_mode(). Peak RSS over start = ru_maxrss after the
call minus RSS just before it (models and frames loaded, high-water mark reset via /proc/self/clear_refs).
vae.encode, vae.decode and comfy.sample.sample are timed, and each sampler call's latent shape recorded.
Prints a one-line summary, then the JSON (per-run child logs in bench/results/).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .common import (
    HOST_BASE,
    REPO,
    RESULTS,
    StageTimer,
    machine_info,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    use_repo_imports,
)

SAMPLER, SCHEDULER = "euler", "simple"


def boot() -> None:
    use_repo_imports()
    from comfy_host import boot_comfy, make_base_dir

    boot_comfy(make_base_dir(HOST_BASE, models=None))  # the Wan models are built in-process: no files


def scene(frames: int, width: int, height: int, radius: int, speed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """([frames,H,W,3] a slow pan over coffee.png, [frames,H,W] a disk moving `speed` px per frame)."""
    from photo_scenes import photo

    src = photo("coffee.png").permute(0, 3, 1, 2)
    scale = max(height / src.shape[2], (width + frames) / src.shape[3])
    size = (max(height, round(src.shape[2] * scale)), max(width + frames, round(src.shape[3] * scale)))
    big = F.interpolate(src, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    big = big.permute(0, 2, 3, 1)[0]
    y0 = (size[0] - height) // 2
    video = torch.stack([big[y0:y0 + height, t:t + width] for t in range(frames)]).contiguous()
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    cy, x_start = height / 2, max(radius, width * 0.3 - speed * (frames - 1) / 2)
    mask = torch.stack([(((xs - x_start - speed * t) ** 2 + (ys - cy) ** 2) <= radius ** 2).float()
                        for t in range(frames)])
    return video, mask


def build_models() -> tuple[Any, Any, list, list]:
    import tiny_families as tf
    import tiny_video as tv

    return tv.wan21_t2v(), tv.wan21_vae(), tf.condition(pooled=None), tf.condition(seed=41, pooled=None)


def instrument(timer: StageTimer, vae: Any) -> list[list[int]]:
    """Time vae.encode / vae.decode / comfy.sample.sample (both sides go through them); returns the list each
    sampler call appends its latent's shape to."""
    import comfy.sample

    shapes: list[list[int]] = []
    real = comfy.sample.sample

    def sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw):
        shapes.append(list(latent_image.shape))
        with timer.section("sample"):
            return real(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw)

    comfy.sample.sample = sample
    timer.wrap(vae, "encode", "encode")
    timer.wrap(vae, "decode", "decode")
    return shapes


def stock(models: tuple, video: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace) -> tuple:
    import nodes

    model, vae, positive, negative = models
    with torch.inference_mode():
        (latent,) = nodes.VAEEncode().encode(vae, video)
        (masked,) = nodes.SetLatentNoiseMask().set_mask(latent, mask)
        (out,) = nodes.common_ksampler(model, args.seed, args.steps, args.cfg, SAMPLER, SCHEDULER, positive,
                                       negative, masked, denoise=1.0)
        return nodes.VAEDecode().decode(vae, out)[0], []


def node(models: tuple, video: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace, auto: bool) -> tuple:
    from comfy_host import run_node
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter
    from fluxfill_inpainter.nodes.options import build_options

    # min_crop's default 512 would widen every crop of a 480x320 clip to the whole frame
    options = build_options(min_crop=32, target_mode="area" if auto else "none")
    model, vae, positive, _ = models
    out = run_node(FluxFillInpainter, model=model, text="", vae=vae, image=video, mask=mask, seed=args.seed,
                   steps=args.steps, cfg=args.cfg, sampler_name=SAMPLER, scheduler=SCHEDULER, denoise=1.0,
                   noise_mask=True, batch_size=1, differential_attention=True, guidance=0.0, dd_strength=1.0,
                   context=1.0, grow=0, feather=16, target_megapixels=0.0, condition=positive, options=options)
    return out.result[0], json.loads(out.result[7])["regions"]


SIDES = {"stock": stock, "node": lambda *a: node(*a, auto=False), "node_auto": lambda *a: node(*a, auto=True)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run of `args.side` in this (fresh) process: boot, build, then the measured call."""
    boot()
    width, height = size_of(args.size)
    models = build_models()
    timer = StageTimer()
    shapes = instrument(timer, models[1])
    video, mask = scene(args.frames, width, height, args.radius, args.speed)
    gc.collect()
    reset_peak_rss()
    start_rss = rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    images, regions = SIDES[args.side](models, video, mask, args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    peak = peak_rss_mb()
    return {"s": round(seconds, 2), "cpu_s": round(cpu, 2), "stages_s": timer.as_dict(),
            "peak_rss_over_start_mb": round(peak - start_rss, 1), "start_rss_mb": round(start_rss, 1),
            "latents": shapes, "output": list(images.shape), "finite": bool(images.isfinite().all()),
            "crops": sorted({(tuple(r["box"]), tuple(r["target"])) for r in regions})}  # one box per region per clip


def size_of(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def spawn(side: str, index: int, argv: list[str]) -> dict[str, Any]:
    """Run one side in a child process (its peak RSS is its own, not the heap an earlier run left behind)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out, log = RESULTS / f"video_bench-{side}-{index}.json", RESULTS / f"video_bench-{side}-{index}.log"
    out.unlink(missing_ok=True)
    with open(log, "w") as f:
        code = subprocess.run([sys.executable, "-m", "bench.video_bench", *argv, "--side", side, "--out", str(out)],
                              cwd=REPO, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0 or not out.exists():
        return {"error": f"exit {code}", "log": str(log), "tail": log.read_text().strip().splitlines()[-15:]}
    return json.loads(out.read_text())


def summarize(rows: list[dict]) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return {"error": rows[0]}
    return {"median_s": round(statistics.median(r["s"] for r in ok), 2),
            "median_cpu_s": round(statistics.median(r["cpu_s"] for r in ok), 2),
            "median_peak_rss_over_start_mb": round(statistics.median(r["peak_rss_over_start_mb"] for r in ok), 1),
            "latents": ok[0]["latents"], "output": ok[0]["output"], "crops": ok[0]["crops"],
            "finite": all(r["finite"] for r in ok), "failed_runs": len(rows) - len(ok)}


def ratio(a: float, b: float) -> float:
    return round(a / max(b, 1e-9), 3)


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"args": vars(args), "machine": machine_info()}
    runs: dict[str, list] = {side: [] for side in SIDES if side != "node_auto" or args.auto}
    for i in range(args.runs):
        for side in runs:
            runs[side].append(spawn(side, i, argv))
    out |= {"runs": runs} | {side: summarize(rows) for side, rows in runs.items()}
    out["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    s = out["stock"]
    for side in runs:
        n = out[side]
        if side != "stock" and "error" not in s and "error" not in n:
            out[f"ratio_{side}_over_stock"] = {
                "time": ratio(n["median_s"], s["median_s"]), "cpu_time": ratio(n["median_cpu_s"], s["median_cpu_s"]),
                "peak_rss": ratio(n["median_peak_rss_over_start_mb"], s["median_peak_rss_over_start_mb"])}
    return out


def summary(out: dict[str, Any]) -> str:
    a = out["args"]
    parts = []
    for side in out["runs"]:
        row = out[side]
        if "error" in row:
            parts.append(f"{side} FAILED ({row['error'].get('tail', [''])[-1]})")
            continue
        r = out.get(f"ratio_{side}_over_stock")
        parts.append(f"{side} {row['median_s']} s, {row['median_peak_rss_over_start_mb']} MB, latent "
                     f"{row['latents']}" + (f" ({r['time']}x time, {r['peak_rss']}x memory)" if r else ""))
    return f"B7 {a['frames']} frames {a['size']}, {a['steps']} steps: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.video_bench", description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--size", default="480x320", help="width x height")
    p.add_argument("--runs", type=int, default=2, help="runs of each side, alternating, each in its own process")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--cfg", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--radius", type=int, default=16)
    p.add_argument("--speed", type=int, default=3, help="mask motion, px per frame")
    p.add_argument("--auto", action=argparse.BooleanOptionalAction, default=True,
                   help="also run node_auto (the node at its automatic target size)")
    p.add_argument("--side", choices=tuple(SIDES), help=argparse.SUPPRESS)  # a child's one measured run
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.side:
        args.out.write_text(json.dumps(measure(args)))
        return {}
    out = run(args, argv)
    print(summary(out))
    print(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    main()
