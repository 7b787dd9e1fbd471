"""A stand-in ComfyUI HTTP + websocket server for the batch client's unit tests (aiohttp, in a thread).

It answers what the client calls: /system_stats, /object_info/{class}, /upload/image, /prompt, /ws, /history,
/queue, /interrupt, /view. A prompt whose text contains "hang" never finishes; any other finishes at once with
one saved image. `stop()` takes it off the network (an unreachable server).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid

from aiohttp import web


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeComfy:
    def __init__(self, object_info: dict) -> None:
        self.object_info = object_info
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.finished: dict[str, dict] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.queued: list[str] = []
        self.cancelled: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/system_stats", self._stats)
        app.router.add_get("/object_info/{cls}", self._info)
        app.router.add_post("/upload/image", self._upload)
        app.router.add_post("/prompt", self._prompt)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/history/{pid}", self._history)
        app.router.add_post("/queue", self._cancel)
        app.router.add_post("/interrupt", self._cancel)
        app.router.add_get("/view", self._view)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        ready.set()
        self.loop.run_forever()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"system": {}})

    async def _view(self, request: web.Request) -> web.Response:
        return web.Response(body=b"PNG-bytes")

    async def _info(self, request: web.Request) -> web.Response:
        cls = request.match_info["cls"]
        return web.json_response({cls: self.object_info[cls]} if cls in self.object_info else {})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response({"name": form["image"].filename, "subfolder": "ffi_batch"})

    async def _prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        pid = uuid.uuid4().hex
        self.queued.append(pid)
        text = json.dumps(body["prompt"])
        if "hang" not in text:
            self.finished[pid] = {"status": {"completed": True, "status_str": "success"},
                                  "outputs": {"save": {"images": [{"filename": f"{pid}.png", "subfolder": "",
                                                                   "type": "output"}]}}}
            ws = self.sockets.get(body.get("client_id"))
            if ws is not None:
                await ws.send_str(json.dumps({"type": "executing", "data": {"node": None, "prompt_id": pid}}))
        return web.json_response({"prompt_id": pid})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets[request.query.get("clientId", "")] = ws
        async for _ in ws:
            pass
        return ws

    async def _history(self, request: web.Request) -> web.Response:
        pid = request.match_info["pid"]
        return web.json_response({pid: self.finished[pid]} if pid in self.finished else {})

    async def _cancel(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.cancelled.extend(body.get("delete", []))
        return web.json_response({})

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
            self.runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
