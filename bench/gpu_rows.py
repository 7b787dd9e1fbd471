"""The GPU rows of `make gpu-check`: the benchmark's own cases (bench.case, run by bench.__main__.Run) at GPU sizes.

- vram:  our node on the same centred mask at 1024², 4096² and 8192²: CUDA peak above the loaded models, per size
         (goal: flat, largest ÷ smallest ≤ 1.2×);
- b1:    B1 at 2048²: our node vs the stock full-image graph, same models, same run: stock ÷ ours wall time;
- b3:    B3: N equal crops sampled in one call vs one call per crop (goal ≥ 1.5×);
- share: our node on B2's 4096² image with three regions: its own time outside the models (total − text −
         encode − sample − decode) as a share of one sampling step (sample time ÷ steps) of that same run.
Each case runs in its own watched subprocess (bench.monitor), capped by the time the check has left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .__main__ import FULL, QUICK, Run, image_case_args
from .monitor import Caps

GPU = dict(FULL, sizes=[2048], vram_sizes=[1024, 4096, 8192], vram_mask=256, share_size=4096, share_steps=2,
           b3_rounds=3, mem_cap_gb=64.0)
GPU_QUICK = dict(QUICK, sizes=[256], vram_sizes=[256, 512, 1024], vram_mask=64, share_size=1024, share_steps=1,
                 mem_cap_gb=16.0)
TITLES = {
    "vram": "VRAM peak beyond the models, same mask, growing image",
    "b1": "B1 on CUDA: stock full-image graph ÷ our node",
    "b3": "B3 on CUDA: one call per crop ÷ one batched call",
    "share": "our node's time outside the models ÷ one sampling step",
}
GOALS = {"vram": "flat: ≤ 1.2×", "b1": "reported (B1's CPU goal: ≥ 20×)", "b3": "≥ 1.5×",
         "share": "reported (B2's CPU goal for crop+stitch: ≤ 2 %)"}
MIN_ROW_S = 30.0  # a row is not started with less time left than this
CASE_KEYS = ("pipeline", "size", "status", "device", "total_s", "stages_s", "steps", "cuda_start_mb", "cuda_peak_mb",
             "cuda_extra_mb", "peak_rss_mb", "rss_models_mb", "extra_over_models_mb", "batched_s", "sequential_s",
             "ratio", "batch_n", "crop", "error", "stop_reason", "log")


def config(quick: bool) -> dict[str, Any]:
    cfg = dict(GPU_QUICK if quick else GPU)
    cfg.update(seed=7, feather=16, reserve_gb=0.75, quick=quick, only=[])
    return cfg


def brief(case: dict) -> dict:
    """The figures of one case record that the check keeps (the full record stays in the case's JSON)."""
    out = {k: case[k] for k in CASE_KEYS if k in case}
    if case.get("crops"):
        out["regions"] = len(case["crops"])
    return out


def row(name: str, status: str, figure: str = "", verdict: str = "", **extra: Any) -> dict:
    return {"name": name, "title": TITLES[name], "goal": GOALS[name], "status": status, "figure": figure,
            "verdict": verdict, **extra}


def _failed(name: str, cases: list[dict]) -> dict | None:
    bad = [c for c in cases if c.get("status") != "ok"]
    if not bad:
        return None
    why = "; ".join(f"{c.get('pipeline')} {c.get('size', '')}: {c.get('status')} "
                    f"{c.get('stop_reason') or c.get('error') or ''}".strip() for c in bad)
    return row(name, "failed", why[:600], "not measured", cases=[brief(c) for c in cases])


def vram_row(cases: list[dict]) -> dict:
    """CUDA peak above the models per image size (RSS above the models where no CUDA was used)."""
    failed = _failed("vram", cases)
    if failed:
        return failed
    key, unit = ("cuda_extra_mb", "CUDA") if all("cuda_extra_mb" in c for c in cases) else ("extra_over_models_mb",
                                                                                          "RSS (no CUDA)")
    extra = {c["size"]: c[key] for c in cases}
    small, big = min(extra), max(extra)
    ratio = extra[big] / extra[small] if extra[small] > 0 else None
    figure = ", ".join(f"{s}²: {mb:.0f} MB" for s, mb in sorted(extra.items())) + f" ({unit}); {big}² ÷ {small}² = " + (
        f"{ratio:.2f}×" if ratio is not None else "–")
    verdict = "met" if ratio is not None and ratio <= 1.2 else "missed"
    return row("vram", "ok", figure, verdict if unit == "CUDA" else "not measured (no CUDA)", ratio=ratio,
               extra_mb=extra, cases=[brief(c) for c in cases])


def b1_row(ours: dict, stock: dict) -> dict:
    failed = _failed("b1", [ours, stock])
    if failed:
        return failed
    ratio = stock["total_s"] / ours["total_s"]
    figure = (f"{ratio:.1f}× at {ours['size']}² (stock {stock['total_s']:.2f} s, ours {ours['total_s']:.2f} s, "
              f"{ours.get('steps')} steps, {ours.get('device')})")
    return row("b1", "ok", figure, "reported", ratio=ratio, cases=[brief(ours), brief(stock)])


def b3_row(case: dict) -> dict:
    failed = _failed("b3", [case])
    if failed:
        return failed
    on_gpu = str(case.get("device", "")).startswith("cuda")
    figure = (f"{case['ratio']:.2f}× ({case['batch_n']} crops of {case['crop']}², batched {case['batched_s']:.3f} s, "
              f"sequential {case['sequential_s']:.3f} s, {case.get('device')})")
    verdict = ("met" if case["ratio"] >= 1.5 else "missed") if on_gpu else "not measured (no CUDA)"
    return row("b3", "ok", figure, verdict, ratio=case["ratio"], cases=[brief(case)])


def share_row(case: dict) -> dict:
    failed = _failed("share", [case])
    if failed:
        return failed
    stages, steps = case["stages_s"], case["steps"]
    step_s = stages["sample"] / steps
    percent = 100 * stages["other"] / step_s
    figure = (f"{percent:.1f} % ({1000 * stages['other']:.0f} ms outside the models; one step {1000 * step_s:.0f} ms;"
              f" {case['size']}², {len(case.get('crops') or [])} regions, {case.get('device')})")
    return row("share", "ok", figure, "reported", percent=percent, cases=[brief(case)])


def run_vram(run: Run, cfg: dict) -> dict:
    cases = [run.case("VRAM", f"vram-ours-{size}", image_case_args(cfg, "ours", size, cfg["vram_mask"]),
                      {"pipeline": "ours", "size": size}) for size in cfg["vram_sizes"]]
    return vram_row(cases)


def run_b1(run: Run, cfg: dict) -> dict:
    run.b1()
    ours, stock = (next(c for c in run.results["b1"] if c["pipeline"] == p) for p in ("ours", "stock"))
    return b1_row(ours, stock)


def run_b3(run: Run, cfg: dict) -> dict:
    run.b3()
    return b3_row(run.results["b3"])


def run_share(run: Run, cfg: dict) -> dict:
    size = cfg["share_size"]
    args = image_case_args(cfg, "ours", size, 0) + ["--scene", "three-regions", "--steps", str(cfg["share_steps"])]
    return share_row(run.case("B2", f"share-ours-{size}", args, {"pipeline": "ours", "size": size}))


RUNNERS: dict[str, Callable[[Run, dict], dict]] = {"vram": run_vram, "b1": run_b1, "b3": run_b3, "share": run_share}


def skipped_rows(reason: str) -> list[dict]:
    return [row(name, "skipped", reason=reason, verdict="not measured") for name in RUNNERS]


def run_rows(cfg: dict, deadline: float) -> list[dict]:
    """Every row in order, each case capped by the time left before `deadline` (time.monotonic())."""
    run = Run(cfg, "python -m bench.gpu_check")
    rows = []
    for name, runner in RUNNERS.items():
        left = deadline - time.monotonic()
        if left < MIN_ROW_S:
            rows.append(row(name, "not run", reason=f"the check's time budget was spent ({left:.0f} s left)",
                            verdict="not measured"))
            continue
        run.caps = Caps(mem_mb=cfg["mem_cap_gb"] * 1024, time_s=left, reserve_mb=cfg["reserve_gb"] * 1024)
        started = time.monotonic()
        try:
            result = runner(run, cfg)
        except Exception as exc:  # a broken row is reported; the rows after it still run
            result = row(name, "failed", f"{type(exc).__name__}: {exc}"[:600], "not measured")
        result["seconds"] = round(time.monotonic() - started, 1)
        rows.append(result)
    run.save()
    return rows
