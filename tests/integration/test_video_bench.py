"""bench/video_bench.py (B7) at a tiny size: both the stock Wan graph and the node run in their child processes,
return every frame, and the JSON carries the keys BENCHMARKS.md reads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from comfy_host import REPO, comfyui_version

pytestmark = pytest.mark.skipif(comfyui_version() < (0, 8, 0), reason="bench tooling: runs on the newest host")


def test_video_bench_runs_both_sides_and_reports_their_latents() -> None:
    argv = ["--frames", "9", "--size", "128x96", "--runs", "1", "--threads", "1", "--no-auto"]
    done = subprocess.run([sys.executable, "-m", "bench.video_bench", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary, _, body = done.stdout.partition("\n")
    out = json.loads(body)
    assert summary.startswith("B7 9 frames 128x96") and "FAILED" not in summary, summary
    assert set(out["runs"]) == {"stock", "node"}
    assert {"time", "cpu_time", "peak_rss"} <= set(out["ratio_node_over_stock"])
    for side in ("stock", "node"):
        row = out[side]
        assert row["output"] == [9, 96, 128, 3] and row["finite"], side
        assert row["median_s"] > 0 and row["median_peak_rss_over_start_mb"] >= 0
        # 9 frames -> 3 latent frames of a Wan 2.1 VAE (4x temporal, /8 spatial), one 5-D latent per call
        assert [shape[:3] for shape in row["latents"]] == [[1, 16, 3]], side
    assert out["stock"]["latents"] == [[1, 16, 3, 12, 16]]
    assert len(out["node"]["crops"]) == 1  # one box for the clip's one region
