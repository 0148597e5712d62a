"""``gradlint server`` end to end: a real LSP client (pytest-lsp) talks to the server over stdio."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from conftest import EVAL_BARE, MISC, line_of, run_env, write

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pip install pytest-lsp (in the test extra)")
types = pytest.importorskip("lsprotocol.types")

from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from gradlint.server import FIX_ALL, _replace_edit  # noqa: E402

UNICODE = "import torch\ns = '😀😀'; x = torch.randn(3, requires_grad=True)\ny = x * 2; print(y.grad)\n"


# One server for the module: each test opens its own files (starting a server costs a second).
@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "gradlint", "server"], server_env=run_env()))
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    write(root, "pyproject.toml", '[tool.gradlint]\ndocs-url = "https://docs.example.org/{code}.html"\n'
                                  '[tool.gradlint.per-file-ignores]\n"quiet/*" = ["GL2"]\n')
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="w")]))
    lsp_client.root = root
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


async def _published(client: LanguageClient, uri: str):
    while True:
        params = await asyncio.wait_for(client.wait_for_notification("textDocument/publishDiagnostics"), 30)
        if params.uri == uri:
            return params


async def _diagnostics(client: LanguageClient, uri: str):
    return (await _published(client, uri)).diagnostics


@pytest.mark.asyncio(loop_scope="module")
async def test_diagnostics_on_open_change_and_save(client: LanguageClient):
    path = write(client.root, "evaluate.py", EVAL_BARE)
    uri = _open(client, path, EVAL_BARE)
    found = await _diagnostics(client, uri)
    assert sorted(d.code for d in found) == ["GL101", "GL201"]
    gl101 = next(d for d in found if d.code == "GL101")
    anchor = line_of(EVAL_BARE, "out = model(x)") - 1
    assert (gl101.range.start.line, gl101.range.start.character, gl101.range.end.character) == (anchor, 14, 22)
    assert gl101.severity == types.DiagnosticSeverity.Error and gl101.source == "gradlint"
    assert "\nhelp: call `model.eval()` first" in gl101.message
    assert gl101.code_description.href == "https://docs.example.org/GL101.html"  # docs-url from pyproject

    # Three quick edits: one lint, after typing pauses, for the last text.
    fixed = EVAL_BARE.replace("def evaluate(model, loader):\n", "@torch.no_grad()\ndef evaluate(model, loader):\n")
    for version, text in enumerate([EVAL_BARE + "\n", EVAL_BARE + "\n\n", fixed], start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    published = await _published(client, uri)
    assert published.version == 4  # nothing was published for versions 2 and 3
    assert [d.code for d in published.diagnostics] == ["GL101"]
    assert client.diagnostics[uri] == published.diagnostics
    path.write_text(fixed)
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri)))
    assert [d.code for d in await _diagnostics(client, uri)] == ["GL101"]


@pytest.mark.asyncio(loop_scope="module")
async def test_settings_per_file_ignores_apply(client: LanguageClient):
    path = write(client.root, "quiet/evaluate.py", EVAL_BARE)
    uri = _open(client, path, EVAL_BARE)
    assert [d.code for d in await _diagnostics(client, uri)] == ["GL101"]  # GL2 ignored under quiet/


@pytest.mark.asyncio(loop_scope="module")
async def test_quick_fix_per_finding_and_fix_all(client: LanguageClient):
    path = write(client.root, "misc.py", MISC)
    uri = _open(client, path, MISC)
    found = await _diagnostics(client, uri)
    assert sorted(d.code for d in found) == ["GL102", "GL202", "GL302", "GL401"]
    gl102 = next(d for d in found if d.code == "GL102")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=gl102.range,
        context=types.CodeActionContext(diagnostics=[gl102], only=[types.CodeActionKind.QuickFix])))
    (action,) = actions
    assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
    assert action.title.startswith("GL102:")
    (edit,) = action.edit.changes[uri]
    assert _apply(MISC, edit) == MISC.replace("model.eval\n", "model.eval()\n")

    gl401 = next(d for d in found if d.code == "GL401")
    (unsafe,) = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=gl401.range,
        context=types.CodeActionContext(diagnostics=[gl401], only=[types.CodeActionKind.QuickFix])))
    assert unsafe.title.endswith("(unsafe)") and not unsafe.is_preferred
    assert "y.retain_grad()" in _apply(MISC, unsafe.edit.changes[uri][0])

    (fix_all,) = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=gl102.range,
        context=types.CodeActionContext(diagnostics=[], only=[FIX_ALL])))
    fixed = _apply(MISC, fix_all.edit.changes[uri][0])
    assert "model.eval()" in fixed and "with torch.no_grad():" in fixed and "y.retain_grad()" not in fixed


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_shows_the_rule_page(client: LanguageClient):
    text = MISC.replace("print(y.grad)", "print(y.grad)  # noqa: GL401")
    path = write(client.root, "hover.py", text)
    uri = _open(client, path, text)
    found = await _diagnostics(client, uri)
    gl102 = next(d for d in found if d.code == "GL102")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri), position=gl102.range.start))
    assert hover.contents.value.startswith("# GL102: mode-method-not-called")
    assert "## Why is this bad?" in hover.contents.value
    noqa_line = line_of(text, "# noqa: GL401") - 1
    column = text.splitlines()[noqa_line].index("GL401") + 2
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(noqa_line, column)))
    assert hover.contents.value.startswith("# GL401: grad-of-non-leaf")


@pytest.mark.asyncio(loop_scope="module")
async def test_columns_in_the_clients_encoding(client: LanguageClient):
    """VS Code counts UTF-16 code units: an emoji is two."""
    path = write(client.root, "emoji.py", UNICODE)
    uri = _open(client, path, UNICODE)
    (diag,) = await _diagnostics(client, uri)
    line = UNICODE.splitlines()[2]
    assert diag.range.start.character == line.index("y.grad")  # no emoji on that line
    text = UNICODE.replace("y = x * 2; print(y.grad)", "y = x * 2; print('😀', y.grad)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    (diag,) = await _diagnostics(client, uri)
    assert diag.range.start.character == text.splitlines()[2].index("y.grad") + 1  # the emoji counts twice


def _apply(text: str, edit) -> str:
    lines = text.split("\n")
    offset = (lambda p: sum(len(line) + 1 for line in lines[:p.line]) + p.character)
    return text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]


@pytest.mark.parametrize("old, new", [("a\nb\n", "a\nx\nb\n"), ("a\nb", "a\nb\nc"), ("ab", "b"), ("x", "x")])
def test_replace_edit_is_minimal_and_exact(old, new):
    (sl, sc), (el, ec), text = _replace_edit(old, new)
    lines = old.split("\n")
    start = sum(len(line) + 1 for line in lines[:sl]) + sc
    end = sum(len(line) + 1 for line in lines[:el]) + ec
    assert old[:start] + text + old[end:] == new
    assert len(text) <= max(1, len(new) - len(old) + 1) or old == new
