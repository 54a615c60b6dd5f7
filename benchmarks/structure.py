"""The package's structure: import graph by layer, cycles, and the longest functions.

    python benchmarks/structure.py [--longest 10]

Prints, for every module of ``sassid``, its layer (``sassid.layers``) and what it imports;
then any import cycle or upward import; then the longest functions (lines, parameters).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from sassid.layers import LAYERS, find_cycles, import_graph, layer_of  # noqa: E402


def longest_functions(package: Path, count: int) -> list[tuple[int, int, str]]:
    """(lines, parameters, "module:function") of the ``count`` longest functions."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                a = node.args
                params = len(a.posonlyargs + a.args + a.kwonlyargs) - (
                    1 if a.args and a.args[0].arg in ("self", "cls") else 0
                )
                where = f"{path.relative_to(package.parent)}:{node.name}"
                found.append((lines, params, where))
    return sorted(found, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--longest", type=int, default=10)
    args = parser.parse_args()
    graph = import_graph()
    print("# Import graph (layer: module -> sassid modules it imports)\n")
    for module in sorted(graph, key=lambda m: (layer_of(m), m)):
        targets = ", ".join(t.removeprefix("sassid.") for t in sorted(graph[module])) or "-"
        print(f"{layer_of(module)} {LAYERS[layer_of(module)][0]:<24} {module:<32} -> {targets}")
    cycles = find_cycles(graph)
    upward = [(m, t) for m, ts in graph.items() for t in ts if layer_of(t) > layer_of(m)]
    print(f"\ncycles: {cycles or 'none'}; upward imports: {upward or 'none'}\n")
    print("# Longest functions (lines, parameters)\n")
    for lines, params, where in longest_functions(ROOT / "src" / "sassid", args.longest):
        print(f"{lines:5d} {params:3d}  {where}")
    return 1 if cycles or upward else 0


if __name__ == "__main__":
    sys.exit(main())
