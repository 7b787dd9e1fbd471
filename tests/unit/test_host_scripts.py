"""scripts/host.py and scripts/run_tests.py: what they read off a ComfyUI tree and off pytest's reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import host  # noqa: E402
import run_tests  # noqa: E402

REQUIREMENTS_0_8_0 = """comfyui-frontend-package==1.35.9
comfyui-workflow-templates==0.7.67
torch
torchsde
torchvision
torchaudio
numpy>=1.25.0
comfy-kitchen>=0.2.3
"""


@pytest.fixture()
def tree(tmp_path: Path, monkeypatch) -> Path:
    comfy = tmp_path / "ComfyUI"
    comfy.mkdir()
    (comfy / "requirements.txt").write_text(REQUIREMENTS_0_8_0)
    (comfy / "comfyui_version.py").write_text('# generated\n__version__ = "0.8.0"\n')
    monkeypatch.setattr(host, "CACHE", tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    return comfy


def test_host_requirements_leave_out_torchaudio_and_keep_every_other_line(tree: Path) -> None:
    kept = host.host_requirements(tree).read_text().split()
    wanted = [line for line in REQUIREMENTS_0_8_0.split() if line != "torchaudio"]
    assert kept == wanted


def test_the_pinned_frontend_is_read_off_the_tree(tree: Path) -> None:
    assert host.read_version(tree) == "0.8.0"
    assert host.pinned_frontend(tree) == "1.35.9"
    assert host.frontend_root("1.35.9", tree) is None  # served from the host's venv
    assert host.frontend_root(host.NEWEST_FRONTEND, tree).parts[-3:] == (
        host.NEWEST_FRONTEND, "comfyui_frontend_package", "static")


def test_each_host_has_its_own_venv_tree_and_base() -> None:
    roots = {host.venv_python(v).parents[2] for v in host.HOSTS}
    assert len(roots) == len(host.HOSTS) == 2 and host.NEWEST_HOST == "0.8.0"
    for version in host.HOSTS:
        assert host.comfyui_dir(version).parent == host.base_dir(version).parent == host.SOURCES[version].root


def test_run_counts_come_from_the_junit_report(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text('<testsuites><testsuite name="pytest" tests="10" failures="1" errors="2" skipped="3">'
                      "</testsuite></testsuites>")
    assert run_tests.counts(report) == (4, 3, 3)
    assert run_tests.counts(tmp_path / "missing.xml") == (0, 0, 0)
