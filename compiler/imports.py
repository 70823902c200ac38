"""Loading a template file with the block files it imports (transitively): paths, cycles,
duplicate blocks. Parsing itself is parse.py's."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import ast, ops
from .diagnostics import DuplicateName, ImportErr, StructureError
from .parse import parse_file


@dataclass
class Loaded:
    main: ast.Module
    blocks: dict[str, ast.BlockDecl]
    sources: dict[str, str]


def templates_dir() -> Path:
    """The bundled templates/ directory (installed package data or the source tree)."""
    try:
        return Path(str(resources.files("archc.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def load(path: str | Path) -> Loaded:
    """Parse a template file and, transitively, the block files it imports."""
    main = parse_file(path)
    loaded = Loaded(main, {}, {main.path: main.source})
    _load_imports(main, loaded, [str(Path(main.path).resolve())])
    return loaded


def _load_imports(module: ast.Module, loaded: Loaded, stack: list[str]) -> None:
    for decl in module.declarations:
        if isinstance(decl, ast.BlockDecl):
            _add_block(decl, loaded)
        elif isinstance(decl, ast.Import):
            _load_import(decl, module, loaded, stack)


def _add_block(decl: ast.BlockDecl, loaded: Loaded) -> None:
    first = loaded.blocks.get(decl.name)
    if first is not None and first is not decl:
        if first.pos.file != decl.pos.file or first.pos != decl.pos:
            raise DuplicateName(f"block '{decl.name}' is defined twice", decl.pos,
                                f"first defined at {first.pos}")
    if decl.name in ops.OPS:
        raise DuplicateName(f"block '{decl.name}' has the name of an op", decl.pos,
                            "choose another name; ops cannot be redefined")
    loaded.blocks[decl.name] = decl


def _resolve_import(decl: ast.Import, module: ast.Module) -> Path | None:
    here = Path(module.path).parent
    for base in (here, templates_dir()):
        candidate = base / decl.path
        if candidate.is_file():
            return candidate
    return None


def _load_import(decl: ast.Import, module: ast.Module, loaded: Loaded, stack: list[str]) -> None:
    target = _resolve_import(decl, module)
    if target is None:
        raise ImportErr(f"cannot find imported file '{decl.path}'", decl.pos,
                        f"paths are relative to {Path(module.path).parent or '.'} "
                        "or to the bundled templates/ directory")
    key = str(target.resolve())
    if key in stack:
        cycle = " -> ".join(Path(p).name for p in stack[stack.index(key):] + [key])
        raise ImportErr(f"import cycle: {cycle}", decl.pos)
    if any(str(Path(p).resolve()) == key for p in loaded.sources):
        return
    imported = parse_file(target)
    loaded.sources[imported.path] = imported.source
    for d in imported.declarations:
        if not isinstance(d, ast.BlockDecl | ast.Import):
            raise StructureError("an imported file may hold only blocks and imports, found "
                                 f"'{type(d).__name__.replace('Decl', '').lower()}'", d.pos,
                                 f"imported from {decl.pos}")
    _load_imports(imported, loaded, stack + [key])
