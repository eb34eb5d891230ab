"""The package's shape, read from its source: imports form no loop, a stage imports no later
stage (nor the reports, the pipeline or the CLI), nothing imports the CLI or another module's
private names, and modules and functions stay short."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "traitforge"
# The stages in pipeline order; a stage may import only those before it, and the shared layers.
STAGES = ["generate", "audit", "clean", "train", "evaluate"]
SHARED = {"io", "rows", "errors", "swap", "settings", "executors", "backends", "__init__"}  # traitforge/__init__.py: the version
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) of every traitforge import in a module, at any depth."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("traitforge")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("traitforge"):
            out.append((node.module, [a.name for a in node.names]))
    return out


def graph() -> dict[str, set[str]]:
    """Module -> the traitforge modules it imports (a `from pkg import sub` counts as pkg.sub)."""
    trees = modules()
    edges: dict[str, set[str]] = {}
    for name, tree in trees.items():
        targets = set()
        for module, names in imports(name, tree):
            subs = {f"{module}.{n}" for n in names if f"{module}.{n}" in trees}
            targets |= subs or {module}
        edges[name] = targets - {name}
    return edges


def area(module: str) -> str:
    """The top-level part of traitforge a module belongs to: a stage, a shared layer, ..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_form_no_loop():
    edges = graph()
    state: dict[str, int] = {}
    loops = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                loops.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert loops == []


def test_each_stage_imports_only_earlier_stages_and_shared_layers():
    bad = []
    for module, targets in graph().items():
        here = area(module)
        for target in targets:
            there = area(target)
            if there == here or there in SHARED:
                continue
            if here in SHARED:
                bad.append((module, target))  # a shared layer imports no stage
            elif here in STAGES and (there not in STAGES or
                                     STAGES.index(there) > STAGES.index(here)):
                bad.append((module, target))
            elif there == "cli":
                bad.append((module, target))
    assert bad == []


def test_no_module_imports_another_modules_private_names():
    bad = [(name, module, n) for name, tree in modules().items()
           for module, names in imports(name, tree) for n in names
           if n.startswith("_") and not n.startswith("__") and module != name]
    assert bad == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_short(path: Path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_the_checker_sees_a_loop_and_a_late_import(tmp_path, monkeypatch):
    """The checks above can fail: a planted loop and a stage importing a later one are seen."""
    pkg = tmp_path / "traitforge"
    for rel, text in {"__init__.py": "", "audit/__init__.py": "",
                      "audit/a.py": "from traitforge.audit import b\n",
                      "audit/b.py": "from traitforge.audit.a import x\nfrom traitforge.train import t\n",
                      "train/__init__.py": "", "train/t.py": ""}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    with pytest.raises(AssertionError):
        test_imports_form_no_loop()
    with pytest.raises(AssertionError):
        test_each_stage_imports_only_earlier_stages_and_shared_layers()
