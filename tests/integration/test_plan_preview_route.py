"""The crop-preview route's plan equals the FluxFill Inpainter's `regions` output; path and size checks."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import numpy as np
import pytest
from node_calls import inpaint
from PIL import Image


def route():
    from fluxfill_inpainter.nodes import plan_preview_route

    return plan_preview_route


def write_rgba(path: Path, width: int = 320, height: int = 96) -> Path:
    """A scene with two painted mask areas (alpha 0) and a soft one (alpha 128), as the MaskEditor saves."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    alpha = np.full((height, width), 255, np.uint8)
    alpha[20:44, 16:40] = 0
    alpha[40:70, 250:300] = 128
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    return path


@pytest.fixture(scope="module")
def input_dir(comfy) -> Path:
    import folder_paths

    root = Path(folder_paths.get_input_directory())
    write_rgba(root / "ffi_preview.png")
    write_rgba(root / "clipspace" / "clipspace-mask-1.png", width=200, height=150)
    return root


def node_regions(models, name: str, options=None, **widgets) -> dict:
    """The node's `regions` output for LoadImage(name) -> FluxFill Inpainter (denoise 0: nothing sampled)."""
    import nodes

    image, mask = nodes.LoadImage().load_image(name)
    out = inpaint(models, image, mask, options=options, denoise=0.0, **widgets)
    return json.loads(out.result[7])


@pytest.mark.parametrize("name, widgets, option_values", [
    ("ffi_preview.png", {}, None),
    ("ffi_preview.png", {"context": 0.5, "grow": 6, "feather": 3, "target_megapixels": 0.05}, None),
    ("clipspace/clipspace-mask-1.png [input]", {"context": 2.0, "grow": -2, "feather": 20,
                                                "target_megapixels": 0.3},
     {"target_mode": "fixed", "fixed_width": 256, "fixed_height": 192, "merge_gap": 0, "min_crop": 32}),
    ("ffi_preview.png", {"target_megapixels": 0.02},
     {"min_side": 64, "max_side": 256, "min_crop": 32, "min_context": 8, "merge_gap": 0, "invert_mask": False,
      "hipass": 0.6, "shared_target": True, "mode": "repaint"}),
])
def test_preview_plan_equals_the_nodes_regions_output(small_models, input_dir, name, widgets, option_values):
    from fluxfill_inpainter.nodes.options import build_options

    defaults = {"context": 1.0, "grow": 0, "feather": 4, "target_megapixels": 0.02}
    node_widgets = defaults | widgets
    options = build_options(**option_values) if option_values is not None else None
    expected = node_regions(small_models, name, options=options, **node_widgets)
    assert expected["regions"], "the test image must have masked regions"

    payload = {"image": name, **node_widgets, "multiple": 16, "options": option_values}
    got = json.loads(json.dumps(route().plan_preview(payload)))  # as the route answers it
    assert got.pop("planned_for") == {"family": "flux_fill", "from": "assumed", "multiple": 16}
    assert got == expected
    boxes = [r["box"] for r in got["regions"]]
    assert boxes == [r["box"] for r in expected["regions"]]


def test_a_fill_model_prefill_does_not_stop_the_preview(input_dir):
    """prefill 'fill_model' needs a connected fill model in the node, but never moves a crop: the preview
    (which only gets widget values) plans as with the grey pre-fill."""
    payload = {"image": "ffi_preview.png", "target_megapixels": 0.05}
    grey = route().plan_preview({**payload, "options": {"prefill": "grey"}})
    assert route().plan_preview({**payload, "options": {"prefill": "fill_model"}}) == grey


def test_multiple_follows_the_request(input_dir):
    plans = {m: route().plan_preview({"image": "ffi_preview.png", "multiple": m, "target_megapixels": 0.07})
             for m in (8, 16)}
    for m, plan in plans.items():
        assert all(side % m == 0 for r in plan["regions"] for side in r["target"])
    assert plans[8]["regions"] != plans[16]["regions"]


def test_an_image_without_alpha_gets_the_nodes_answer(input_dir):
    """LoadImage gives a 64x64 empty mask without alpha: the preview answers what the node would (issue 26:
    an empty mask of any size returns the input, no crop; before, a non-square photo was an error)."""
    Image.new("RGB", (96, 64), (10, 20, 30)).save(input_dir / "ffi_no_alpha.png")
    plan = route().plan_preview({"image": "ffi_no_alpha.png"})
    assert plan["regions"] == [] and (plan["width"], plan["height"]) == (96, 64)
    Image.new("RGB", (64, 64), (10, 20, 30)).save(input_dir / "ffi_no_alpha_square.png")
    plan = route().plan_preview({"image": "ffi_no_alpha_square.png"})
    assert plan["regions"] == [] and (plan["width"], plan["height"]) == (64, 64)


