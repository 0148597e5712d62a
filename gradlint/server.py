"""``gradlint server``: the language server (LSP over stdio, pygls), as ``ruff server`` is.

Diagnostics on open and save, and after a change once typing pauses (``DEBOUNCE_S``); a
quick fix (code action) for each finding whose fix ``--fix`` would apply, safe or unsafe,
and "Fix all" for the safe ones (``source.fixAll.gradlint``); hover shows the rule's page on
a finding or on a code in a ``# noqa`` comment. Settings are the ``[tool.gradlint]`` that
applies to each file, re-read when a ``pyproject.toml`` changes; excluded files get no
diagnostics. Python files only: notebooks are linted by the command line.

All analysis goes through ``Analyzer``, the one seam between the protocol code and the
analysis: it reads the edited file with its project view (cross-file facts), as the command
line and the flake8 plugin do, so the editor shows their findings.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Dict, List, Optional, Tuple


from .parsing import parse
from . import __version__
from .autofix import fix_text, project_fixer
from .cache import DEFAULT_DIR as DEFAULT_CACHE
from .catalog import CATALOG
from .config import ConfigError, Resolver, Settings
from .docs import doc_for, doc_url, render_markdown
from .engine import lint_module, lint_text
from .finding import Finding
from .fixes import Fix
from .fixes.apply import apply_fixes
from .noqa import apply_noqa
from .project.layout import root_of
from .project.lint import lint_one
from .rules import implemented

DEBOUNCE_S = 0.25
SOURCE = "gradlint"
FIX_ALL = "source.fixAll.gradlint"


class Analyzer:
    """The analysis behind the editor: (path, text, settings) -> findings and their fixes.

    The edited text is read with the project view of its root (``project.lint.lint_one``;
    quick fixes through ``autofix.project_fixer``), the other files from disk, summaries
    cached by content in the project's ``.gradlint_cache`` as the command line caches them:
    after the first analysis an edit costs the edited file and the files whose findings
    depend on it (``benchmarks/bench_server.py``). Where the project view cannot answer (an
    internal error), the file is analysed alone rather than showing nothing.
    """

    def findings(self, path: str, text: str, settings: Settings) -> List[Finding]:
        """The findings for ``text`` as the file ``path``, each with its ``FixNote``."""
        selection = settings.selection_for(path)
        try:
            return apply_noqa(lint_one(path, text, selection, cache_dir=_cache_dir(path), fixes="notes"), text)
        except Exception:  # noqa: BLE001 - the file alone is better than no answer
            return lint_text(text, path, selection, fixes="notes")

    def _build(self, path: str, text: str):
        """The facts builder of ``path`` with its project view, or None (file alone)."""
        try:
            settled, build = project_fixer(path, text, _cache_dir(path))
        except Exception:  # noqa: BLE001
            return None
        return None if settled else build

    def fix_one(self, path: str, text: str, settings: Settings, finding: Finding) -> Optional[str]:
        """``text`` with only ``finding``'s fix applied; None when it has none here."""
        selection = settings.selection_for(path)
        build = self._build(path, text)
        try:
            module = parse(text)
            built = apply_noqa(lint_module(module, path, selection.codes(implemented()), fixes="build",
                                           build=build), text)
        except Exception:  # a syntax error, or a fix builder that failed: no quick fix
            return None
        for candidate in built:
            if (candidate.line, candidate.col, candidate.code) == (finding.line, finding.col, finding.code) \
                    and isinstance(candidate.fix, Fix):
                return apply_fixes(module, [candidate.fix]).code
        return None

    def fix_all(self, path: str, text: str, settings: Settings) -> str:
        """``text`` with every safe fix applied, as ``gradlint --fix``."""
        try:
            return fix_text(text, path, settings.selection_for(path), build=self._build(path, text))[0]
        except Exception:
            return text

    def changed(self, path: str) -> None:
        """``path`` changed on disk or in the editor: nothing to drop, the summaries are
        cached by content."""


