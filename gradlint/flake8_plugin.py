"""The flake8 plugin: ``flake8 --select GL`` reports what ``gradlint`` reports.

flake8 hands over the lines it read; the plugin parses them once with libcst and runs
every implemented rule on that one parse. flake8 then does the rest as for any plugin:
``--select`` / ``--ignore`` / ``--extend-ignore``, ``per-file-ignores`` and ``# noqa``.
Columns: flake8 plugins yield a 0-based column and flake8 prints it plus one, so the
printed location is the command line's ``path:line:col``.

A file libcst cannot parse yields nothing here: flake8 reports it as E999 itself.
``[tool.gradlint]`` is not read; configure the plugin the flake8 way.
"""

from __future__ import annotations

import ast
from typing import Iterator, List, Sequence, Tuple

import libcst as cst

from . import __version__
from .engine import lint_module
from .rules import implemented
from .source import may_matter

Result = Tuple[int, int, str, type]


class GradlintChecker:
    name = "gradlint"
    version = __version__

    # flake8 only runs "tree" plugins from the AST pass; it builds that tree anyway (it
    # needs it for its own E999), so asking for it costs nothing. gradlint ignores it.
    def __init__(self, tree: ast.AST, lines: Sequence[str], filename: str) -> None:
        self.lines = lines
        self.filename = filename

    def run(self) -> Iterator[Result]:
        text = "".join(self.lines)
        if not may_matter(text):
            return
        try:
            module = cst.parse_module(text)
        except (cst.ParserSyntaxError, RecursionError):
            return
        findings: List = lint_module(module, self.filename, implemented())
        for finding in findings:
            yield finding.line, finding.col - 1, f"{finding.code} {finding.message}", type(self)
