"""`make gpu-bundle`: one git-ignored folder with what the device machine lacks for `make gpu-check`.

    make gpu-bundle       (.hosts/0.8.0/venv/bin/python -m bench.gpu_bundle [--out .gpu_bundle] [--limit-mib 64])

The device tool sends the repository's tracked files plus the paths named in `carry`, 64 MiB in all; its
image has Python 3.12 with torch + CUDA but no ComfyUI, and reaches no registry. The bundle holds:
- hosts/comfyui-<version>.tar.gz: the ComfyUI trees to test (0.3.75, 0.8.0), unmodified, without __pycache__;
- wheels/: the wheels pinned in bench/gpu_wheels.txt, for CPython 3.12 on x86-64 (kept between builds);
- manifest.json: what is in it, with sizes and sha256.
No models: tests/tiny_models.py builds them there from ComfyUI's own classes (about 2.5 GB of seeded weights).
Prints every file's size, the bundle's, the tracked files', and fails when the two together pass the limit.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / ".gpu_bundle"
PINS = Path(__file__).resolve().parent / "gpu_wheels.txt"
HOST_VERSIONS = ("0.3.75", "0.8.0")
SHARED_0_8_0 = Path("hosts") / "comfyui-0.8.0.tar.gz"  # under the shared folder beside the repository
LIMIT = 64 * 2**20  # what one device call may carry: tracked files + carried paths
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
SKIP_NAMES = ("__pycache__", ".git", ".pytest_cache")


class BundleTooLarge(ValueError):
    """The bundle and the tracked files together would not fit one device call."""


def comfyui_tree(version: str, repo: Path = REPO) -> Path:
    """The ComfyUI tree of one host version: `.hosts/<version>/ComfyUI` as scripts/host.py builds it; else, for
    0.8.0, the shared archive (REPO/../shared/hosts) extracted into a temp folder."""
    staged = repo / ".hosts" / version / "ComfyUI"
    if (staged / "main.py").exists():
        return staged
    if version == "0.8.0" and (repo.parent / "shared" / SHARED_0_8_0).exists():
        return extract_tree(repo.parent / "shared" / SHARED_0_8_0)
    raise FileNotFoundError(f"no ComfyUI {version} tree: build the host (make host) or provide "
                            f"{repo.parent / 'shared' / SHARED_0_8_0}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def extract_tree(archive: Path, root: Path | None = None) -> Path:
    """Extract an archive holding one top folder `ComfyUI/` (once per content) and return that folder."""
    root = root or Path(tempfile.gettempdir()) / "ffi-hosts"
    dest = root / sha256(archive)[:16]
    if (dest / "ComfyUI" / "main.py").exists():
        return dest / "ComfyUI"
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root))
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    if not (staging / "ComfyUI" / "main.py").exists():
        shutil.rmtree(staging)
        raise ValueError(f"{archive} holds no ComfyUI/main.py")
    try:
        staging.rename(dest)
    except OSError:  # another process extracted it first
        shutil.rmtree(staging)
    return dest / "ComfyUI"


def pack_tree(tree: Path, dest: Path) -> int:
    """Write `tree` as dest (.tar.gz, top folder `ComfyUI/`), byte-identical for identical trees; returns files."""
    count = 0
    with open(dest, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(tree):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_NAMES)
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                path = Path(folder) / name
                info = tar.gettarinfo(str(path), arcname=str(Path("ComfyUI") / path.relative_to(tree)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
                count += 1
    return count


def read_pins(path: Path = PINS) -> list[tuple[str, str]]:
    """(name, version) of every `name==version` line; anything else but comments and blanks is an error."""
    pins = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", text)
        if not found:
            raise ValueError(f"{path.name}:{number}: not an exact pin `name==version`: {text!r}")
        pins.append((found.group(1), found.group(2)))
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_of(name: str, version: str, folder: Path) -> Path | None:
    """A wheel of exactly name==version in folder, if one is there."""
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        dist, ver = path.name.split("-")[:2]
        if canonical(dist) == canonical(name) and ver == version:
            return path
    return None


def fetch_wheels(pins: list[tuple[str, str]], dest: Path, caches: tuple[Path, ...] = ()) -> list[Path]:
    """One wheel per pin in dest: kept if there, copied from a cache folder, else downloaded for the device."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = []
    for name, version in pins:
        found = wheel_of(name, version, dest)
        for cache in caches:
            if found is None and (cached := wheel_of(name, version, cache)) is not None:
                found = Path(shutil.copy2(cached, dest))
        if found is None:
            platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                            "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation",
                            "cp", *platforms, "-d", str(dest), f"{name}=={version}"], check=True)
            found = wheel_of(name, version, dest)
            if found is None:
                raise FileNotFoundError(f"pip downloaded no wheel of {name}=={version}")
        wanted.append(found)
    for stale in set(dest.glob("*.whl")) - set(wanted):
        stale.unlink()
    return wanted


