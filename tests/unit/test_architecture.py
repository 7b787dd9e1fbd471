"""The pack's module graph: no import circle, pure-torch rooms free of ComfyUI, value types free of the pack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("nodes", "crop_stitch", "diff_attention")
HOST_MODULES = {"comfy", "comfy_api", "comfy_extras", "nodes", "node_helpers", "latent_preview", "folder_paths",
                "server"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def pack_imports(path: Path) -> tuple[set[str], set[str]]:
    """(pack modules, top-level absolute modules) imported by the file, at any depth (lazy imports too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    pack, absolute = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [f"{target}.{a.name}" if target else a.name for a in node.names]
            pack.update(n for n in names if (REPO / Path(*n.split("."))).with_suffix(".py").exists()
                        or (REPO / Path(*n.split(".")) / "__init__.py").exists())
            if target:
                pack.add(target)
        elif isinstance(node, ast.ImportFrom) and node.module:
            absolute.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            absolute.update(a.name.split(".")[0] for a in node.names)
    return pack, absolute


def graph() -> dict[str, set[str]]:
    edges = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            edges[module_name(path)] = pack_imports(path)[0] - {module_name(path)}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(tuple(p + "." for p in PACKAGES)) and nxt.endswith(".__init__"):
                nxt = nxt[: -len(".__init__")]
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt in edges and not state.get(nxt):
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if not state.get(start):
            found = visit(start)
            if found:
                return found
    return None


def test_there_is_no_import_circle_among_the_packs_modules() -> None:
    edges = graph()
    assert "nodes.pipeline" in edges and "nodes.sampling" in edges["nodes.pipeline"]
    # package __init__ files re-export their modules; a circle through them is a circle too
    cycle = find_cycle({k: {t for t in v if not t.endswith("__init__")} for k, v in edges.items()})
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["crop_stitch", "diff_attention"])
def test_pure_torch_rooms_import_nothing_of_comfyui(package: str) -> None:
    for path in (REPO / package).rglob("*.py"):
        _, absolute = pack_imports(path)
        assert not absolute & HOST_MODULES, f"{path.name} imports {absolute & HOST_MODULES}"


def test_shared_value_types_import_nothing_of_the_pack() -> None:
    pack, _ = pack_imports(REPO / "nodes" / "types.py")
    assert pack == set()


def test_the_crop_node_does_not_load_the_sampler_stack() -> None:
    seen, todo = set(), ["nodes.crop_nodes"]
    edges = graph()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(t for t in edges.get(module, ()) if t in edges)
    assert not seen & {"nodes.sampling", "nodes.prepare", "nodes.inpainter", "nodes.pipeline"}, sorted(seen)


MAX_PARAMETERS = 8


def parameter_count(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Parameters a caller passes: `self` / `cls` not counted, `*args` and `**kwargs` one each."""
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def test_no_function_in_nodes_takes_more_than_eight_parameters() -> None:
    wide = [f"{path.name}:{fn.lineno} {fn.name} ({parameter_count(fn)})"
            for path in sorted((REPO / "nodes").rglob("*.py"))
            for fn in ast.walk(ast.parse(path.read_text()))
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and parameter_count(fn) > MAX_PARAMETERS]
    assert not wide, wide


def test_the_parameter_count_skips_self_and_counts_star_arguments() -> None:
    fn = ast.parse("def f(cls, a, b=1, *rest, c, **kw): pass").body[0]
    assert parameter_count(fn) == 5


def script_imports(path: Path, names: set[str]) -> set[str]:
    """The sibling scripts a script imports (scripts/ puts its own folder on sys.path), lazy imports too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found & names - {path.stem}


def test_there_is_no_import_circle_among_the_scripts() -> None:
    paths = sorted((REPO / "scripts").glob("*.py"))
    names = {p.stem for p in paths}
    edges = {p.stem: script_imports(p, names) for p in paths}
    assert "workflow_specs" in edges["mode_workflow_specs"]
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle or [])


def test_crop_stitch_exports_what_nodes_use_and_nodes_use_only_the_exports() -> None:
    """nodes/ reaches crop_stitch/ through its package only, and the package exports nothing nodes/ leaves unused."""
    import fluxfill_inpainter.crop_stitch as crop_stitch

    used, submodules = set(), []
    for path in sorted((REPO / "nodes").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and (node.module or "").startswith("crop_stitch"):
                if node.module != "crop_stitch":
                    submodules.append(f"{path.name}: {node.module}")
                used.update(a.name for a in node.names)
    assert not submodules, submodules
    assert used == set(crop_stitch.__all__), (sorted(used - set(crop_stitch.__all__)),
                                              sorted(set(crop_stitch.__all__) - used))


@pytest.mark.parametrize("package", PACKAGES)
def test_the_packs_modules_stay_under_three_hundred_lines(package: str) -> None:
    long = [f"{p.name} ({n})" for p in sorted((REPO / package).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 300]
    assert not long, long