@pytest.mark.parametrize("payload, status", [
    ({"image": "../ffi_preview.png"}, 400),
    ({"image": "clipspace/../../etc/passwd"}, 400),
    ({"image": "/etc/passwd"}, 400),
    ({"image": "ffi_preview.png", "subfolder": ".."}, 400),
    ({"image": "ffi_preview.png", "subfolder": "/tmp"}, 400),
    ({"image": "ffi_preview.png [output]"}, 400),
    ({"image": "ffi_preview.png", "type": "temp"}, 400),
    ({"image": "ffi_missing.png"}, 404),
    ({"image": ""}, 400),
    ({"image": 3}, 400),
    ({"image": "ffi_preview.png", "context": "1"}, 400),
    ({"image": "ffi_preview.png", "grow": 1.5}, 400),
    ({"image": "ffi_preview.png", "feather": 10_000}, 400),
    ({"image": "ffi_preview.png", "target_megapixels": float("nan")}, 400),
    ({"image": "ffi_preview.png", "options": {"__class__": 1}}, 400),
    ({"image": "ffi_preview.png", "options": {"reference": None}}, 400),
    ({"image": "ffi_preview.png", "options": {"min_side": 900, "max_side": 512}}, 400),
    ({"image": "ffi_preview.png", "options": {"mode": "<script>"}}, 400),
    (["not", "an", "object"], 400),
])
def test_bad_requests_are_refused(input_dir, payload, status):
    with pytest.raises(route().PreviewError) as info:
        route().plan_preview(payload)
    assert info.value.status == status, info.value.message


def test_symlinks_out_of_the_input_directory_are_refused(input_dir, tmp_path):
    outside = write_rgba(tmp_path / "secret.png")
    link = input_dir / "ffi_link_out.png"
    link.unlink(missing_ok=True)
    os.symlink(outside, link)
    folder = input_dir / "ffi_linked_dir"
    folder.unlink(missing_ok=True)
    os.symlink(tmp_path, folder, target_is_directory=True)
    try:
        for payload in ({"image": "ffi_link_out.png"}, {"image": "ffi_linked_dir/secret.png"},
                        {"image": "secret.png", "subfolder": "ffi_linked_dir"}):
            with pytest.raises(route().PreviewError) as info:
                route().plan_preview(payload)
            assert info.value.status == 403
    finally:
        link.unlink()
        folder.unlink()


def test_images_over_the_pixel_cap_are_refused(input_dir):
    with pytest.raises(route().PreviewError) as info:
        route().plan_preview({"image": "ffi_preview.png"}, max_pixels=320 * 96 - 1)
    assert info.value.status == 413 and "MP" in info.value.message
    assert route().plan_preview({"image": "ffi_preview.png"}, max_pixels=320 * 96)["regions"]


def test_the_route_is_registered_once(comfy, monkeypatch):
    """register_routes adds one POST route to PromptServer's table, however often it is called."""
    import server
    from aiohttp import web

    class FakeServer:
        routes = web.RouteTableDef()

    monkeypatch.setattr(server.PromptServer, "instance", FakeServer(), raising=False)
    assert route().register_routes() is True
    assert route().register_routes() is False
    matching = [r for r in FakeServer.routes if r.path == route().ROUTE_PATH]
    assert len(matching) == 1 and matching[0].method == "POST"


def test_the_handler_answers_json_errors(input_dir):
    class Request:
        def __init__(self, body):
            self.body = body

        async def json(self):
            if isinstance(self.body, Exception):
                raise self.body
            return self.body

    ok = asyncio.run(route().handle_plan_preview(Request({"image": "ffi_preview.png"})))
    assert ok.status == 200 and json.loads(ok.text)["regions"]
    bad = asyncio.run(route().handle_plan_preview(Request({"image": "../x.png"})))
    assert bad.status == 400 and "relative path" in json.loads(bad.text)["error"]
    broken = asyncio.run(route().handle_plan_preview(Request(ValueError("no json"))))
    assert broken.status == 400
