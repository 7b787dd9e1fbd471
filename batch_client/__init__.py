"""Batch client for the FluxFill Inpainter: run a CSV of inpainting edits on one or more ComfyUI servers.

Standalone: it talks to ComfyUI over HTTP and its websocket only (requests, websocket-client, tqdm).
Run it with `python -m batch_client --input edits.csv --output_dir ./out --server http://127.0.0.1:8188`.
"""

from .comfy_api import ComfyServer, PromptFailed, ServerDown
from .rows import ParsedCsv, Row, RowError, read_csv, row_key
from .runner import BatchRunner, Result
from .workflow import DEFAULT_TEMPLATE, apply_overrides, build_graph, load_template

__all__ = [
    "BatchRunner", "ComfyServer", "DEFAULT_TEMPLATE", "ParsedCsv", "PromptFailed", "Result", "Row", "RowError",
    "ServerDown", "apply_overrides", "build_graph", "load_template", "read_csv", "row_key",
]
