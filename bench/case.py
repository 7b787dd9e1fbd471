"""One benchmark case in its own process, so its peak RSS is its own.

    python -m bench.case --pipeline ours|stock|batch --size 1024 --mask 256 --steps 4 --out case.json
    python -m bench.case --pipeline ours --scene three-regions --size 4096 --steps 2 --out case.json  # B2's step

ours:  FluxFill Inpainter (crop -> inpaint -> stitch) on the whole image.
stock: CLIPTextEncode, FluxGuidance, ConditioningZeroOut, InpaintModelConditioning,
       DifferentialDiffusion, KSampler, VAEDecode, ImageCompositeMasked on the whole image.
batch: B3, comfy.sample.sample on N equal crops in one call vs N calls of one crop (sample only).

Both image pipelines get the same models (UNETLoader / VAELoader / CLIPLoader), seed, steps,
sampler and guidance. Stage times come from timed wrappers around `vae.encode`, `vae.decode`,
`clip.encode_from_tokens_scheduled` and `comfy.sample.sample`; the rest of the total is "other"
(crop + stitch + mask work for ours, node glue + compositing for the stock graph). The JSON is
written once the models are loaded (status "running", for the parent if it has to stop us) and
again at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from .common import (
    HOST_BASE,
    StageTimer,
    make_scene,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    sync_device,
    tensor_mb,
    use_repo_imports,
)

SAMPLER, SCHEDULER, CFG, GUIDANCE, PROMPT = "euler", "simple", 1.0, 30.0, "a red apple"


def boot() -> None:
    use_repo_imports()
    if torch.cuda.is_available():  # ComfyUI's model management then runs on the GPU
        os.environ.setdefault("FFI_TEST_DEVICE", "cuda")
    from comfy_host import MODEL_CACHE, boot_comfy, make_base_dir
    from tiny_models import write_tiny_models

    write_tiny_models(MODEL_CACHE)  # no-op when the cache is current
    boot_comfy(make_base_dir(HOST_BASE))


def load_models(with_vae: bool = True) -> tuple[Any, Any, Any]:
    """The tiny real Flux Fill, Flux VAE and CLIP-L through ComfyUI's own loaders, loaded on the device."""
    import comfy.model_management
    from tiny_models import CLIP_L_FILE, FLUX_FILL_FILE, FLUX_VAE_FILE

    import nodes

    (model,) = nodes.UNETLoader().load_unet(FLUX_FILL_FILE, "default")
    (clip,) = nodes.CLIPLoader().load_clip(CLIP_L_FILE, "stable_diffusion")
    vae = nodes.VAELoader().load_vae(FLUX_VAE_FILE)[0] if with_vae else None
    patchers = [model, clip.patcher] + ([vae.patcher] if vae is not None else [])
    comfy.model_management.load_models_gpu(patchers)
    return model, vae, clip


def instrument(timer: StageTimer, vae: Any, clip: Any) -> None:
    import comfy.sample

    timer.wrap(comfy.sample, "sample", "sample")
    timer.wrap(clip, "encode_from_tokens_scheduled", "text")
    if vae is not None:
        timer.wrap(vae, "encode", "encode")
        timer.wrap(vae, "decode", "decode")


def instrument_ours(detail: StageTimer) -> list[str]:
    """Split our node's non-model time by the pack functions it calls (module attributes; node unchanged).

    The node's internals move; only the (module, name) pairs that exist are wrapped. Returns those names.
    """
    import importlib

    candidates = (
        ("nodes.crop_stage", "check_image", "check_image"), ("nodes.crop_stage", "check_mask", "check_mask"),
        ("nodes.crop_stage", "prepare_windowed_masks", "prepare_masks"),
        ("nodes.crop_stage", "plan_crops", "plan_crops"),
        ("nodes.crop_stage", "crop_regions", "crop_regions"), ("crop_stitch.stitch", "stitch_regions", "stitch"),
        ("nodes.ui", "draw_regions_preview", "preview"), ("nodes.ui", "ui.PreviewImage", "preview_png"),
    )
    wrapped = []
    for module_name, attr, stage in candidates:
        owner: Any = importlib.import_module(f"fluxfill_inpainter.{module_name}")
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is not None and hasattr(owner, name) and f"{stage}@{id(owner)}" not in wrapped:
            detail.wrap(owner, name, stage)
            wrapped.append(f"{stage}@{id(owner)}")
    return sorted({w.split("@")[0] for w in wrapped})


def code_version() -> dict[str, Any]:
    """The commit and whether the pack's code differs from it (other engineers edit the same checkout)."""
    import subprocess

    from .common import REPO

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--", "__init__.py", "nodes", "crop_stitch", "diff_attention")
        return {"commit": git("rev-parse", "--short", "HEAD"), "pack_dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown"}


