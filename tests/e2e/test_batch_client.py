"""`python -m batch_client` against two real ComfyUI servers running the pack on the tiny models."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from comfy_host import ComfyServer, free_port
from PIL import Image
from tiny_models import swap_in_tiny_models

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "batch_client" / "templates" / "flux_fill_inpaint_api.json"
H, W = 96, 128
# keep every crop tiny on a CPU (see test_inpainter_e2e.py)
SMALL_CROPS = ["options.min_side=64", "options.max_side=256", "options.min_crop=32", "options.min_context=8"]


def write_png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path, format="PNG")
    return path


def rgb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def box_mask() -> np.ndarray:
    mask = np.zeros((H, W, 3), dtype=np.uint8)
    mask[30:60, 40:90] = 255
    return mask


def write_csv(path: Path, rows: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_results(out: Path) -> dict[int, dict]:
    with open(out / "results.csv", newline="") as f:
        return {int(r["row"]): r for r in csv.DictReader(f)}


def history_ids(server: ComfyServer) -> set[str]:
    return set(requests.get(server.url + "/history", timeout=30).json())


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled template pointed at the tiny models (its DualCLIPLoader becomes a CLIPLoader)."""
    graph = json.loads(TEMPLATE.read_text())
    swap_in_tiny_models(graph, steps=2, target_mp=0.02)
    path = tmp_path_factory.mktemp("template") / "tiny_template.json"
    path.write_text(json.dumps(graph))
    return path


@pytest.fixture(scope="module")
def server_pair(comfy: Path):
    """Two ComfyUI servers on one base dir, started in parallel, stopped at the end of the module."""
    pair = [ComfyServer(comfy, port=free_port()) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: s.start(), pair))
    try:
        yield pair
    finally:
        for server in pair:
            server.stop()


def ensure_running(pair: list[ComfyServer]) -> list[ComfyServer]:
    """The module's two servers, restarting one that an earlier test stopped."""
    for server in pair:
        if server.process is None or server.process.poll() is not None:
            server.start()
    return pair


@pytest.fixture()
def servers(server_pair: list[ComfyServer]) -> list[ComfyServer]:
    return ensure_running(server_pair)


def run_cli(csv_path: Path, out: Path, servers: list[ComfyServer], template: Path,
            *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "batch_client", "--input", str(csv_path), "--output_dir", str(out),
           "--workflow", str(template), "--timeout", "300", "--no-progress"]
    for server in servers:
        cmd += ["--server", server.url]
    for override in SMALL_CROPS:
        cmd += ["--set", override]
    return subprocess.run([*cmd, *extra], cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def six_rows(tmp_path_factory: pytest.TempPathFactory, server_pair, tiny_template: Path) -> dict:
    """Six rows (one with guidance and a fixed 64x64 target) run once on the two servers."""
    servers = ensure_running(server_pair)
    data = tmp_path_factory.mktemp("six_rows")
    (data / "images").mkdir()
    write_png(data / "images" / "mask.png", box_mask())
    rows = []
    for i in range(6):
        write_png(data / "images" / f"photo{i}.png", rgb(i))
        row = {"image": f"images/photo{i}.png", "mask": "images/mask.png", "prompt": f"a red apple {i}",
               "seed": str(10 + i), "steps": "2", "guidance": "", "width": "", "height": ""}
        if i == 3:
            row.update(guidance="3.5", width="64", height="64")
        rows.append(row)
    csv_path = write_csv(data / "edits.csv", rows)
    out = data / "out"
    before = [history_ids(s) for s in servers]
    proc = run_cli(csv_path, out, servers, tiny_template)
    return {"csv": csv_path, "out": out, "proc": proc,
            "new_prompts": [history_ids(s) - b for s, b in zip(servers, before, strict=True)]}


def test_six_rows_complete_across_two_servers(six_rows, servers):
    proc, out = six_rows["proc"], six_rows["out"]
    assert proc.returncode == 0, proc.stderr
    results = read_results(out)
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    assert {r["status"] for r in results.values()} == {"done"}, results
    for number, result in results.items():
        (name,) = result["outputs"].split(";")
        assert name.startswith(f"row{number:04d}_photo{number - 1}_")
        with Image.open(out / name) as image:
            assert image.size == (W, H)
    assert {r["server"] for r in results.values()} == {s.url for s in servers}
    assert all(len(new) >= 1 for new in six_rows["new_prompts"]), six_rows["new_prompts"]
    assert sum(len(new) for new in six_rows["new_prompts"]) == 6
    assert (out / "batch_state.json").is_file()


def test_rerun_skips_every_row_without_queueing(six_rows, servers, tiny_template):
    before = [history_ids(s) for s in servers]
    proc = run_cli(six_rows["csv"], six_rows["out"], servers, tiny_template)
    assert proc.returncode == 0, proc.stderr
    results = read_results(six_rows["out"])
    assert {r["status"] for r in results.values()} == {"skipped"}
    assert all(r["outputs"] for r in results.values())
    assert [history_ids(s) for s in servers] == before


def test_a_row_whose_output_is_missing_is_redone(six_rows, servers, tiny_template):
    out = six_rows["out"]
    missing = read_results(out)[2]["outputs"]
    (out / missing).unlink()
    before = [history_ids(s) for s in servers]
    proc = run_cli(six_rows["csv"], out, servers, tiny_template)
    assert proc.returncode == 0, proc.stderr
    results = read_results(out)
    assert results[2]["status"] == "done" and (out / missing).is_file()
    assert {results[n]["status"] for n in (1, 3, 4, 5, 6)} == {"skipped"}
    assert sum(len(h - b) for h, b in zip([history_ids(s) for s in servers], before, strict=True)) == 1


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory, server_pair, tiny_template: Path) -> dict:
    """One run of five bad rows, a good row and an alpha-mask row (the good two run in parallel)."""
    servers = ensure_running(server_pair)
    root = tmp_path_factory.mktemp("mixed")
    data = root / "data"
    data.mkdir()
    image = rgb(20)
    write_png(data / "photo.png", image)
    write_png(data / "mask.png", box_mask())
    rgba = np.dstack([image, np.full((H, W), 255, np.uint8)])
    rgba[30:60, 40:90, 3] = 0  # transparent = to inpaint (LoadImage's MASK is 1 - alpha)
    write_png(data / "cutout.png", rgba)
    write_png(root / "outside.png", box_mask())
    (data / "link.png").symlink_to(root / "outside.png")
    good = {"image": "photo.png", "mask": "mask.png", "prompt": "a pear", "steps": "", "mode": ""}
    rows = [good | {"mask": "no_such_mask.png"}, good | {"mask": "../outside.png"}, good | {"steps": "two"},
            good | {"image": "link.png"}, good | {"mode": "outpaint"}, good,
            good | {"image": "cutout.png", "mask": "alpha", "prompt": "a plum"}]
    proc = run_cli(write_csv(data / "edits.csv", rows), root / "out", servers, tiny_template)
    return {"proc": proc, "out": root / "out", "results": read_results(root / "out"), "image": image}


