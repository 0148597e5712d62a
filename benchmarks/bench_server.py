"""Time ``gradlint server``'s answer to a one-file edit in a large project.

    python benchmarks/bench_server.py [PROJECT] [--files 2800] [--edits 20] [--imports N]

Without PROJECT, a synthetic project of --files Python files is written to a temporary
folder (copies of the fixtures in packages of 100, with a pyproject.toml); with --imports N
each module also imports the N modules before it in its package (a web of importers, as
real projects have). The server is
started as an editor starts it (``gradlint server`` on stdio, driven by pygls's own LSP
client); the benchmark opens one file, then sends --edits changes and measures, for each,
the time from the change to the diagnostics for that version, minus the debounce delay
the server waits for typing to pause. Prints the median and the worst.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from gradlint.server import DEBOUNCE_S

ROOT = Path(__file__).resolve().parent.parent


def synthetic_project(folder: Path, count: int, imports: int = 0) -> Path:
    fixtures = sorted((ROOT / "fixtures").glob("GL*/*.py"))
    (folder / "pyproject.toml").write_text("[tool.gradlint]\nextend-ignore = []\n", encoding="utf-8")
    for n in range(count):
        package = folder / f"pkg{n // 100:03d}"
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
        before = [f"module_{m:04d}" for m in range(max(n - imports, n - n % 100), n)]
        head = "".join(f"from pkg{n // 100:03d} import {name}  # noqa: F401\n" for name in before)
        text = fixtures[n % len(fixtures)].read_text(encoding="utf-8")
        (package / f"module_{n:04d}.py").write_text(head + text, encoding="utf-8")
    return folder


async def measure(project: Path, edits: int) -> list:
    files = sorted(p for p in project.rglob("*.py") if p.name != "__init__.py")
    target = files[len(files) // 2]
    text = target.read_text(encoding="utf-8")
    client = LanguageClient("bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        published.put_nowait((time.perf_counter(), params))

    await client.start_io(sys.executable, "-m", "gradlint", "server", cwd=str(project))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         root_uri=project.as_uri()))
    client.initialized(types.InitializedParams())
    uri = target.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await published.get()
    times = []
    for version in range(2, edits + 2):
        text += f"\nx_{version} = {version}\n"
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        while True:
            at, params = await published.get()
            if params.version == version:
                break
        times.append(at - sent - DEBOUNCE_S)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", nargs="?")
    parser.add_argument("--files", type=int, default=2800)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--imports", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(args.project) if args.project else synthetic_project(Path(scratch), args.files, args.imports)
        count = sum(1 for _ in project.rglob("*.py"))
        times = asyncio.run(measure(project, args.edits))
    print(f"{count} files; one-file edit -> diagnostics, after the {DEBOUNCE_S * 1000:.0f} ms debounce: "
          f"median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms "
          f"({len(times)} edits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
