"""Static mistakes fail when the prompt is queued: ComfyUI's own prompt validation (`execution.validate_inputs`,
what POST /prompt runs) refuses them with an error naming the node, the input and the values."""

from __future__ import annotations

import asyncio

import pytest


def validate(monkeypatch, class_type: str, node_cls, inputs: dict) -> list[dict]:
    """The host's validation errors for one node of this class with these inputs (the pack's class registered
    as ComfyUI's custom-node loader registers it)."""
    import execution

    import nodes

    monkeypatch.setitem(nodes.NODE_CLASS_MAPPINGS, class_type, node_cls)
    prompt = {"1": {"class_type": class_type, "inputs": inputs}}
    ok, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    return [] if ok else errors


def options_node():
    from fluxfill_inpainter.nodes.options import InpaintOptionsNode

    return InpaintOptionsNode


def option_defaults() -> dict:
    return {i.id: i.default for i in options_node().define_schema().inputs if not i.optional}


def test_min_side_above_max_side_fails_at_queue_time(comfy, monkeypatch):
    errors = validate(monkeypatch, "FFI_InpaintOptions", options_node(),
                      option_defaults() | {"min_side": 900, "max_side": 512})
    details = " ".join(e["details"] for e in errors)
    assert errors and "Inpaint Options (FluxFill)" in details and "'min_side' (900)" in details
    assert "'max_side' (512)" in details


@pytest.mark.parametrize("name, value", [("min_side", 16), ("max_side", 9000)])
def test_declared_inputs_keep_their_range_check(comfy, monkeypatch, name, value):
    """ComfyUI skips its min/max check for inputs validate_inputs declares: the node checks them."""
    errors = validate(monkeypatch, "FFI_InpaintOptions", options_node(), option_defaults() | {name: value})
    assert errors and f"'{name}' is {value}" in " ".join(e["details"] for e in errors)


def test_the_defaults_pass(comfy, monkeypatch):
    assert validate(monkeypatch, "FFI_InpaintOptions", options_node(), option_defaults()) == []


def test_a_snap_that_is_no_multiple_of_8_fails_at_queue_time(comfy, monkeypatch):
    import execution
    import folder_paths
    from fluxfill_inpainter.nodes.crop_nodes import InpaintCrop
    from PIL import Image

    import nodes

    Image.new("RGB", (16, 16)).save(f"{folder_paths.get_input_directory()}/ffi_static_check.png")
    monkeypatch.setitem(nodes.NODE_CLASS_MAPPINGS, "FFI_InpaintCrop", InpaintCrop)
    inputs = {"image": ["9", 0], "mask": ["9", 1], "context": 1.0, "grow": 0, "feather": 16,
              "target_megapixels": 1.0, "snap": 12}
    prompt = {"1": {"class_type": "FFI_InpaintCrop", "inputs": inputs},
              "9": {"class_type": "LoadImage", "inputs": {"image": "ffi_static_check.png"}}}
    ok, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    assert not ok and "FluxFill Crop: input 'snap' is 12" in " ".join(e["details"] for e in errors)
