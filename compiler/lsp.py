"""`archc lsp`: LSP requests over stdio (pygls) -> `editor.py`'s checks and `hover.py`'s and
`navigate.py`'s answers, as LSP types.

Documents are checked on open and on every change, the way `archc check` checks a file;
the faults of an imported file are published in that file and on the import that brings it
in. Hover, definition, completion and the outline read the last check; formatting is
`archc fmt`'s (one edit replacing the whole document). Never imports TensorFlow: the op
table's Keras class names are data.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lsprotocol import types as lsp
from pygls.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from . import editor, navigate
from .diagnostics import ArchError, SourcePos, lines_of
from .fmt import format_source
from .hover import hover as hover_text
from .parse import read_source

KINDS = {"op": lsp.CompletionItemKind.Function, "block": lsp.CompletionItemKind.Class,
         "argument": lsp.CompletionItemKind.Property, "name": lsp.CompletionItemKind.Variable,
         "keyword": lsp.CompletionItemKind.Keyword, "file": lsp.CompletionItemKind.File}
SYMBOLS = {"template": lsp.SymbolKind.Module, "import": lsp.SymbolKind.File,
           "param": lsp.SymbolKind.Constant, "input": lsp.SymbolKind.Variable,
           "hyperparameter": lsp.SymbolKind.TypeParameter, "block": lsp.SymbolKind.Class,
           "graph": lsp.SymbolKind.Namespace, "train": lsp.SymbolKind.Object}


class ArchServer(LanguageServer):
    """The server: pygls's LanguageServer with a checked `Analysis` per open document."""

    def __init__(self):
        super().__init__("archc", "1")  # incremental sync: pygls applies the edits
        self.checker = editor.Workspace()
        self.analyses: dict[str, editor.Analysis] = {}  # uri -> the last check
        self.published: dict[str, set[str]] = {}  # uri -> the uris its check published to

    def recheck(self, uri: str) -> None:
        """Check the document and publish its problems; then the other open documents that
        import it (or failed on it), which see its unsaved text."""
        analysis = self._check(uri)
        for other, a in list(self.analyses.items()):
            if analysis and other != uri and _depends(a, analysis.path):
                self._check(other)

    def _check(self, uri: str) -> editor.Analysis | None:
        document = self.workspace.get_text_document(uri)
        path = document.path or uri
        try:
            analysis = self.checker.check(path, document.source, self.analyses.get(uri))
        except Exception as exc:  # noqa: BLE001 - a fault of archc's must not stop the server
            logging.exception("checking %s", uri)
            self.show_message_log(f"archc: internal error checking {path}: "
                                  f"{type(exc).__name__}: {exc}", lsp.MessageType.Error)
            return None
        self.analyses[uri] = analysis
        self._publish(uri, analysis, document.version)
        return analysis

    def _publish(self, uri: str, analysis: editor.Analysis, version) -> None:
        found = {_uri(file, uri, analysis): errors
                 for file, errors in editor.problems(analysis).items()}
        for stale in self.published.get(uri, set()) - set(found):
            self.publish_diagnostics(stale, [])
        codec = self.workspace.position_codec
        for target, errors in found.items():
            lines = _lines_of(analysis, target, uri)
            self.publish_diagnostics(target, [diagnostic(e, lines, codec) for e in errors],
                                     version if target == uri else None)
        self.published[uri] = set(found)

    def forget(self, uri: str) -> None:
        """A closed document: its diagnostics go, and the open documents that import it
        read its file again."""
        analysis = self.analyses.pop(uri, None)
        for target in self.published.pop(uri, set()):
            self.publish_diagnostics(target, [])
        if analysis is None:
            return
        self.checker.close(analysis.path)
        for other, a in list(self.analyses.items()):
            if _depends(a, analysis.path):
                self._check(other)


def _depends(a: editor.Analysis, path: str) -> bool:
    """Whether the document `a` read the file `path`, or failed on it."""
    files = set(a.loaded.sources if a.loaded else ()) | {e.pos.file for e in a.errors if e.pos}
    wanted = Path(path).resolve()
    return any(Path(f).resolve() == wanted for f in files - {a.path})


def _uri(file: str, uri: str, analysis: editor.Analysis) -> str:
    return uri if file == analysis.path else from_fs_path(str(Path(file).resolve()))


def _lines_of(analysis: editor.Analysis, target: str, uri: str) -> list[str]:
    """The lines of the document, or of another file it reads (as loaded, else as the
    editor or the disk holds it)."""
    if target == uri:
        return analysis.index.lines
    path = to_fs_path(target)
    sources = analysis.loaded.sources if analysis.loaded else {}
    text = next((t for f, t in sources.items() if str(Path(f).resolve()) == path), None)
    if text is None and analysis.cache is not None:
        text = analysis.cache.buffers.get(path)
    if text is None:
        try:
            text = read_source(path)
        except ArchError:
            text = ""
    return lines_of(text)


