"""The GPU rows of `make gpu-check` (bench/gpu_rows.py) turn the bench's case records into figures and verdicts."""

from __future__ import annotations

import pytest

from bench import gpu_rows


def ours(size: int, **extra) -> dict:
    return {"pipeline": "ours", "size": size, "status": "ok", "device": "cuda:0", **extra}


def test_vram_is_flat_when_the_peak_above_the_models_stays_within_1_2x() -> None:
    flat = gpu_rows.vram_row([ours(1024, cuda_extra_mb=500.0), ours(4096, cuda_extra_mb=520.0),
                              ours(8192, cuda_extra_mb=590.0)])
    assert flat["status"] == "ok" and flat["verdict"] == "met" and flat["ratio"] == pytest.approx(1.18)
    grows = gpu_rows.vram_row([ours(1024, cuda_extra_mb=500.0), ours(8192, cuda_extra_mb=900.0)])
    assert grows["verdict"] == "missed" and "8192² ÷ 1024² = 1.80×" in grows["figure"]


def test_vram_without_cuda_figures_is_not_a_verdict() -> None:
    row = gpu_rows.vram_row([ours(256, extra_over_models_mb=100.0), ours(1024, extra_over_models_mb=100.0)])
    assert row["verdict"] == "not measured (no CUDA)" and "RSS (no CUDA)" in row["figure"]


def test_a_failed_or_stopped_case_fails_its_row() -> None:
    stopped = {"pipeline": "stock", "size": 2048, "status": "stopped", "stop_reason": "ran past the time cap"}
    row = gpu_rows.b1_row(ours(2048, total_s=1.0), stopped)
    assert row["status"] == "failed" and "ran past the time cap" in row["figure"]


def test_b1_b3_and_share_figures() -> None:
    b1 = gpu_rows.b1_row(ours(2048, total_s=2.0, steps=4), {**ours(2048, total_s=9.0), "pipeline": "stock"})
    assert b1["ratio"] == 4.5 and b1["figure"].startswith("4.5× at 2048²")
    batch = {"status": "ok", "device": "cuda:0", "ratio": 2.4, "batch_n": 4, "crop": 512, "batched_s": 0.1,
             "sequential_s": 0.24}
    assert gpu_rows.b3_row(batch)["verdict"] == "met"
    assert gpu_rows.b3_row({**batch, "ratio": 1.2})["verdict"] == "missed"
    assert gpu_rows.b3_row({**batch, "device": "cpu"})["verdict"] == "not measured (no CUDA)"
    share = gpu_rows.share_row(ours(4096, steps=2, stages_s={"sample": 1.0, "other": 0.01}, crops=[{}, {}, {}]))
    assert share["percent"] == pytest.approx(2.0) and "3 regions" in share["figure"]


def test_rows_without_cuda_are_skipped_with_the_reason() -> None:
    rows = gpu_rows.skipped_rows("no CUDA device")
    assert [r["name"] for r in rows] == ["vram", "b1", "b3", "share"]
    assert all(r["status"] == "skipped" and r["reason"] == "no CUDA device" for r in rows)
