"""Convert a ComfyUI UI-format workflow (what the frontend saves) to the API format /prompt takes.

Widget values are positional in the UI format; their names come from the server's /object_info, in
the order the node declares its inputs. A seed widget with control_after_generate carries one extra
value ("fixed", "randomize", ...) that the API format does not have.
"""

from __future__ import annotations

from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
UI_ONLY_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
MUTED_MODES = {2, 4}  # never / bypass


def _is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def _has_control(spec: list) -> bool:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return bool(options.get("control_after_generate"))


def input_order(node_info: dict) -> list[tuple[str, list]]:
    inputs = node_info["input"]
    order = node_info.get("input_order") or {k: list(v) for k, v in inputs.items() if k in ("required", "optional")}
    out = []
    for section in ("required", "optional"):
        for name in order.get(section, []):
            out.append((name, inputs[section][name]))
    return out


def ui_to_api(workflow: dict, object_info: dict) -> dict[str, dict[str, Any]]:
    """The API-format graph of a UI workflow. Raises KeyError naming any node type the server lacks."""
    links = {link[0]: link for link in workflow.get("links", [])}
    graph: dict[str, dict[str, Any]] = {}
    for node in workflow["nodes"]:
        if node["type"] in UI_ONLY_NODES or node.get("mode", 0) in MUTED_MODES:
            continue
        if node["type"] not in object_info:
            raise KeyError(f"node type {node['type']!r} (node {node['id']}) is not registered on the server")
        linked = {}
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                _, from_node, from_slot, *_ = links[slot["link"]]
                linked[slot["name"]] = [str(from_node), from_slot]
        values = list(node.get("widgets_values") or [])
        inputs: dict[str, Any] = {}
        for name, spec in input_order(object_info[node["type"]]):
            if _is_widget(spec) and values:
                inputs[name] = values.pop(0)
                if _has_control(spec) and values and isinstance(values[0], str):
                    values.pop(0)
            if name in linked:
                inputs[name] = linked[name]
        graph[str(node["id"])] = {"class_type": node["type"], "inputs": inputs,
                                  "_meta": {"title": node.get("title", node["type"])}}
    return graph


def node_ids_of_type(graph: dict, class_type: str) -> list[str]:
    return [nid for nid, node in graph.items() if node["class_type"] == class_type]
