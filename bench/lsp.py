"""The language server's re-check after an edit, per bundled template.

    python bench/lsp.py [--runs N]

For each template of templates/ (wall time, milliseconds, the median of N edits after one
warm-up; each edit appends a different comment, so the edited file is parsed every time):

* fresh  -- `editor.Workspace().check`: a new workspace each time, so the imported block
            files are parsed again (what an uncached server would do);
* cached -- the same check on one workspace: imported files come from its parse cache;
            also as CPU time (`time.process_time`), which a busy machine inflates less;
* stdio  -- through `archc lsp` with pygls's client: from sending `didChange` to the
            `publishDiagnostics` that answers it (JSON-RPC both ways included).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.client import BaseLanguageClient
from pygls.uris import from_fs_path

from archc import editor

ROOT = Path(__file__).resolve().parent.parent


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def in_process(path: Path, runs: int) -> tuple[float, float, float]:
    """Median milliseconds of a check with a fresh workspace, with a warm one, and the warm
    one's CPU time."""
    text = path.read_text(encoding="utf-8")
    kept = editor.Workspace()
    kept.check(str(path), text)  # warm-up: Lark's tables, the parse cache
    fresh, cached, cpu = [], [], []
    for i in range(runs):
        edited = f"{text}\n# edit {i}\n"
        start = time.perf_counter()
        editor.Workspace().check(str(path), edited)
        fresh.append(time.perf_counter() - start)
        start, start_cpu = time.perf_counter(), time.process_time()
        kept.check(str(path), edited + " ")
        cached.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return median_ms(fresh), median_ms(cached), median_ms(cpu)


async def over_stdio(paths: list[Path], runs: int) -> dict[Path, float]:
    """Median milliseconds from `didChange` to its diagnostics, per template."""
    client = BaseLanguageClient("bench", "1")
    arrived: asyncio.Queue = asyncio.Queue()

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: t.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(params)

    await client.start_io(sys.executable, "-m", "archc", "lsp", cwd=ROOT)
    await client.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities()))
    client.initialized(t.InitializedParams())
    found = {path: await _edits(client, arrived, path, runs) for path in paths}
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return found


async def _edits(client, arrived: asyncio.Queue, path: Path, runs: int) -> float:
    uri, text = from_fs_path(str(path)), path.read_text(encoding="utf-8")
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        t.TextDocumentItem(uri, "arch", 0, text)))
    await _answer(arrived, uri, 0)
    times = []
    for version in range(1, runs + 2):
        start = time.perf_counter()
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(version, uri),
            [t.TextDocumentContentChangeEvent_Type2(f"{text}\n# edit {version}\n")]))
        await _answer(arrived, uri, version)
        times.append(time.perf_counter() - start)
    return median_ms(times[1:])


async def _answer(arrived: asyncio.Queue, uri: str, version: int) -> None:
    while True:
        params = await asyncio.wait_for(arrived.get(), 60)
        if params.uri == uri and params.version == version:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    paths = sorted((ROOT / "templates").glob("*.arch"))
    stdio = asyncio.run(over_stdio(paths, args.runs))
    print("| template | fresh ms | cached ms | cached CPU ms | stdio ms |\n"
          "|---|---:|---:|---:|---:|")
    for path in paths:
        fresh, cached, cpu = in_process(path, args.runs)
        print(f"| {path.name} | {fresh:.1f} | {cached:.1f} | {cpu:.1f} | {stdio[path]:.1f} |")


if __name__ == "__main__":
    main()