def test_bad_rows_are_reported_by_row_and_column_and_the_rest_done(mixed_run):
    proc, results = mixed_run["proc"], mixed_run["results"]
    assert proc.returncode == 1, proc.stderr
    assert [results[n]["status"] for n in range(1, 8)] == ["error"] * 5 + ["done"] * 2
    assert results[1]["image"] == "photo.png" and results[4]["image"] == "link.png"
    assert "row 1, column 'mask'" in results[1]["error"] and "does not exist" in results[1]["error"]
    assert "row 2, column 'mask'" in results[2]["error"] and "outside" in results[2]["error"]
    assert "row 3, column 'steps'" in results[3]["error"] and "'two'" in results[3]["error"]
    assert "row 4, column 'image'" in results[4]["error"] and "outside" in results[4]["error"]
    # 'outpaint' is no edit mode: refused whether or not this server's options node has a `mode` input
    assert "row 5, column 'mode'" in results[5]["error"]
    assert "no 'mode' input" in results[5]["error"] or "is not one of" in results[5]["error"]
    assert "row 2, column 'mask'" in proc.stderr
    assert (mixed_run["out"] / results[6]["outputs"]).is_file()


def test_alpha_channel_is_the_mask(mixed_run):
    result, image = mixed_run["results"][7], mixed_run["image"].astype(int)
    assert result["status"] == "done", mixed_run["proc"].stderr
    with Image.open(mixed_run["out"] / result["outputs"]) as out_image:
        out = np.asarray(out_image.convert("RGB")).astype(int)
    assert np.array_equal(out[:12, :24], image[:12, :24])  # far from the hole: untouched
    assert np.abs(out[38:52, 52:78] - image[38:52, 52:78]).mean() > 5  # inside the transparent hole: inpainted


def test_a_server_killed_mid_run_has_its_row_finished_on_the_other(tmp_path, servers, tiny_template):
    """Runs last: it stops the second server (a later test would get it restarted by `servers`)."""
    survivor, victim = servers
    killed = threading.Event()

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                running = requests.get(victim.url + "/queue", timeout=5).json()["queue_running"]
            except requests.RequestException:
                return
            if running:
                victim.stop()
                killed.set()
                return
            time.sleep(0.1)

    write_png(tmp_path / "mask.png", box_mask())
    rows = []
    for i in range(2):
        write_png(tmp_path / f"photo{i}.png", rgb(40 + i))
        rows.append({"image": f"photo{i}.png", "mask": "mask.png", "prompt": "a fig", "seed": str(40 + i)})
    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    proc = run_cli(write_csv(tmp_path / "edits.csv", rows), tmp_path / "out", [victim, survivor], tiny_template)
    killer.join(timeout=10)
    assert killed.is_set(), "the victim server never received a row"
    assert proc.returncode == 0, proc.stderr
    results = read_results(tmp_path / "out")
    assert [results[n]["status"] for n in (1, 2)] == ["done"] * 2
    assert {r["server"] for r in results.values()} == {survivor.url}
    assert f"server {victim.url} failed on row" in proc.stderr
