"""The package's layers, lowest first: a module may import only from its own layer or below.

Read by ``tests/test_layers.py`` (which fails on any upward import or import cycle) and by
``benchmarks/structure.py`` (which prints the import graph). Imports inside functions count:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LAYERS", "layer_of", "import_graph", "find_cycles"]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("constants", "errors", "device", "pixels", "atomic", "bf16_check")),
    (
        "networks and maths",
        (
            "nets",
            "adaptive",
            "losses",
            "metrics",
            "tiling",
            "lpips",
            "noise",
            "reliability",
            "corrections",
            "guard",
            "averaging",
        ),
    ),
    ("configuration and files", ("config", "tiff_tags", "io", "formats", "checkpoint", "outputs")),
    ("model files", ("models",)),
    ("inference", ("inference", "backends")),
    ("data and stages", ("data", "pairs", "stages", "teachers", "budget")),
    ("training", ("distributed", "train")),
    ("commands", ("denoise", "evaluate", "submit", "synth", "demo", "export", "report")),
    ("command line", ("cli", "__main__")),
)
"""Each entry names top-level modules or subpackages of ``sassid``."""


def layer_of(module: str) -> int:
    """The layer index of ``sassid.<module>`` (its first dotted part decides)."""
    head = module.removeprefix("sassid.").split(".")[0]
    if head in ("sassid", "__init__", "layers"):
        return 0
    for index, (_, names) in enumerate(LAYERS):
        if head in names:
            return index
    raise KeyError(f"sassid.{head} is in no layer: add it to sassid.layers.LAYERS")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # ``from sassid import distributed`` imports a module
                yield f"{target}.{alias.name}"


def import_graph(root: Path | None = None) -> dict[str, set[str]]:
    """``{module: {imported sassid modules}}`` for every module under ``root`` (the package)."""
    root = root or Path(__file__).resolve().parent
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set()
        for name in _imports(tree, module, path.name == "__init__.py"):
            while name and name not in files:  # ``sassid.nets.BNN`` -> ``sassid.nets``
                name = name.rpartition(".")[0]
            if name.startswith("sassid") and name != module and name != "sassid":
                targets.add(name)
        graph[module] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles
