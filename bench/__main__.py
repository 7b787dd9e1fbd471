"""`python -m bench run`: B1-B4, each pipeline case in its own watched subprocess, ratios side by side.

    .venv/bin/python -m bench run                 # full run, ~50 min on 2 CPU cores (stock 2048² hits the 20-min cap)
    .venv/bin/python -m bench run --only B1,B4 --steps 1 --merge bench/results/bench-<stamp>.json
    .venv/bin/python -m bench run --quick         # small sizes, 1 step (a few minutes)
    .venv/bin/python -m bench run --only B1,B2 --steps 2 --sizes 1024,2048 --mem-cap-gb 16
    .venv/bin/python -m bench report bench/results/bench-<stamp>.json   # re-render tables / BENCHMARKS.md

Writes bench/results/bench-<stamp>.json (+ .md, + time_vs_size-<stamp>.png, + per-case logs under
bench/results/<stamp>/). A full run (not --quick) also rewrites BENCHMARKS.md and bench/time_vs_size.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import overhead, report
from .common import RESULTS, machine_info
from .monitor import Caps, run_case

FULL = dict(sizes=[1024, 2048], mask=256, steps=4, target_mp=0.25, min_side=512, min_crop=512,
            b2_size=4096, b2_runs=7, b2_steps=2, b3_n=4, b3_crop=512, b3_rounds=2, b4_size=8192, b4_mask=128,
            time_cap_min=20.0)
QUICK = dict(sizes=[256, 512], mask=64, steps=1, target_mp=0.0164, min_side=128, min_crop=128,
             b2_size=1024, b2_runs=3, b2_steps=1, b3_n=4, b3_crop=128, b3_rounds=1, b4_size=2048, b4_mask=64,
             time_cap_min=5.0)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmarks")
    r.add_argument("--quick", action="store_true", help="small sizes and 1 step, to check the harness")
    r.add_argument("--only", default="B1,B2,B3,B4", help="comma-separated subset of B1,B2,B3,B4")
    r.add_argument("--steps", type=int, help="sampling steps, same for both pipelines (default 4; quick 1)")
    r.add_argument("--sizes", help="B1 image sides, comma-separated (default 1024,2048; quick 256,512)")
    r.add_argument("--mask", type=int, help="B1 mask side (default 256)")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--feather", type=int, default=16, help="our node's feather (its default 16)")
    r.add_argument("--b4-size", type=int, help="B4 image side (default 8192)")
    r.add_argument("--mem-cap-gb", type=float, default=16.0, help="stop a case whose RSS passes this")
    r.add_argument("--time-cap-min", type=float, help="stop a case running longer (default 20; quick 5)")
    r.add_argument("--reserve-gb", type=float, default=0.75,
                   help="stop a case (that has grown by 1 GB) when the machine's available memory falls below this")
    r.add_argument("--merge", type=Path, metavar="RESULTS_JSON",
                   help="take the benchmarks not in --only from this earlier results JSON (noted in the report)")
    r.add_argument("--benchmarks-md", action=argparse.BooleanOptionalAction, default=None,
                   help="rewrite BENCHMARKS.md and bench/time_vs_size.png (default: on for full runs)")
    rep = sub.add_parser("report", help="re-render the tables (and BENCHMARKS.md) from a results JSON")
    rep.add_argument("results", type=Path)
    rep.add_argument("--benchmarks-md", action="store_true")
    return p.parse_args(argv)


def config(args: argparse.Namespace) -> dict[str, Any]:
    cfg = dict(QUICK if args.quick else FULL)
    if args.steps:
        cfg["steps"] = args.steps
    if args.sizes:
        cfg["sizes"] = [int(s) for s in args.sizes.split(",") if s]
    if args.mask:
        cfg["mask"] = args.mask
    if args.b4_size:
        cfg["b4_size"] = args.b4_size
    if args.time_cap_min:
        cfg["time_cap_min"] = args.time_cap_min
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    unknown = only - {"B1", "B2", "B3", "B4"}
    if unknown:
        raise SystemExit(f"--only: unknown benchmark(s) {sorted(unknown)}; use B1,B2,B3,B4")
    cfg.update(seed=args.seed, feather=args.feather, mem_cap_gb=args.mem_cap_gb, reserve_gb=args.reserve_gb,
               quick=args.quick, only=sorted(only))
    return cfg


def image_case_args(cfg: dict, pipeline: str, size: int, mask: int) -> list[str]:
    return ["--pipeline", pipeline, "--size", str(size), "--mask", str(mask), "--steps", str(cfg["steps"]),
            "--seed", str(cfg["seed"]), "--target-mp", str(cfg["target_mp"]), "--min-side", str(cfg["min_side"]),
            "--min-crop", str(cfg["min_crop"]), "--feather", str(cfg["feather"])]


def summary(case: dict) -> str:
    if case.get("status") != "ok":
        return report._status(case)
    if "ratio" in case:
        return f"batched {case['batched_s']:.1f} s, sequential {case['sequential_s']:.1f} s, ratio {case['ratio']:.2f}"
    return (f"{case['total_s']:.1f} s, stages {case['stages_s']}, peak RSS {case['peak_rss_mb'] / 1024:.2f} GB "
            f"(models {case['rss_models_mb'] / 1024:.2f} GB)")


class Run:
    """One benchmark run: executes the cases, saves the results JSON after each one."""

    def __init__(self, cfg: dict, command: str) -> None:
        self.cfg = cfg
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.dir = RESULTS / self.stamp
        self.dir.mkdir(parents=True, exist_ok=True)
        self.json_path = RESULTS / f"bench-{self.stamp}.json"
        self.caps = Caps(mem_mb=cfg["mem_cap_gb"] * 1024, time_s=cfg["time_cap_min"] * 60,
                         reserve_mb=cfg["reserve_gb"] * 1024)
        self.results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": command,
                                        "config": cfg, "machine": machine_info()}
        self.started = time.monotonic()

    def save(self) -> None:
        self.results["wall_min"] = round((time.monotonic() - self.started) / 60, 1)
        self.json_path.write_text(json.dumps(self.results, indent=2))

    def case(self, bench: str, name: str, case_args: list[str], meta: dict[str, Any]) -> dict:
        print(f"[{time.strftime('%H:%M:%S')}] {bench} {name} ...", flush=True)
        record = run_case(case_args, self.dir / f"{name}.json", self.dir / f"{name}.log", self.caps, meta)
        if record.get("returncode") == -9 and "rss_start_mb" not in record:
            # killed by the kernel while still loading models: other work's memory, not this case's
            print(f"    {summary(record)}; retrying once", flush=True)
            time.sleep(30)
            record = run_case(case_args, self.dir / f"{name}.json", self.dir / f"{name}-retry.log", self.caps, meta)
        print(f"    {summary(record)}", flush=True)
        if record.get("device"):
            self.results["device"] = record["device"]
        return record

    def b1(self) -> None:
        self.results["b1"] = []
        for size in self.cfg["sizes"]:
            for pipeline in ("ours", "stock"):
                args = image_case_args(self.cfg, pipeline, size, self.cfg["mask"])
                self.results["b1"].append(self.case("B1", f"b1-{pipeline}-{size}", args,
                                                    {"pipeline": pipeline, "size": size}))
                self.save()

    def b2(self) -> None:
        cfg = self.cfg
        print(f"[{time.strftime('%H:%M:%S')}] B2 crop+stitch at {cfg['b2_size']}² ...", flush=True)
        self.results["b2"] = overhead.run(cfg["b2_size"], cfg["b2_runs"], "cpu", cfg["target_mp"],
                                          cfg["min_side"], cfg["min_crop"])
        print(f"    median ms {self.results['b2']['median_ms']}", flush=True)
        sizes = (cfg["b2_size"] // 2, cfg["b2_size"] * 2)
        self.results["b2"]["flat"] = overhead.run_flat(sizes, max(1, cfg["b2_runs"] // 2), cfg["target_mp"],
                                                       cfg["min_side"], cfg["min_crop"])
        print(f"    same mask, {sizes[0]}² vs {sizes[1]}²: {self.results['b2']['flat']}", flush=True)
        self.save()
        # one sampling step of this same job (the node on B2's image and mask: its crops, its batches)
        args = image_case_args(cfg, "ours", cfg["b2_size"], 0) + [
            "--scene", "three-regions", "--steps", str(cfg.get("b2_steps", 2))]
        self.results["b2"]["step_case"] = self.case("B2", f"b2-step-{cfg['b2_size']}", args,
                                                    {"pipeline": "ours", "size": cfg["b2_size"]})
        self.save()

    def b3(self) -> None:
        cfg = self.cfg
        args = ["--pipeline", "batch", "--batch-n", str(cfg["b3_n"]), "--crop", str(cfg["b3_crop"]),
                "--steps", str(cfg["steps"]), "--seed", str(cfg["seed"]), "--rounds", str(cfg["b3_rounds"])]
        self.results["b3"] = self.case("B3", "b3-batch", args, {"pipeline": "batch"})
        self.save()

    def b4(self) -> None:
        self.results["b4"] = []
        for pipeline in ("ours", "stock"):
            args = image_case_args(self.cfg, pipeline, self.cfg["b4_size"], self.cfg["b4_mask"])
            meta = {"pipeline": pipeline, "size": self.cfg["b4_size"]}
            self.results["b4"].append(self.case("B4", f"b4-{pipeline}-{self.cfg['b4_size']}", args, meta))
            self.save()

    def execute(self, merge: Path | None = None) -> None:
        previous = json.loads(merge.read_text()) if merge else {}
        for name in ("B1", "B2", "B3", "B4"):
            key = name.lower()
            if name in self.cfg["only"]:
                getattr(self, key)()
            elif previous.get(key):
                self.results[key] = previous[key]
                self.results.setdefault("merged_from", {})[key] = {
                    "date": previous["date"], "command": previous["command"], "file": merge.name}
        self.results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.save()


def render(results: dict, json_path: Path, benchmarks_md: bool) -> None:
    stamp = json_path.stem.removeprefix("bench-")
    text = report.tables(results)
    md_path = json_path.with_suffix(".md")
    md_path.write_text(report.machine_block(results) + "\n\n" + text)
    print("\n" + text)
    plot_path = report.plot(results, RESULTS / f"time_vs_size-{stamp}.png")
    print(f"results: {json_path}\ntables:  {md_path}" + (f"\nplot:    {plot_path}" if plot_path else ""))
    if benchmarks_md:
        print(f"wrote {report.write_benchmarks_md(results, plot_path)}")


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds run_case's finally, which kills the running case


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "report":
        results = json.loads(args.results.read_text())
        render(results, args.results, args.benchmarks_md)
        return 0
    cfg = config(args)
    command = ".venv/bin/python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run = Run(cfg, command)
    run.execute(args.merge)
    write_md = args.benchmarks_md if args.benchmarks_md is not None else not args.quick
    render(run.results, run.json_path, write_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
