"""The package's imports run one way: down the layers of ``sassid.layers``, with no cycle."""

from __future__ import annotations

from pathlib import Path

from sassid.layers import LAYERS, find_cycles, import_graph, layer_of


def test_no_import_cycle_inside_sassid() -> None:
    assert find_cycles(import_graph()) == []


def test_every_import_goes_down_or_sideways() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    package = tmp_path / "sassid"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text("def f():\n    from sassid.cli import main\n")
    (package / "cli.py").write_text("from sassid import train\n")
    graph = import_graph(package)
    assert graph["sassid.train"] == {"sassid.cli"}, "a lazy import counts"
    assert find_cycles(graph) == [["sassid.cli", "sassid.train"]]
    assert layer_of("sassid.cli") > layer_of("sassid.train")


def test_readme_names_every_layer_module() -> None:
    """The README's Structure list names every module of ``LAYERS``, so it cannot fall behind."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Structure") :]
    section = section[: section.index("`python benchmarks/structure.py`")]
    missing = [
        name
        for _, names in LAYERS
        for name in names
        if f"`{name}`" not in section and f"`{name}/`" not in section
    ]
    assert missing == []