def diagnostic(error: ArchError, lines: list[str], codec: PositionCodec) -> lsp.Diagnostic:
    """An error as an LSP diagnostic over its span (or the name at its position)."""
    message = error.message + (f"\nhint: {error.hint}" if error.hint else "")
    severity = (lsp.DiagnosticSeverity.Warning if error.kind == "warning"
                else lsp.DiagnosticSeverity.Error)
    return lsp.Diagnostic(to_range(error.pos, lines, codec), message, severity,
                          source="archc", code=type(error).__name__)


def to_range(pos: SourcePos | None, lines: list[str], codec: PositionCodec) -> lsp.Range:
    """A 1-based span (columns in characters) -> a 0-based LSP range in the client's units
    (`codec`, UTF-16 unless negotiated); a bare position spans the word there (at least one
    character), a whole-file position (line 0) the first line."""
    if pos is None or pos.line == 0:
        span = lsp.Range(lsp.Position(0, 0), lsp.Position(0, len(lines[0]) if lines else 0))
    elif pos.end_line and (pos.end_line, pos.end_column) > (pos.line, pos.column):
        span = lsp.Range(lsp.Position(pos.line - 1, pos.column - 1),
                         lsp.Position(pos.end_line - 1, pos.end_column - 1))
    else:
        line = lines[pos.line - 1] if pos.line <= len(lines) else ""
        match = editor.WORD.match(line, pos.column - 1)
        end = match.end() if match else pos.column
        span = lsp.Range(lsp.Position(pos.line - 1, pos.column - 1),
                         lsp.Position(pos.line - 1, end))
    return codec.range_to_client_units(lines, span) if span.end.line < len(lines) else span


def at(ls: ArchServer, params) -> tuple[int, int]:
    """An LSP position (in the client's units) -> the 1-based line and column (in
    characters) of `SourcePos`."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    position = document.position_codec.position_from_client_units(document.lines,
                                                                   params.position)
    return position.line + 1, position.character + 1


server = ArchServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ArchServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.recheck(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: ArchServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.recheck(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.forget(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: ArchServer, params: lsp.HoverParams) -> lsp.Hover | None:
    analysis = ls.analyses.get(params.text_document.uri)
    found = analysis and hover_text(analysis, *at(ls, params))
    if not found:
        return None
    markdown, span = found
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, markdown),
                     to_range(span, analysis.index.lines, ls.workspace.position_codec))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: ArchServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    analysis = ls.analyses.get(params.text_document.uri)
    pos = analysis and navigate.definition(analysis, *at(ls, params))
    if not pos:
        return None
    uri = _uri(pos.file, params.text_document.uri, analysis)
    lines = _lines_of(analysis, uri, params.text_document.uri) if pos.line else []
    return lsp.Location(uri, to_range(pos, lines, ls.workspace.position_codec))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                lsp.CompletionOptions(trigger_characters=["(", ",", ">"]))
def completion(ls: ArchServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    analysis = ls.analyses.get(params.text_document.uri)
    items = navigate.completions(analysis, *at(ls, params)) if analysis else []
    return lsp.CompletionList(is_incomplete=False, items=[
        lsp.CompletionItem(c.label, kind=KINDS[c.kind], detail=c.detail,
                           insert_text=c.insert, sort_text=f"{i:04d}")
        for i, c in enumerate(items)])


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: ArchServer, params: lsp.DocumentSymbolParams) -> list:
    analysis = ls.analyses.get(params.text_document.uri)
    if analysis is None:
        return []
    codec = ls.workspace.position_codec
    return [_symbol(s, analysis.index.lines, codec) for s in navigate.symbols(analysis)]


def _symbol(s: navigate.Symbol, lines: list[str], codec: PositionCodec) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(s.name, SYMBOLS[s.kind], to_range(s.pos, lines, codec),
                              to_range(s.name_pos, lines, codec), detail=s.detail or None,
                              children=[_symbol(c, lines, codec) for c in s.children])


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: ArchServer, params: lsp.DocumentFormattingParams) -> list | None:
    """The document in `archc fmt`'s layout, as one edit of the whole text; none when it is
    formatted already, and no answer when it does not parse (its diagnostics say why)."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    try:
        formatted = format_source(document.source, document.path or document.uri)
    except ArchError:
        return None
    if formatted == document.source:
        return []
    return [lsp.TextEdit(whole(document.source, document.position_codec), formatted)]


def whole(source: str, codec: PositionCodec) -> lsp.Range:
    """The range of a whole text, its end in the client's units."""
    lines = lines_of(source)
    end = codec.client_num_units(lines[-1])
    return lsp.Range(lsp.Position(0, 0), lsp.Position(len(lines) - 1, end))


def serve(import_path=()) -> int:
    """Serve on stdin and stdout until the client says exit; `import_path`: folders imports
    may name files in (`--import-path`)."""
    logging.basicConfig(level=logging.WARNING)  # on stderr: stdout carries the protocol
    server.checker = editor.Workspace(import_path)
    server.start_io(sys.stdin.buffer, sys.stdout.buffer)
    return 0
