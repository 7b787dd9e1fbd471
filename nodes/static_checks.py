"""Queue-time checks (`validate_inputs`): mistakes visible in the widget values alone fail when the prompt is
queued, naming the node, the input and the values, not after planning at run time.

ComfyUI skips its own min / max check for every input a `validate_inputs` declares, so each declared input
is range-checked here against the schema's bounds. An input fed by a link is not passed (None): unknown
at queue time, it is checked when the node runs.
"""

from __future__ import annotations


def out_of_range(node: str, name: str, value: float | None, low: float, high: float) -> str | None:
    """The message for a widget value outside the schema's [low, high], else None."""
    if value is None or low <= value <= high:
        return None
    return f"{node}: input '{name}' is {value}, outside the allowed range {low} to {high}."


def side_bounds(node: str, min_side: int | None, max_side: int | None) -> str | None:
    """min_side above max_side: no crop size can satisfy both."""
    if min_side is None or max_side is None or min_side <= max_side:
        return None
    return (f"{node}: input 'min_side' ({min_side}) is larger than input 'max_side' ({max_side}); "
            f"no crop size can have both.")


def snap_multiple(node: str, snap: int | None) -> str | None:
    """The Crop node's snap must be a multiple of 8 (the VAE's downscale; the widget steps by 8)."""
    if snap is None or snap % 8 == 0:
        return None
    return f"{node}: input 'snap' is {snap}; crop sides snap to a multiple of 8 (8 for SD models, 16 for Flux)."


def first_error(*messages: str | None) -> bool | str:
    """True when every check passed, else the first message (what `validate_inputs` returns)."""
    return next((m for m in messages if m), True)
