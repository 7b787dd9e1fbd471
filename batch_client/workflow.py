"""The API-format workflow template: loading, `--set` overrides, and the graph queued for one row."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from .rows import Row, RowError

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "flux_fill_inpaint_api.json"
INPAINTER = "FFI_FluxFillInpainter"
OPTIONS = "FFI_InpaintOptions"
# CSV column -> input of the inpainter node
INPAINTER_COLUMNS = ("seed", "steps", "guidance", "denoise", "batch_size")


class TemplateError(ValueError):
    """The template (or an override) cannot be used for batch inpainting."""


def load_template(path: Path) -> dict:
    """An API-format graph (node id -> {class_type, inputs}); a UI-format workflow is refused."""
    try:
        graph = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise TemplateError(f"cannot read workflow {path}: {err}") from err
    if not isinstance(graph, dict) or "nodes" in graph and "links" in graph:
        raise TemplateError(f"{path} is not an API-format workflow (export it with 'Save (API)')")
    graph = {k: v for k, v in graph.items() if not k.startswith("_")}  # "_comment" keys
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            raise TemplateError(f"{path}: node {node_id!r} has no class_type/inputs")
    return graph


def nodes_of(graph: dict, class_type: str) -> list[str]:
    return [node_id for node_id, node in graph.items() if node["class_type"] == class_type]


def parse_override(text: str) -> tuple[str, str, object]:
    """`node.input=value` -> (node, input, value); the value is JSON when it parses, else a string."""
    target, sep, raw = text.partition("=")
    node, dot, name = target.rpartition(".")
    if not sep or not dot or not node or not name:
        raise TemplateError(f"--set {text!r}: expected node.input=value (node: an id or a class_type)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return node, name, value


def apply_overrides(graph: dict, overrides: list[str]) -> dict:
    """A copy of `graph` with each `node.input=value` set; `node` is a node id, else every node of
    that class_type."""
    out = copy.deepcopy(graph)
    for text in overrides:
        node, name, value = parse_override(text)
        targets = [node] if node in out else nodes_of(out, node)
        if not targets:
            raise TemplateError(f"--set {text!r}: no node with id or class_type {node!r} in the workflow")
        for node_id in targets:
            out[node_id]["inputs"][name] = value
    return out


def check_template(graph: dict) -> None:
    """The template must hold exactly one inpainter fed by a LoadImage, and at least one output."""
    inpainters = nodes_of(graph, INPAINTER)
    if len(inpainters) != 1:
        raise TemplateError(f"the workflow needs exactly one {INPAINTER} node, it has {len(inpainters)}")
    image_link = graph[inpainters[0]]["inputs"].get("image")
    if not (isinstance(image_link, list) and graph.get(str(image_link[0]), {}).get("class_type") == "LoadImage"):
        raise TemplateError(f"the {INPAINTER} node's image input must come from a LoadImage node")
    if not nodes_of(graph, "SaveImage"):
        raise TemplateError("the workflow has no SaveImage node: nothing would be written")


def with_defaults(graph: dict, object_info: dict) -> dict:
    """A copy of `graph` whose omitted widget inputs take the defaults the server declares."""
    out = {}
    for node_id, node in graph.items():
        inputs = dict(node["inputs"])
        spec = object_info.get(node["class_type"], {}).get("input", {})
        for name, entry in spec.get("required", {}).items():
            options = entry[1] if isinstance(entry, list) and len(entry) > 1 and isinstance(entry[1], dict) else {}
            if name not in inputs and "default" in options:
                inputs[name] = options["default"]
        out[node_id] = {**node, "inputs": inputs}
    return out


def input_spec(object_info: dict, class_type: str, name: str) -> list | None:
    spec = object_info.get(class_type, {}).get("input", {})
    for section in ("required", "optional"):
        if name in spec.get(section, {}):
            return spec[section][name]
    return None


def check_value(object_info: dict, class_type: str, name: str, value: object, row: Row, column: str) -> None:
    """Check a CSV value against the server's declared min/max/choices for the input it feeds."""
    spec = input_spec(object_info, class_type, name)
    if spec is None:
        raise RowError(row.number, column, f"the server's {class_type} node has no '{name}' input")
    kind = spec[0] if spec else None
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if kind == "COMBO":
        kind = options.get("options", [])
    if isinstance(kind, list):
        if value not in kind:
            raise RowError(row.number, column, f"'{value}' is not one of {', '.join(map(str, kind))}")
        return
    if isinstance(value, (int, float)):
        if "min" in options and value < options["min"]:
            raise RowError(row.number, column, f"{value} is below the minimum {options['min']} of {class_type}.{name}")
        if "max" in options and value > options["max"]:
            raise RowError(row.number, column, f"{value} is above the maximum {options['max']} of {class_type}.{name}")


def _new_id(graph: dict, stem: str) -> str:
    node_id, i = stem, 1
    while node_id in graph:
        node_id, i = f"{stem}_{i}", i + 1
    return node_id


def build_graph(template: dict, row: Row, object_info: dict, image_name: str, mask_name: str | None,
                prefix: str) -> dict:
    """The graph queued for one row: uploaded file names, prompt, per-row settings, server defaults.

    `mask_name` None wires the inpainter's mask to the LoadImage's MASK output (the alpha channel).
    Raises RowError when a value does not fit what the server's nodes accept.
    """
    graph = copy.deepcopy(template)
    (inpaint_id,) = nodes_of(graph, INPAINTER)
    inpaint = graph[inpaint_id]["inputs"]
    image_id = str(inpaint["image"][0])
    graph[image_id]["inputs"]["image"] = image_name
    mask_link = inpaint.get("mask")
    mask_node = graph.get(str(mask_link[0])) if isinstance(mask_link, list) else None
    if mask_name is None:
        inpaint["mask"] = [image_id, 1]
        if mask_node is not None and mask_node["class_type"] == "LoadImageMask":
            del graph[str(mask_link[0])]
    elif mask_node is not None and mask_node["class_type"] == "LoadImageMask":
        mask_node["inputs"]["image"] = mask_name
    else:
        mask_id = _new_id(graph, "batch_mask")
        graph[mask_id] = {"class_type": "LoadImageMask", "inputs": {"image": mask_name, "channel": "red"}}
        inpaint["mask"] = [mask_id, 0]
    inpaint["text"] = row.prompt
    for column in INPAINTER_COLUMNS:
        if column in row.settings:
            check_value(object_info, INPAINTER, column, row.settings[column], row, column)
            inpaint[column] = row.settings[column]
    option_values: dict[str, object] = {}
    if "width" in row.settings:
        option_values = {"target_mode": "fixed", "fixed_width": row.settings["width"],
                         "fixed_height": row.settings["height"]}
    if "mode" in row.settings:
        option_values["mode"] = row.settings["mode"]
    if option_values:
        options_link = inpaint.get("options")
        if isinstance(options_link, list) and graph.get(str(options_link[0]), {}).get("class_type") == OPTIONS:
            options_id = str(options_link[0])
        else:
            options_id = _new_id(graph, "batch_options")
            graph[options_id] = {"class_type": OPTIONS, "inputs": {}}
            inpaint["options"] = [options_id, 0]
        columns = {"fixed_width": "width", "fixed_height": "height", "mode": "mode", "target_mode": "width"}
        for name, value in option_values.items():
            check_value(object_info, OPTIONS, name, value, row, columns[name])
            graph[options_id]["inputs"][name] = value
    for save_id in nodes_of(graph, "SaveImage"):
        graph[save_id]["inputs"]["filename_prefix"] = f"{prefix}_{save_id}"
    return with_defaults(graph, object_info)
