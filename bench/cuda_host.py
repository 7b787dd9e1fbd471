"""ComfyUI on the CUDA device, for the GPU check and the benchmarks (a no-op where CUDA is absent).

`tests/comfy_host.boot_comfy` always boots ComfyUI with `--cpu`, right for CI and the CPU machines, but on a
GPU it would keep every model and crop on the CPU and the CUDA checks would prove nothing. `install()` wraps it:
where CUDA is available, ComfyUI's arguments are parsed first with the same `--base-directory` and without
`--cpu` (comfy.cli_args parses sys.argv once, when first imported), then the unchanged boot runs on the GPU.
Loaded as a pytest plugin (`python -m pytest -p bench.cuda_host ...`) it does so before any test boots ComfyUI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"


def parse_args_for_cuda(base: Path) -> bool:
    """Parse ComfyUI's arguments as boot_comfy does, less `--cpu`; True if ComfyUI will then use the GPU."""
    from comfy_host import comfyui_path

    comfy_dir = str(comfyui_path())
    if comfy_dir not in sys.path:
        sys.path.insert(0, comfy_dir)
    saved_argv = sys.argv
    sys.argv = ["main.py", "--base-directory", str(base)]
    try:
        import comfy.options
        import utils.install_util  # noqa: F401  (before comfy/ is on sys.path, as boot_comfy imports it)

        comfy.options.enable_args_parsing()
        import comfy.cli_args
    finally:
        sys.argv = saved_argv
    return not comfy.cli_args.args.cpu


def install() -> bool:
    """Make comfy_host.boot_comfy boot on the GPU where CUDA is available; returns whether it will."""
    import torch

    if not torch.cuda.is_available():
        return False
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import comfy_host

    boot: Callable[[Path], None] = comfy_host.boot_comfy
    if getattr(boot, "on_cuda", False):
        return True

    def boot_on_cuda(base: Path) -> None:
        if comfy_host._booted is None:
            parse_args_for_cuda(base)
        boot(base)

    boot_on_cuda.on_cuda = True  # type: ignore[attr-defined]
    comfy_host.boot_comfy = boot_on_cuda
    return True


def pytest_configure(config: Any) -> None:
    install()