def run_ours(models: tuple, image: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace,
             record: dict) -> torch.Tensor:
    from comfy_host import run_node
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter
    from fluxfill_inpainter.nodes.options import build_options

    model, vae, clip = models
    options = build_options(min_side=args.min_side, min_crop=args.min_crop)
    detail = StageTimer()
    record["detail_wrapped"] = instrument_ours(detail)
    out = run_node(FluxFillInpainter, model=model, text=PROMPT, vae=vae, image=image, mask=mask, seed=args.seed,
                   steps=args.steps, cfg=CFG, sampler_name=SAMPLER, scheduler=SCHEDULER, denoise=1.0,
                   noise_mask=True, batch_size=1, differential_attention=True, guidance=GUIDANCE,
                   dd_strength=1.0, context=1.0, grow=0, feather=args.feather,
                   target_megapixels=args.target_mp, clip=clip, options=options)
    plan = json.loads(out.result[7])
    record["crops"] = [{"box": r["box"], "target": r["target"]} for r in plan["regions"]]
    record["detail_s"] = detail.as_dict()
    record["detail_trail"] = detail.trail
    return out.result[0]


def run_stock(models: tuple, image: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace,
              record: dict) -> torch.Tensor:
    from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion
    from comfy_extras.nodes_flux import FluxGuidance
    from comfy_extras.nodes_mask import ImageCompositeMasked

    import nodes

    model, vae, clip = models
    node_s: dict[str, float] = {}

    def node(name: str, fn: Any, *inputs: Any) -> Any:
        sync_device()
        start = time.perf_counter()
        result = fn(*inputs)
        sync_device()
        node_s[name] = round(time.perf_counter() - start, 3)
        return result

    (text,) = node("CLIPTextEncode", nodes.CLIPTextEncode().encode, clip, PROMPT)
    positive = node("FluxGuidance", lambda c: FluxGuidance.execute(c, GUIDANCE).result[0], text)
    (negative,) = node("ConditioningZeroOut", nodes.ConditioningZeroOut().zero_out, text)
    pos, neg, latent = node("InpaintModelConditioning", nodes.InpaintModelConditioning().encode,
                            positive, negative, image, vae, mask, True)
    dd_model = node("DifferentialDiffusion", lambda m: DifferentialDiffusion.execute(m).result[0], model)
    (sampled,) = node("KSampler", nodes.KSampler().sample, dd_model, args.seed, args.steps, CFG, SAMPLER,
                      SCHEDULER, pos, neg, latent, 1.0)
    (decoded,) = node("VAEDecode", nodes.VAEDecode().decode, vae, sampled)
    (result,) = node("ImageCompositeMasked", ImageCompositeMasked().composite, image, decoded, 0, 0, False, mask)
    record["nodes_s"] = node_s
    return result


