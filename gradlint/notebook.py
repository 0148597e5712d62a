"""Jupyter notebooks: the code cells linted as one module, findings mapped back to cells.

The code cells are joined in order into one Python text, so a model built in cell 1 and
evaluated in cell 5 is analysed together. IPython syntax that is not Python is replaced
line for line, so that every line keeps its number and column:

- line magics (``%time f()``), shell escapes (``!pip install x``), assignments from
  them (``files = !ls``) and help lines (``model?``, ``??model``) become ``pass`` at the
  line's indentation (so an indented block stays valid);
- a cell that starts with a cell magic (``%%bash``) is blanked, except the magics whose
  body is Python (``%%time``, ``%%timeit``, ``%%capture``, ...), where only the magic
  line is blanked.

A finding at line L of the joined text is reported at ``cell N, line l`` where N counts
all of the notebook's cells from 1, markdown cells included, as ruff does
(``path:cell N:l:col``). Markdown and raw cells, and notebooks whose kernel language is
not Python, contribute no code.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .finding import Finding
from .source import LONE_SURROGATE, MAX_FILE_SIZE, MAX_NOTEBOOK_SIZE, SourceError, read_bytes, too_large

SUFFIX = ".ipynb"

# Cell magics whose body is Python code: lint the body.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "snakeviz"}

_ASSIGN_FROM_MAGIC = re.compile(r"^[\w\s.,\[\]()*]+=\s*[!%]")


@dataclass
class NotebookSource:
    """The joined code of a notebook and, for each of its lines, (cell number, line in cell)."""

    text: str
    lines: List[Tuple[int, int]]

    def locate(self, line: int) -> Tuple[Optional[int], int]:
        """(cell, line in cell) for a 1-based line of ``text``."""
        if not self.lines:
            return None, line
        if line <= len(self.lines):
            return self.lines[max(line, 1) - 1]
        cell, last = self.lines[-1]
        return cell, last + line - len(self.lines)

    def map_findings(self, findings: Iterable[Finding]) -> List[Finding]:
        out = []
        for finding in findings:
            cell, line = self.locate(finding.line)
            out.append(dataclasses.replace(finding, line=line, cell=cell))
        return sorted(out)


# -- reading the JSON ----------------------------------------------------------------------

def _cells(data: Any) -> List[Dict[str, Any]]:
    if not isinstance(data, dict):
        raise SourceError("not a Jupyter notebook: the JSON is not an object")
    cells = data.get("cells")
    if cells is None and "worksheets" in data:  # nbformat 3
        sheets = data["worksheets"]
        if not isinstance(sheets, list) or not all(isinstance(s, dict) and isinstance(s.get("cells", []), list)
                                                   for s in sheets):
            raise SourceError("not a Jupyter notebook: `worksheets` is not a list of sheets with lists of cells")
        cells = [c for sheet in sheets for c in sheet.get("cells", [])]
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise SourceError("not a Jupyter notebook: no list of cells")
    return cells


def _is_python(data: Dict[str, Any]) -> bool:
    meta = data.get("metadata") or {}
    if not isinstance(meta, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        section = meta.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return section[field].lower() == "python"
    return True


def _source(cell: Dict[str, Any]) -> str:
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    if not isinstance(source, str):
        raise SourceError("not a Jupyter notebook: a cell's source is neither text nor a list of lines")
    return source


# -- IPython syntax -> Python, line for line ---------------------------------------------------

class _Scanner:
    """Just enough tokenizing to know whether a line starts a new logical line."""

    def __init__(self) -> None:
        self.quote: Optional[str] = None  # the open triple quote, if any
        self.depth = 0
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        comment = False
        while i < n:
            if self.quote is not None:
                if line[i] == "\\":
                    i += 2
                elif line.startswith(self.quote, i):
                    i += 3
                    self.quote = None
                else:
                    i += 1
                continue
            c = line[i]
            if c == "#":
                comment = True
                break
            if c in "\"'":
                if line.startswith(c * 3, i):
                    self.quote = c * 3
                    i += 3
                    continue
                i += 1
                while i < n and line[i] != c:
                    i += 2 if line[i] == "\\" else 1
                i += 1
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        self.continued = self.quote is None and not comment and line.rstrip().endswith("\\")


def _is_ipython_line(stripped: str) -> bool:
    if not stripped or stripped.startswith("#"):
        return False
    if stripped[0] in "%!?":
        return True
    if stripped.endswith("?") and "#" not in stripped:
        return True  # `model?`, `torch.nn.Linear??`: Python never ends a line with `?`
    return bool(_ASSIGN_FROM_MAGIC.match(stripped))


def python_lines(source: str) -> List[str]:
    """The cell's lines with IPython-only syntax replaced (same count, same columns)."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    first = next((text.strip() for text in lines if text.strip()), "")
    if first.startswith("%%"):
        name = first[2:].split(None, 1)[0] if len(first) > 2 else ""
        if name not in PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        index = next(i for i, text in enumerate(lines) if text.strip())
        lines = list(lines)
        lines[index] = ""
    out: List[str] = []
    scanner = _Scanner()
    in_magic = False
    for line in lines:
        if in_magic:  # a magic continued with a trailing backslash
            out.append("")
            in_magic = line.rstrip().endswith("\\")
            continue
        stripped = line.strip()
        if scanner.at_statement_start and _is_ipython_line(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
            in_magic = stripped.endswith("\\")
            continue
        out.append(line)
        scanner.feed(line)
    return out


def notebook_source(data: Any) -> NotebookSource:
    """The joined, Python-only code of a parsed notebook JSON object."""
    cells = _cells(data)
    if not _is_python(data):
        return NotebookSource("", [])
    text: List[str] = []
    where: List[Tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        for index, line in enumerate(python_lines(_source(cell)), start=1):
            text.append(line + "\n")
            where.append((number, index))
    return NotebookSource("".join(text), where)


def read_notebook(path: str, data: Optional[bytes] = None, limit: Optional[int] = MAX_FILE_SIZE) -> NotebookSource:
    """Read (unless ``data`` holds its bytes) and convert a notebook; ``SourceError`` (an
    E902 finding, E903 over a size limit) when it is not one. Any JSON is safe here:
    nesting too deep for the decoder, numbers too long to convert and text that is not
    valid Unicode are reported, not raised. ``limit`` applies to the code of its cells
    (the JSON itself may be larger: outputs live there)."""
    if data is None:
        data = read_bytes(path, MAX_NOTEBOOK_SIZE if limit is not None else None)
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode notebook as UTF-8: {exc}") from None
    except RecursionError:
        raise SourceError("invalid notebook: its JSON is nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise SourceError(f"invalid notebook: not valid JSON ({exc})") from None
    source = notebook_source(parsed)
    if limit is not None and len(source.text) > limit:
        raise too_large(len(source.text), limit)
    bad = LONE_SURROGATE.search(source.text)
    if bad is not None:
        cell, line = source.locate(source.text.count("\n", 0, bad.start()) + 1)
        raise SourceError(f"invalid notebook: cell {cell}, line {line} holds a lone surrogate "
                          f"(U+{ord(bad.group()):04X}), which is not valid Unicode")
    return source
