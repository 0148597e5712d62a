"""``gradlint server`` end to end: pygls's own LSP client talks to the real server over stdio."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from conftest import EVAL_BARE, FIXTURES, MISC, line_of, run_env, write

types = pytest.importorskip("lsprotocol.types", reason="pip install pygls (in the test extra)")
client_module = pytest.importorskip("pygls.lsp.client", reason="pip install pygls (in the test extra)")

from gradlint.server import FIX_ALL, _replace_edit  # noqa: E402

UNICODE = "import torch\ns = '😀😀'; x = torch.randn(3, requires_grad=True)\ny = x * 2; print(y.grad)\n"
TIMEOUT = 30

# What VS Code announces for what the server uses: UTF-16 positions, Markdown hovers,
# code action literals with kinds, versioned diagnostics.
CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    text_document=types.TextDocumentClientCapabilities(
        hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(
                    value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll])))))


class Session:
    """A running server and a client, driven from synchronous tests on one event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.client = client_module.LanguageClient("gradlint-tests", "1")
        self.published: dict = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published.setdefault(params.uri, asyncio.Queue()).put_nowait(params)

        self.run(self._start())

    def run(self, coroutine):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, TIMEOUT))

    async def _start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "gradlint", "server", env=run_env(), cwd=str(self.root))
        await self.client.initialize_async(types.InitializeParams(capabilities=CAPABILITIES,
                                                                  root_uri=self.root.as_uri()))
        self.client.initialized(types.InitializedParams())

    def close(self) -> None:
        async def stop():
            await self.client.shutdown_async(None)
            self.client.exit(None)
            await self.client.stop()

        try:
            self.run(stop())
        finally:
            self.loop.close()

    def next_published(self, uri: str) -> types.PublishDiagnosticsParams:
        async def get():
            return await self.published.setdefault(uri, asyncio.Queue()).get()

        return self.run(get())

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    def change(self, uri: str, version: int, text: str) -> None:
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    def code_actions(self, uri: str, diagnostic, kinds) -> list:
        return self.run(self.client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic] if kinds != [FIX_ALL] else [], only=kinds))))

    def hover(self, uri: str, position: types.Position):
        return self.run(self.client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri), position=position)))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One server for the module: each test opens its own files (a start costs a second)."""
    root = tmp_path_factory.mktemp("workspace")
    write(root, "pyproject.toml", '[tool.gradlint]\ndocs-url = "https://docs.example.org/{code}.html"\n'
                                  '[tool.gradlint.per-file-ignores]\n"quiet/*" = ["GL2"]\n')
    running = Session(root)
    yield running
    running.close()


def test_diagnostics_on_open_change_and_save(session):
    path = write(session.root, "evaluate.py", EVAL_BARE)
    uri = session.open(path, EVAL_BARE)
    found = session.next_published(uri).diagnostics
    assert sorted(d.code for d in found) == ["GL101", "GL201"]
    gl101 = next(d for d in found if d.code == "GL101")
    anchor = line_of(EVAL_BARE, "out = model(x)") - 1
    assert (gl101.range.start.line, gl101.range.start.character, gl101.range.end.character) == (anchor, 14, 22)
    assert gl101.severity == types.DiagnosticSeverity.Error and gl101.source == "gradlint"
    assert "\nhelp: call `model.eval()` first" in gl101.message
    assert gl101.code_description.href == "https://docs.example.org/GL101.html"  # docs-url from pyproject

    # Three quick edits: one lint, once typing pauses, for the last text.
    fixed = EVAL_BARE.replace("def evaluate(model, loader):\n", "@torch.no_grad()\ndef evaluate(model, loader):\n")
    for version, text in enumerate([EVAL_BARE + "\n", EVAL_BARE + "\n\n", fixed], start=2):
        session.change(uri, version, text)
    published = session.next_published(uri)
    assert published.version == 4  # nothing was published for versions 2 and 3
    assert [d.code for d in published.diagnostics] == ["GL101"]
    path.write_text(fixed)
    session.client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri)))
    assert [d.code for d in session.next_published(uri).diagnostics] == ["GL101"]


def test_settings_per_file_ignores_apply(session):
    path = write(session.root, "quiet/evaluate.py", EVAL_BARE)
    uri = session.open(path, EVAL_BARE)
    assert [d.code for d in session.next_published(uri).diagnostics] == ["GL101"]  # GL2 ignored under quiet/


def test_quick_fix_per_finding_and_fix_all(session):
    path = write(session.root, "misc.py", MISC)
    uri = session.open(path, MISC)
    found = session.next_published(uri).diagnostics
    assert sorted(d.code for d in found) == ["GL102", "GL202", "GL302", "GL401"]
    gl102 = next(d for d in found if d.code == "GL102")
    (action,) = session.code_actions(uri, gl102, [types.CodeActionKind.QuickFix])
    assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
    assert action.title.startswith("GL102:")
    (edit,) = action.edit.changes[uri]
    assert _apply(MISC, edit) == MISC.replace("model.eval\n", "model.eval()\n")

    gl401 = next(d for d in found if d.code == "GL401")
    (unsafe,) = session.code_actions(uri, gl401, [types.CodeActionKind.QuickFix])
    assert unsafe.title.endswith("(unsafe)") and not unsafe.is_preferred
    assert "y.retain_grad()" in _apply(MISC, unsafe.edit.changes[uri][0])

    (fix_all,) = session.code_actions(uri, gl102, [FIX_ALL])
    fixed = _apply(MISC, fix_all.edit.changes[uri][0])
    assert "model.eval()" in fixed and "with torch.no_grad():" in fixed and "y.retain_grad()" not in fixed


def test_hover_shows_the_rule_page(session):
    text = MISC.replace("print(y.grad)", "print(y.grad)  # noqa: GL401")
    path = write(session.root, "hover.py", text)
    uri = session.open(path, text)
    found = session.next_published(uri).diagnostics
    gl102 = next(d for d in found if d.code == "GL102")
    hover = session.hover(uri, gl102.range.start)
    assert hover.contents.value.startswith("# GL102: mode-method-not-called")
    assert "## Why is this bad?" in hover.contents.value
    noqa_line = line_of(text, "# noqa: GL401") - 1
    column = text.splitlines()[noqa_line].index("GL401") + 2
    hover = session.hover(uri, types.Position(noqa_line, column))
    assert hover.contents.value.startswith("# GL401: grad-of-non-leaf")


def test_the_editor_reads_the_project_view(tmp_path):
    """The freeze is in another file: the file alone shows nothing; the editor shows the
    command line's GL301 and its quick fix, and saves the summaries in the project's cache."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "projects" / "bad_freeze_helper_elsewhere", project)
    main = project / "main.py"
    text = main.read_text(encoding="utf-8")
    running = Session(project)
    try:
        uri = running.open(main, text)
        (found,) = running.next_published(uri).diagnostics
        assert (found.code, found.range.start.line) == ("GL301", line_of(text, "# expect: GL301") - 1)
        (action,) = running.code_actions(uri, found, [types.CodeActionKind.QuickFix])
        assert "if p.requires_grad" in _apply(text, action.edit.changes[uri][0])
    finally:
        running.close()
    assert (project / ".gradlint_cache").is_dir()