def run_batch(models: tuple, args: argparse.Namespace, timer: StageTimer, record: dict) -> None:
    """B3: N crops of one size, one sampler call with a batch of N vs N calls with a batch of 1."""
    import comfy.sample
    import node_helpers
    from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion
    from comfy_extras.nodes_flux import FluxGuidance

    import nodes

    model, _, clip = models
    n, side = args.batch_n, args.crop
    (text,) = nodes.CLIPTextEncode().encode(clip, PROMPT)
    negative = nodes.ConditioningZeroOut().zero_out(text)[0]
    positive = FluxGuidance.execute(text, GUIDANCE).result[0]
    dd_model = DifferentialDiffusion.execute(model).result[0]
    gen = torch.Generator().manual_seed(args.seed)
    lat = (n, 16, side // 8, side // 8)
    latent = torch.randn(lat, generator=gen) * 0.5  # stands in for VAE-encoded crops: sampling cost is the same
    concat = torch.randn(lat, generator=gen) * 0.5
    noise = torch.randn(lat, generator=gen)
    mask = torch.zeros(n, 1, side, side)
    mask[:, :, side // 4:3 * side // 4, side // 4:3 * side // 4] = 1.0

    def call(rows: slice, steps: int) -> torch.Tensor:
        extra = {"concat_latent_image": concat[rows], "concat_mask": mask[rows]}
        pos = node_helpers.conditioning_set_values(positive, extra)
        neg = node_helpers.conditioning_set_values(negative, extra)
        return comfy.sample.sample(dd_model, noise[rows], steps, CFG, SAMPLER, SCHEDULER, pos, neg, latent[rows],
                                   denoise=1.0, noise_mask=mask[rows], seed=args.seed, disable_pbar=True)

    call(slice(0, 1), 1)  # warm-up: first-call costs (weight casts, kernels) out of both timings
    rounds = []
    for r in range(args.rounds):
        order = ("batched", "sequential") if r % 2 == 0 else ("sequential", "batched")
        times = {}
        for mode in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            if mode == "batched":
                call(slice(0, n), args.steps)
            else:
                for i in range(n):
                    call(slice(i, i + 1), args.steps)
            sync_device()
            times[mode] = round(time.perf_counter() - start, 3)
            times[mode + "_cpu"] = round(time.process_time() - start_cpu, 3)
        rounds.append(times)
    record["rounds"] = rounds
    for key in ("batched", "sequential", "batched_cpu", "sequential_cpu"):
        record[key + "_s"] = round(sum(t[key] for t in rounds) / len(rounds), 3)
    record["ratio"] = round(record["sequential_s"] / record["batched_s"], 3)
    record["ratio_cpu"] = round(record["sequential_cpu_s"] / record["batched_cpu_s"], 3)


def write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(path)


def volunteer_for_oom_killer() -> None:
    """On a shared machine, if memory runs out, let the kernel kill this benchmark before others' work."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def run(args: argparse.Namespace) -> dict:
    volunteer_for_oom_killer()
    record: dict[str, Any] = {"pipeline": args.pipeline, "status": "running", "steps": args.steps,
                              "seed": args.seed, "code": code_version()}
    start_boot = time.perf_counter()
    boot()
    import comfy.model_management

    device = comfy.model_management.get_torch_device()
    record["device"] = str(device)
    models = load_models(with_vae=args.pipeline != "batch")
    record["load_s"] = round(time.perf_counter() - start_boot, 2)
    gc.collect()
    record["rss_models_mb"] = round(rss_mb(), 1)
    timer = StageTimer()
    instrument(timer, models[1], models[2])
    image = mask = None
    if args.pipeline != "batch":
        record.update(size=args.size, mask=args.mask, scene=args.scene)
        if args.scene == "three-regions":
            from .overhead import three_regions

            image, mask = three_regions(args.size, torch.device("cpu"))
        else:
            image, mask = make_scene(args.size, args.mask, seed=args.seed)
        image, mask = image.to(comfy.model_management.intermediate_device()), mask
        record["input_mb"] = round(tensor_mb(image, mask), 1)
    else:
        record.update(batch_n=args.batch_n, crop=args.crop)
    record["peak_reset"] = reset_peak_rss()
    record["rss_start_mb"] = round(rss_mb(), 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
        record["cuda_start_mb"] = round(torch.cuda.memory_allocated() / 1024**2, 1)  # the models and the inputs
        torch.cuda.reset_peak_memory_stats()
    write(args.out, record)

    start, start_cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():  # as ComfyUI's executor runs every node (execution.py, execute_async)
        if args.pipeline == "batch":
            run_batch(models, args, timer, record)
        else:
            runner = run_ours if args.pipeline == "ours" else run_stock
            result = runner(models, image, mask, args, record)
            sync_device()
            record["output_shape"] = list(result.shape)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    record["total_s"], record["total_cpu_s"] = round(total, 3), round(total_cpu, 3)
    stages, stages_cpu = timer.as_dict(), timer.as_dict(cpu=True)
    if args.pipeline != "batch":
        stages["other"] = round(total - sum(stages.values()), 3)
        stages_cpu["other"] = round(total_cpu - sum(stages_cpu.values()), 3)
    record["stages_s"], record["stages_cpu_s"] = stages, stages_cpu
    record["stage_calls"] = dict(timer.calls)
    record["trail"] = timer.trail
    record["peak_rss_mb"] = round(peak_rss_mb(), 1)
    record["extra_over_models_mb"] = round(record["peak_rss_mb"] - record["rss_models_mb"], 1)
    record["extra_over_start_mb"] = round(record["peak_rss_mb"] - record["rss_start_mb"], 1)
    if device.type == "cuda":
        record["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 1024**2, 1)
        record["cuda_extra_mb"] = round(record["cuda_peak_mb"] - record["cuda_start_mb"], 1)
    record["status"] = "ok"
    return record


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.case", description=__doc__.splitlines()[0])
    p.add_argument("--pipeline", choices=["ours", "stock", "batch"], required=True)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--size", type=int, default=1024, help="square image side (ours/stock)")
    p.add_argument("--mask", type=int, default=256, help="side of the centred square mask")
    p.add_argument("--scene", choices=["square", "three-regions"], default="square",
                   help="square: one centred mask; three-regions: B2's three blobs (--mask unused)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--target-mp", type=float, default=0.25, help="our node's target_megapixels")
    p.add_argument("--min-side", type=int, default=512, help="Inpaint Options min_side")
    p.add_argument("--min-crop", type=int, default=512, help="Inpaint Options min_crop")
    p.add_argument("--feather", type=int, default=16, help="our node's feather (its default)")
    p.add_argument("--batch-n", type=int, default=4, help="B3: number of equal crops")
    p.add_argument("--crop", type=int, default=512, help="B3: crop side in pixels")
    p.add_argument("--rounds", type=int, default=2, help="B3: batched/sequential rounds (order alternates)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        record = run(args)
    except Exception as exc:  # recorded for the report, then the process fails
        record = json.loads(args.out.read_text()) if args.out.exists() else {"pipeline": args.pipeline}
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
                      traceback=traceback.format_exc()[-4000:], peak_rss_mb=round(peak_rss_mb(), 1))
        write(args.out, record)
        traceback.print_exc()
        return 1
    write(args.out, record)
    print(json.dumps({k: v for k, v in record.items() if k != "crops"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
