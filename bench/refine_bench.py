"""B5: the extra time of the two-pass refine (Inpaint Options `refine`), side by side with one pass.

    .venv/bin/python -m bench.refine_bench [--size 512] [--mask 320] [--steps 2] [--rounds 1]

Same process, same models (the tiny real Flux Fill, Flux VAE and CLIP-L through ComfyUI's loaders, as
B1), same scene and seed; the node runs with refine off and on in alternating order, each run timed by
stage (sample / encode / decode / other). The crop of the centred mask is sampled at `--target-mp`
(downscaled below the refine threshold), so the refine pass runs at min(crop size, refine_max_side).
Prints JSON: seconds per run and stage, and the ratio refine ÷ one pass (wall and per stage).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from .case import CFG, GUIDANCE, PROMPT, SAMPLER, SCHEDULER, boot, instrument, load_models
from .common import StageTimer, machine_info, make_scene


def one_run(models: tuple, timer: StageTimer, image, mask, args: argparse.Namespace, refine: bool
            ) -> dict[str, Any]:
    from comfy_host import run_node
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter
    from fluxfill_inpainter.nodes.options import build_options

    model, vae, clip = models
    options = build_options(min_side=args.min_side, min_crop=args.min_crop, refine=refine,
                            refine_max_side=args.refine_max_side)
    for table in (timer.seconds, timer.cpu_seconds, timer.calls):
        table.clear()
    start = time.perf_counter()
    out = run_node(FluxFillInpainter, model=model, text=PROMPT, vae=vae, image=image, mask=mask, seed=args.seed,
                   steps=args.steps, cfg=CFG, sampler_name=SAMPLER, scheduler=SCHEDULER, denoise=1.0,
                   noise_mask=True, batch_size=1, differential_attention=True, guidance=GUIDANCE, dd_strength=1.0,
                   context=1.0, grow=0, feather=16, target_megapixels=args.target_mp, clip=clip, options=options)
    total = time.perf_counter() - start
    stages = timer.as_dict()
    stages["other"] = round(total - sum(stages.values()), 3)
    region = json.loads(out.result[7])["regions"][0]
    return {"refine": refine, "total_s": round(total, 3), "stages_s": stages, "calls": dict(timer.calls),
            "crop": {"box": region["box"], "target": region["target"], "scale": region["scale"]}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.refine_bench", description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--mask", type=int, default=320)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1, help="pairs of runs; the order alternates")
    p.add_argument("--target-mp", type=float, default=0.0625, help="first-pass crop size (0.0625 = 256²)")
    p.add_argument("--min-side", type=int, default=128)
    p.add_argument("--min-crop", type=int, default=128)
    p.add_argument("--refine-max-side", type=int, default=2048)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    boot()
    models = load_models()
    timer = StageTimer()
    instrument(timer, models[1], models[2])
    image, mask = make_scene(args.size, args.mask, args.seed)
    one_run(models, timer, image, mask, args, refine=False)  # warm-up (first-call allocations)
    runs = []
    for r in range(args.rounds):
        for refine in ((False, True) if r % 2 == 0 else (True, False)):
            runs.append(one_run(models, timer, image, mask, args, refine))
    one = [x for x in runs if not x["refine"]]
    two = [x for x in runs if x["refine"]]

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(x["stages_s"].get(key, 0.0) if key != "total" else x["total_s"] for x in rows)

    ratio = {k: round(median(two, k) / max(median(one, k), 1e-9), 2) for k in ("total", "sample", "encode", "decode")}
    print(json.dumps({"machine": machine_info(), "args": vars(args), "runs": runs, "ratio_refine_over_one": ratio},
                     indent=2))


if __name__ == "__main__":
    main()