def tracked_bytes(repo: Path = REPO) -> int:
    """Bytes of the repository's tracked files: what every device call sends besides `carry`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    paths = (repo / p for p in listed.decode().split("\0") if p)
    return sum(p.lstat().st_size for p in paths if p.exists() or p.is_symlink())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def check_size(bundle: int, tracked: int, limit: int = LIMIT) -> None:
    if bundle + tracked > limit:
        raise BundleTooLarge(f"bundle {bundle / 2**20:.1f} MiB + tracked files {tracked / 2**20:.1f} MiB = "
                             f"{(bundle + tracked) / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB one call carries")


def build(out: Path = BUNDLE, repo: Path = REPO, versions: tuple[str, ...] = HOST_VERSIONS) -> dict:
    """Make (or refresh) the bundle in `out`; returns its manifest (also written as out/manifest.json)."""
    (out / "hosts").mkdir(parents=True, exist_ok=True)
    manifest: dict = {"hosts": {}, "wheels": {}, "python": "cp312", "platform": "manylinux x86_64"}
    for version in versions:
        tree = comfyui_tree(version, repo)
        archive = out / "hosts" / f"comfyui-{version}.tar.gz"
        files = pack_tree(tree, archive)
        manifest["hosts"][version] = {"file": str(archive.relative_to(out)), "from": str(tree), "files": files,
                                      "bytes": archive.stat().st_size, "sha256": sha256(archive)}
    for stale in set((out / "hosts").glob("*.tar.gz")) - {out / h["file"] for h in manifest["hosts"].values()}:
        stale.unlink()
    caches = tuple(c for c in (BUNDLE / "wheels",) if c.resolve() != (out / "wheels").resolve())
    pins = read_pins()
    for (name, version), wheel in zip(pins, fetch_wheels(pins, out / "wheels", caches), strict=True):
        manifest["wheels"][name] = {"version": version, "file": wheel.name, "bytes": wheel.stat().st_size}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    manifest["bundle_bytes"] = folder_bytes(out)
    manifest["tracked_bytes"] = tracked_bytes(repo)
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_bundle", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=BUNDLE)
    p.add_argument("--limit-mib", type=float, default=LIMIT / 2**20)
    args = p.parse_args(argv)
    manifest = build(args.out)
    for version, host in manifest["hosts"].items():
        print(f"  {'ComfyUI ' + version:<28} {host['bytes'] / 2**20:6.2f} MiB  {host['file']} ({host['files']} files)")
    for name, wheel in sorted(manifest["wheels"].items(), key=lambda kv: -kv[1]["bytes"]):
        print(f"  {name + '==' + wheel['version']:<28} {wheel['bytes'] / 2**20:6.2f} MiB")
    bundle, tracked = manifest["bundle_bytes"], manifest["tracked_bytes"]
    print(f"bundle {args.out}: {bundle / 2**20:.1f} MiB; with the tracked files ({tracked / 2**20:.1f} MiB) a device "
          f"call carries {(bundle + tracked) / 2**20:.1f} MiB of {args.limit_mib:.0f} MiB")
    try:
        check_size(bundle, tracked, int(args.limit_mib * 2**20))
    except BundleTooLarge as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
