"""A `keras_layer` class name -> whether it names a layer class, read from source text with
`ast` (Keras's `keras/layers/__init__.py`, the user's module file), never by importing it: so
`archc check` can refuse a misspelt class while it imports no Keras.

What text cannot tell (a module that is not a `.py` file, a class defined by assignment) is
left to Keras at compile time: `problem` then says nothing.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

from .diagnostics import did_you_mean


@cache
def keras_layer_names() -> frozenset[str]:
    """The class names `keras.layers` exports (empty if Keras is not installed)."""
    spec = importlib.util.find_spec("keras")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    init = Path(next(iter(spec.submodule_search_locations))) / "layers" / "__init__.py"
    return frozenset(n for n in _exported(init) if n[:1].isupper())


def _exported(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    return {alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) for alias in node.names}


def _registered_classes(path: Path) -> dict[str, bool] | None:
    """The classes a module file defines, each with whether a decorator registers it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    return {node.name: any("register_keras_serializable" in ast.unparse(d)
                           for d in node.decorator_list)
            for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def problem(class_name: str, origin: str | None) -> tuple[str, str | None] | None:
    """What is wrong with a `keras_layer`'s class name, as (message, hint), or None when it
    names a layer or only Keras can tell. `origin` is the template file a `.py` path is
    relative to.

    >>> problem("no_such_file.py:Scale", None)[0]
    'no Python file no_such_file.py'
    """
    if ":" not in class_name:
        known = keras_layer_names()
        if not known or class_name in known:
            return None
        return (f"keras.layers has no layer class '{class_name}'",
                did_you_mean(class_name, sorted(known)))
    module, _, name = class_name.rpartition(":")
    if not module.endswith(".py"):
        return None
    path = Path(origin).parent / module if origin else Path(module)
    classes = _registered_classes(path) if path.is_file() else None
    if classes is None:
        return (f"no Python file {path}", None)
    if name not in classes:
        return (f"{module} has no layer class '{name}'", did_you_mean(name, sorted(classes)))
    if not classes[name]:
        return (f"{name} is not registered with Keras",
                "decorate it with @keras.saving.register_keras_serializable()")
    return None
