"""The shape of the package: one direction per dependency and functions a reader can hold.

Read from the source with ``ast`` (nothing is imported), so an import hidden inside a function
counts like one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "emo_app"
LAB = ROOT / "lab"  # development machinery: may import emo_app, never the other way
MAX_STATEMENTS = 60
MAX_LINES = 600
# Known offenders (none left): a function or module added here must be split, never allowed.
LONG_FUNCTIONS_LEFT: set[str] = set()
LONG_MODULES_LEFT: set[str] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(*packages: Path) -> dict[str, tuple[Path, ast.Module]]:
    return {
        _module_name(path): (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for package in (packages or (PACKAGE,))
        for path in sorted(package.rglob("*.py"))
        if "tests" not in path.relative_to(package).parts
    }


def import_graph(*packages: Path) -> nx.DiGraph:
    """module -> the modules of ``packages`` (default: emo_app) it imports, anywhere in its body."""
    modules = _modules(*packages)
    graph = nx.DiGraph()
    for name, (path, tree) in modules.items():
        graph.add_node(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import module` imports the module; `from module import name` the module
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                # importing a.b.c runs a.b's __init__ first: an edge to every package on the way
                parts = target.split(".")
                for depth in range(2, len(parts) + 1):
                    step = ".".join(parts[:depth])
                    if step in modules and step != name:
                        graph.add_edge(name, step)
    return graph


def _without_package_inits(graph: nx.DiGraph) -> nx.DiGraph:
    """A package's ``__init__`` re-exports its modules; an import of one of them through the
    package is an import of the package, not a cycle with its own modules."""
    kept = nx.DiGraph()
    kept.add_nodes_from(graph)
    for source, target in graph.edges:
        if source.startswith(target + "."):  # a module importing its own package's __init__
            continue
        kept.add_edge(source, target)
    return kept


def test_the_import_graph_has_no_cycles():
    graph = _without_package_inits(import_graph(PACKAGE, LAB))
    cycles = [sorted(component) for component in nx.strongly_connected_components(graph)
              if len(component) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_packages_depend_one_way():
    """emo_app's packages (text, metric, face, ...) form layers: no two reach each other."""
    modules = _without_package_inits(import_graph())
    layers = nx.DiGraph()
    for source, target in modules.edges:
        above, below = source.split(".")[:2], target.split(".")[:2]
        if above != below:
            layers.add_edge(".".join(above), ".".join(below))
    cycles = [sorted(c) for c in nx.strongly_connected_components(layers) if len(c) > 1]
    assert not cycles, f"packages that import each other: {cycles}"


def test_the_product_never_imports_the_lab():
    graph = import_graph(PACKAGE, LAB)
    reached = {target for source, target in graph.edges if source.startswith("emo_app")}
    assert not {name for name in reached if name.startswith("lab")}


def test_the_checker_sees_imports_inside_functions(tmp_path, monkeypatch):
    package = tmp_path / "emo_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from emo_app import b\n")
    (package / "b.py").write_text("def late():\n    from emo_app.a import x\n    return x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    assert not nx.is_directed_acyclic_graph(import_graph())


def _long_functions() -> dict[str, int]:
    found = {}
    for name, (_, tree) in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = sum(isinstance(inner, ast.stmt) for inner in ast.walk(node)) - 1
                if count > MAX_STATEMENTS:
                    found[f"{name}.{node.name}"] = count
    return found


def _long_modules() -> dict[str, int]:
    lengths = {name: len(path.read_text().splitlines()) for name, (path, _) in _modules().items()}
    return {name: count for name, count in lengths.items() if count > MAX_LINES}


def test_no_function_is_longer_than_a_reader_can_hold():
    long = _long_functions()
    assert set(long) <= LONG_FUNCTIONS_LEFT, f"functions over {MAX_STATEMENTS} statements: {long}"


def test_no_module_is_longer_than_a_reader_can_hold():
    long = _long_modules()
    assert set(long) <= LONG_MODULES_LEFT, f"modules over {MAX_LINES} lines: {long}"

