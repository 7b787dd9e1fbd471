"""`python -m batch_client --ray` on a local Ray cluster (2 CPUs): two actors, each starting its own real
ComfyUI server with the pack on the tiny models; a killed server loses no row and duplicates none."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from comfy_host import comfyui_path
from e2e import test_batch_client as plain
from e2e.test_batch_client import SMALL_CROPS, H, W, box_mask, read_results, rgb, write_csv, write_png
from PIL import Image

ray = pytest.importorskip("ray", reason="Ray is not installed (tests/requirements.txt installs it)")

REPO = Path(__file__).resolve().parents[2]
tiny_template = plain.tiny_template  # the plain client's fixture: the bundled template on the tiny models
# Ray on loopback only (on Linux this variable turns multi-node clustering off), no usage reports
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
RATE = re.compile(r"ray: (\d+) row\(s\) done in ([\d.]+)s after the first worker was up \(([\d.]+) rows/min")


@pytest.fixture(scope="module")
def ray_address() -> str:
    """A local Ray cluster in this process, on loopback, small: 2 CPUs, a 200 MB object store."""
    os.environ.update(RAY_ENV)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def make_csv(folder: Path, count: int, seed: int, changes: dict[int, dict] | None = None) -> Path:
    """`count` rows of 96x128 photos with one box mask; `changes` updates row i (0-based)'s cells."""
    folder.mkdir(parents=True, exist_ok=True)
    write_png(folder / "mask.png", box_mask())
    rows = []
    for i in range(count):
        write_png(folder / f"photo{i}.png", rgb(seed + i))
        rows.append({"image": f"photo{i}.png", "mask": "mask.png", "prompt": f"a quince {i}", "seed": str(seed + i),
                     "steps": "2", "mode": ""} | (changes or {}).get(i, {}))
    return write_csv(folder / "edits.csv", rows)


def run_ray_cli(csv_path: Path, out: Path, template: Path, address: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "batch_client", "--input", str(csv_path), "--output_dir", str(out),
           "--workflow", str(template), "--timeout", "300", "--no-progress", "--ray", address, *extra]
    for override in SMALL_CROPS:
        cmd += ["--set", override]
    # the environment as ray.init left it: RAY_AUTH_MODE=token when the cluster uses the local token
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, **RAY_ENV})


def launch(workers: Path, base: Path, actors: int = 2) -> list[str]:
    """The options that make each actor start its own server from the test host's ComfyUI and base dir."""
    return ["--actors", str(actors), "--comfyui", str(comfyui_path()), "--comfy-base", str(base),
            "--worker-dir", str(workers)]


def saved_by_servers(workers: Path) -> Counter:
    """How many images the servers saved per row (`rowNNNN`), over every worker's output folder: a row that
    ran to the end twice anywhere shows up as 2."""
    return Counter(p.name[:7] for p in workers.glob("*/output/ffi_batch/row*.png"))


def assert_each_row_done_once(out: Path, rows: int) -> dict[int, dict]:
    results = read_results(out)
    lines = (out / "results.csv").read_text().splitlines()[1:]
    assert len(lines) == rows and sorted(results) == list(range(1, rows + 1))
    assert {r["status"] for r in results.values()} == {"done"}, results
    names = [r["outputs"] for r in results.values()]
    assert len(set(names)) == rows and all(";" not in n for n in names)
    for number, result in results.items():
        assert result["outputs"].startswith(f"row{number:04d}_photo{number - 1}_")
        with Image.open(out / result["outputs"]) as image:
            assert image.size == (W, H)
    assert sorted(p.name for p in out.glob("*.png")) == sorted(names)
    return results


@pytest.fixture(scope="module")
def six_rows(tmp_path_factory: pytest.TempPathFactory, comfy: Path, ray_address: str, tiny_template: Path) -> dict:
    root = tmp_path_factory.mktemp("ray_six")
    csv_path = make_csv(root / "data", 6, seed=60)
    start = time.monotonic()
    proc = run_ray_cli(csv_path, root / "out", tiny_template, ray_address, *launch(root / "workers", comfy))
    return {"csv": csv_path, "out": root / "out", "workers": root / "workers", "proc": proc,
            "seconds": time.monotonic() - start, "saved": saved_by_servers(root / "workers")}


def test_six_rows_complete_on_two_actors_each_owning_a_server(six_rows):
    proc = six_rows["proc"]
    assert proc.returncode == 0, proc.stderr
    results = assert_each_row_done_once(six_rows["out"], 6)
    assert {r["server"].split()[0] for r in results.values()} == {"worker-0", "worker-1"}, proc.stderr
    assert six_rows["saved"] == Counter({f"row{n:04d}": 1 for n in range(1, 7)})
    assert sorted(p.name for p in six_rows["workers"].iterdir()) == ["worker-0", "worker-1"]
    assert RATE.search(proc.stderr), proc.stderr
    print(f"\n6 rows on 2 actors: {six_rows['seconds']:.1f}s in all; {RATE.search(proc.stderr).group(0)}")


def test_rerun_skips_every_row_and_starts_no_worker(six_rows, comfy, ray_address, tiny_template):
    root = six_rows["out"].parent
    proc = run_ray_cli(six_rows["csv"], six_rows["out"], tiny_template, ray_address, *launch(root / "workers", comfy))
    assert proc.returncode == 0, proc.stderr
    results = read_results(six_rows["out"])
    assert sorted(results) == list(range(1, 7)) and {r["status"] for r in results.values()} == {"skipped"}
    assert "ray: starting" not in proc.stderr  # nothing to queue: no actor, no server
    assert saved_by_servers(root / "workers") == six_rows["saved"]


def kill_server_when_busy(workers: Path, victim: str, killed: threading.Event, stop: threading.Event) -> None:
    """SIGKILL the victim worker's ComfyUI server once it is running a row."""
    info_path = workers / victim / "server.json"
    while not stop.is_set():
        try:
            info = json.loads(info_path.read_text())
            running = requests.get(info["url"] + "/queue", timeout=5).json()["queue_running"]
        except (OSError, ValueError, KeyError, requests.RequestException):
            running = []
        if running:
            os.killpg(info["pid"], signal.SIGKILL)
            killed.set()
            return
        time.sleep(0.1)


def test_a_killed_server_loses_no_row_and_runs_none_twice(tmp_path, comfy, ray_address, tiny_template):
    csv_path = make_csv(tmp_path / "data", 6, seed=80)
    workers, out = tmp_path / "workers", tmp_path / "out"
    killed, stop = threading.Event(), threading.Event()
    killer = threading.Thread(target=kill_server_when_busy, args=(workers, "worker-1", killed, stop), daemon=True)
    killer.start()
    try:
        proc = run_ray_cli(csv_path, out, tiny_template, ray_address, *launch(workers, comfy))
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed.is_set(), "worker-1's server never ran a row"
    assert proc.returncode == 0, proc.stderr
    lost = re.findall(r"ray: row (\d+) lost on (worker-1 \S+)", proc.stderr)
    assert len(lost) == 1, proc.stderr
    results = assert_each_row_done_once(out, 6)
    (number, killed_server), = lost
    assert results[int(number)]["status"] == "done" and killed_server not in results[int(number)]["server"]
    assert "worker-1: " in proc.stderr and "exiting so that Ray restarts this worker" in proc.stderr
    # the lost row never reached its SaveImage on the killed server: every row ran to the end exactly once
    assert saved_by_servers(workers) == Counter({f"row{n:04d}": 1 for n in range(1, 7)}), proc.stderr


def test_attached_to_a_running_server_by_url(tmp_path, comfy_server, ray_address, tiny_template):
    """`--ray --server URL`: one actor per URL, no server started by the client; a row the server's nodes
    refuse comes back from the actor as that row's error, and the others run."""
    csv_path = make_csv(tmp_path / "data", 3, seed=90, changes={1: {"mode": "outpaint"}})
    proc = run_ray_cli(csv_path, tmp_path / "out", tiny_template, ray_address, "--server", comfy_server.url,
                       "--worker-dir", str(tmp_path / "workers"))
    assert proc.returncode == 1, proc.stderr
    results = read_results(tmp_path / "out")
    assert [results[n]["status"] for n in (1, 2, 3)] == ["done", "error", "done"], proc.stderr
    assert results[2]["error"].startswith("row 2, column 'mode': ") and "Traceback" not in results[2]["error"]
    assert all((tmp_path / "out" / results[n]["outputs"]).is_file() for n in (1, 3))
    assert all(r["server"].split()[:2] == ["worker-0", comfy_server.url] for r in results.values()), results
    assert not (tmp_path / "workers").exists()  # nothing launched


@pytest.mark.skipif(not os.environ.get("FFI_RAY_RATE"), reason="a measurement: set FFI_RAY_RATE=1 to run it")
def test_rows_per_minute_one_vs_two_actors(tmp_path, comfy, ray_address, tiny_template):
    """Prints rows/min with 1 and with 2 actors (a measurement, never a timed assertion)."""
    csv_path = make_csv(tmp_path / "data", int(os.environ.get("FFI_RAY_RATE_ROWS", "8")), seed=100)
    rates = {}
    for actors in (1, 2):
        workers = launch(tmp_path / f"workers{actors}", comfy, actors)
        proc = run_ray_cli(csv_path, tmp_path / f"out{actors}", tiny_template, ray_address, *workers)
        assert proc.returncode == 0, proc.stderr
        rates[actors] = float(RATE.search(proc.stderr).group(3))
    print(f"\nrows/min: 1 actor {rates[1]:.2f}, 2 actors {rates[2]:.2f}, ratio {rates[2] / rates[1]:.2f}")
