"""The HTTP + websocket calls to one ComfyUI server: upload, queue, follow, confirm, download."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import requests
import websocket

UPLOAD_SUBFOLDER = "ffi_batch"
ProgressFn = Callable[[int, int], None]


class ServerDown(RuntimeError):
    """The server did not answer, dropped the websocket or failed internally (a row past the timeout on a
    server that no longer answers /system_stats included): the row may be retried on another server."""


class PromptFailed(RuntimeError):
    """The server rejected the prompt or its execution failed: the row itself is at fault."""


class RowTimeout(PromptFailed):
    """The row ran past the timeout while its server still answers: that row fails, the server is kept."""


def describe_rejection(body: object) -> str:
    """A one-line reason from a POST /prompt error body (`error` + per-node `node_errors`)."""
    if not isinstance(body, dict):
        return str(body)[:500]
    parts = []
    error = body.get("error")
    if isinstance(error, dict):
        parts.append(error.get("message", "") + (f": {error['details']}" if error.get("details") else ""))
    for node_id, node in (body.get("node_errors") or {}).items():
        for err in node.get("errors", []):
            parts.append(f"{node.get('class_type', '?')} (node {node_id}): {err.get('message')}"
                         + (f" - {err['details']}" if err.get("details") else ""))
    return "; ".join(p for p in parts if p) or json.dumps(body)[:500]


def describe_execution_error(data: dict) -> str:
    return (f"{data.get('node_type', '?')} (node {data.get('node_id', '?')}): "
            f"{data.get('exception_type', 'error')}: {str(data.get('exception_message', '')).strip()}")


class ComfyServer:
    """One ComfyUI server as the batch client uses it; every network failure becomes ServerDown."""

    def __init__(self, url: str, http_timeout: float = 60.0, poll_s: float = 5.0):
        self.url = url.rstrip("/")
        self.http_timeout = http_timeout
        self.poll_s = poll_s
        self.session = requests.Session()
        self._object_info: dict[str, dict] = {}

    def __repr__(self) -> str:
        return f"ComfyServer({self.url})"

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", self.http_timeout)
        try:
            response = self.session.request(method, self.url + path, **kwargs)
        except requests.RequestException as err:
            raise ServerDown(f"{self.url}: {type(err).__name__}: {err}") from err
        if response.status_code >= 500:
            raise ServerDown(f"{self.url}{path}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    def alive(self) -> bool:
        try:
            return self.request("GET", "/system_stats", timeout=5).ok
        except ServerDown:
            return False

    def object_info(self, class_types: set[str]) -> dict:
        """/object_info/{class} for each class (cached); a class the server lacks is left out."""
        for class_type in sorted(class_types - set(self._object_info)):
            response = self.request("GET", f"/object_info/{class_type}")
            body = response.json() if response.ok else {}
            self._object_info[class_type] = body.get(class_type, {})
        return {k: v for k, v in self._object_info.items() if v}

    def upload(self, data: bytes, name: str) -> str:
        """Upload to input/ffi_batch/; returns the name LoadImage takes. Names are content hashes, so
        an identical file already there is reused (the server compares hashes when not overwriting)."""
        files = {"image": (name, data, "image/png")}
        response = self.request("POST", "/upload/image", files=files,
                                data={"overwrite": "false", "subfolder": UPLOAD_SUBFOLDER})
        if not response.ok:
            raise PromptFailed(f"upload of {name} refused: HTTP {response.status_code} {response.text[:300]}")
        body = response.json()
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    def queue(self, graph: dict, client_id: str) -> str:
        response = self.request("POST", "/prompt", json={"prompt": graph, "client_id": client_id})
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code != 200 or not isinstance(body, dict) or "prompt_id" not in body:
            raise PromptFailed(f"prompt rejected: {describe_rejection(body)}")
        return body["prompt_id"]

    def history(self, prompt_id: str) -> dict | None:
        entry = self.request("GET", f"/history/{prompt_id}").json().get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            return entry
        return None

    def cancel(self, prompt_id: str) -> None:
        """Best effort: drop the prompt from the queue or interrupt it if it runs."""
        try:
            self.request("POST", "/queue", json={"delete": [prompt_id]}, timeout=5)
            self.request("POST", "/interrupt", json={"prompt_id": prompt_id}, timeout=5)
        except ServerDown:
            pass

    def run(self, graph: dict, timeout: float, on_progress: ProgressFn | None = None) -> dict:
        """Queue `graph`, follow it on the websocket until it ends, and return its /history entry."""
        client_id = uuid.uuid4().hex
        ws_url = "ws" + self.url[len("http"):] + f"/ws?clientId={client_id}"
        try:
            ws = websocket.create_connection(ws_url, timeout=self.poll_s)
        except (websocket.WebSocketException, OSError) as err:
            raise ServerDown(f"{self.url}: websocket: {err}") from err
        try:
            prompt_id = self.queue(graph, client_id)
            self._follow(ws, prompt_id, time.monotonic() + timeout, timeout, on_progress)
        finally:
            ws.close()
        return self._confirm(prompt_id)

    def _follow(self, ws: websocket.WebSocket, prompt_id: str, deadline: float, timeout: float,
                on_progress: ProgressFn | None) -> None:
        while True:
            if time.monotonic() > deadline:
                self.cancel(prompt_id)
                message = f"{self.url}: prompt {prompt_id} not finished after {timeout:g}s"
                if self.alive():
                    raise RowTimeout(f"{message} (the server still answers: this row failed, the server is kept)")
                raise ServerDown(f"{message}, and the server no longer answers")
            try:
                message = ws.recv()
            except websocket.WebSocketTimeoutException:
                if self.history(prompt_id) is not None:  # a missed end message: history has it
                    return
                continue
            except (websocket.WebSocketException, OSError) as err:
                raise ServerDown(f"{self.url}: websocket closed: {err or type(err).__name__}") from err
            if message == "":
                raise ServerDown(f"{self.url}: websocket closed by the server")
            if not isinstance(message, str):
                continue  # binary preview frames
            try:
                event = json.loads(message)
            except json.JSONDecodeError:
                continue
            kind, data = event.get("type"), event.get("data") or {}
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue
            if kind == "progress" and on_progress is not None:
                on_progress(int(data.get("value", 0)), int(data.get("max", 0)))
            elif kind == "execution_error":
                raise PromptFailed(describe_execution_error(data))
            elif kind == "execution_interrupted":
                raise PromptFailed(f"interrupted on the server at node {data.get('node_id')}")
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None):
                return

    def _confirm(self, prompt_id: str, wait_s: float = 30.0) -> dict:
        """The finished /history entry (written just after the success message); errors raise."""
        deadline = time.monotonic() + wait_s
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                break
            if time.monotonic() > deadline:
                raise ServerDown(f"{self.url}: prompt {prompt_id} finished but is not in /history")
            time.sleep(0.2)
        status = entry.get("status", {})
        if status.get("status_str") == "error" or not status.get("completed"):
            for kind, data in status.get("messages", []):
                if kind == "execution_error":
                    raise PromptFailed(describe_execution_error(data))
            raise PromptFailed(f"prompt {prompt_id} did not complete ({status.get('status_str')})")
        return entry

    def output_images(self, entry: dict) -> list[dict]:
        """The saved images (type "output") of a history entry, in node-id then list order."""
        images = []
        for node_id in sorted(entry.get("outputs", {}), key=str):
            for image in entry["outputs"][node_id].get("images", []):
                if image.get("type") == "output":
                    images.append({**image, "node": node_id})
        return images

    def view(self, image: dict) -> bytes:
        params = {"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": image["type"]}
        response = self.request("GET", "/view", params=params)
        if not response.ok:
            raise ServerDown(f"{self.url}/view {image['filename']}: HTTP {response.status_code}")
        return response.content
