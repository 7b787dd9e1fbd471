"""`make gpu-check`: in one command on a lent GPU, the CUDA tests on both hosts, then the GPU rows; JSON + Markdown.

    python3 -m bench.gpu_check                     # on the device: carry .gpu_bundle (make gpu-bundle here)
    make gpu-check                                 # here / CI: the same script, CUDA parts reported as skipped
    python3 -m bench.gpu_check --quick             # small sizes, 1 step (a harness check)
    .hosts/0.8.0/venv/bin/python -m bench.gpu_check --quick --rows-on-cpu   # the rows on the CPU (minutes)

1. set-up: the bundle's wheels that this Python lacks go to a folder put on PYTHONPATH; its ComfyUI trees are
   extracted (without a bundle: this machine's packages and trees, as bench.gpu_bundle finds them);
2. tests: tests/integration/test_device_discipline.py and tests/unit/test_crop_stitch_device.py under pytest, once
   per host (COMFYUI_PATH), ComfyUI booted on the GPU (FFI_TEST_DEVICE=cuda, tests/comfy_host.py);
3. rows: bench.gpu_rows on the first host.
Every part is bounded by the time left of --budget-s. Writes gpu-check.json and gpu-check.md to $OUT when set (the
device tool's return folder), else to bench/results/gpu-check-<stamp>/. Exit 0 when nothing failed or was left
unrun; parts that need CUDA are "skipped" (reason: no CUDA device) where there is none.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from . import gpu_bundle, gpu_rows

REPO = gpu_bundle.REPO
CUDA_TESTS = ("tests/integration/test_device_discipline.py", "tests/unit/test_crop_stitch_device.py")
NO_CUDA = "no CUDA device"
GREEN = ("ok", "skipped")
TESTS_CAP_S = 240.0  # one host's CUDA tests (the first run also builds the tiny models) leave time for the rest


def install_wheels(folder: Path, site: Path) -> dict[str, Any]:
    """pip-install (offline, no deps) each wheel whose exact version this Python lacks into `site`, and put `site`
    first on sys.path and PYTHONPATH (the subprocesses' too)."""
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename

    supported = set(sys_tags())
    present, missing, unusable = [], [], []
    for wheel in sorted(folder.glob("*.whl")):
        name, version, _, tags = parse_wheel_filename(wheel.name)
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed == str(version):
            present.append(f"{name}=={version}")
        elif tags & supported:
            missing.append(wheel)
        else:
            unusable.append(f"{name}=={version} (no tag for this Python; installed: {installed or 'none'})")
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
                        "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site),
                        *map(str, missing)], check=True)
        sys.path.insert(0, str(site))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"installed": [w.name for w in missing], "present": present, "not_for_this_python": unusable}


def set_up(bundle: Path, work: Path, versions: tuple[str, ...]) -> tuple[dict, dict[str, Path]]:
    """Install the bundle (when there is one) and find each host's ComfyUI tree."""
    started = time.monotonic()
    part: dict[str, Any] = {"name": "setup", "title": "set-up"}
    trees: dict[str, Path] = {}
    try:
        if (bundle / "manifest.json").exists():
            part["wheels"] = install_wheels(bundle / "wheels", work / "site")
            for version in versions:
                archive = bundle / "hosts" / f"comfyui-{version}.tar.gz"
                trees[version] = gpu_bundle.extract_tree(archive, work / "hosts")
            wheels = part["wheels"]
            part["figure"] = (f"bundle {bundle}: {len(wheels['installed'])} wheels installed, {len(wheels['present'])} "
                              f"already present, {len(wheels['not_for_this_python'])} not for this Python")
        else:
            trees = {v: gpu_bundle.comfyui_tree(v) for v in versions}
            part["figure"] = f"no bundle at {bundle}: this machine's packages and trees"
        found = {v: read_version(t) for v, t in trees.items()}
        wrong = {v: f for v, f in found.items() if f != v}
        if wrong:
            raise ValueError(f"trees of other versions than asked: {wrong}")
        part["figure"] += "; ComfyUI " + ", ".join(found.values())
        part["status"] = "ok"
    except Exception as exc:  # nothing after it can run
        part.update(status="failed", figure=f"{type(exc).__name__}: {exc}"[:800])
    part["trees"] = {v: str(t) for v, t in trees.items()}
    part["seconds"] = round(time.monotonic() - started, 1)
    return part, trees


def read_version(tree: Path) -> str:
    """`__version__` of a ComfyUI tree's comfyui_version.py."""
    for line in (tree / "comfyui_version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def junit_outcomes(path: Path) -> list[dict[str, str]]:
    """(test, outcome, message) of each test case in a pytest JUnit XML file."""
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = "failed" if tag in ("failure", "error") else "skipped"
                message = (found.get("message") or "")[:400]
                break
        outcomes.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                         "message": message})
    return outcomes


