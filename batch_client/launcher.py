"""Start and stop one local ComfyUI server for a Ray worker (no Ray import: usable and testable alone).

The server is ComfyUI's own `main.py` from a ComfyUI tree on the worker's node, with a base directory
whose `models/` and `custom_nodes/` (this pack installed there) are shared by every worker of the node,
and a per-worker folder for what a server writes: `input/`, `output/`, `temp/`, `user/` (its database),
`comfyui.log` and `server.json` (pid and URL of the running server).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests


class LaunchError(RuntimeError):
    """The ComfyUI server could not be started (bad paths, it exited, or it never answered)."""


@dataclass(frozen=True)
class LaunchSpec:
    """How a worker starts its server. Paths are read on the worker's node (same paths on every node)."""

    comfyui: str  # the ComfyUI tree: main.py
    base_dir: str  # --base-directory: models/ and custom_nodes/ with the pack
    work_dir: str  # per-worker folders go below it, one per worker name
    extra_args: tuple[str, ...] = ()  # more main.py arguments
    python: str = ""  # the interpreter that runs main.py (default: the worker's own)
    start_timeout: float = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the worker process dies (Linux), so a killed Ray actor
    never leaves its ComfyUI server running."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalComfy:
    """One ComfyUI server process on 127.0.0.1 owned by the calling process."""

    def __init__(self, spec: LaunchSpec, name: str):
        self.spec = spec
        self.folder = Path(spec.work_dir).expanduser() / name
        self.process: subprocess.Popen | None = None
        self.url = ""

    def command(self, port: int, cpu: bool) -> list[str]:
        w = self.folder
        cmd = [self.spec.python or sys.executable, "main.py", "--base-directory", self.spec.base_dir,
               "--output-directory", str(w / "output"), "--input-directory", str(w / "input"),
               "--temp-directory", str(w / "temp"), "--user-directory", str(w / "user"),
               "--database-url", f"sqlite:///{w / 'user' / 'comfyui.db'}",
               "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch"]
        if cpu and "--cpu" not in self.spec.extra_args:
            cmd.append("--cpu")
        return cmd + list(self.spec.extra_args)

    def start(self, cpu: bool) -> str:
        """Start the server (with `--cpu` when `cpu`) and wait until it answers; returns its URL."""
        comfyui, base = Path(self.spec.comfyui).expanduser(), Path(self.spec.base_dir).expanduser()
        if not (comfyui / "main.py").is_file():
            raise LaunchError(f"no ComfyUI main.py in {comfyui} (set --comfyui or COMFYUI_PATH)")
        if not (base / "custom_nodes").is_dir():
            raise LaunchError(f"{base} has no custom_nodes/ folder (the base directory needs the pack there)")
        for sub in ("input", "output", "temp", "user"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.folder / "comfyui.log", "ab") as log:
            self.process = subprocess.Popen(self.command(port, cpu), cwd=comfyui, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=_die_with_parent)
        (self.folder / "server.json").write_text(json.dumps({"pid": self.process.pid, "url": self.url}))
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.spec.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LaunchError(f"ComfyUI exited with {self.process.returncode}; see {self.folder / 'comfyui.log'}")
            try:
                if requests.get(self.url + "/system_stats", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise LaunchError(f"ComfyUI did not answer within {self.spec.start_timeout:g}s; "
                          f"see {self.folder / 'comfyui.log'}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
