"""The flake8 plugin: ``flake8 --select GL`` reports what ``gradlint`` reports.

flake8 hands over the lines it read; the plugin lints them with the same project view as
the command line (the files the file imports and the files that call it lend their facts),
so both report the same findings. flake8 then does the rest as for any plugin:
``--select`` / ``--ignore`` / ``--extend-ignore``, ``per-file-ignores`` and ``# noqa``.
Columns: flake8 plugins yield a 0-based column and flake8 prints it plus one, so the
printed location is the command line's ``path:line:col``.

A file libcst cannot parse yields nothing here: flake8 reports it as E999 itself.
``[tool.gradlint]`` is not read; configure the plugin the flake8 way.
"""

from __future__ import annotations

import ast
import os
from typing import Iterator, Sequence, Tuple

from . import __version__
from .cache import DEFAULT_DIR as DEFAULT_CACHE
from .project.lint import lint_one
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
        if not may_matter(text) and not self._in_project():
            return
        for finding in lint_one(self.filename, text, cache_dir=DEFAULT_CACHE):
            if finding.code.startswith("GL"):  # flake8 reports unparsable files itself (E999)
                yield finding.line, finding.col - 1, f"{finding.code} {finding.message}", type(self)

    def _in_project(self) -> bool:
        """A torch-free file can still matter: a helper that train.py hands the model to."""
        return self.filename not in ("-", "stdin") and os.path.isfile(self.filename)
