"""`python -m batch_client`: the command line of the batch client."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from .comfy_api import ComfyServer
from .rows import CsvFormatError, ParsedCsv, read_csv
from .runner import RESULTS_FILE, BatchRunner, Result
from .workflow import DEFAULT_TEMPLATE, TemplateError, apply_overrides, check_template, load_template

DEFAULT_SERVER = "http://127.0.0.1:8188"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m batch_client",
        description="Run a CSV of inpainting edits through FluxFill Inpainter on one or more ComfyUI servers.")
    parser.add_argument("--input", required=True, type=Path,
                        help="CSV with columns image, mask (a file or 'alpha'), prompt; optional seed, steps, "
                             "guidance, denoise, batch_size, width+height, mode. Paths are relative to its folder.")
    parser.add_argument("--output_dir", required=True, type=Path,
                        help="where images, results.csv and the resume state (batch_state.json) go")
    parser.add_argument("--server", action="append", default=None,
                        help=f"ComfyUI server URL; repeat for several servers (default {DEFAULT_SERVER})")
    parser.add_argument("--workflow", type=Path, default=DEFAULT_TEMPLATE,
                        help="API-format workflow template (default: the bundled Flux Fill template)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
                        help="override a template input; NODE is a node id or a class_type (all such nodes); "
                             "VALUE is JSON if it parses, else a string. Repeatable.")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds one row may take; past it the row fails (its server is dropped only if it "
                             "no longer answers) (600)")
    parser.add_argument("--retries", type=int, default=2,
                        help="how many times a row is retried on another server after a server failure (2)")
    parser.add_argument("--reprobe", type=float, default=0.0, metavar="SECONDS",
                        help="re-probe a failed server every SECONDS and use it again once it answers (0: off)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    ray = parser.add_argument_group("Ray (needs `pip install ray`)", "run the rows on Ray actors, each owning one "
                                    "ComfyUI server; with --server, one actor attaches to each URL instead")
    ray.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="use Ray: the cluster at ADDRESS ('auto', HOST:PORT, ray://HOST:10001); without ADDRESS "
                          "the one Ray finds (RAY_ADDRESS, a local `ray start`), else a new local one")
    ray.add_argument("--actors", type=int, default=0, help="actors that start a server (default: one per GPU, >= 1)")
    ray.add_argument("--comfyui", type=Path, default=os.environ.get("COMFYUI_PATH"),
                     help="the ComfyUI tree (main.py) on every worker node (default $COMFYUI_PATH)")
    ray.add_argument("--comfy-base", type=Path, default=os.environ.get("COMFY_BASE_DIR"),
                     help="ComfyUI --base-directory on every node: models/ and custom_nodes/ with this pack "
                          "(default $COMFY_BASE_DIR, else the --comfyui folder)")
    ray.add_argument("--worker-dir", type=Path, default=Path(tempfile.gettempdir()) / "ffi_batch_workers",
                     help="per-worker input/output/temp/user folders and server logs, on each node "
                          "(default <tmp>/ffi_batch_workers)")
    ray.add_argument("--comfy-arg", action="append", default=[], metavar="ARG",
                     help="one more main.py argument for launched servers, e.g. --comfy-arg=--lowvram; repeatable "
                          "(--cpu is added for an actor without a GPU)")
    ray.add_argument("--actor-cpus", type=float, default=1.0, help="CPUs each actor reserves (1)")
    ray.add_argument("--actor-gpus", type=float, default=None,
                     help="GPUs each actor reserves (default 1 if the cluster has any, else 0)")
    ray.add_argument("--restarts", type=int, default=2, help="how often Ray restarts a dead actor (2)")
    return parser


def run_on_ray(args: argparse.Namespace, template: dict, parsed: ParsedCsv) -> list[Result] | None:
    """The --ray path; None (after a message) when Ray is missing or the options do not fit."""
    try:
        import ray

        from .launcher import LaunchSpec
        from .ray_runner import RayBatchRunner, RayOptions, connect
    except ImportError as err:
        print(f"error: --ray needs Ray ({err}): pip install ray", file=sys.stderr)
        return None
    urls = list(dict.fromkeys(normalize_url(u) for u in args.server or []))
    launch = None
    if not urls:
        if args.comfyui is None:
            print("error: --ray without --server starts ComfyUI on the workers: give --comfyui", file=sys.stderr)
            return None
        base = args.comfy_base or args.comfyui
        launch = LaunchSpec(str(args.comfyui), str(base), str(args.worker_dir), tuple(args.comfy_arg))
    options = RayOptions(urls=urls, launch=launch, actors=args.actors, actor_cpus=args.actor_cpus,
                         actor_gpus=args.actor_gpus, restarts=args.restarts)
    connect(args.ray or None)
    try:
        return RayBatchRunner(template, args.output_dir, options, timeout=args.timeout, retries=args.retries,
                              progress=args.progress).run(parsed)
    finally:
        ray.shutdown()


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if url.startswith(("http://", "https://")) else f"http://{url}"


def main(argv: list[str] | None = None) -> int:
    """Run the batch; 0 when every row is done or skipped, 1 when any row failed, 2 on a usage error."""
    args = build_parser().parse_args(argv)
    try:
        template = apply_overrides(load_template(args.workflow), args.overrides)
        check_template(template)
        parsed = read_csv(args.input)
    except (TemplateError, CsvFormatError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.timeout <= 0 or args.retries < 0:
        print("error: --timeout must be > 0 and --retries >= 0", file=sys.stderr)
        return 2
    if parsed.ignored_columns:
        print(f"note: ignoring unknown column(s): {', '.join(parsed.ignored_columns)}", file=sys.stderr)
    try:
        if args.ray is not None:
            results = run_on_ray(args, template, parsed)
            if results is None:
                return 2
        else:
            urls = list(dict.fromkeys(normalize_url(u) for u in (args.server or [DEFAULT_SERVER])))
            runner = BatchRunner([ComfyServer(u) for u in urls], template, args.output_dir, timeout=args.timeout,
                                 retries=args.retries, reprobe_s=args.reprobe, progress=args.progress)
            results = runner.run(parsed)
    except KeyboardInterrupt:
        print("\ninterrupted: finished rows are recorded; run the same command again to resume", file=sys.stderr)
        return 130
    counts = Counter(r.status for r in results)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("done", "skipped", "error"))
    print(f"{len(results)} row(s): {summary}; see {args.output_dir / RESULTS_FILE}", file=sys.stderr)
    return 1 if counts["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
