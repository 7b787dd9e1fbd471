"""`make gpu-check` (bench/gpu_check.py) without a GPU: the same script runs green on the CPU and reports every
part that needs CUDA as skipped, with the reason; bench.cuda_host makes ComfyUI parse its arguments without --cpu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_gpu_check_on_the_cpu_is_green_and_says_the_cuda_parts_were_skipped(tmp_path: Path) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # a CPU run even where a GPU is present
    done = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--out", str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    parts = {p["name"]: p for p in report["parts"]}
    assert report["cuda"] is False and parts["setup"]["status"] == "ok"
    for version in ("0.3.75", "0.8.0"):
        tests = parts[f"tests-{version}"]
        assert tests["status"] == "skipped" and tests["reason"] == "no CUDA device"
        outcomes = {t["test"].rsplit("::", 1)[1]: t["outcome"] for t in tests["tests"]}
        assert outcomes.pop("test_plan_is_device_independent_on_cpu_dtypes") == "passed"
        assert len(outcomes) >= 4 and set(outcomes.values()) == {"skipped"}
    for row in ("vram", "b1", "b3", "share"):
        assert parts[row]["status"] == "skipped" and parts[row]["reason"] == "no CUDA device"
    summary = (tmp_path / "gpu-check.md").read_text()
    assert "Green on the CPU: the CUDA parts were skipped (no CUDA device)" in summary
    assert summary.count("| skipped (no CUDA device) |") == 6


def test_comfyui_parses_its_arguments_without_cpu_for_the_gpu(tmp_path: Path) -> None:
    code = ("import sys; sys.path.insert(0, 'tests'); from bench.cuda_host import parse_args_for_cuda; "
            f"print(parse_args_for_cuda({str(tmp_path)!r})); import comfy.cli_args as c; "
            "print(c.args.cpu, c.args.base_directory)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-3:] == ["True", "False", str(tmp_path)]
