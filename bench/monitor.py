"""Run one `bench.case` in a subprocess and watch it: RSS cap, time cap, and a system-memory floor."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import MB, REPO


@dataclass(frozen=True)
class Caps:
    """When the parent stops a case: its RSS above mem_mb, its wall time above time_s, or the
    machine's available memory below reserve_mb while the case holds over GROWTH_MB more than at
    its start (the machine is shared: stop our case, not because of others' memory use). The case
    also volunteers as the kernel OOM killer's first choice (see bench.case)."""

    mem_mb: float
    time_s: float
    reserve_mb: float
    poll_s: float = 0.1


def _stop(proc: subprocess.Popen) -> None:
    """Kill our own child by its PID and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


GROWTH_MB = 1024.0


def _baseline(out: Path) -> float | None:
    """The case's RSS at the start of its measured part, once it has written it."""
    try:
        return float(json.loads(out.read_text())["rss_start_mb"])
    except (OSError, ValueError, KeyError):
        return None


def run_case(case_args: list[str], out: Path, log: Path, caps: Caps,
             meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start `python -m bench.case ... --out out`, poll its RSS, stop it at a cap; return its record.

    The record is the case's own JSON plus: wall_s (parent's view, boot included), polled_peak_rss_mb
    (the largest RSS seen by polling) and, when stopped, status "stopped" with the reason and the
    seconds the measured pipeline had run (after the models were loaded).
    """
    import psutil

    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.case", *case_args, "--out", str(out)]
    started = time.monotonic()
    pipeline_started: float | None = None
    start_rss: float | None = None
    polled_peak = 0.0
    stop_reason: str | None = None
    with open(log, "w") as log_file:
        log_file.write(" ".join(cmd) + "\n")
        log_file.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
        watched = psutil.Process(proc.pid)
        try:
            while proc.poll() is None:
                try:
                    rss = watched.memory_info().rss / MB
                except psutil.NoSuchProcess:
                    break
                polled_peak = max(polled_peak, rss)
                now = time.monotonic()
                if pipeline_started is None and out.exists():
                    pipeline_started = now  # the case wrote its baseline: the measured part begins
                    start_rss = _baseline(out)
                available = psutil.virtual_memory().available / MB
                growing = start_rss is not None and rss > start_rss + GROWTH_MB
                if rss > caps.mem_mb:
                    stop_reason = f"RSS {rss / 1024:.1f} GB passed the cap of {caps.mem_mb / 1024:.1f} GB"
                elif available < caps.reserve_mb and growing:
                    stop_reason = (f"the machine's available memory fell to {available / 1024:.1f} GB "
                                   f"(RSS {rss / 1024:.1f} GB; floor {caps.reserve_mb / 1024:.1f} GB)")
                elif now - started > caps.time_s:
                    stop_reason = f"ran past the time cap of {caps.time_s / 60:.0f} min"
                if stop_reason:
                    _stop(proc)
                    break
                time.sleep(caps.poll_s)
        finally:
            _stop(proc)
    wall = time.monotonic() - started
    record: dict[str, Any] = dict(meta or {})
    if out.exists():
        try:
            record.update(json.loads(out.read_text()))
        except json.JSONDecodeError:
            pass
    record["wall_s"] = round(wall, 2)
    record["polled_peak_rss_mb"] = round(polled_peak, 1)
    record["returncode"] = proc.returncode
    record["log"] = str(log.relative_to(REPO)) if log.is_relative_to(REPO) else str(log)
    if stop_reason:
        ran = time.monotonic() - (pipeline_started or started)
        record.update(status="stopped", stop_reason=stop_reason, stopped_after_s=round(ran, 1),
                      peak_rss_mb=round(polled_peak, 1))
        if "rss_models_mb" in record:
            record["extra_over_models_mb"] = round(polled_peak - record["rss_models_mb"], 1)
    elif record.get("status") != "ok":
        if pipeline_started is not None:
            record["failed_after_s"] = round(time.monotonic() - pipeline_started, 1)
        record["status"] = "failed"
        killed = " (SIGKILL: the kernel's OOM killer, most likely)" if proc.returncode == -9 else ""
        record.setdefault("error", f"exited with {proc.returncode}{killed}; see {record['log']}")
        record.setdefault("peak_rss_mb", round(polled_peak, 1))
    return record
