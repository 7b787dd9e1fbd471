"""`make gpu-check` (bench/gpu_check.py) without a GPU: the same script runs green on the CPU and reports every
part that needs CUDA as skipped, with the reason; FFI_TEST_DEVICE=cuda makes ComfyUI parse its arguments without
--cpu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from comfy_host import REPO, comfyui_version

# Tooling that does not depend on the host under test (gpu-check itself runs both hosts' trees): once, on the
# newest host.
pytestmark = pytest.mark.skipif(comfyui_version() < (0, 8, 0), reason="host-independent: runs on the newest host")


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


def test_comfyui_boots_without_cpu_only_when_the_gpu_is_asked_for(tmp_path: Path, monkeypatch) -> None:
    """gpu-check sets FFI_TEST_DEVICE=cuda for its pytest runs; ComfyUI then parses its arguments without
    --cpu (model management picks the GPU); everywhere else the tests boot it with --cpu."""
    from comfy_host import comfy_argv

    monkeypatch.delenv("FFI_TEST_DEVICE", raising=False)
    assert "--cpu" in comfy_argv(tmp_path)
    monkeypatch.setenv("FFI_TEST_DEVICE", "cuda")
    argv = comfy_argv(tmp_path)
    code = ("import sys, comfy.options; comfy.options.enable_args_parsing(); sys.argv = " + repr(argv) +
            "; import comfy.cli_args as c; print(c.args.cpu, c.args.base_directory)")
    from comfy_host import comfyui_path

    done = subprocess.run([sys.executable, "-c", code], cwd=comfyui_path(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["False", str(tmp_path)]


def test_the_bundle_wheels_this_python_lacks_are_installed_offline_and_put_on_the_path(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    import zipfile

    from bench.gpu_check import install_wheels

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    info = "ffi_probe-1.0.dist-info"
    with zipfile.ZipFile(wheels / "ffi_probe-1.0-py3-none-any.whl", "w") as whl:
        whl.writestr("ffi_probe.py", "ANSWER = 42\n")
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: ffi-probe\nVersion: 1.0\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    (wheels / "ffi_probe2-1.0-cp399-cp399-manylinux_2_17_x86_64.whl").write_bytes(b"")  # no tag for this Python
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    done = install_wheels(wheels, tmp_path / "site")
    assert done["installed"] == ["ffi_probe-1.0-py3-none-any.whl"]
    assert done["not_for_this_python"] == ["ffi-probe2==1.0 (no tag for this Python; installed: none)"]
    assert (tmp_path / "site" / "ffi_probe.py").exists()
    assert sys.path[0] == str(tmp_path / "site") and os.environ["PYTHONPATH"] == str(tmp_path / "site")
