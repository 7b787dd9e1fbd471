"""Test-wide set-up: import the pack as the package `fluxfill_inpainter`, markers by folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACK_NAME = "fluxfill_inpainter"
MARKER_BY_FOLDER = {"unit": "unit", "integration": "integration", "e2e": "e2e", "browser": "browser"}


def register_package(name: str, folder: Path) -> None:
    """Import `folder` as package `name` without putting the repo root on sys.path (where our `nodes/`
    would shadow ComfyUI's `nodes` module)."""
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def register_pack() -> None:
    """Make the repo importable as `fluxfill_inpainter`, as ComfyUI names it in custom_nodes/."""
    register_package(PACK_NAME, REPO)


register_pack()
register_package("batch_client", REPO / "batch_client")
register_package("bench", REPO / "bench")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        marker = MARKER_BY_FOLDER.get(parts[0]) if len(parts) > 1 else None
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


# --- the real ComfyUI host -------------------------------------------------------------------
sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ComfyUI base directory with this pack in custom_nodes/ (models are linked in by tiny_model_files)."""
    from comfy_host import make_base_dir

    return make_base_dir(tmp_path_factory.mktemp("comfy_base"), models=None)


@pytest.fixture(scope="session")
def comfy_booted(comfy_base: Path) -> Path:
    """ComfyUI imported in-process (`--cpu`, args parsing enabled first)."""
    from comfy_host import boot_comfy

    boot_comfy(comfy_base)
    return comfy_base


@pytest.fixture(scope="session")
def tiny_model_files(comfy_booted: Path) -> dict:
    """Loader-detectable tiny models, written once into the repo's cache dir (.cache/tiny_models) with
    ComfyUI's own classes, and linked into the base directory's models/."""
    from comfy_host import MODEL_CACHE
    from tiny_models import link_models, write_tiny_models

    files = write_tiny_models(MODEL_CACHE)
    link_models(MODEL_CACHE, comfy_booted / "models")
    return files


@pytest.fixture(scope="session")
def comfy(comfy_booted: Path, tiny_model_files: dict) -> Path:
    """In-process ComfyUI with the tiny models in its models/ folders; returns the base dir."""
    return comfy_booted


@pytest.fixture(scope="session")
def comfy_server(comfy_base: Path, tiny_model_files: dict):
    """A real ComfyUI server subprocess with the pack and the tiny models, on a free 127.0.0.1 port."""
    from comfy_host import ComfyServer

    server = ComfyServer(comfy_base).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def comfy_client(comfy_server):
    return comfy_server.client()


@pytest.fixture(scope="session")
def small_models(comfy):
    """(model, vae, clip): a small-config Flux Fill, a narrow Flux VAE and the tiny CLIP-L file."""
    from tiny_models import CLIP_L_FILE, small_flux_patcher, small_flux_vae

    import nodes

    (clip,) = nodes.CLIPLoader().load_clip(CLIP_L_FILE, "stable_diffusion")
    return small_flux_patcher(), small_flux_vae(), clip


@pytest.fixture()
def spy(monkeypatch):
    """Records every comfy.sample.sample call of the test (see node_calls.SamplerSpy)."""
    from node_calls import SamplerSpy

    return SamplerSpy(monkeypatch)
