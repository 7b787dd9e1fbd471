"""Shared by the parent runner and the case subprocesses: paths, scenes, stage timers, RSS, machine."""

from __future__ import annotations

import gc
import os
import platform
import re
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
RESULTS = REPO / "bench" / "results"
HOST_BASE = RESULTS / "host_base"  # ComfyUI base dir for the in-process host (gitignored)
MB = 1024 * 1024


def use_repo_imports() -> None:
    """Put tests/ on sys.path (comfy_host, tiny_models) and register the pack as `fluxfill_inpainter`."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from conftest import register_pack

    register_pack()


def make_scene(size: int, mask_side: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random [1,S,S,3] image and a [1,S,S] mask with one centred mask_side^2 square."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 16, 16, generator=gen)
    image = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    image = image.permute(0, 2, 3, 1).contiguous()
    mask = torch.zeros(1, size, size)
    y0 = x0 = (size - mask_side) // 2
    mask[:, y0:y0 + mask_side, x0:x0 + mask_side] = 1.0
    return image, mask


def tensor_mb(*tensors: torch.Tensor) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / MB


# --- time ------------------------------------------------------------------------------------
def sync_device() -> None:
    """Wait for queued GPU work so wall-clock stage times are real (no-op on CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class StageTimer:
    """Accumulates wall time per stage; wraps callables so every call to them is timed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)  # process CPU time (all threads)
        self.calls: dict[str, int] = defaultdict(int)
        self.trail: list[dict[str, Any]] = []  # per outermost call: stage, seconds, RSS and peak RSS after
        self._depth = 0

    @contextmanager
    def section(self, stage: str) -> Iterator[None]:
        """Time a block into `stage`; nested sections count only in the outermost one."""
        self._depth += 1
        outer = self._depth == 1
        if outer:
            sync_device()
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if outer:
                sync_device()
                elapsed = time.perf_counter() - start
                self.seconds[stage] += elapsed
                self.cpu_seconds[stage] += time.process_time() - start_cpu
                self.calls[stage] += 1
                self.trail.append({"stage": stage, "s": round(elapsed, 3), "rss_mb": round(rss_mb(), 1),
                                   "peak_rss_mb": round(peak_rss_mb(), 1)})
            self._depth -= 1

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        """Replace owner.attr (a method of an object or a module function) by a timed wrapper."""
        original: Callable = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.section(stage):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)

    def as_dict(self, cpu: bool = False) -> dict[str, float]:
        source = self.cpu_seconds if cpu else self.seconds
        return {k: round(v, 3) for k, v in source.items()}


# --- memory ----------------------------------------------------------------------------------
def rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """Peak RSS of this process since start or since the last reset_peak_rss() (ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (and ru_maxrss) to the current RSS (Linux >= 4.0)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- machine ---------------------------------------------------------------------------------
def comfyui_version() -> str:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    try:
        from comfy_host import comfyui_path

        text = (comfyui_path() / "comfyui_version.py").read_text()
    except (OSError, RuntimeError):
        return "unknown"
    found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
    return found.group(1) if found else "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    import psutil

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "ram_available_gb_at_start": round(psutil.virtual_memory().available / 1024**3, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "comfyui": comfyui_version(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info
