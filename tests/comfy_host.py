"""The real ComfyUI host for tests and benchmarks: in-process boot, server subprocess, HTTP client.

Nothing here mocks ComfyUI: the in-process boot imports the unmodified tree that
`scripts/host.py` prepared (or `$COMFYUI_PATH`), and the server is ComfyUI's own `main.py`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACK_LINK_NAME = "fluxfill_inpainter"
MODEL_CACHE = REPO / ".cache" / "tiny_models"


def comfyui_path() -> Path:
    """The ComfyUI tree under test: `$COMFYUI_PATH`, else the tree of the host whose venv runs this Python
    (`.hosts/<version>/venv` beside `.hosts/<version>/ComfyUI`, as scripts/host.py builds them)."""
    external = os.environ.get("COMFYUI_PATH")
    path = Path(external).expanduser().resolve() if external else Path(sys.prefix).resolve().parent / "ComfyUI"
    if not (path / "main.py").exists():
        raise RuntimeError(f"no ComfyUI at {path}: run the tests with a host's Python "
                           "(`make test`, or .hosts/<version>/venv/bin/python -m pytest) or set COMFYUI_PATH")
    return path


def comfyui_version() -> tuple[int, ...]:
    """The version of the tree under test, e.g. (0, 8, 0), from its comfyui_version.py."""
    text = (comfyui_path() / "comfyui_version.py").read_text()
    value = text.split("__version__", 1)[1].split("=", 1)[1].split("\n", 1)[0].strip().strip("\"'")
    return tuple(int(part) for part in value.split(".")[:3])


def make_base_dir(base: Path, models: Path | None = MODEL_CACHE) -> Path:
    """A ComfyUI base directory with this pack in custom_nodes/ and the tiny models linked in."""
    from tiny_models import link_models

    for sub in ("custom_nodes", "input", "output", "temp", "user/default", "models"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    link = base / "custom_nodes" / PACK_LINK_NAME
    if not link.exists():
        link.symlink_to(REPO, target_is_directory=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    if not settings.exists():
        settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    if models is not None:
        link_models(models, base / "models")
    return base


_booted: Path | None = None


def comfy_argv(base: Path) -> list[str]:
    """ComfyUI's arguments for an in-process boot: on the CPU (`--cpu`), unless FFI_TEST_DEVICE=cuda asks for
    the GPU (`make gpu-check`, the benchmarks on a CUDA machine), where model management then runs."""
    device = [] if os.environ.get("FFI_TEST_DEVICE") == "cuda" else ["--cpu"]
    return ["main.py", *device, "--base-directory", str(base)]


def boot_comfy(base: Path) -> None:
    """Import ComfyUI in this process (CPU, args parsing on) with its built-in extra nodes loaded."""
    global _booted
    if _booted is not None:
        return
    comfy_dir = str(comfyui_path())
    if comfy_dir not in sys.path:
        sys.path.insert(0, comfy_dir)
    saved_argv = sys.argv
    sys.argv = comfy_argv(base)
    try:
        # Import the tree's top-level `utils` package first, as main.py does: later imports put
        # comfy/ on sys.path, where comfy/utils.py would otherwise shadow it.
        import comfy.options
        import utils.install_util  # noqa: F401

        comfy.options.enable_args_parsing()
        import comfy.cli_args  # noqa: F401  (parses sys.argv now)
        import folder_paths  # noqa: F401

        import nodes

        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    finally:
        sys.argv = saved_argv
    _booted = base


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExecutionError(RuntimeError):
    """A prompt that the server rejected or whose execution failed; `.details` holds the payload."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


@dataclass
class ComfyServer:
    """A real ComfyUI server process on 127.0.0.1, stopped by its PID."""

    base: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)  # e.g. ["--front-end-root", DIR]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0, python: str = sys.executable) -> ComfyServer:
        self.log_path = self.base / f"server-{self.port}.log"
        cmd = [python, "main.py", "--cpu", "--base-directory", str(self.base), "--listen", "127.0.0.1",
               "--port", str(self.port), "--disable-auto-launch",
               "--database-url", f"sqlite:///{self.base}/user/comfyui-{self.port}.db", *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(cmd, cwd=comfyui_path(), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/system_stats", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def client(self) -> ComfyClient:
        return ComfyClient(self.url)


@dataclass
class ComfyClient:
    """The HTTP calls a ComfyUI user's script makes: upload, queue, poll history, fetch outputs."""

    url: str
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def _session(self):
        import requests

        return requests

    def object_info(self) -> dict:
        return self._session().get(self.url + "/object_info", timeout=30).json()

    def upload_image(self, data: bytes, name: str, overwrite: bool = True) -> str:
        files = {"image": (name, io.BytesIO(data), "image/png")}
        r = self._session().post(self.url + "/upload/image", files=files,
                                 data={"overwrite": "true" if overwrite else "false"}, timeout=60)
        r.raise_for_status()
        body = r.json()
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    def with_defaults(self, graph: dict) -> dict:
        """A copy of an API graph whose omitted widget inputs take the defaults /object_info declares."""
        info = self.object_info()
        out = {}
        for node_id, node in graph.items():
            inputs = dict(node["inputs"])
            for name, spec in info[node["class_type"]]["input"].get("required", {}).items():
                options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                if name not in inputs and "default" in options:
                    inputs[name] = options["default"]
            out[node_id] = {**node, "inputs": inputs}
        return out

    def queue(self, graph: dict) -> str:
        r = self._session().post(self.url + "/prompt", json={"prompt": graph, "client_id": self.client_id},
                                 timeout=60)
        body = r.json()
        if r.status_code != 200:
            raise ExecutionError(f"prompt rejected: {json.dumps(body)[:2000]}", body)
        return body["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self._session().get(f"{self.url}/history/{prompt_id}", timeout=30)
            entry = r.json().get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                status = entry["status"]
                if status.get("status_str") == "error":
                    raise ExecutionError(self.error_message(entry), entry)
                return entry
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} not finished after {timeout}s")

    def run(self, graph: dict, timeout: float = 600.0) -> dict:
        return self.wait(self.queue(graph), timeout)

    @staticmethod
    def error_message(entry: dict) -> str:
        for kind, data in entry.get("status", {}).get("messages", []):
            if kind == "execution_error":
                return f"{data.get('node_type')} (node {data.get('node_id')}): {data.get('exception_message')}"
        return "execution failed"

    def images(self, entry: dict, node_id: str) -> list[bytes]:
        out = []
        for image in entry["outputs"].get(node_id, {}).get("images", []):
            params = {"filename": image["filename"], "subfolder": image["subfolder"], "type": image["type"]}
            r = self._session().get(self.url + "/view", params=params, timeout=60)
            r.raise_for_status()
            out.append(r.content)
        return out

    def interrupt(self) -> None:
        self._session().post(self.url + "/interrupt", timeout=30)

    def queue_state(self) -> dict:
        return self._session().get(self.url + "/queue", timeout=30).json()


def run_node(node_cls, **inputs):
    """Execute a V3 node in-process the way ComfyUI's executor does (locked class clone, normalized
    output, under torch.inference_mode); returns the NodeOutput (`.result` tuple, `.ui` dict)."""
    import torch

    node_cls.GET_SCHEMA()
    clone = node_cls.PREPARE_CLASS_CLONE({})
    with torch.inference_mode():
        return clone.EXECUTE_NORMALIZED(**inputs)