def test_columns_in_the_clients_encoding(session):
    """VS Code counts UTF-16 code units: an emoji is two."""
    path = write(session.root, "emoji.py", UNICODE)
    uri = session.open(path, UNICODE)
    (diag,) = session.next_published(uri).diagnostics
    assert diag.range.start.character == UNICODE.splitlines()[2].index("y.grad")  # no emoji on that line
    text = UNICODE.replace("y = x * 2; print(y.grad)", "y = x * 2; print('😀', y.grad)")
    session.change(uri, 2, text)
    (diag,) = session.next_published(uri).diagnostics
    assert diag.range.start.character == text.splitlines()[2].index("y.grad") + 1  # the emoji counts twice


def _apply(text: str, edit) -> str:
    lines = text.split("\n")

    def offset(position) -> int:
        return sum(len(line) + 1 for line in lines[:position.line]) + position.character

    return text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]


@pytest.mark.parametrize("old, new", [("a\nb\n", "a\nx\nb\n"), ("a\nb", "a\nb\nc"), ("ab", "b"), ("x", "x")])
def test_replace_edit_is_minimal_and_exact(old, new):
    (sl, sc), (el, ec), text = _replace_edit(old, new)
    lines = old.split("\n")
    start = sum(len(line) + 1 for line in lines[:sl]) + sc
    end = sum(len(line) + 1 for line in lines[:el]) + ec
    assert old[:start] + text + old[end:] == new
    assert len(text) <= max(1, len(new) - len(old) + 1) or old == new