def run_tests(version: str, tree: Path, work: Path, timeout: float) -> dict:
    """The CUDA tests under pytest against one host, ComfyUI booted on the GPU where there is one."""
    started = time.monotonic()
    part: dict[str, Any] = {"name": f"tests-{version}", "title": f"CUDA tests on ComfyUI {version}"}
    xml = work / f"pytest-{version}.xml"
    xml.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *CUDA_TESTS, "-q", "-rA", f"--junitxml={xml}"]
    env = {**os.environ, "COMFYUI_PATH": str(tree), "FFI_TEST_DEVICE": "cuda" if cuda_available() else "cpu"}
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        part.update(status="failed", figure=f"pytest ran past {timeout:.0f} s", seconds=round(timeout, 1))
        return part
    tests = junit_outcomes(xml) if xml.exists() else []
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "skipped")}
    reasons = sorted({t["message"] for t in tests if t["outcome"] == "skipped"})
    part["tests"] = tests
    part["figure"] = ", ".join(f"{n} {k}" for k, n in counts.items() if n) + (
        f" ({'; '.join(reasons)})" if reasons else "")
    if done.returncode != 0 or counts["failed"] or not tests:
        part.update(status="failed", output_tail=(done.stdout + done.stderr)[-3000:])
    else:
        part["status"] = "skipped" if counts["skipped"] else "ok"
        if counts["skipped"]:
            part["reason"] = NO_CUDA if not cuda_available() else "; ".join(reasons)
    part["seconds"] = round(time.monotonic() - started, 1)
    return part


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def summary_md(report: dict) -> str:
    machine = report["machine"]
    device = machine.get("gpu") or f"{NO_CUDA} (CPU: {machine.get('cpu')})"
    lines = [f"# GPU check, {report['date']}", "",
             f"Device: {device}; torch {machine.get('torch')}, Python {machine.get('python')}; commit "
             f"{report.get('commit')}; {report['wall_s']:.0f} s of a {report['budget_s']:.0f} s budget"
             f"{'; quick sizes' if report['quick'] else ''}.", "",
             "| part | status | result | goal | verdict |", "|---|---|---|---|---|"]
    for part in report["parts"]:
        status = part["status"] + (f" ({part['reason']})" if part.get("reason") else "")
        lines.append(f"| {part['title']} | {status} | {part.get('figure', '')} | {part.get('goal', '')} | "
                     f"{part.get('verdict', '')} |")
    lines += ["", f"**{report['verdict']}**"]
    return "\n".join(lines) + "\n"


def skipped_note(parts: list[dict]) -> str:
    tests = sum(t["outcome"] == "skipped" for p in parts for t in p.get("tests", []))
    runs = sum(1 for p in parts if p.get("tests") and p["status"] == "skipped")
    rows = sum(1 for p in parts if p["name"] in gpu_rows.RUNNERS and p["status"] == "skipped")
    what = [f"{tests} CUDA tests in {runs} host run{'s' * (runs != 1)}"] + [f"{rows} GPU rows"] * bool(rows)
    return f"the CUDA parts were skipped ({NO_CUDA}): {', '.join(what)}."


def out_dir(explicit: Path | None) -> Path:
    if explicit:
        return explicit
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"])
    return REPO / "bench" / "results" / f"gpu-check-{time.strftime('%Y%m%d-%H%M%S')}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=gpu_bundle.BUNDLE)
    p.add_argument("--out", type=Path, help="folder for gpu-check.json/.md (default: $OUT, else bench/results/)")
    p.add_argument("--hosts", default=",".join(gpu_bundle.HOST_VERSIONS), help="ComfyUI versions to test")
    p.add_argument("--quick", action="store_true", help="small sizes and 1 step")
    p.add_argument("--rows-on-cpu", action="store_true", help="run the rows without CUDA too (a harness check)")
    p.add_argument("--budget-s", type=float, default=450.0, help="wall-clock budget for everything")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    deadline = started + args.budget_s
    versions = tuple(v for v in args.hosts.split(",") if v)
    work = Path(tempfile.gettempdir()) / "ffi-gpu-check"
    work.mkdir(parents=True, exist_ok=True)
    setup, trees = set_up(args.bundle, work, versions)
    parts = [setup]
    print(f"[gpu-check] set-up: {setup['status']}: {setup['figure']}", flush=True)
    from .case import code_version
    from .common import machine_info

    cuda = setup["status"] == "ok" and cuda_available()
    for version in versions:
        if version not in trees:
            parts.append({"name": f"tests-{version}", "title": f"CUDA tests on ComfyUI {version}",
                          "status": "not run", "reason": "set-up failed"})
        else:
            left = max(1.0, deadline - time.monotonic())
            parts.append(run_tests(version, trees[version], work, min(left, TESTS_CAP_S)))
        print(f"[gpu-check] {parts[-1]['title']}: {parts[-1]['status']}: {parts[-1].get('figure', '')}", flush=True)
    if trees and (cuda or args.rows_on_cpu):
        os.environ["COMFYUI_PATH"] = str(trees[versions[0]])  # the rows' case subprocesses boot this host
        rows = gpu_rows.run_rows(gpu_rows.config(args.quick or not cuda), deadline)
    else:
        rows = gpu_rows.skipped_rows(NO_CUDA if trees else "set-up failed")
    for part in rows:
        part["title"] += f" (ComfyUI {versions[0]})" if trees else ""
        print(f"[gpu-check] {part['title']}: {part['status']}: {part.get('figure') or part.get('reason', '')}",
              flush=True)
    parts += rows
    bad = [p["title"] for p in parts if p["status"] not in GREEN]
    report = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": "python -m bench.gpu_check " + " ".join(
              sys.argv[1:] if argv is None else argv), "machine": machine_info(), "cuda": cuda,
              "commit": code_version().get("commit"), "quick": args.quick, "budget_s": args.budget_s,
              "wall_s": round(time.monotonic() - started, 1), "parts": parts,
              "verdict": ("Not green: " + "; ".join(bad) + ".") if bad else (
                  "Green." if cuda else f"Green on the CPU: {skipped_note(parts)}")}
    out = out_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = summary_md(report)
    (out / "gpu-check.md").write_text(text)
    print("\n" + text + f"\nwrote {out / 'gpu-check.json'} and gpu-check.md", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
