"""The bundled example workflows: valid for the server that runs them, and they really run.

Every example is converted from the UI format with the server's /object_info and checked value by
value. The three Flux examples and sd15_inpaint run on the tiny random-weight models (loaders
swapped by `swap_in_tiny_models`: Flux Fill / Flux VAE / CLIP-L, and for sd15_inpaint the tiny
SD 1.5 inpainting checkpoint through CheckpointLoaderSimple; crops made small for a CPU).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_models import swap_in_tiny_models

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

from workflow_convert import UI_ONLY_NODES, _is_widget, input_order, node_ids_of_type, ui_to_api  # noqa: E402

EXAMPLES = REPO / "example_workflows"
RUNNABLE = ["flux_fill_inpaint", "flux_fill_crop_sample_stitch", "sd15_inpaint", "flux_fill_object_removal",
            "flux_fill_object_removal_lama", "flux_fill_large_region_refine"]
# wan_video_inpaint is checked, not run: the umt5-xxl text encoder it needs has one fixed 5.7 B config (the clip
# path itself runs in-process on tiny Wan models: tests/integration/test_video_clips.py)
NAMES = [*RUNNABLE, "wan_video_inpaint"]
PACK_MODULE = "custom_nodes.fluxfill_inpainter"
# Combos listing files on the user's machine: the example names the usual file, which the test server
# does not have.
FILE_INPUTS = {("LoadImage", "image"), ("CheckpointLoaderSimple", "ckpt_name"), ("UNETLoader", "unet_name"),
               ("DualCLIPLoader", "clip_name1"), ("DualCLIPLoader", "clip_name2"), ("VAELoader", "vae_name"),
               ("FFI_FillModelLoader", "model_name"), ("CLIPLoader", "clip_name"), ("LoadVideo", "file")}
SMALL_OPTIONS = {"min_side": 64, "max_side": 256, "min_crop": 64, "min_context": 8}
# large_region_refine: a 128 px crop sampled at 96 px (scale 0.75, refined below 0.9), refine pass at 128 px
REFINE_SIZES = {"min_crop": 128, "refine_max_side": 128, "refine_threshold": 0.9}

H, W = 128, 192
MASK_BOX = (86, 54, 106, 74)  # x0, y0, x1, y1 of the masked rectangle


@pytest.fixture(scope="module")
def object_info(comfy_server) -> dict:
    return comfy_server.client().object_info()


def load(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def combo_options(spec: list) -> list | None:
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return spec[1].get("options", [])
    return None


def check_value(class_type: str, name: str, spec: list, value) -> None:
    where = f"{class_type}.{name} = {value!r}"
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    choices = combo_options(spec)
    if choices is not None:
        if (class_type, name) in FILE_INPUTS:
            assert isinstance(value, str) and "." in value, where
        else:
            assert value in choices, f"{where} not in {choices}"
    elif spec[0] == "BOOLEAN":
        assert isinstance(value, bool), where
    elif spec[0] == "STRING":
        assert isinstance(value, str), where
    elif spec[0] in ("INT", "FLOAT"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
        if spec[0] == "INT":
            assert float(value).is_integer(), where
        assert options.get("min", -np.inf) <= value <= options.get("max", np.inf), where


@pytest.mark.parametrize("name", NAMES)
def test_example_is_valid_for_the_server(name, object_info):
    workflow = load(name)
    for node in workflow["nodes"]:
        if node["type"] in UI_ONLY_NODES:
            continue
        assert node["type"] in object_info, f"{name}: unknown node type {node['type']}"
        module = object_info[node["type"]]["python_module"]
        assert module == PACK_MODULE or module in ("nodes",) or module.startswith("comfy_extras."), \
            f"{name}: {node['type']} comes from {module}, not from core or this pack"
    by_id = {n["id"]: n for n in workflow["nodes"]}
    for link_id, src, slot, dst, dst_slot, kind in workflow["links"]:
        assert by_id[src]["outputs"][slot]["type"] == kind, f"link {link_id}"
        assert by_id[dst]["inputs"][dst_slot]["link"] == link_id, f"link {link_id}"
        assert by_id[dst]["inputs"][dst_slot]["type"] in (kind, "*"), f"link {link_id}"

    graph = ui_to_api(workflow, object_info)
    assert len(graph) == sum(1 for n in workflow["nodes"] if n["type"] not in UI_ONLY_NODES)
    for node in graph.values():
        info = object_info[node["class_type"]]
        for input_name, spec in input_order(info):
            required = input_name in info["input"].get("required", {})
            if input_name not in node["inputs"]:
                assert not required, f"{name}: {node['class_type']} lacks required input {input_name}"
                continue
            value = node["inputs"][input_name]
            if _is_widget(spec) and not isinstance(value, list):
                check_value(node["class_type"], input_name, spec, value)


def test_value_check_rejects_bad_values(object_info):
    """Negative control for the check above: an unknown combo value and an out-of-range number fail."""
    inputs = object_info["FFI_FluxFillInpainter"]["input"]["required"]
    with pytest.raises(AssertionError):
        check_value("FFI_FluxFillInpainter", "sampler_name", inputs["sampler_name"], "no_such_sampler")
    with pytest.raises(AssertionError):
        check_value("FFI_FluxFillInpainter", "steps", inputs["steps"], -1)
    check_value("FFI_FluxFillInpainter", "steps", inputs["steps"], 20)
    check_value("FFI_FluxFillInpainter", "steps", inputs["steps"], 0)  # 0 = automatic (issue 26)


def test_examples_have_real_thumbnails():
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert set(NAMES) <= set(names)
    for name in names:
        image = Image.open(EXAMPLES / f"{name}.jpg")
        assert image.format == "JPEG" and image.width == 512, name
        grey = np.asarray(image.convert("L"), dtype=float)
        assert grey.std() > 10, f"{name}.jpg looks blank"


def test_sd15_example_uses_sd_settings():
    graph_nodes = {n["type"]: n for n in load("sd15_inpaint")["nodes"]}
    assert graph_nodes["CheckpointLoaderSimple"]["widgets_values"] == ["sd-v1-5-inpainting.ckpt"]
    values = graph_nodes["FFI_FluxFillInpainter"]["widgets_values"]
    # text, seed, control, steps, cfg, sampler, scheduler, ...
    assert 5.0 <= values[4] <= 9.0, "SD wants cfg around 7"


def input_png() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A smooth colour gradient; the masked rectangle is transparent (LoadImage: MASK = 1 - alpha).

    Returns the PNG, its RGB and the alpha channel it carries."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([40 + 160 * x / W, 60 + 120 * y / H, 200 - 100 * x / W], -1).astype(np.uint8)
    alpha = np.full((H, W), 255, np.uint8)
    x0, y0, x1, y1 = MASK_BOX
    alpha[y0:y1, x0:x1] = 0
    buf = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buf, format="PNG")
    return buf.getvalue(), rgb, alpha


def far_from_mask(mask: np.ndarray, reach: int) -> np.ndarray:
    """[H,W] bool: pixels farther than `reach` (Euclidean) from every pixel where `mask` > 0."""
    ys, xs = np.nonzero(mask > 0)
    yy, xx = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    far = np.ones(mask.shape, bool)
    for y, x in zip(ys, xs, strict=True):
        far &= (yy - y) ** 2 + (xx - x) ** 2 > reach * reach
    return far


def add_small_options(graph: dict, object_info: dict, consumer: str) -> None:
    """Give `consumer` an Inpaint Options node with small crop sizes (or shrink the one it has)."""
    link = graph[consumer]["inputs"].get("options")
    if link is None:
        spec = object_info["FFI_InpaintOptions"]
        inputs = {n: s[1]["default"] for n, s in input_order(spec) if len(s) > 1 and "default" in s[1]}
        graph["ffi_test_options"] = {"class_type": "FFI_InpaintOptions", "inputs": inputs}
        graph[consumer]["inputs"]["options"] = ["ffi_test_options", 0]
        link = ["ffi_test_options", 0]
    graph[link[0]]["inputs"].update(SMALL_OPTIONS)


def tiny_graph(name: str, object_info: dict, image_name: str) -> dict:
    graph = ui_to_api(load(name), object_info)
    swap_in_tiny_models(graph, steps=2, target_mp=0.03)
    for nid in node_ids_of_type(graph, "LoadImage"):
        graph[nid]["inputs"]["image"] = image_name
    for nid in node_ids_of_type(graph, "KSampler"):
        graph[nid]["inputs"]["steps"] = 2
    for nid in node_ids_of_type(graph, "FFI_InpaintCrop"):
        graph[nid]["inputs"]["target_megapixels"] = 0.03
    for nid in node_ids_of_type(graph, "FFI_FluxFillInpainter") + node_ids_of_type(graph, "FFI_InpaintCrop"):
        add_small_options(graph, object_info, nid)
    for nid in node_ids_of_type(graph, "FFI_InpaintOptions"):
        if graph[nid]["inputs"].get("refine"):
            graph[nid]["inputs"].update(REFINE_SIZES)
            for inpainter in node_ids_of_type(graph, "FFI_FluxFillInpainter"):
                graph[inpainter]["inputs"]["target_megapixels"] = 0.01
    return graph


def grow_reach(graph: dict) -> int:
    """How far from the mask the result may differ: grow + feather of the cropping node, plus 2."""
    for nid in node_ids_of_type(graph, "FFI_FluxFillInpainter") + node_ids_of_type(graph, "FFI_InpaintCrop"):
        inputs = graph[nid]["inputs"]
        return max(0, inputs["grow"]) + inputs["feather"] + 2
    raise AssertionError("no cropping node in the graph")


@pytest.mark.parametrize("name", RUNNABLE)
def test_example_runs_on_tiny_models(name, comfy_client, object_info):
    png, rgb, alpha = input_png()
    image_name = comfy_client.upload_image(png, f"ffi_e2e_{name}.png")
    graph = tiny_graph(name, object_info, image_name)
    entry = comfy_client.run(graph, timeout=600)
    assert entry["status"]["status_str"] == "success"
    (save_id,) = node_ids_of_type(graph, "SaveImage")
    (result_png,) = comfy_client.images(entry, save_id)
    result = np.asarray(Image.open(io.BytesIO(result_png)).convert("RGB")).astype(int)
    assert result.shape == (H, W, 3)

    reach = grow_reach(graph)
    x0, y0, x1, y1 = MASK_BOX
    near = np.zeros((H, W), bool)
    near[max(0, y0 - reach):y1 + reach, max(0, x0 - reach):x1 + reach] = True
    # pixels away from the (grown, feathered) mask are the input's, up to 8-bit rounding
    assert np.abs(result[~near] - rgb[~near].astype(int)).max() <= 1
    if name == "sd15_inpaint":
        # the region is computed from the mask that was uploaded (LoadImage: MASK = 1 - alpha);
        # 8-bit -> float -> 8-bit is exact in ComfyUI, so untouched pixels come back byte for byte
        far = far_from_mask(255 - alpha, reach)
        assert far.any() and (~far).any()
        assert np.array_equal(result[far], rgb[far].astype(int)), \
            f"{int((result[far] != rgb[far]).any(-1).sum())} pixels far from the mask changed"
    # inside the mask the random-weight model painted something else
    assert np.abs(result[y0:y1, x0:x1] - rgb[y0:y1, x0:x1].astype(int)).mean() > 5

    # the cropping node returned its regions preview (one region here)
    crop_id = (node_ids_of_type(graph, "FFI_FluxFillInpainter") + node_ids_of_type(graph, "FFI_InpaintCrop"))[0]
    assert len(entry["outputs"][crop_id]["images"]) == 1
