"""GitHub Actions workflow commands: one ``::error`` / ``::warning`` annotation per finding.

https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions
Annotations show on the pull request's diff at ``file``/``line``/``col``. A notebook
finding is annotated on the file as a whole, with the cell and line in the message.
"""

from __future__ import annotations

import os
from typing import TextIO

from ..catalog import CATALOG
from ..finding import Finding


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def display_path(path: str) -> str:
    """The path relative to the current folder (the workspace, in a workflow) when inside it."""
    rel = os.path.relpath(os.path.abspath(path))
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")


def annotation(finding: Finding) -> str:
    info = CATALOG.get(finding.code)
    level = "warning" if info is not None and info.severity == "warning" else "error"
    title = f"gradlint {finding.code}" + (f" ({info.name})" if info is not None else "")
    props = [f"file={_escape_property(display_path(finding.path))}"]
    message = finding.message
    if finding.cell is None:
        props += [f"line={finding.line}", f"col={finding.col}"]
        if finding.end_line is not None and finding.end_col is not None:
            props += [f"endLine={finding.end_line}", f"endColumn={finding.end_col}"]
    else:
        message = f"cell {finding.cell}, line {finding.line}, col {finding.col}: {message}"
    props.append(f"title={_escape_property(title)}")
    if finding.help:
        message += f"\nhelp: {finding.help}"
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def write(run, out: TextIO, color: bool = False) -> None:
    for finding in run.findings:
        out.write(annotation(finding) + "\n")
