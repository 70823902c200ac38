"""`archc lsp`: pygls's own client talks to `python -m archc lsp` over stdio (one server for
the module): diagnostics with their ranges on open and change, hover, definition,
completion, symbols and formatting on a bundled template and on broken ones; the editor's
checks equal `archc check`'s on every invalid template of tests/bad.

A request sent after a notification is answered after it, so a document's diagnostics have
arrived once the request that follows its `didOpen` or `didChange` is answered.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as t
from pygls.lsp.client import BaseLanguageClient
from pygls.uris import from_fs_path

import archc
from archc import editor
from archc.cli import build_parser, cmd_lsp
from archc.diagnostics import render
from archc.fmt import format_source

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "squeezenet_se_auto.arch"
BLOCKS = ROOT / "templates" / "blocks"
BAD = ROOT / "tests" / "bad"

BROKEN = """\
template broken
input image [32, 32, 3]
graph {
  image -> conv2d(16, 3) -> maxpool2d(2)
}
"""


class Session:
    """A client over stdio to one `archc lsp` process, driven from synchronous tests."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.client = BaseLanguageClient("archc-tests", "1")
        self.diagnostics: dict[str, list[t.Diagnostic]] = {}
        self.versions: dict[str, int] = {}

        @self.client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(params: t.PublishDiagnosticsParams):
            self.diagnostics[params.uri] = params.diagnostics

        self.run(self.client.start_io(sys.executable, "-m", "archc", "lsp", cwd=ROOT))
        self.run(self.client.initialize_async(t.InitializeParams(
            capabilities=t.ClientCapabilities(), root_uri=from_fs_path(str(ROOT)))))
        self.client.initialized(t.InitializedParams())

    def run(self, coroutine, timeout: float = 30):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def open(self, path: Path, text: str | None = None) -> str:
        uri = from_fs_path(str(path))
        text = path.read_text(encoding="utf-8") if text is None else text
        self.versions[uri] = 1
        self.diagnostics.pop(uri, None)
        self.client.text_document_did_open(t.DidOpenTextDocumentParams(
            t.TextDocumentItem(uri, "arch", 1, text)))
        self.symbols(uri)  # answered after the didOpen: its diagnostics have arrived
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.diagnostics.pop(uri, None)
        self.client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(self.versions[uri], uri),
            [t.TextDocumentContentChangeEvent_Type2(text)]))
        self.symbols(uri)

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(t.DidCloseTextDocumentParams(
            t.TextDocumentIdentifier(uri)))

    def symbols(self, uri: str) -> list[t.DocumentSymbol]:
        return self.run(self.client.text_document_document_symbol_async(
            t.DocumentSymbolParams(t.TextDocumentIdentifier(uri))))

    def hover(self, uri: str, line: int, column: int) -> str | None:
        """The hover text at a 1-based position (as editors show them)."""
        found = self.run(self.client.text_document_hover_async(t.HoverParams(
            t.TextDocumentIdentifier(uri), t.Position(line - 1, column - 1))))
        return found.contents.value if found else None

    def definition(self, uri: str, line: int, column: int) -> t.Location | None:
        return self.run(self.client.text_document_definition_async(t.DefinitionParams(
            t.TextDocumentIdentifier(uri), t.Position(line - 1, column - 1))))

    def completion(self, uri: str, line: int, column: int) -> list[t.CompletionItem]:
        found = self.run(self.client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(uri), t.Position(line - 1, column - 1))))
        return found.items

    def formatting(self, uri: str) -> list[t.TextEdit] | None:
        return self.run(self.client.text_document_formatting_async(t.DocumentFormattingParams(
            t.TextDocumentIdentifier(uri), t.FormattingOptions(tab_size=2, insert_spaces=True))))

    def stop(self) -> None:
        self.run(self.client.shutdown_async(None))
        self.client.exit(None)
        self.run(self.client.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def lsp():
    session = Session()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def bundled(lsp) -> str:
    return lsp.open(TEMPLATE)


def column_of(path: Path, line: int, word: str) -> int:
    """The 1-based column of `word` on a 1-based line of `path`."""
    return path.read_text(encoding="utf-8").split("\n")[line - 1].index(word) + 1


def line_of(path: Path, start: str) -> int:
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(i for i, x in enumerate(lines, 1) if x.strip().startswith(start))


def span(d) -> tuple:
    r = d.range
    return (r.start.line, r.start.character, r.end.line, r.end.character)


# ---------------------------------------------------------------- diagnostics


def test_a_bundled_template_has_no_diagnostics(lsp, bundled):
    assert lsp.diagnostics[bundled] == []


def test_an_unknown_op_is_reported_over_its_name(lsp, tmp_path):
    uri = lsp.open(tmp_path / "broken.arch", BROKEN)
    [d] = lsp.diagnostics[uri]
    assert d.message.startswith("unknown op or block 'maxpool2d'")
    assert "did you mean 'max_pool2d'?" in d.message
    assert d.severity == t.DiagnosticSeverity.Error
    assert span(d) == (3, 28, 3, 37)  # line 4, `maxpool2d`, 0-based


def test_an_edit_rechecks(lsp, tmp_path):
    uri = lsp.open(tmp_path / "edited.arch", BROKEN)
    lsp.change(uri, BROKEN.replace("maxpool2d", "max_pool2d"))
    assert lsp.diagnostics[uri] == []
    lsp.change(uri, BROKEN.replace("conv2d(16, 3)", "conv2d(16, 3"))
    [d] = lsp.diagnostics[uri]
    assert d.range.start.line == 4 and d.message == "expected ')' or ',', found '}'"


def test_an_incremental_edit(lsp, tmp_path):
    uri = lsp.open(tmp_path / "incremental.arch", BROKEN)
    lsp.versions[uri] += 1
    lsp.client.text_document_did_change(t.DidChangeTextDocumentParams(
        t.VersionedTextDocumentIdentifier(lsp.versions[uri], uri),
        [t.TextDocumentContentChangeEvent_Type1(t.Range(t.Position(3, 31), t.Position(3, 31)),
                                                "_")]))  # maxpool2d -> max_pool2d
    lsp.symbols(uri)
    assert lsp.diagnostics[uri] == []


def test_several_errors_each_at_its_place(lsp, tmp_path):
    text = BROKEN.replace("conv2d(16, 3)", "conv2d(16, 3, paddding=same)")
    uri = lsp.open(tmp_path / "two.arch", text)
    found = sorted((d.range.start.line, d.range.start.character) for d in lsp.diagnostics[uri])
    assert found == [(3, 25), (3, 43)]  # `paddding=same`, `maxpool2d`


def test_faults_of_an_imported_file_in_it_and_on_the_import(lsp, tmp_path):
    (tmp_path / "lib.arch").write_text("block stem(width) {\n  conv2d(width, 3) -> relu6x\n}\n")
    main = tmp_path / "main.arch"
    main.write_text('template main\nimport "lib.arch"\ninput image [8, 8, 3]\n'
                    "graph { image -> stem(4) }\n")
    uri = lsp.open(main)
    [there] = lsp.diagnostics[from_fs_path(str(tmp_path / "lib.arch"))]
    assert span(there) == (1, 22, 1, 28) and "relu6x" in there.message
    [here] = lsp.diagnostics[uri]
    assert here.range.start.line == 1  # the import
    assert here.message.startswith("in imported lib.arch:2:23: unknown op or block 'relu6x'")


def test_a_syntax_error_in_an_imported_file(lsp, tmp_path):
    (tmp_path / "lib.arch").write_text("block stem(width) {\n  conv2d(width, 3 -> relu\n}\n")
    main = tmp_path / "main.arch"
    main.write_text('template main\nimport "lib.arch"\ninput image [8, 8, 3]\n'
                    "graph { image -> stem(4) }\n")
    uri = lsp.open(main)
    [there] = lsp.diagnostics[from_fs_path(str(tmp_path / "lib.arch"))]
    assert there.range.start.line == 2 and there.message.startswith("expected ')' or ','")
    assert lsp.diagnostics[uri][0].range.start.line == 1


def test_an_open_block_file_counts_for_its_importers(lsp, tmp_path):
    lib = tmp_path / "lib.arch"
    lib.write_text("block stem(width) {\n  conv2d(width, 3) -> relu\n}\n")
    main = tmp_path / "main.arch"
    main.write_text('template main\nimport "lib.arch"\ninput image [8, 8, 3]\n'
                    "graph { image -> stem(4) }\n")
    uri = lsp.open(main)
    assert lsp.diagnostics[uri] == []
    lib_uri = lsp.open(lib)
    lsp.change(lib_uri, "block stem(width) {\n  conv2d(width, 3) -> relu7\n}\n")  # unsaved
    lsp.symbols(uri)
    assert "relu7" in lsp.diagnostics[uri][0].message
    lsp.close(lib_uri)  # unsaved: the file on disk counts again
    lsp.symbols(uri)
    assert lsp.diagnostics[uri] == []


def test_fixing_an_open_block_file_clears_its_importer(lsp, tmp_path):
    lib = tmp_path / "lib.arch"
    lib.write_text("block stem(width) {\n  conv2d(width, 3 -> relu\n}\n")  # does not parse
    main = tmp_path / "main.arch"
    main.write_text('template main\nimport "lib.arch"\ninput image [8, 8, 3]\n'
                    "graph { image -> stem(4) }\n")
    uri = lsp.open(main)
    assert lsp.diagnostics[uri]
    lib_uri = lsp.open(lib)
    lsp.change(lib_uri, "block stem(width) {\n  conv2d(width, 3) -> relu\n}\n")
    lsp.symbols(uri)
    assert lsp.diagnostics[uri] == [] and lsp.diagnostics[lib_uri] == []
    lsp.close(lib_uri)


def test_navigation_while_the_text_does_not_parse(lsp, bundled, tmp_path):
    text = TEMPLATE.read_text(encoding="utf-8")
    uri = lsp.open(tmp_path / "typing.arch", text)
    lsp.change(uri, text + "\ngraph {\n  image -> conv2d(\n")  # being typed
    [d] = lsp.diagnostics[uri]
    assert d.range.start.line > text.count("\n")
    line = line_of(TEMPLATE, "-> conv2d(classes")
    found = lsp.definition(uri, line, column_of(TEMPLATE, line, "classes"))
    assert found.range.start.line == line_of(TEMPLATE, "param classes") - 1
    labels = [i.label for i in lsp.completion(uri, text.count("\n") + 3, 19)]
    assert labels[0] == "filters="


@pytest.mark.parametrize("name", sorted(p.stem for p in BAD.glob("*.arch")
                                        if p.stem not in ("binary_png", "invalid_utf8")))
def test_the_editor_reports_what_archc_check_reports(name, monkeypatch):
    """Every invalid template's errors, rendered, equal its `archc check` golden (the two
    files that are not UTF-8 never reach an editor as text)."""
    monkeypatch.chdir(ROOT)
    path = f"tests/bad/{name}.arch"
    text = (ROOT / path).read_bytes().decode("utf-8").removeprefix("\ufeff")
    analysis = editor.Workspace().check(path, text)
    sources = analysis.loaded.sources if analysis.loaded else {path: text}
    shown = [render(e, sources) for e in analysis.errors]
    if len(shown) > 1:
        shown.append(f"{len(shown)} errors")
    assert "\n".join(shown) + "\n" == (ROOT / path).with_suffix(".expected").read_text()


# ---------------------------------------------------------------- hover


def test_hover_on_an_op_stage(lsp, bundled):
    line = line_of(TEMPLATE, "-> conv2d(96")
    text = lsp.hover(bundled, line, column_of(TEMPLATE, line, "conv2d") + 2)
    node = archc.load("squeezenet_se_auto").resolve().graph.nodes["conv1"]
    assert "keras.layers.Conv2D" in text
    assert "`strides`: int_or_pair, default `(1, 1)`" in text
    assert "`filters`: int, required" in text
    assert f"`conv1`: output {node['shape']}, {node['params']:,} params" in text


def test_hover_on_a_block_stage(lsp, bundled):
    line = line_of(TEMPLATE, "fire_se(16")
    text = lsp.hover(bundled, line, column_of(TEMPLATE, line, "fire_se"))
    assert "**block** `fire_se(squeeze, expand)`" in text
    assert "A fire module, then perhaps an SE block, perhaps skipped." in text  # its comment
    assert "`group1/rep0/first`: output (7, 7, 128)" in text


def test_hover_on_a_hyperparameter(lsp, bundled):
    line = line_of(TEMPLATE, "-> optional use_se")
    text = lsp.hover(bundled, line, column_of(TEMPLATE, line, "use_se"))
    assert "hyperparameter (bool): values `false`, `true`, default `false`" in text
    assert "`group1/rep0/first/use_se`: active always" in text
    assert "`group1/rep1/first/use_se`: active when group1 = 2" in text
    text = lsp.hover(bundled, line, column_of(TEMPLATE, line, "choice(8"))
    assert "values `8`, `16`, `32`, default `16`" in text
    assert "active when group1/rep0/first/use_se = true" in text


def test_hover_on_a_repeat(lsp, bundled):
    line = line_of(TEMPLATE, "-> repeat group2")
    text = lsp.hover(bundled, line, column_of(TEMPLATE, line, "group2"))
    assert "hyperparameter (int): values `0`, `1`, `2`, default `1`" in text


def test_hover_on_a_broken_document_still_knows_the_ops(lsp, tmp_path):
    uri = lsp.open(tmp_path / "hover.arch", BROKEN.replace("}", ""))  # does not parse
    assert lsp.diagnostics[uri]
    assert "keras.layers.Conv2D" in lsp.hover(uri, 4, 13)
    assert lsp.hover(uri, 3, 2) is None  # `graph`: a keyword


# ---------------------------------------------------------------- definition


def test_definition_of_a_block_in_the_file(lsp, bundled):
    line = line_of(TEMPLATE, "fire_se(16")
    found = lsp.definition(bundled, line, column_of(TEMPLATE, line, "fire_se") + 1)
    block = line_of(TEMPLATE, "block fire_se")
    assert found.uri == bundled
    assert span(found) == (block - 1, 6, block - 1, 13)


def test_definition_of_an_imported_block(lsp, bundled):
    found = lsp.definition(bundled, line_of(TEMPLATE, "fire(squeeze"), 4)
    fire = BLOCKS / "fire.arch"
    assert found.uri == from_fs_path(str(fire))
    assert span(found)[:2] == (line_of(fire, "block fire") - 1, 6)


def test_definition_of_an_import(lsp, bundled):
    found = lsp.definition(bundled, line_of(TEMPLATE, 'import "blocks/se'), 10)
    assert found.uri == from_fs_path(str(BLOCKS / "se.arch"))


def test_definition_of_a_param(lsp, bundled):
    line = line_of(TEMPLATE, "-> conv2d(classes")
    found = lsp.definition(bundled, line, column_of(TEMPLATE, line, "classes"))
    param = line_of(TEMPLATE, "param classes")
    assert span(found) == (param - 1, 6, param - 1, 13)


def test_definition_of_a_bound_tensor_and_a_block_parameter(lsp):
    fire = BLOCKS / "fire.arch"
    uri = lsp.open(fire)
    line = line_of(fire, "concat(sq")
    found = lsp.definition(uri, line, column_of(fire, line, "sq"))
    assert span(found)[:2] == (line_of(fire, "sq =") - 1, 2)
    line = line_of(fire, "sq = conv2d")
    found = lsp.definition(uri, line, column_of(fire, line, "squeeze"))
    assert span(found)[:2] == (line_of(fire, "block fire") - 1, 11)  # `block fire(squeeze`


def test_definition_of_a_label(lsp, tmp_path):
    text = ("template t\ninput image [8, 8, 3]\ngraph {\n  image -> choice act default "
            "slow {\n    fast: relu | slow: conv2d(3, 1)\n  }\n}\n")
    uri = lsp.open(tmp_path / "labels.arch", text)
    assert lsp.diagnostics[uri] == []
    found = lsp.definition(uri, 4, 34)  # `default slow`
    assert span(found) == (4, 17, 4, 21)  # `slow:`


# ---------------------------------------------------------------- completion, symbols


def test_completion_of_keyword_arguments_inside_a_call(lsp, bundled):
    line = line_of(TEMPLATE, "-> conv2d(96")
    column = column_of(TEMPLATE, line, "activation=relu")  # after `strides=2, `
    labels = [i.label for i in lsp.completion(bundled, line, column)]
    assert labels[0] == "padding="  # filters and kernel_size are given by position
    assert not {"filters=", "kernel_size=", "strides="} & set(labels)
    assert labels.index("dilation_rate=") < labels.index("conv2d")


def test_completion_of_a_block_call_s_parameters(lsp, bundled):
    line = line_of(TEMPLATE, "fire_se(16")
    labels = [i.label for i in lsp.completion(bundled, line, column_of(TEMPLATE, line, "16"))]
    assert labels[:2] == ["squeeze=", "expand="]


def test_completion_of_ops_blocks_and_imported_names(lsp, bundled):
    line = line_of(TEMPLATE, "-> softmax")
    items = {i.label: i for i in lsp.completion(bundled, line, 6)}
    assert items["max_pool2d"].kind == t.CompletionItemKind.Function
    assert items["max_pool2d"].detail.startswith("MaxPooling2D")
    assert items["fire_se"].kind == items["fire"].kind == items["se"].kind \
        == t.CompletionItemKind.Class  # `fire` and `se` are imported
    assert items["fire"].detail == "block from fire.arch"
    assert "classes" in items and "filters=" not in items


def test_completion_of_the_files_an_import_may_name(lsp, bundled):
    line = line_of(TEMPLATE, 'import "blocks/se')
    items = lsp.completion(bundled, line, len('import "') + 1)
    assert [i.label for i in items] == sorted(f"blocks/{p.name}" for p in BLOCKS.glob("*.arch"))
    assert {i.kind for i in items} == {t.CompletionItemKind.File}  # not the templates


def test_document_symbols(lsp, bundled):
    found = {s.name: s for s in lsp.symbols(bundled)}
    assert list(found) == ["squeezenet_se_auto", "blocks/fire.arch", "blocks/se.arch",
                           "classes", "conv1_stride", "image", "fire_se", "graph", "train"]
    assert found["squeezenet_se_auto"].kind == t.SymbolKind.Module
    assert found["fire_se"].kind == t.SymbolKind.Class
    assert [c.name for c in found["fire_se"].children] == ["use_se", "se_skip"]
    assert [c.name for c in found["graph"].children] == ["group1", "bypass", "pool1",
                                                         "group2", "bypass", "pool2"]
    assert all(c.kind == t.SymbolKind.TypeParameter for c in found["graph"].children)


def test_the_server_imports_no_tensorflow_and_check_no_server():
    code = ("import sys; from pathlib import Path; from archc.cli import main; "
            "rc = main(['check', 'squeezenet_auto']); light = 'pygls' not in sys.modules; "
            "from archc import editor, hover, lsp, navigate; "
            f"p = {str(TEMPLATE)!r}; a = editor.Workspace().check(p, Path(p).read_text()); "
            "hover.hover(a, 22, 8); navigate.completions(a, 22, 18); navigate.symbols(a); "
            "print(rc, light, sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.splitlines()[-1] == "0 True []"


# ---------------------------------------------------------------- formatting


def test_formatting_replaces_the_whole_document(lsp, tmp_path):
    text = "template t  # tiny\ninput image [8,8,3]\ngraph{image->conv2d(4,3)\n->relu}\n"
    uri = lsp.open(tmp_path / "messy.arch", text)
    [edit] = lsp.formatting(uri)
    assert edit.new_text == format_source(text) != text
    assert "# tiny" in edit.new_text
    assert span(edit) == (0, 0, 4, 0)  # from the start to after the last newline


def test_formatting_a_formatted_or_broken_document(lsp, bundled, tmp_path):
    assert lsp.formatting(bundled) == []  # the bundled templates are kept formatted
    uri = lsp.open(tmp_path / "unparsable.arch", BROKEN.replace("}", ""))
    assert lsp.formatting(uri) is None


def test_columns_are_counted_in_utf16_units(lsp, tmp_path):
    """LSP counts a character outside the Basic Multilingual Plane as two units."""
    line = '  image -> dense(2, activation="\U0001f642") -> relu7'
    uri = lsp.open(tmp_path / "emoji.arch", BROKEN.replace(BROKEN.split("\n")[3], line))
    unknown = next(d for d in lsp.diagnostics[uri] if "relu7" in d.message)
    start = line.index("relu7") + 1  # the emoji is one character and two units
    assert span(unknown) == (3, start, 3, start + 5)
    fixed = line.replace("relu7", "softmax")
    lsp.change(uri, BROKEN.replace(BROKEN.split("\n")[3], fixed))
    assert "Softmax" in lsp.hover(uri, 4, len(fixed) + 2)  # just after `softmax`, in units


def test_the_import_path_reaches_the_checks(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "stem.arch").write_text("block stem() {\n  conv2d(4, 3)\n}\n")
    text = 'template t\nimport "stem.arch"\ninput image [8, 8, 3]\ngraph { image -> stem }\n'
    path = str(tmp_path / "main.arch")
    [missing] = editor.Workspace().check(path, text).errors
    assert missing.message == "cannot find imported file 'stem.arch'"
    assert editor.Workspace([tmp_path / "lib"]).check(path, text).errors == []


def test_archc_lsp_on_the_command_line(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["lsp", "--help"])
    usage = capsys.readouterr().out
    assert usage.startswith("usage: archc lsp") and "--import-path DIR" in usage
    args = build_parser().parse_args(["lsp", "--import-path", "lib"])
    assert args.run is cmd_lsp and args.import_path == ["lib"]
