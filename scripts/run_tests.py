"""`make test`: the unit tests once, then the integration, e2e and browser suites on every host.

    python scripts/run_tests.py                       # both hosts (scripts/host.py builds them)
    python scripts/run_tests.py --hosts 0.8.0         # one host
    python scripts/run_tests.py -- -m unit            # your own pytest arguments, run on each host

Each run is its host's own venv Python (tests/comfy_host.py takes the ComfyUI tree beside that venv),
so every test that compares the pack with core compares it with that host's core. Without pytest
arguments, the unit tests (pure torch, no ComfyUI) run once, on the newest host. Prints each run's
counts and time, then one closing line for all of them.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from host import CACHE, HOSTS, NEWEST_HOST, REPO, venv_python  # noqa: E402

REPORTS = CACHE / "test-reports"


@dataclass
class RunResult:
    name: str
    returncode: int
    seconds: float
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return (f"{self.name:<28} {self.passed:>5} passed {self.failed:>4} failed {self.skipped:>4} skipped "
                f"{self.seconds / 60:6.1f} min")


def counts(report: Path) -> tuple[int, int, int]:
    """(passed, failed + errors, skipped) from a JUnit XML report."""
    if not report.exists():
        return 0, 0, 0
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed, skipped


def run_pytest(host: str, name: str, args: list[str]) -> RunResult:
    report = REPORTS / (re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") + ".xml")
    report.unlink(missing_ok=True)
    cmd = [str(venv_python(host)), "-m", "pytest", f"--junitxml={report}", *args]
    print(f"\n[test] {name}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    code = subprocess.run(cmd, cwd=REPO).returncode
    result = RunResult(name, code, time.monotonic() - start, *counts(report))
    if code not in (0, 5) and result.failed == 0:  # a crash or a collection error with no report
        result.failed = 1
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default=",".join(HOSTS), help=f"comma-separated, from {', '.join(HOSTS)}")
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments (after --): run as given on each host")
    args = parser.parse_args()
    hosts = [h for h in args.hosts.split(",") if h]
    unknown = set(hosts) - set(HOSTS)
    if unknown:
        parser.error(f"unknown host(s) {sorted(unknown)}; known: {', '.join(HOSTS)}")
    REPORTS.mkdir(parents=True, exist_ok=True)
    results = []
    if args.pytest_args:
        results += [run_pytest(h, f"{h} (your arguments)", args.pytest_args) for h in hosts]
    else:
        unit_host = NEWEST_HOST if NEWEST_HOST in hosts else hosts[-1]
        results.append(run_pytest(unit_host, f"unit (on {unit_host})", ["-m", "unit"]))
        results += [run_pytest(h, f"{h} integration+e2e+browser", ["-m", "not unit"]) for h in hosts]
    print("\n[test] summary")
    for result in results:
        print("[test]   " + result.line())
    passed, failed, skipped = (sum(getattr(r, k) for r in results) for k in ("passed", "failed", "skipped"))
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if all(r.returncode in (0, 5) for r in results) and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
