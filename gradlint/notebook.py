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
            end_cell, end_line = self.locate(finding.end_line) if finding.end_line else (None, None)
            end = {"end_line": end_line, "end_col": finding.end_col} if end_cell == cell else \
                {"end_line": None, "end_col": None}
            out.append(dataclasses.replace(finding, line=line, cell=cell, **end))
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


def cell_sources(data: bytes) -> Dict[int, str]:
    """Each code cell's source text by cell number (counted as findings count them), for
    showing a finding's context. ``SourceError`` when it is not a notebook."""
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"invalid notebook: {exc}") from None
    return {number: _source(cell) for number, cell in enumerate(_cells(parsed), start=1)
            if cell.get("cell_type") == "code"}


# -- writing: --fix rewrites code cells -----------------------------------------------------------
#
# The code cells are joined for fixing as for linting, with one boundary statement between
# cells. A fix inserts statements before or after the nodes it edits, so the boundaries stay
# put and split the fixed text back into cells unambiguously; a fix that would move one
# (it spans cells) is refused before it is applied. IPython lines (replaced by ``pass`` or a
# blank line for parsing) are restored from the original cell, re-indented where a fix
# re-indented them. The JSON is written back with the file's own layout (indent, escaping,
# key order, final newline), so metadata, outputs and every untouched cell stay byte for byte.

BOUNDARY = "pass  # gradlint: notebook cell boundary"


class NotebookFixError(Exception):
    """A fixed text that cannot be put back into the notebook's cells; nothing is written."""


@dataclass
class _CodeCell:
    number: int                 # among all cells, from 1 (as findings count)
    cell: Dict[str, Any]        # the cell's JSON object (edited in place when fixed)
    key: str                    # "source" (nbformat 4) or "input" (nbformat 3)
    raw: List[str]              # the cell's lines as written
    python: List[str]           # the same lines with IPython syntax replaced
    final_newline: bool
    newline: str


def _layout(text: str, data: Any) -> Optional[Dict[str, Any]]:
    """The ``json.dumps`` arguments that write ``data`` back as ``text`` byte for byte, or None."""
    second = text.split("\n", 2)[1] if text.count("\n") >= 1 else ""
    indents = [len(second) - len(second.lstrip(" "))] if second.startswith(" ") else []
    candidates = []
    for indent in indents + [None]:
        for ensure_ascii in (False, True):
            for separators in ((",", ": "), (",", ":"), (", ", ": ")):
                candidates.append({"indent": indent, "ensure_ascii": ensure_ascii, "separators": separators})
    body = text.rstrip("\n")
    for kwargs in candidates:
        if json.dumps(data, **kwargs) == body:
            return kwargs
    return None


class NotebookFile:
    """A notebook read for ``--fix``: its JSON as parsed and what is needed to write it back."""

    def __init__(self, data: bytes) -> None:
        self.bom = data.startswith(b"\xef\xbb\xbf")
        try:
            self.text = data.decode("utf-8-sig")
            self.json = json.loads(self.text)
        except UnicodeDecodeError as exc:
            raise SourceError(f"cannot decode notebook as UTF-8: {exc}") from None
        except ValueError as exc:
            raise SourceError(f"invalid notebook: not valid JSON ({exc})") from None
        cells = _cells(self.json)
        self.is_python = _is_python(self.json)
        self.code_cells: List[_CodeCell] = []
        for number, cell in enumerate(cells, start=1):
            if cell.get("cell_type") != "code":
                continue
            source = _source(cell)
            normalized = source.replace("\r\n", "\n").replace("\r", "\n")
            raw = normalized.split("\n")
            if raw and raw[-1] == "":
                raw.pop()
            self.code_cells.append(_CodeCell(
                number, cell, "source" if "source" in cell else "input", raw, python_lines(source),
                normalized.endswith("\n"), "\r\n" if "\r\n" in source else "\n"))
        self._layout = _layout(self.text, self.json)
        self._trailing = self.text[len(self.text.rstrip("\n")):]

    def layout_problem(self) -> Optional[str]:
        """Why ``--fix`` cannot rewrite this notebook, or None."""
        if not self.is_python:
            return "the notebook's kernel language is not Python"
        if self._layout is None:
            return "its JSON layout is not one gradlint can write back unchanged"
        return None

    def fix_source(self) -> Tuple[str, List[Optional[Tuple[int, int]]]]:
        """(the code cells joined with boundary lines, each line's (cell, line in cell): None on a
        boundary)."""
        lines: List[str] = []
        where: List[Optional[Tuple[int, int]]] = []
        for index, cell in enumerate(self.code_cells):
            if index:
                lines.append(BOUNDARY)
                where.append(None)
            lines.extend(cell.python)
            where.extend((cell.number, n) for n in range(1, len(cell.python) + 1))
        return "".join(line + "\n" for line in lines), where

    def with_fixed_source(self, fixed: str) -> bytes:
        """The notebook's bytes with ``fixed`` (a fixed ``fix_source()`` text) put back into its
        cells; ``NotebookFixError`` when it does not split back into the same cells."""
        lines = fixed.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        parts: List[List[str]] = [[]]
        for line in lines:
            if line == BOUNDARY:
                parts.append([])
            else:
                parts[-1].append(line)
        moved = any(BOUNDARY in line for line in lines if line != BOUNDARY)  # an indented boundary
        if len(parts) != max(1, len(self.code_cells)) or moved:
            raise NotebookFixError("a fix would span notebook cells")
        for cell, new in zip(self.code_cells, parts):
            if new == cell.python:
                continue
            restored = _restore_ipython(cell, new)
            text = cell.newline.join(restored) + (cell.newline if cell.final_newline and restored else "")
            old = cell.cell.get(cell.key)
            cell.cell[cell.key] = text.splitlines(keepends=True) if isinstance(old, list) else text
        body = json.dumps(self.json, **self._layout) + self._trailing
        return (b"\xef\xbb\xbf" if self.bom else b"") + body.encode("utf-8")


def _restore_ipython(cell: _CodeCell, new: List[str]) -> List[str]:
    """The fixed cell's lines with its IPython lines put back (re-indented as the fix moved them)."""
    import difflib

    old = cell.python
    out: List[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(cell.raw[i1:i2])
            continue
        placeholders = [i for i in range(i1, i2) if cell.raw[i] != old[i]]
        block = list(new[j1:j2])
        if placeholders:
            # Pair the old block's `pass` / blank lines with the new block's, in order: a fix only
            # ever moves them (re-indents), never rewrites them.
            def slots(lines, start):
                return [start + k for k, text in enumerate(lines) if text.strip() in ("pass", "")]

            old_slots = slots(old[i1:i2], i1)
            new_slots = slots(block, 0)
            if len(old_slots) != len(new_slots):
                raise NotebookFixError("a fix would rewrite an IPython line (a magic or shell command)")
            for i, j in zip(old_slots, new_slots):
                if cell.raw[i] != old[i]:
                    if old[i].strip() != block[j].strip():
                        raise NotebookFixError("a fix would rewrite an IPython line (a magic or shell command)")
                    indent = block[j][: len(block[j]) - len(block[j].lstrip())]
                    block[j] = indent + cell.raw[i].lstrip() if cell.raw[i].strip() else cell.raw[i]
        out.extend(block)
    return out
