"""`make demo`: start ComfyUI with the pack on 127.0.0.1:8188, queue the bundled example workflow over
the HTTP API, write the result to output/, and leave the server running for the browser.

It runs on the host whose venv runs it (`make demo`: ComfyUI 0.8.0, `make demo HOST=0.3.75` the oldest
supported). With real Flux Fill weights in the base directory's models/ (flux1-fill-dev, ae, clip_l, t5xxl) it
uses them. Without, it generates tiny random-weight models: the pipeline runs for real, but the
pixels it paints are noise.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "tests")]

from comfy_host import MODEL_CACHE, ComfyServer, comfyui_path, make_base_dir  # noqa: E402
from tiny_models import swap_in_tiny_models  # noqa: E402
from workflow_convert import node_ids_of_type, ui_to_api  # noqa: E402

WORKFLOW = REPO / "example_workflows" / "flux_fill_inpaint.json"
PORT = 8188
REAL = {"unet": ("diffusion_models", "unet", "flux1-fill-dev.safetensors"),
        "vae": ("vae", None, "ae.safetensors"),
        "clip_l": ("text_encoders", "clip", "clip_l.safetensors"),
        "t5": ("text_encoders", "clip", "t5xxl_fp16.safetensors")}


def find_real_weights(model_dirs: list[Path]) -> bool:
    for folder, alt, name in REAL.values():
        if not any((d / f / name).exists() for d in model_dirs for f in (folder, alt) if f):
            return False
    return True


def demo_inputs() -> tuple[bytes, str]:
    """A 768x512 synthetic scene, its mask in the alpha channel (LoadImage's MASK = 1 - alpha)."""
    import numpy as np
    from PIL import Image

    h, w = 512, 768
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([120 + 80 * x / w, 170 - 60 * y / h, 220 - 100 * y / h], -1)
    rgb[y > 330] = [70, 140, 60]
    alpha = np.full((h, w), 255, np.uint8)
    alpha[((x - 500) ** 2 + (y - 330) ** 2) < 80 ** 2] = 0
    image = Image.fromarray(np.dstack([rgb.clip(0, 255).astype(np.uint8), alpha]), "RGBA")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue(), "ffi_example.png"


def main() -> None:
    import requests

    base = comfyui_path().parent / "base"  # .hosts/<version>/base beside the host's ComfyUI tree
    external = os.environ.get("COMFYUI_PATH")
    model_dirs = [base / "models"] + ([comfyui_path() / "models"] if external else [])
    real = find_real_weights(model_dirs)
    if real:
        make_base_dir(base, models=None)
        print("[demo] real Flux Fill weights found: using them")
    else:
        from tiny_models import write_tiny_models

        write_tiny_models(MODEL_CACHE)
        make_base_dir(base)
        print("[demo] no real weights found: using TINY RANDOM-WEIGHT models. The pipeline runs for real "
              "(crop, encode, sample, decode, stitch), but what it paints inside the mask is NOISE.")
    url = f"http://127.0.0.1:{PORT}"
    try:
        running = requests.get(url + "/object_info/FFI_FluxFillInpainter", timeout=2).ok
    except requests.RequestException:
        running = False
    if not running:
        server = ComfyServer(base, port=PORT).start()
        print(f"[demo] ComfyUI started (pid {server.process.pid}), log {server.log_path}")
    client = ComfyServer(base, port=PORT).client()
    png, name = demo_inputs()
    client.upload_image(png, name)
    graph = ui_to_api(json.loads(WORKFLOW.read_text()), client.object_info())
    if not real:
        swap_in_tiny_models(graph)
    (save_id,) = node_ids_of_type(graph, "SaveImage")
    entry = client.run(graph, timeout=1800)
    out_dir = REPO / "output"
    out_dir.mkdir(exist_ok=True)
    for i, data in enumerate(client.images(entry, save_id)):
        path = out_dir / f"demo_{i:02d}.png"
        path.write_bytes(data)
        print(f"[demo] wrote {path}")
    print(f"[demo] ComfyUI is still running at {url} - open it in a browser; stop it with "
          f"`kill $(lsof -t -i :{PORT})` or Ctrl+C in its terminal.")


if __name__ == "__main__":
    main()
