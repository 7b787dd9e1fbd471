"""Benchmarks of the FluxFill Inpainter against the stock ComfyUI inpaint graph.

Run `python -m bench run` from the repository root (see BENCHMARKS.md). Benchmarks report
ratios measured side by side on one machine; they are not tests and assert nothing.
"""
