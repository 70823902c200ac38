"""The package's layout (docs/architecture.md): imports point down the pipeline, with `cli`
on top; no import cycle; `archc check` imports no TensorFlow; every module's doctests run.

Imports are read from the source with `ast`, module-level and function-level alike, so a
dependency hidden inside a function still counts.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "compiler"

# Top to bottom: a module may import modules of lower rows, and of its own row (a package,
# or modules that are parts of one stage) as long as that makes no cycle. Nobody imports
# the package top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", "__main__"),                                 # the package top (`archc.load`); -m
    ("cli",),
    ("lsp",),                                         # the language server (pygls)
    ("hover", "navigate"),                            # an editor's questions, answered
    ("editor",),                                      # a document's text, checked, indexed
    ("search",),                                      # tuners, oracles, results, report, plot
    ("draw",),                                        # DOT for templates and architectures
    ("data",),                                        # data adapters
    ("pipeline",),                                    # chains the stages; the public Template
    ("hypermodel",),                                  # template -> keras_tuner.HyperModel
    ("lower",),                                       # concrete graph -> keras.Model
    ("factories",),                                   # registry entries -> Keras objects
    ("identity", "freeze"),                           # concrete -> its hash; -> .arch text
    ("resolve",),                                     # template graph + values -> concrete
    ("space",),                                       # template graph -> kt.HyperParameters
    ("graph", "structures", "expressions", "scope"),  # AST -> template graph (the expander)
    ("imports",),                                     # a file and the files it imports
    ("fmt",),                                         # text -> text in the canonical layout
    ("highlight",),                                   # text -> Pygments tokens (no parser)
    ("parse", "lalr"),                                # text -> AST; lalr.py: Lark standalone parser
    ("ops",),                                         # the op registry: one entry an op
    ("vocab",),                                       # activations, losses, optimizers...
    ("arguments",),                                   # argument specs, binding, value checks
    ("shapes", "layers", "ssd", "keras_names"),       # shape rules; archc's own Keras layers
    ("hyper", "values"),                              # hyperparameter specs; symbolic values
    ("ast", "text", "kinds", "diagnostics"),          # the vocabulary every stage shares
)


def module_names() -> dict[str, Path]:
    """Every module of the package by its dotted name relative to `archc` ("" for the top)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _target(name: str, level: int, module: str | None, package: str) -> str | None:
    if level:
        base = package.split(".") if package else []
        base = base[:len(base) - (level - 1)]
        return ".".join([*base, *([module] if module else [])])
    if module == "archc" or (module or "").startswith("archc."):
        return module[len("archc."):] if module != "archc" else ""
    return None


def _known(name: str, modules: dict) -> str | None:
    while name not in modules and name:
        name = name.rpartition(".")[0]
    return name if name in modules else None


def imports_of(name: str, path: Path, modules: dict) -> set[str]:
    """The package modules that module `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = _target(name, node.level, node.module, package)
            if base is None:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}".strip(".")
                found.add(_known(sub if sub in modules else base, modules))
        elif isinstance(node, ast.Import):
            found.update(_known(t, modules) for a in node.names
                         if (t := _target(name, 0, a.name, package)) is not None)
    return {m for m in found if m is not None and m != name}


def import_graph() -> nx.DiGraph:
    modules = module_names()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in imports_of(name, path, modules))
    return graph


def layer_of(module: str) -> int | None:
    """The row of LAYERS that places `module` (by its name or the package holding it)."""
    head = module.split(".")[0]
    for rank, row in enumerate(LAYERS):
        if module in row or head in row and head:
            return rank
    return None


def back_edges(graph: nx.DiGraph) -> list[str]:
    """Every import that does not point down LAYERS, as `importer -> imported` lines."""
    bad = []
    for importer, imported in graph.edges:
        a, b = layer_of(importer), layer_of(imported)
        if imported == "" or a is not None and b is not None and b < a:
            bad.append(f"{importer or 'archc'} -> {imported or 'archc'}")
    return sorted(bad)


def test_every_module_has_a_place_in_the_layers():
    unplaced = sorted(m for m in module_names() if layer_of(m) is None)
    assert not unplaced, f"add these modules to LAYERS in tests/test_layout.py: {unplaced}"


def test_imports_have_no_cycle():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_imports_point_down_the_pipeline():
    assert back_edges(import_graph()) == []


def test_nothing_imports_cli_or_the_package_top():
    graph = import_graph()
    assert set(graph.predecessors("cli")) <= {"__main__"}
    assert list(graph.predecessors("")) == []


def test_a_back_edge_is_caught():
    """The checks above can fail: an added import from an early stage up to a later one."""
    graph = import_graph()
    graph.add_edge("space", "cli")
    graph.add_edge("parse", "pipeline")
    assert back_edges(graph) == ["parse -> pipeline", "space -> cli"]
    graph.add_edge("pipeline", "parse")
    graph.add_edge("parse", "pipeline")
    assert any(set(c) == {"parse", "pipeline"} for c in nx.simple_cycles(graph))


def test_imports_inside_functions_are_counted(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from .lower import lower\n    from . import cli\n")
    assert imports_of("space", source, module_names()) == {"lower", "cli"}


def test_archc_check_imports_no_tensorflow():
    code = ("import sys; from archc.cli import main; "
            "rc = main(['check', 'squeezenet_se_auto', 'mobilenetv2_ssd_auto']); "
            "print(rc, sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "0 []"


@pytest.mark.parametrize("name", sorted(module_names()))
def test_doctests(name):
    module = importlib.import_module("archc" + (f".{name}" if name else ""))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
