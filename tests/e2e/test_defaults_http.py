"""A user who changes nothing, over HTTP: API graphs whose FluxFill Inpainter inputs are all the defaults
/object_info declares (`with_defaults`), on a real server with the tiny models.

- An unpainted non-square photo (core Load Image gives a 64x64 zero mask for an image without alpha) comes
  back with exactly its pixels.
- An SD 1.5 inpainting checkpoint at every default samples with its template's settings: the progress the
  server reports counts the template's 20 steps (one sampler call), and the run states the automatic cfg,
  sampler, scheduler and native size in the server's log. The run is interrupted at its first step: what is
  checked is decided before sampling, and 20 steps of SD 1.5 at 512² cost minutes on this CPU.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import websocket
from api_graphs import decode, loaders, png
from comfy_host import ComfyServer, ExecutionError
from tiny_models import SD15_INPAINT_FILE


def inpainter_at_defaults(model: list, clip: list, vae: list) -> dict:
    return {"class_type": "FFI_FluxFillInpainter",
            "inputs": {"model": model, "clip": clip, "vae": vae, "image": ["load", 0], "mask": ["load", 1]}}


def test_an_unpainted_non_square_photo_comes_back_with_exactly_its_pixels(comfy_server: ComfyServer) -> None:
    client = comfy_server.client()
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (72, 200, 3), dtype=np.uint8)  # RGB: no alpha, so LoadImage's mask is 64x64
    name = client.upload_image(png(photo), "unpainted_photo.png")
    graph = loaders() | {
        "load": {"class_type": "LoadImage", "inputs": {"image": name}},
        "inpaint": inpainter_at_defaults(["unet", 0], ["clip", 0], ["vae", 0]),
        "save": {"class_type": "SaveImage", "inputs": {"images": ["inpaint", 0], "filename_prefix": "ffi_unpainted"}},
    }
    entry = client.run(client.with_defaults(graph), timeout=600)
    (result,) = [decode(b) for b in client.images(entry, "save")]
    assert result.shape == photo.shape and result.tobytes() == photo.tobytes()


def queue_until_first_progress(client, graph: dict, timeout: float) -> tuple[str, dict]:
    """Queue `graph` with the server's websocket open; (prompt id, its first `progress` message)."""
    ws = websocket.create_connection(client.url.replace("http", "ws", 1) + f"/ws?clientId={client.client_id}",
                                     timeout=timeout)
    try:
        prompt_id = client.queue(graph)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = ws.recv()
            if not isinstance(message, str):
                continue  # preview images
            data = json.loads(message)
            if data.get("type") == "progress" and data["data"].get("prompt_id", prompt_id) == prompt_id:
                return prompt_id, data["data"]
            if data.get("type") == "execution_error":
                raise AssertionError(f"the run failed: {data['data'].get('exception_message')}")
        raise TimeoutError("no progress message")
    finally:
        ws.close()


def test_sd15_at_every_default_samples_with_its_templates_settings(comfy_server: ComfyServer) -> None:
    client = comfy_server.client()
    image = np.full((256, 256, 4), 128, dtype=np.uint8)
    image[..., 3] = 255
    image[100:140, 110:150, 3] = 0  # painted: LoadImage's mask is 1 - alpha
    name = client.upload_image(png(image), "sd15_defaults.png")
    graph = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15_INPAINT_FILE}},
        "load": {"class_type": "LoadImage", "inputs": {"image": name}},
        "inpaint": inpainter_at_defaults(["ckpt", 0], ["ckpt", 1], ["ckpt", 2]),
        "save": {"class_type": "SaveImage", "inputs": {"images": ["inpaint", 0], "filename_prefix": "ffi_sd15"}},
    }
    graph = client.with_defaults(graph)
    inputs = graph["inpaint"]["inputs"]
    assert (inputs["steps"], inputs["cfg"], inputs["sampler_name"], inputs["scheduler"],
            inputs["target_megapixels"]) == (0, 0, "auto", "auto", 0), "the declared defaults are automatic"
    try:
        prompt_id, progress = queue_until_first_progress(client, graph, timeout=600)
    finally:
        client.interrupt()
    assert progress["max"] == 20, "SD 1.5's template samples 20 steps"
    log = comfy_server.log_tail(200_000)
    lines = [line for line in log.splitlines() if "automatic settings for the sd15 model" in line]
    assert lines, log[-3000:]
    for expected in ("steps 20", "cfg 8", "sampler_name euler", "scheduler normal", "target_megapixels 0.25"):
        assert expected in lines[-1], lines[-1]
    with pytest.raises(ExecutionError):  # interrupted: the prompt ends without outputs
        client.wait(prompt_id, timeout=300)
