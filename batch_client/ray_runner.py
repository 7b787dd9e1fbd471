"""`--ray`: the CSV's rows as Ray actor calls, each actor owning one ComfyUI server.

The driver (this process) keeps what the plain client keeps: CSV parsing, resume keys, the resume state,
the output files and results.csv. It only hands rows out: a row is one call of `ComfyWorker.run` on a
free actor, which runs it with the same `execute_row` as the thread-per-server runner and returns the
images' bytes; the driver writes them. So a row is settled once, by the driver, whatever a worker does.

Fault tolerance is Ray's: actors are created with `max_restarts`; an actor whose process dies, or whose
ComfyUI server goes down (the actor then exits, so Ray restarts it with a fresh server), loses its
in-flight row, which goes back to the queue for the next free actor (at most `retries` times).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError, RayTaskError

from .comfy_api import ComfyServer, ServerDown
from .launcher import LaunchSpec, LocalComfy
from .runner import BatchRunner, Job, Result, execute_row, row_error_message, save_outputs, template_classes

PACKAGE_DIR = Path(__file__).resolve().parent


class ComfyWorker:
    """A Ray actor that owns one ComfyUI server: started on its node (`launch`) or attached to by `url`."""

    def __init__(self, name: str, template: dict, timeout: float, url: str | None = None,
                 launch: LaunchSpec | None = None):
        self.name = name
        self.local = LocalComfy(launch, name) if url is None and launch is not None else None
        if self.local is not None:
            url = self.local.start(cpu=not ray.get_gpu_ids())
        if url is None:
            raise ValueError("a worker needs a server URL or a launch spec")
        self.server = ComfyServer(url)
        if not self.server.alive():
            raise ServerDown(f"{url} does not answer")
        self.template = template
        self.classes = template_classes(template)
        self.timeout = timeout

    def info(self) -> dict:
        """Where this worker runs: its server's URL, its node and (when it started it) the server's pid."""
        return {"name": self.name, "url": self.server.url, "node": ray.util.get_node_ip_address(),
                "host": socket.gethostname(), "pid": self.local.pid if self.local else None}

    def run(self, job: Job) -> tuple[list[tuple[str, bytes]], float]:
        """One row through this worker's server: (output name, bytes) pairs and the seconds it took.

        When the server stops answering, this actor's process exits: Ray restarts the actor (a fresh server)
        while the driver, seeing the actor die, gives the row to another worker. A server that still answers
        but lacks the pack raises ServerDown to the driver instead, which drops this worker; a row past --timeout
        on a server that still answers raises RowTimeout (a PromptFailed): that row fails, this worker lives on.
        """
        start = time.monotonic()
        try:
            images = execute_row(self.server, self.template, self.classes, job, self.timeout)
        except ServerDown as err:
            if self.server.alive():
                raise
            print(f"{self.name}: {err}; the server is gone: exiting so that Ray restarts this worker",
                  file=sys.stderr, flush=True)
            os._exit(1)
        return images, time.monotonic() - start

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()


@dataclass
class RayOptions:
    """How many actors, with what resources, and where their servers come from."""

    urls: list[str] = field(default_factory=list)  # attach: one actor per URL (reachable from the workers)
    launch: LaunchSpec | None = None  # otherwise: each actor starts its own server
    actors: int = 0  # launched actors; 0: one per GPU of the cluster, at least 1
    actor_cpus: float = 1.0
    actor_gpus: float | None = None  # None: 1 when the cluster has GPUs, else 0
    restarts: int = 2  # Ray restarts of an actor that died (a fresh server each time)


@dataclass
class Worker:
    name: str
    actor: ray.actor.ActorHandle
    label: str = ""  # the results.csv `server` value: name, server URL and node
    unavailable: int = 0  # probes answered "restarting" in a row


def connect(address: str | None) -> None:
    """Join the Ray cluster at `address` ("auto", "host:port", "ray://host:10001") or, with None, the one
    Ray finds itself (RAY_ADDRESS, a local `ray start`), else start a local one. This package ships to
    the workers with the job (runtime_env py_modules): the nodes need no copy of the client."""
    if not ray.is_initialized():
        ray.init(address=address or None, runtime_env={"py_modules": [str(PACKAGE_DIR)]})


class RayBatchRunner(BatchRunner):
    """BatchRunner whose rows run on Ray actors: the same preparation, resume state and results.csv."""

    def __init__(self, template: dict, output_dir: Path, options: RayOptions, *, timeout: float = 600.0,
                 retries: int = 2, progress: bool = True):
        super().__init__([], template, output_dir, timeout=timeout, retries=retries, progress=progress)
        self.options = options
        self.settled: set[int] = set()
        self.idle: list[Worker] = []
        self.queue: deque[Job] = deque()
        self.calls: dict[ray.ObjectRef, tuple[Worker, Job | None]] = {}
        self.reprobe: list[tuple[float, Worker]] = []  # (when, worker): restarting actors to ask again
        self.first_ready = 0.0

    def _make_workers(self) -> list[Worker]:
        gpus_in_cluster = int(ray.cluster_resources().get("GPU", 0))
        gpus = self.options.actor_gpus if self.options.actor_gpus is not None else (1 if gpus_in_cluster else 0)
        actor_class = ray.remote(ComfyWorker).options(
            num_cpus=self.options.actor_cpus, num_gpus=gpus, max_restarts=self.options.restarts,
            max_task_retries=0, scheduling_strategy="SPREAD")
        if self.options.urls:
            specs = [(f"worker-{i}", {"url": url}) for i, url in enumerate(self.options.urls)]
        else:
            count = self.options.actors or max(gpus_in_cluster, 1)
            specs = [(f"worker-{i}", {"launch": self.options.launch}) for i in range(count)]
        return [Worker(name, actor_class.remote(name, self.template, self.timeout, **kw)) for name, kw in specs]

    def _schedule(self, jobs: list[Job]) -> None:
        start = time.monotonic()
        self.pending = len(jobs)
        self.queue.extend(jobs)
        workers = self._make_workers()
        self.log(f"ray: starting {len(workers)} worker(s)")
        for worker in workers:
            self._probe(worker)
        while self.pending > 0:
            while self.idle and self.queue:
                worker, job = self.idle.pop(0), self.queue.popleft()
                self.calls[worker.actor.run.remote(job)] = (worker, job)
            now = time.monotonic()
            for due, worker in [r for r in self.reprobe if r[0] <= now]:
                self.reprobe.remove((due, worker))
                self._probe(worker)
            if not self.calls and not self.reprobe:
                break  # no worker left
            if not self.calls:  # only restarting actors: wait for their next probe
                time.sleep(0.5)
                continue
            ready, _ = ray.wait(list(self.calls), num_returns=1, timeout=0.5 if self.reprobe else None)
            for ref in ready:
                worker, job = self.calls.pop(ref)
                self._collect(ref, worker, job)
        self._stop(workers)
        while self.queue:
            job = self.queue.popleft()
            self._settle(job, Result(job.row.number, job.row.image.name, "error",
                                     error=f"row {job.row.number}: every Ray worker failed"))
        done = sum(1 for r in self.results.values() if r.status == "done")
        if self.first_ready and done:
            busy = time.monotonic() - self.first_ready
            self.log(f"ray: {done} row(s) done in {busy:.1f}s after the first worker was up "
                     f"({60 * done / busy:.2f} rows/min on {len(workers)} worker(s)); "
                     f"start-up {self.first_ready - start:.1f}s")

    def _probe(self, worker: Worker) -> None:
        """Ask a (new or restarting) actor where it runs; it becomes idle once it answers."""
        self.calls[worker.actor.info.remote()] = (worker, None)

    def _collect(self, ref: ray.ObjectRef, worker: Worker, job: Job | None) -> None:
        try:
            value = ray.get(ref)
        except RayActorError as err:  # the actor died (killed, crashed, node lost), restarts, or could not start
            if job is not None:
                self._retry(job, worker, f"worker {worker.name} died")
                self._probe(worker)  # Ray restarts it while max_restarts allows; else the probe fails too
            elif isinstance(err, ActorUnavailableError) and worker.unavailable < 300:
                worker.unavailable += 1  # restarting: ask again in a second (for 5 min at most)
                self.reprobe.append((time.monotonic() + 1.0, worker))
            else:
                self.log(f"ray: worker {worker.name} is gone: {first_line(err)}")
            return
        except RayError as err:  # the call raised (RayTaskError: `cause`), or Ray could not deliver its exception
            cause = err.cause if isinstance(err, RayTaskError) and isinstance(err.cause, BaseException) else err
            if job is None:
                self.log(f"ray: worker {worker.name} could not start: {first_line(cause)}")
            elif isinstance(cause, ServerDown):  # its server answers but cannot run rows: drop the worker
                self._retry(job, worker, str(cause))
                self.log(f"ray: worker {worker.label} dropped")
                ray.kill(worker.actor, no_restart=True)
            else:
                message = row_error_message(job, cause)
                self.log(f"error: {message}")
                self._settle(job, Result(job.row.number, job.row.image.name, "error", server=worker.label,
                                         error=message))
                self.idle.append(worker)
            return
        if job is None:
            worker.unavailable = 0
            worker.label = f"{value['name']} {value['url']} on {value['node']}"
            self.first_ready = self.first_ready or time.monotonic()
            self.log(f"ray: {worker.label} ready")
        else:
            self._done(worker, job, *value)
        self.idle.append(worker)

    def _done(self, worker: Worker, job: Job, images: list[tuple[str, bytes]], seconds: float) -> None:
        if job.row.number in self.settled:  # cannot happen with one call per row in flight; never write twice
            self.log(f"ray: ignored a second result for row {job.row.number}")
            return
        try:
            outputs = save_outputs(self.output_dir, self.state, job, images)
        except OSError as err:
            self._settle(job, Result(job.row.number, job.row.image.name, "error", server=worker.label,
                                     error=row_error_message(job, err)))
            return
        self._settle(job, Result(job.row.number, job.row.image.name, "done", outputs, seconds, worker.label))

    def _settle(self, job: Job, result: Result) -> None:
        self.settled.add(job.row.number)
        super()._settle(job, result)

    def _retry(self, job: Job, worker: Worker, reason: str) -> None:
        job.attempts += 1
        if job.attempts > self.retries:
            message = f"row {job.row.number}: failed on {job.attempts} worker attempt(s), last: {reason}"
            self.log(f"error: {message}")
            self._settle(job, Result(job.row.number, job.row.image.name, "error", server=worker.label,
                                     error=message))
        else:
            self.queue.appendleft(job)
            self.log(f"ray: row {job.row.number} lost on {worker.label or worker.name} ({first_line(reason)}); "
                     "retried on the next free worker")

    def _stop(self, workers: list[Worker]) -> None:
        """Stop every server and free the actors' resources on the cluster."""
        try:  # idle workers stop their servers; one still (re)starting is only killed (its server dies with it)
            ray.get([w.actor.stop.remote() for w in self.idle], timeout=60)
        except (RayActorError, RayTaskError, ray.exceptions.GetTimeoutError):
            pass
        for worker in workers:
            ray.kill(worker.actor, no_restart=True)


def first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


__all__ = ["ComfyWorker", "RayBatchRunner", "RayOptions", "connect"]
