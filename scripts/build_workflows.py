"""Write example_workflows/*.json (UI format) from compact specs, using a live server's /object_info.

    .venv/bin/python scripts/build_workflows.py --server http://127.0.0.1:8188 [names...]

Each spec lists nodes (type, position, widget values by name) and links by node key and output name
or type (a type picks the node's first output of that type), so widget order and slot indices always
match what the server declares. `Note` nodes (frontend-only, not in /object_info) carry a text for
the user. Thumbnails: scripts/make_thumbnails.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mode_workflow_specs import SPECS as MODE_SPECS
from workflow_convert import _has_control, _is_widget, input_order
from workflow_specs import SPECS

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "example_workflows"

NOTE_TYPES = {"Note"}


def output_slot(info: dict, name: str) -> int:
    """Index of the output called `name`, else of the first output of type `name` (case-insensitive)."""
    names = [n.lower() for n in info.get("output_name", [])]
    types = [t.lower() for t in info.get("output", [])]
    key = name.lower()
    if key in names:
        return names.index(key)
    return types.index(key)


def _is_multiline(spec: list) -> bool:
    return len(spec) > 1 and isinstance(spec[1], dict) and bool(spec[1].get("multiline"))


def node_size(sockets: int, outputs: int, widgets: int, multiline: bool, class_type: str) -> list[int]:
    """A size the frontend does not need to grow: slot rows of 20 px, widget rows of 24 px."""
    width = 400 if class_type.startswith("FFI_FluxFill") or multiline else 320
    height = 20 * max(sockets, outputs) + 24 * widgets + (44 if multiline else 0) + 12
    if class_type == "LoadImage":
        height = 330  # room for the image preview
    return [width, max(height, 60)]


def _note(node_id: int, order: int, pos: tuple[int, int], widgets: dict) -> dict:
    return {"id": node_id, "type": "Note", "pos": list(pos), "size": [400, 200], "flags": {}, "order": order,
            "mode": 0, "inputs": [], "outputs": [], "properties": {}, "widgets_values": [widgets["text"]],
            "color": "#432", "bgcolor": "#653"}


def build(spec: dict, object_info: dict) -> dict:
    keys = list(spec["nodes"])
    ids = {key: i + 1 for i, key in enumerate(keys)}
    nodes = {}
    for order, key in enumerate(keys):
        class_type, pos, widgets = spec["nodes"][key]
        if class_type in NOTE_TYPES:
            nodes[key] = _note(ids[key], order, pos, widgets)
            continue
        info = object_info[class_type]
        values, sockets, multiline = [], [], False
        for name, input_spec in input_order(info):
            if _is_widget(input_spec):
                default = input_spec[1].get("default") if len(input_spec) > 1 else None
                values.append(widgets.get(name, default))
                multiline = multiline or _is_multiline(input_spec)
                if _has_control(input_spec):
                    values.append("fixed")
            else:
                sockets.append({"name": name, "type": input_spec[0], "link": None})
        outputs = [{"name": n, "type": t, "links": [], "slot_index": i}
                   for i, (n, t) in enumerate(zip(info["output_name"], info["output"], strict=True))]
        size = node_size(len(sockets), len(outputs), len(values), multiline, class_type)
        nodes[key] = {"id": ids[key], "type": class_type, "pos": list(pos), "size": size, "flags": {},
                      "order": order, "mode": 0, "inputs": sockets, "outputs": outputs,
                      "properties": {"Node name for S&R": class_type}, "widgets_values": values}
    links = []
    for n, (src, out_name, dst, in_name) in enumerate(spec["links"], start=1):
        slot = output_slot(object_info[nodes[src]["type"]], out_name)
        inputs = nodes[dst]["inputs"]
        target = next(i for i, s in enumerate(inputs) if s["name"] == in_name)
        inputs[target]["link"] = n
        nodes[src]["outputs"][slot]["links"].append(n)
        links.append([n, ids[src], slot, ids[dst], target, nodes[src]["outputs"][slot]["type"]])
    return {"last_node_id": len(keys), "last_link_id": len(links), "nodes": list(nodes.values()),
            "links": links, "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}},
            "version": 0.4}


def main() -> None:
    import requests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("names", nargs="*", help="specs to write (default: all)")
    args = parser.parse_args()
    specs = SPECS | MODE_SPECS
    object_info = requests.get(args.server + "/object_info", timeout=60).json()
    OUT.mkdir(exist_ok=True)
    for name in args.names or specs:
        (OUT / f"{name}.json").write_text(json.dumps(build(specs[name], object_info), indent=2) + "\n")
        print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main()
