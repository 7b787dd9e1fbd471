"""Scheduling rows over servers (one in-flight row per server), resume state and the results CSV."""

from __future__ import annotations

import csv
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .comfy_api import ComfyServer, ProgressFn, PromptFailed, ServerDown
from .rows import ParsedCsv, Row, RowError, row_key, sha256_bytes
from .workflow import INPAINTER, OPTIONS, build_graph

STATE_FILE = "batch_state.json"
RESULTS_FILE = "results.csv"
RESULT_COLUMNS = ["row", "image", "status", "outputs", "seconds", "server", "error"]


@dataclass
class Job:
    row: Row
    key: str
    image_bytes: bytes
    mask_bytes: bytes | None
    attempts: int = 0


@dataclass
class Result:
    row: int
    image: str
    status: str  # done / error / skipped
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    server: str = ""
    error: str = ""


class State:
    """`batch_state.json` in the output folder: row key -> the output files it produced."""

    def __init__(self, output_dir: Path):
        self.path = output_dir / STATE_FILE
        self.output_dir = output_dir
        self.lock = threading.Lock()
        try:
            self.rows: dict[str, dict] = json.loads(self.path.read_text()).get("rows", {})
        except (OSError, ValueError, AttributeError):
            self.rows = {}

    def done_outputs(self, key: str) -> list[str] | None:
        """The outputs of a row finished earlier, or None if it must be (re)done: unknown key or a
        missing output file."""
        entry = self.rows.get(key)
        outputs = entry.get("outputs") if isinstance(entry, dict) else None
        if not outputs or not all((self.output_dir / name).is_file() for name in outputs):
            return None
        return list(outputs)

    def record(self, key: str, row: Row, outputs: list[str]) -> None:
        with self.lock:
            self.rows[key] = {"row": row.number, "image": row.image.name, "outputs": outputs,
                              "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
            write_atomic(self.path, json.dumps({"version": 1, "rows": self.rows}, indent=1).encode())


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def row_error_message(job: Job, err: BaseException) -> str:
    """The results-CSV message of a row that failed on its own (not retried)."""
    if isinstance(err, RowError):
        return str(err)
    if isinstance(err, (PromptFailed, OSError)):
        return f"row {job.row.number}: {err}"
    return f"row {job.row.number}: {type(err).__name__}: {err}"  # unexpected: keep the type


def write_results(path: Path, results: list[Result]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_COLUMNS)
        for r in sorted(results, key=lambda r: r.row):
            writer.writerow([r.row, r.image, r.status, ";".join(r.outputs), f"{r.seconds:.2f}", r.server, r.error])


class BatchRunner:
    """Runs parsed rows on the given servers; each server has a worker thread taking rows from one
    shared queue, so a row goes to whichever server is free. A server that fails (no answer, closed
    websocket) is dropped and its row goes back to the queue, at most `retries` times. A row past `timeout`
    on a server that still answers fails on its own (RowTimeout, recorded, redone on the next run); the
    server is kept."""

    def __init__(self, servers: list[ComfyServer], template: dict, output_dir: Path, *, timeout: float = 600.0,
                 retries: int = 2, reprobe_s: float = 0.0, progress: bool = True):
        self.servers = servers
        self.template = template
        self.output_dir = output_dir
        self.timeout = timeout
        self.retries = retries
        self.reprobe_s = reprobe_s
        self.progress = progress
        self.state = State(output_dir)
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.results: dict[int, Result] = {}
        self.lock = threading.Lock()
        self.pending = 0
        self.alive = 0
        self.overall: tqdm | None = None
        self.classes = template_classes(template)

    def log(self, message: str) -> None:
        if self.progress:
            tqdm.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def run(self, parsed: ParsedCsv) -> list[Result]:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for err in parsed.errors:
            self.results[err.row] = Result(err.row, err.image, "error", error=str(err))
        self.overall = tqdm(total=parsed.total, desc="rows", unit="row", position=0, disable=not self.progress)
        self.overall.update(len(parsed.errors))
        for err in parsed.errors:
            self.log(f"error: {err}")
        jobs = [job for job in (self._prepare(row) for row in parsed.rows) if job is not None]
        if jobs:
            self._schedule(jobs)
        self.overall.close()
        results = sorted(self.results.values(), key=lambda r: r.row)
        write_results(self.output_dir / RESULTS_FILE, results)
        return results

    def _prepare(self, row: Row) -> Job | None:
        """Read the row's files and skip it when an earlier run already produced its outputs."""
        try:
            image_bytes = row.image.read_bytes()
            mask_bytes = row.mask.read_bytes() if row.mask is not None else None
        except OSError as err:
            self._finish(Result(row.number, row.image.name, "error", error=f"row {row.number}: {err}"))
            return None
        key = row_key(image_bytes, mask_bytes, row.prompt, row.settings, self.template)
        outputs = self.state.done_outputs(key)
        if outputs is not None:
            self._finish(Result(row.number, row.image.name, "skipped", outputs=outputs))
            return None
        return Job(row, key, image_bytes, mask_bytes)

    def _finish(self, result: Result) -> None:
        with self.lock:
            self.results[result.row] = result
        if self.overall is not None:
            self.overall.update(1)

    def _schedule(self, jobs: list[Job]) -> None:
        servers = [s for s in self.servers if s.alive()]
        for s in self.servers:
            if s not in servers:
                self.log(f"server {s.url} does not answer: not used")
        self.pending, self.alive = len(jobs), len(servers)
        for job in jobs:
            self.jobs.put(job)
        if not servers:
            self._drain("no ComfyUI server answered")
            return
        threads = [threading.Thread(target=self._worker, args=(server, i + 1), daemon=True,
                                    name=f"batch-{server.url}") for i, server in enumerate(servers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._drain("every server failed")

    def _drain(self, reason: str) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            self._settle(job, Result(job.row.number, job.row.image.name, "error",
                                     error=f"row {job.row.number}: {reason}"))

    def _settle(self, job: Job, result: Result) -> None:
        self._finish(result)
        with self.lock:
            self.pending -= 1

    def _worker(self, server: ComfyServer, position: int) -> None:
        bar = tqdm(total=1, desc=server.url, unit="step", position=position, leave=False, disable=not self.progress)
        try:
            while self.pending > 0:
                try:
                    job = self.jobs.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    result = self._process(server, job, bar)
                except ServerDown as err:
                    self._server_failed(server, job, err)
                    if not self._wait_for_revival(server):
                        return
                    continue
                except Exception as err:  # the row failed (PromptFailed, RowError, a file error, ...)
                    message = row_error_message(job, err)
                    result = Result(job.row.number, job.row.image.name, "error", server=server.url, error=message)
                    self.log(f"error: {message}")
                self._settle(job, result)
        finally:
            bar.close()

    def _server_failed(self, server: ComfyServer, job: Job, err: ServerDown) -> None:
        job.attempts += 1
        with self.lock:
            self.alive -= 1
        if job.attempts > self.retries:
            message = f"row {job.row.number}: failed on {job.attempts} server attempt(s), last: {err}"
            self._settle(job, Result(job.row.number, job.row.image.name, "error", server=server.url, error=message))
            self.log(f"error: {message}")
        else:
            self.jobs.put(job)
            self.log(f"server {server.url} failed on row {job.row.number} ({err}); dropped, the row is retried")
        if self.alive == 0:
            self._drain(f"every server failed, last: {err}")

    def _wait_for_revival(self, server: ComfyServer) -> bool:
        """With re-probing on, wait while other servers work; True once this one answers again."""
        while self.reprobe_s > 0 and self.pending > 0 and self.alive > 0:
            time.sleep(self.reprobe_s)
            if server.alive():
                with self.lock:
                    self.alive += 1
                self.log(f"server {server.url} answers again: back in use")
                return True
        return False

    def _process(self, server: ComfyServer, job: Job, bar: tqdm) -> Result:
        start = time.monotonic()
        bar.reset(total=1)
        bar.set_description(f"{server.url} row {job.row.number}")

        def on_progress(value: int, total: int) -> None:
            bar.total = max(total, 1)
            bar.n = min(value, bar.total)
            bar.refresh()

        images = execute_row(server, self.template, self.classes, job, self.timeout, on_progress)
        outputs = save_outputs(self.output_dir, self.state, job, images)
        return Result(job.row.number, job.row.image.name, "done", outputs, time.monotonic() - start, server.url)


def template_classes(template: dict) -> set[str]:
    """The node classes whose /object_info a row needs (the template's, plus what build_graph may add)."""
    return {node["class_type"] for node in template.values()} | {"LoadImageMask", OPTIONS}


def execute_row(server: ComfyServer, template: dict, classes: set[str], job: Job, timeout: float,
                on_progress: ProgressFn | None = None) -> list[tuple[str, bytes]]:
    """Run one row on one server: check it against the server's nodes, upload its files, queue its graph,
    wait for it and download what it saved. Returns (output file name, bytes) pairs; writes nothing locally.

    Both the thread-per-server runner and the Ray actors call this: it is the one implementation of a row.
    Raises ServerDown (retry elsewhere), PromptFailed or RowError (the row itself failed).
    """
    row = job.row
    info = server.object_info(classes)
    if INPAINTER not in info:
        raise ServerDown(f"{server.url} has no {INPAINTER} node (the FluxFill Inpainter pack is not installed)")
    # check the row against the server's nodes before uploading anything
    build_graph(template, row, info, "check.png", None if row.mask is None else "check.png", "check")
    image_name = server.upload(job.image_bytes, sha256_bytes(job.image_bytes)[:24] + row.image.suffix.lower())
    mask_name = None
    if row.mask is not None and job.mask_bytes is not None:
        mask_name = server.upload(job.mask_bytes, sha256_bytes(job.mask_bytes)[:24] + row.mask.suffix.lower())
    graph = build_graph(template, row, info, image_name, mask_name, prefix=f"ffi_batch/{row.label}")
    entry = server.run(graph, timeout, on_progress)
    images = server.output_images(entry)
    if not images:
        raise PromptFailed("the workflow finished without saving any image")
    outputs = []
    for i, image in enumerate(images):
        suffix = Path(image["filename"]).suffix or ".png"
        outputs.append((f"{row.label}_{job.key[:8]}_{i:02d}{suffix}", server.view(image)))
    return outputs


def save_outputs(output_dir: Path, state: State, job: Job, images: list[tuple[str, bytes]]) -> list[str]:
    """Write a finished row's images into the output folder and record the row in the resume state."""
    for name, data in images:
        write_atomic(output_dir / name, data)
    outputs = [name for name, _ in images]
    state.record(job.key, job.row, outputs)
    return outputs
