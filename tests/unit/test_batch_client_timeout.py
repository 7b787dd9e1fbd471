"""A row that runs past --timeout while its server still answers /system_stats fails that row only (recorded,
redone on the next run) and the server keeps working; an unreachable server is still dropped.

Driven against a local stand-in ComfyUI (tests/fake_comfy.py): real HTTP and websocket, no ComfyUI needed."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from fake_comfy import FakeComfy

from batch_client.comfy_api import ComfyServer, PromptFailed, ServerDown
from batch_client.rows import read_csv
from batch_client.runner import BatchRunner, Job, row_key
from batch_client.workflow import DEFAULT_TEMPLATE, load_template

OBJECT_INFO = {
    "FFI_FluxFillInpainter": {"input": {"required": {"seed": ["INT", {"default": 0, "min": 0}],
                                                     "steps": ["INT", {"default": 20, "min": 1}]}}},
    "FFI_InpaintOptions": {"input": {"required": {"min_side": ["INT", {"default": 512, "min": 64}]}}},
    "LoadImageMask": {"input": {"required": {"channel": [["alpha", "red"], {}]}}},
}


@pytest.fixture()
def fake():
    server = FakeComfy(OBJECT_INFO)
    yield server
    server.stop()


def rows_csv(tmp_path: Path, prompts: list[str]) -> Path:
    (tmp_path / "a.png").write_bytes(b"image-a")
    (tmp_path / "m.png").write_bytes(b"mask-m")
    lines = ["image,mask,prompt"] + [f"a.png,m.png,{p}" for p in prompts]
    path = tmp_path / "edits.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_row_past_the_timeout_fails_alone_and_the_server_is_kept(fake, tmp_path):
    csv_path = rows_csv(tmp_path, ["ok one", "hang here", "ok two", "hang again", "ok three"])
    out = tmp_path / "out"
    runner = BatchRunner([ComfyServer(fake.url, poll_s=0.2)], load_template(DEFAULT_TEMPLATE), out,
                         timeout=1.0, retries=2, reprobe_s=0.0, progress=False)
    results = {r.row: r for r in runner.run(read_csv(csv_path))}
    assert {n: r.status for n, r in results.items()} == {1: "done", 2: "error", 3: "done", 4: "error", 5: "done"}
    assert "not finished after 1s" in results[2].error and results[2].server == fake.url
    assert len(fake.queued) == 5, "each row queued once: no retry of a timed-out row on a dropped server"
    assert len(fake.cancelled) == 2, "the timed-out prompts are cancelled on the server"
    with open(out / "results.csv", newline="") as f:
        assert [row["status"] for row in csv.DictReader(f)] == ["done", "error", "done", "error", "done"]
    again = BatchRunner([ComfyServer(fake.url, poll_s=0.2)], load_template(DEFAULT_TEMPLATE), out,
                        timeout=1.0, progress=False)
    statuses = {r.row: r.status for r in again.run(read_csv(csv_path))}
    assert statuses == {1: "skipped", 2: "error", 3: "skipped", 4: "error", 5: "skipped"}, "resumable"


def test_an_unreachable_server_is_still_dropped(fake):
    server = ComfyServer(fake.url, poll_s=0.2)
    assert server.alive()
    fake.stop()

    class Silent:
        def recv(self) -> str:
            import websocket

            raise websocket.WebSocketTimeoutException("poll")

    with pytest.raises(ServerDown) as err:
        server._follow(Silent(), "p1", 0.0, 1.0, None)
    assert not isinstance(err.value, PromptFailed)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_a_ray_worker_reports_a_row_timeout_as_the_rows_failure_and_lives_on(fake, tmp_path):
    from batch_client.ray_runner import ComfyWorker

    template = load_template(DEFAULT_TEMPLATE)
    row = read_csv(rows_csv(tmp_path, ["hang", "ok"])).rows
    worker = ComfyWorker("w", template, 1.0, url=fake.url)
    worker.server.poll_s = 0.2
    jobs = [Job(r, row_key(b"image-a", b"mask-m", r.prompt, r.settings, template), b"image-a", b"mask-m")
            for r in row]
    with pytest.raises(PromptFailed, match="not finished"):
        worker.run(jobs[0])  # a ServerDown here would make the driver kill the actor for good
    images, _ = worker.run(jobs[1])
    assert len(images) == 1
