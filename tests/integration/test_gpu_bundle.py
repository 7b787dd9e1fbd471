"""`make gpu-bundle` (bench/gpu_bundle.py) fits one device call: the bundle and the tracked files together stay
under the 64 MiB a call carries; its trees pack reproducibly and extract back; its wheel pins are exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from comfy_host import comfyui_version

from bench import gpu_bundle

MiB = 2**20

# Tooling that does not depend on the host under test (gpu-check itself runs both hosts' trees): once, on the
# newest host.
pytestmark = pytest.mark.skipif(comfyui_version() < (0, 8, 0), reason="host-independent: runs on the newest host")


def test_the_bundle_and_the_tracked_files_fit_one_device_call(tmp_path: Path) -> None:
    manifest = gpu_bundle.build(tmp_path / "bundle")
    assert sorted(manifest["hosts"]) == ["0.3.75", "0.8.0"]
    assert sorted(manifest["wheels"]) == sorted(name for name, _ in gpu_bundle.read_pins())
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["hosts"] == manifest["hosts"]
    carried = manifest["bundle_bytes"] + manifest["tracked_bytes"]
    assert carried <= gpu_bundle.LIMIT, f"{carried / MiB:.1f} MiB would travel, over 64 MiB"
    gpu_bundle.check_size(manifest["bundle_bytes"], manifest["tracked_bytes"])


def test_the_size_check_fails_past_the_limit() -> None:
    gpu_bundle.check_size(50 * MiB, 14 * MiB)
    with pytest.raises(gpu_bundle.BundleTooLarge, match="over the 64 MiB"):
        gpu_bundle.check_size(60 * MiB, 4 * MiB + 1)


def test_a_tree_packs_byte_identically_and_extracts_back(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "comfy" / "__pycache__").mkdir(parents=True)
    (tree / "main.py").write_text("print('ComfyUI')\n")
    (tree / "comfy" / "sd.py").write_text("x = 1\n")
    (tree / "comfy" / "__pycache__" / "sd.cpython-312.pyc").write_bytes(b"\0")
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert gpu_bundle.pack_tree(tree, first) == 2
    (tree / "main.py").touch()  # a newer mtime must not change the archive
    gpu_bundle.pack_tree(tree, second)
    assert first.read_bytes() == second.read_bytes()
    out = gpu_bundle.extract_tree(first, tmp_path / "hosts")
    assert out.name == "ComfyUI" and (out / "main.py").read_text() == "print('ComfyUI')\n"
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["main.py", "sd.py"]


def test_every_wheel_is_pinned_once_and_exactly(tmp_path: Path) -> None:
    pins = gpu_bundle.read_pins()
    names = [gpu_bundle.canonical(name) for name, _ in pins]
    assert len(names) == len(set(names)) and "av" in names and "torchsde" in names
    bad = tmp_path / "pins.txt"
    bad.write_text("av>=14\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        gpu_bundle.read_pins(bad)
