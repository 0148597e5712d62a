"""``--fix`` / ``--diff``: lint, apply the fixes, re-lint, until nothing more applies.

Each file is parsed once; the fixes of a pass are edits of that parse applied in one
transformer pass (``gradlint.fixes.apply``). The new text is parsed again and re-linted,
because a fix can remove other findings (``model.train`` -> ``model.train()`` also ends
GL103) or enable another fix (GL101 and GL201 on the same loop go in two passes). At most
``MAX_PASSES`` passes; a second ``--fix`` on the result changes nothing.

Never fixed: a finding silenced by ``# noqa`` (and no fix may rewrite its line), a file that
could not be read or parsed (E902, E999). Notebooks go through ``gradlint.notebook_fix``
(the code cells fixed as one text, written back into the cells). Files are
written atomically: a temporary file in the same folder, the original's permissions,
``os.replace``; the original encoding (and BOM) and newline style are kept.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
import stat
import tempfile
import tokenize
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst

from .engine import lint_module, map_files
from .finding import Finding
from .fixes import Fix, FixNote
from .fixes.apply import apply_fixes, choose
from .noqa import apply_noqa
from .notebook import SUFFIX as NOTEBOOK_SUFFIX
from .rules import implemented
from .selection import Selection
from .source import SourceError, decode, describe_syntax_error, may_matter

MAX_PASSES = 8


class FixFailed(Exception):
    """Fixes produced code that does not parse: a bug in gradlint; the file is left alone."""


@dataclass
class FixResult:
    path: str
    findings: List[Finding]        # what remains, at its place in the new text, with FixNotes
    fixed: int = 0                 # findings that are gone
    diff: str = ""                 # unified diff of the change ("" when nothing changed)

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def _order(finding: Finding) -> Tuple:
    return (finding.line, finding.col, finding.code)


Refuse = Callable[[cst.Module, List[Fix]], Dict[int, str]]


def fix_text(text: str, path: str, selection: Optional[Selection] = None,
             unsafe: bool = False, refuse: Optional[Refuse] = None) -> Tuple[str, List[Finding], int]:
    """(new text, remaining findings, number fixed) for one file's source text.

    ``refuse(module, fixes)``, when given, maps ``id(fix)`` to why a fix must not be applied
    here (a notebook: it spans cells); those findings remain, their fix noted unavailable."""
    codes = (selection or Selection()).codes(implemented())
    if not codes or not may_matter(text):
        return text, [], 0
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return text, [Finding(path, line, col, "E999", message)], 0
    except RecursionError:
        return text, [Finding(path, 1, 1, "E999", "SyntaxError: too deeply nested to parse")], 0
    previous: Optional[List[Finding]] = None
    blocked: List[Fix] = []
    refused: Dict[int, str] = {}
    fixed = 0
    for passes in range(MAX_PASSES + 1):
        raw = lint_module(module, path, codes, fixes="build")
        kept = apply_noqa(raw, text)
        if previous is not None:  # what the last pass's fixes removed (a fix may also surface a finding)
            fixed += sum((Counter(map(_identity, previous)) - Counter(map(_identity, kept))).values())
        previous = kept
        if refuse is not None:
            refused = refuse(module, [f.fix for f in kept if isinstance(f.fix, Fix)])
        if passes == MAX_PASSES:
            break
        silenced = set(raw) - set(kept)
        wanted = [f.fix for f in sorted(kept, key=_order) if isinstance(f.fix, Fix) and (f.fix.safe or unsafe)
                  and id(f.fix) not in refused]
        if any(fix.safe for fix in wanted):  # safe fixes first: they can make an unsafe one unneeded
            wanted = [fix for fix in wanted if fix.safe]
        chosen, blocked = choose(wanted, module, {f.line for f in silenced})
        if not chosen and wanted and wanted[0].safe and unsafe:  # only blocked safe fixes: go on
            wanted = [f.fix for f in sorted(kept, key=_order) if isinstance(f.fix, Fix) and not f.fix.safe
                      and id(f.fix) not in refused]
            chosen, blocked = choose(wanted, module, {f.line for f in silenced})
        if not chosen:
            break
        new_text = apply_fixes(module, chosen).code
        if new_text == text:
            break
        try:
            module = cst.parse_module(new_text)
        except (cst.ParserSyntaxError, RecursionError) as exc:
            raise FixFailed(f"{path}: the fixed code does not parse ({exc}); nothing was written") from None
        text = new_text
    remaining = [dataclasses.replace(f, fix=FixNote("unavailable", f"not applied: {refused[id(f.fix)]}")
                                     if id(f.fix) in refused else _note(f.fix, unsafe, blocked)) for f in kept]
    return text, remaining, fixed


def _identity(finding: Finding) -> Tuple[str, str]:
    """Findings move when lines are inserted; what they say stays."""
    return finding.code, finding.message


def _note(fix, unsafe: bool, blocked: List[Fix]) -> Optional[FixNote]:
    """What is left to say about a remaining finding's fix. One that was allowed but not
    applied was kept off a line silenced by ``# noqa``, or ran out of passes."""
    if isinstance(fix, Fix) and (fix.safe or unsafe):
        why = ("it would rewrite a line whose finding `# noqa` silences" if any(fix is b for b in blocked)
               else "other fixes kept rewriting the same lines")
        return FixNote("unavailable", f"not applied: {why}")
    return FixNote.of(fix)


def read_for_fix(path: str) -> Tuple[str, str]:
    """(text, encoding) of a Python file; the encoding writes it back byte for byte
    (``utf-8-sig`` restores a BOM)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    text = decode(data)
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return text, encoding


def write_atomic(path: str, text: str, encoding: str) -> None:
    """Replace ``path``'s content in one step: no reader ever sees half a file, and a failure
    leaves the original untouched. Permissions are kept; a symlink keeps pointing at its
    target, which is what gets rewritten."""
    real = os.path.realpath(path)
    data = text.encode(encoding)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    folder, name = os.path.split(real)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".gradlint-fix")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=path, tofile=path)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def fix_file(path: str, selection: Optional[Selection] = None, unsafe: bool = False,
             write: bool = True) -> FixResult:
    """Fix one file; ``write=False`` only computes the diff (``--diff``)."""
    if path.endswith(NOTEBOOK_SUFFIX):
        from .notebook_fix import fix_notebook

        return fix_notebook(path, selection, unsafe, write)
    try:
        text, encoding = read_for_fix(path)
    except SourceError as exc:
        return FixResult(path, [Finding(path, 1, 1, "E902", exc.reason)])
    new_text, remaining, fixed = fix_text(text, path, selection, unsafe)
    if new_text == text or any(f.is_error for f in remaining):
        return FixResult(path, remaining)
    if write:
        write_atomic(path, new_text, encoding)
    return FixResult(path, remaining, fixed, unified_diff(path, text, new_text))


def _fix_one(args) -> FixResult:
    path, selection, unsafe, write = args
    return fix_file(path, selection, unsafe, write)


def fix_paths(files, unsafe: bool = False, write: bool = True, jobs: int = 0, progress=None,
              selection_for: Optional[Callable[[str], Selection]] = None) -> List[FixResult]:
    """Fix many files (in parallel when it pays); results in the order of ``files``."""
    files = list(files)
    tasks = [(f, selection_for(f) if selection_for else Selection(), unsafe, write) for f in files]
    return map_files(_fix_one, tasks, jobs, progress)
