"""No eval/exec in the pack; importing and registering it opens no network connection."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from comfy_host import REPO, comfyui_path

PACK_DIRS = ["nodes", "crop_stitch", "diff_attention", "batch_client"]
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def pack_sources() -> list[Path]:
    files = [REPO / "__init__.py"]
    for folder in PACK_DIRS:
        files += sorted((REPO / folder).rglob("*.py"))
    return files


def test_no_eval_or_exec_in_the_pack():
    offenders = []
    for path in pack_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {node.func.id}()")
    assert pack_sources() and not offenders, offenders


GUARDED_IMPORT = r"""
import asyncio, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
sys.path.insert(0, sys.argv[1])
sys.argv = ["main.py", "--cpu"]
import utils.install_util
import comfy.options
comfy.options.enable_args_parsing()
import nodes
ok = asyncio.run(nodes.load_custom_node(PACK))
assert ok, "the pack failed to load"
assert "FFI_FluxFillInpainter" in nodes.NODE_CLASS_MAPPINGS
print("ATTEMPTS", len(attempts))
"""


def test_loading_the_pack_opens_no_connection(comfy):
    pack = comfy / "custom_nodes" / "fluxfill_inpainter"
    code = GUARDED_IMPORT.replace("PACK)", f"{str(pack)!r})")
    proc = subprocess.run([sys.executable, "-c", code, str(comfyui_path())], capture_output=True, text=True,
                          timeout=300, cwd=comfyui_path())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ATTEMPTS 0" in proc.stdout
