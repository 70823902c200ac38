"""Loading a template file with the block files it imports (transitively): paths, cycles,
duplicate blocks. Parsing itself is parse.py's.

An import is looked up on the import path, and only there: the importing file's folder, the
main template's folder (and below), the bundled templates, and the folders given as
`import_path` (`--import-path DIR`). An absolute path, a `..` that leaves those folders, or a
symbolic link that points outside them is refused; so is any file that is not an `.arch`
template, whose content is never read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from . import ast, ops
from .diagnostics import DuplicateName, ImportErr, StructureError
from .parse import parse_file


@dataclass
class Loaded:
    main: ast.Module
    blocks: dict[str, ast.BlockDecl]
    sources: dict[str, str]
    # how imported files are read and parsed: a language server passes a cached one
    parse_import: Callable[[Path], ast.Module] = field(default=parse_file, repr=False,
                                                       compare=False)


def templates_dir() -> Path:
    """The bundled templates/ directory (installed package data or the source tree)."""
    try:
        return Path(str(resources.files("archc.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def load(path: str | Path, import_path: tuple[str | Path, ...] = (),
         main: ast.Module | None = None,
         parse_import: Callable[[Path], ast.Module] = parse_file) -> Loaded:
    """Parse a template file and, transitively, the block files it imports.

    Args:
        path: the main template file.
        import_path: further folders that imports may name files in (besides the main file's
            folder and the bundled templates).
        main: the main file already parsed (an editor's unsaved buffer), else it is read.
        parse_import: reads and parses an imported file (default `parse.parse_file`).
    Raises:
        ImportErr: an import outside the import path, missing, not an .arch file, or a cycle.
    """
    main = main or parse_file(path)
    loaded = Loaded(main, {}, {main.path: main.source}, parse_import)
    roots = search_roots(path, import_path)
    _load_imports(main, loaded, [str(Path(main.path).resolve())], roots)
    return loaded


def search_roots(main: str | Path, import_path=()) -> tuple[Path, ...]:
    """The folders imports may reach (resolved): the main file's, each of `import_path`,
    the bundled templates."""
    folders = (Path(main).parent, *(Path(p) for p in import_path), templates_dir())
    return tuple(dict.fromkeys(f.resolve() for f in folders))


def _load_imports(module: ast.Module, loaded: Loaded, stack: list[str], roots) -> None:
    for decl in module.declarations:
        if isinstance(decl, ast.BlockDecl):
            _add_block(decl, loaded)
        elif isinstance(decl, ast.Import):
            _load_import(decl, module, loaded, stack, roots)


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


def target_of(decl: ast.Import, module: ast.Module, main: str | Path,
              import_path=()) -> Path | None:
    """The file an import in `module` names (resolved) for the template `main`, or None."""
    try:
        return _resolve_import(decl, module, search_roots(main, import_path))
    except ImportErr:
        return None


def _inside(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _resolve_import(decl: ast.Import, module: ast.Module, roots) -> Path | None:
    """The first candidate on the import path that is a file inside a root; None if none.

    Raises:
        ImportErr: an absolute path, or a path that is not an .arch file.
    """
    given = PurePosixPath(decl.path.replace("\\", "/"))
    if given.is_absolute() or Path(decl.path).is_absolute() or Path(decl.path).drive:
        raise ImportErr(f"import paths are relative, found the absolute path '{decl.path}'",
                        decl.pos, _IMPORT_PATH_HINT)
    if given.suffix != ".arch":
        raise ImportErr(f"expected an .arch file to import, found '{decl.path}'", decl.pos)
    here = Path(module.path).parent.resolve()
    escaped = False
    for base in (here, *roots):
        candidate = (base / decl.path).resolve()
        if not _inside(candidate, roots):
            escaped = escaped or candidate.exists()
            continue
        if candidate.is_file():
            return candidate
    if escaped:
        raise ImportErr(f"'{decl.path}' is outside the import path", decl.pos, _IMPORT_PATH_HINT)
    return None


_IMPORT_PATH_HINT = ("imports are found in the template's folder (and below), the bundled "
                     "templates, and folders given with --import-path DIR")


def _load_import(decl: ast.Import, module: ast.Module, loaded: Loaded, stack: list[str],
                 roots) -> None:
    target = _resolve_import(decl, module, roots)
    if target is None:
        raise ImportErr(f"cannot find imported file '{decl.path}'", decl.pos,
                        f"paths are relative to {Path(module.path).parent or '.'} "
                        "or to the bundled templates/ directory")
    key = str(target)
    if key in stack:
        cycle = " -> ".join(Path(p).name for p in stack[stack.index(key):] + [key])
        raise ImportErr(f"import cycle: {cycle}", decl.pos)
    if any(str(Path(p).resolve()) == key for p in loaded.sources):
        return
    imported = loaded.parse_import(_shown_path(decl, module, target))
    loaded.sources[imported.path] = imported.source
    for d in imported.declarations:
        if not isinstance(d, ast.BlockDecl | ast.Import):
            raise StructureError("an imported file may hold only blocks and imports, found "
                                 f"'{type(d).__name__.replace('Decl', '').lower()}'", d.pos,
                                 f"imported from {decl.pos}")
    _load_imports(imported, loaded, stack + [key], roots)


def _shown_path(decl: ast.Import, module: ast.Module, target: Path) -> Path:
    """The path messages name the imported file by: beside the importer as written, else the
    resolved one."""
    beside = Path(module.path).parent / decl.path
    return beside if beside.resolve() == target else target