def _cache_dir(path: str) -> str:
    """The project's cache folder, where ``gradlint`` run from the project root keeps it."""
    return os.path.join(root_of(path), DEFAULT_CACHE)


def _lines(text: str) -> List[str]:
    """Lines as gradlint counts them (split at ``\\n`` only, as libcst positions do)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def _replace_edit(old: str, new: str) -> Tuple[Tuple[int, int], Tuple[int, int], str]:
    """One edit turning ``old`` into ``new``: (start, end) as zero-based (line, code point) in
    ``old``, and the replacement text. Only the span that differs is replaced."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1

    def place(offset: int) -> Tuple[int, int]:
        line = old.count("\n", 0, offset)
        return line, offset - (old.rfind("\n", 0, offset) + 1)

    return place(prefix), place(len(old) - suffix), new[prefix:len(new) - suffix]


def _build_server():
    """The pygls server; imported lazily so that linting never needs pygls."""
    try:
        from lsprotocol import types
        from pygls.lsp.server import LanguageServer
        from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise SystemExit(f"gradlint server needs pygls: pip install 'torch-gradlint[server]' ({exc})")

    class GradlintServer(LanguageServer):
        def __init__(self) -> None:
            super().__init__("gradlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
            self.analyzer = Analyzer()
            self.resolver = Resolver()
            self.pending: Dict[str, asyncio.TimerHandle] = {}
            self.results: Dict[str, Tuple[int, str, List[Finding]]] = {}  # uri -> (version, text, findings)

        def settings_for(self, path: str) -> Optional[Settings]:
            try:
                return self.resolver.for_path(path)
            except ConfigError as exc:
                self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"gradlint: {exc}"))
                return None

    server = GradlintServer()

    def to_range(lines: List[str], start: Tuple[int, int], end: Tuple[int, int]):
        """Zero-based (line, code point) pairs -> a Range in the client's position encoding."""
        codec = server.workspace.position_codec
        return codec.range_to_client_units(lines, ServerTextRange(ServerTextPosition(*start), ServerTextPosition(*end)))

    def diagnostic(finding: Finding, lines: List[str], docs_url: Optional[str]):
        line = max(finding.line - 1, 0)
        start = (line, max(finding.col - 1, 0))
        if finding.end_line is not None and finding.end_col is not None:
            end = (finding.end_line - 1, finding.end_col - 1)
        else:
            end = (line, len(lines[line]) if line < len(lines) else 0)
        info = CATALOG.get(finding.code)
        severity = types.DiagnosticSeverity.Warning if info is not None and info.severity == "warning" \
            else types.DiagnosticSeverity.Error
        url = doc_url(finding.code, docs_url) if info is not None else None
        message = finding.message + (f"\nhelp: {finding.help}" if finding.help else "")
        note = finding.fix
        data = {"fix": getattr(note, "applicability", None), "fix_title": getattr(note, "description", None),
                "line": finding.line, "col": finding.col}
        return types.Diagnostic(range=to_range(lines, start, end), message=message, severity=severity,
                                code=finding.code, source=SOURCE, data=data,
                                code_description=types.CodeDescription(href=url) if url else None)

    def lint_now(uri: str) -> None:
        server.pending.pop(uri, None)
        document = server.workspace.get_text_document(uri)
        path = document.path
        if not path.endswith(".py"):
            return
        settings = server.settings_for(path)
        if settings is None:
            return
        text, version = document.source, document.version
        findings = [] if settings.excluded(path) else server.analyzer.findings(path, text, settings)
        server.results[uri] = (version, text, findings)
        lines = _lines(text)
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[diagnostic(f, lines, settings.docs_url) for f in findings]))

    def schedule(uri: str, delay: float) -> None:
        handle = server.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        server.pending[uri] = asyncio.get_running_loop().call_later(delay, lint_now, uri)

    def config_changed(path: str) -> None:
        if os.path.basename(path) == "pyproject.toml":
            server.resolver = Resolver()
            for uri in list(server.results):
                schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        lint_now(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        schedule(params.text_document.uri, DEBOUNCE_S)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: types.DidSaveTextDocumentParams) -> None:
        path = server.workspace.get_text_document(params.text_document.uri).path
        server.analyzer.changed(path)
        config_changed(path)
        lint_now(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        handle = server.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        server.results.pop(uri, None)
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(ls, params: types.DidChangeWatchedFilesParams) -> None:
        from pygls.uris import to_fs_path

        for change in params.changes:
            path = to_fs_path(change.uri) or ""
            server.analyzer.changed(path)
            config_changed(path)

    def current(uri: str):
        """(document, settings, findings) when the published findings are for the current text."""
        document = server.workspace.get_text_document(uri)
        result = server.results.get(uri)
        if result is None or result[1] != document.source:
            lint_now(uri)
            result = server.results.get(uri)
        settings = server.settings_for(document.path)
        if result is None or settings is None:
            return None
        return document, settings, result[2]

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL]))
    def code_action(ls, params: types.CodeActionParams):
        state = current(params.text_document.uri)
        if state is None:
            return []
        document, settings, findings = state
        text, lines, uri = document.source, _lines(document.source), params.text_document.uri
        wanted = {(d.data or {}).get("line"): d for d in params.context.diagnostics if d.source == SOURCE}
        only = params.context.only
        actions = []
        if not only or types.CodeActionKind.QuickFix in only:
            for finding in findings:
                note = finding.fix
                if getattr(note, "applicability", "") not in ("safe", "unsafe"):
                    continue
                diag = wanted.get(finding.line)
                if diag is None or diag.code != finding.code:
                    continue
                new = server.analyzer.fix_one(document.path, text, settings, finding)
                if new is None or new == text:
                    continue
                start, end, replacement = _replace_edit(text, new)
                edit = types.TextEdit(range=to_range(lines, start, end), new_text=replacement)
                title = f"{finding.code}: {note.description}" + (" (unsafe)" if note.applicability == "unsafe" else "")
                actions.append(types.CodeAction(
                    title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[diag],
                    is_preferred=note.applicability == "safe",
                    edit=types.WorkspaceEdit(changes={uri: [edit]})))
        if not only or any(kind in (FIX_ALL, types.CodeActionKind.Source, types.CodeActionKind.SourceFixAll)
                           for kind in only):
            new = server.analyzer.fix_all(document.path, text, settings)
            if new != text:
                start, end, replacement = _replace_edit(text, new)
                edit = types.TextEdit(range=to_range(lines, start, end), new_text=replacement)
                actions.append(types.CodeAction(title="gradlint: fix all safe fixes", kind=FIX_ALL,
                                                edit=types.WorkspaceEdit(changes={uri: [edit]})))
        return actions

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: types.HoverParams):
        document = server.workspace.get_text_document(params.text_document.uri)
        lines = _lines(document.source)
        if params.position.line >= len(lines):
            return None
        position = server.workspace.position_codec.position_from_client_units(lines, params.position)
        line = lines[position.line]
        code = None
        for match in re.finditer(r"GL\d{3}", line):  # a code in a `# noqa: GL101` comment
            if match.start() <= position.character <= match.end() and "#" in line[:match.start()]:
                code = match.group()
        if code is None:
            state = server.results.get(params.text_document.uri)
            for finding in (state[2] if state else []):
                end_line = finding.end_line or finding.line
                end_col = finding.end_col if finding.end_line else finding.col + 1
                if (finding.line, finding.col) <= (position.line + 1, position.character + 1) < (end_line, end_col):
                    code = finding.code
                    break
        doc = doc_for(code) if code else None
        if doc is None:
            return None
        page = render_markdown(doc).split("\n", 2)[2]
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=page))

    return server


def serve() -> None:
    """Run the language server on stdin/stdout until the client exits."""
    _build_server().start_io()
