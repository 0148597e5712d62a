"""``--fix`` / ``--diff``: lint, apply the fixes, re-lint, until nothing more applies.

Each file is parsed once; the fixes of a pass are edits of that parse applied in one
transformer pass (``gradlint.fixes.apply``). The new text is parsed again and re-linted,
because a fix can remove other findings (``model.train`` -> ``model.train()`` also ends
GL103) or enable another fix (GL101 and GL201 on the same loop go in two passes).

It converges: a fix is kept only when the re-lint shows its finding gone (a fix whose
finding stays, or whose code does not parse, is withdrawn and the pass is applied without
it), a finding is not fixed again once a fix for it has been applied (a fix that brings
back what another removed would cycle), and at most ``MAX_PASSES`` passes run. So a
second ``--fix`` on the result changes nothing, and "Fixed N" counts findings that are
really gone.

Never fixed: a finding silenced by ``# noqa`` (and no fix may rewrite its line), a file that
could not be read, parsed or analysed (E902, E903, E999), a file whose encoding does not
write back byte for byte (``unicode_escape``), a read-only file. Notebooks go through
``gradlint.notebook_fix`` (the code cells fixed as one text, written back into the cells). Files are written atomically (a temporary file in the same folder, the
original's permissions and owner, ``os.replace``), except a hard-linked file, which is
rewritten in place so that its links stay; the original encoding (and BOM) and newline
style are kept. A file that cannot be written is reported (E902) and the run goes on.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst

from .parsing import parse
from .cache import Cache
from .engine import failed_file, in_room, lint_module, lint_text, map_files, screen
from .finding import Finding
from .fixes import Fix, FixNote
from .fixes.apply import apply_fixes, choose
from .noqa import apply_noqa
from .notebook import SUFFIX as NOTEBOOK_SUFFIX
from .rules import implemented
from .selection import Selection
from .source import MAX_FILE_SIZE, SourceError, decode_source, describe_syntax_error, read_bytes
from .workers import Failure, fewer_collections

MAX_PASSES = 8

Identity = Tuple[str, str]


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


def _identity(finding: Finding, lines: List[str]) -> Identity:
    """Findings move when lines are inserted, and what they say can change with their
    surroundings (a forward now inside a `with` block); the code they point at stays."""
    first = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
    if finding.end_line is None or finding.end_col is None or finding.end_line < finding.line:
        return finding.code, first[finding.col - 1:].strip()
    if finding.end_line == finding.line:
        return finding.code, first[finding.col - 1:finding.end_col - 1]
    last = lines[finding.end_line - 1] if finding.end_line <= len(lines) else ""
    middle = [line.strip() for line in lines[finding.line:finding.end_line - 1]]
    return finding.code, "\n".join([first[finding.col - 1:].strip(), *middle, last[:finding.end_col - 1].strip()])


Refuse = Callable[[cst.Module, List[Fix]], Dict[int, str]]
Build = Callable[[cst.Module], object]   # a parse -> its FileFacts, read with the project view


def fix_text(text: str, path: str, selection: Optional[Selection] = None,
             unsafe: bool = False, refuse: Optional[Refuse] = None,
             build: Optional[Build] = None) -> Tuple[str, List[Finding], int]:
    """(new text, remaining findings, number fixed) for one file's source text.

    ``refuse(module, fixes)``, when given, maps ``id(fix)`` to why a fix must not be applied
    here (a notebook: it spans cells); those findings remain, their fix noted unavailable.
    ``build(module)`` makes each pass's facts with the file's project view (``fix_paths``,
    ``project_fixer``); without it the file is read alone."""
    codes = (selection or Selection()).codes(implemented())
    if not codes:
        return text, [], 0
    try:
        done, deep = screen(text, path)
        if done is not None:
            return text, done, 0
        return in_room(deep, _fix_passes, text, path, codes, unsafe, refuse, build)
    except SourceError as exc:
        return text, [Finding(path, 1, 1, exc.code, exc.reason)], 0


class _Pass:
    """One state of the file: its text, its parse and its findings (``# noqa`` applied)."""

    def __init__(self, text: str, module: cst.Module, path: str, codes, refuse: Optional[Refuse] = None,
                 build: Optional[Build] = None) -> None:
        self.text, self.module = text, module
        self.build = build
        raw = lint_module(module, path, codes, fixes="build", build=build)
        self.kept = apply_noqa(raw, text)
        self.silenced = {f.line for f in set(raw) - set(self.kept)}
        self.lines = text.splitlines()
        self.counts = Counter(self.identity(f) for f in self.kept)
        self.refuse = refuse
        self.refused = refuse(module, [f.fix for f in self.kept if isinstance(f.fix, Fix)]) if refuse else {}

    def identity(self, finding: Finding) -> Identity:
        return _identity(finding, self.lines)


def _fix_passes(text: str, path: str, codes, unsafe: bool, refuse: Optional[Refuse] = None,
                build: Optional[Build] = None) -> Tuple[str, List[Finding], int]:
    try:
        module = parse(text)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return text, [Finding(path, line, col, "E999", message)], 0
    state = _Pass(text, module, path, codes, refuse, build)
    if _with_ending(text, module.code) != text:  # libcst would not give this file back as it is
        return text, [dataclasses.replace(f, fix=FixNote("unavailable", "not applied: libcst cannot reproduce this "
                                                                        "file exactly")) for f in state.kept], 0
    withdrawn: Dict[Identity, str] = {}   # findings whose fix was tried and did not work, and why
    applied: Counter = Counter()          # fixes applied so far, per finding
    most: Counter = Counter(state.counts)  # the most findings of each identity seen at once
    blocked: List[Fix] = []
    fixed = 0
    ran_out = True
    for _ in range(MAX_PASSES):
        chosen, blocked = _choose(state, unsafe, withdrawn, applied, most)
        after = None
        while chosen:
            after, failed = _try(state, chosen, path, codes)
            if not failed:
                break
            for fix, why in failed:
                withdrawn[fix.finding] = why
            chosen = [fix for fix in chosen if fix.finding not in withdrawn]
            after = None
        if after is None:
            ran_out = False
            break
        fixed += sum((state.counts - after.counts).values())
        applied.update(fix.finding for fix in chosen)
        most |= after.counts
        state = after
    remaining = [dataclasses.replace(f, fix=FixNote("unavailable", f"not applied: {state.refused[id(f.fix)]}")
                                     if id(f.fix) in state.refused else _note(f, state.identity(f), unsafe, blocked, withdrawn, ran_out))
                 for f in state.kept]
    return state.text, remaining, fixed


class _Chosen:
    """A fix chosen for a pass, with the identity of the finding it is meant to remove."""

    def __init__(self, fix: Fix, finding: Identity) -> None:
        self.fix, self.finding = fix, finding


def _choose(state: _Pass, unsafe: bool, withdrawn, applied: Counter, most: Counter) -> Tuple[List[_Chosen], List[Fix]]:
    def wanted(safe_only: bool) -> List[Tuple[Fix, Identity]]:
        pairs = []
        for f in sorted(state.kept, key=_order):
            fix, who = f.fix, state.identity(f)
            if not isinstance(fix, Fix) or who in withdrawn or applied[who] >= most[who] or id(fix) in state.refused:
                continue  # no fix, one that did not work, one applied as often as the finding ever appeared,
                # or one this file cannot take (a notebook's fix that spans cells)
            if fix.safe or (unsafe and not safe_only):
                pairs.append((fix, who))
        return pairs

    pairs = wanted(safe_only=False)
    if any(fix.safe for fix, _ in pairs):  # safe fixes first: they can make an unsafe one unneeded
        pairs = [(fix, who) for fix, who in pairs if fix.safe]
    chosen, blocked = choose([fix for fix, _ in pairs], state.module, state.silenced)
    if not chosen and pairs and pairs[0][0].safe and unsafe:  # only blocked safe fixes: go on
        pairs = [(fix, who) for fix, who in wanted(safe_only=False) if not fix.safe]
        chosen, blocked = choose([fix for fix, _ in pairs], state.module, state.silenced)
    who_of = {id(fix): who for fix, who in pairs}
    return [_Chosen(fix, who_of[id(fix)]) for fix in chosen], blocked


def _try(state: _Pass, chosen: List[_Chosen], path: str, codes) -> Tuple[Optional[_Pass], List[Tuple[_Chosen, str]]]:
    """The state after applying ``chosen``, or the fixes that must be withdrawn, and why."""
    new_text = _with_ending(state.text, apply_fixes(state.module, [c.fix for c in chosen]).code)
    if new_text == state.text:
        return None, [(c, "it would change nothing") for c in chosen]
    try:
        after = _Pass(new_text, parse(new_text), path, codes, state.refuse, state.build)
    except cst.ParserSyntaxError:
        return None, [(c, "gradlint's fix gave code that does not parse; please report it") for c in chosen]
    wanted = Counter(c.finding for c in chosen)
    failed = [(c, "the fix did not remove the finding") for c in chosen
              if after.counts[c.finding] > state.counts[c.finding] - wanted[c.finding]]
    return after, failed


def _with_ending(original: str, new: str) -> str:
    """``new`` with the line ending the original file ends with (libcst drops a final lone "\\r")."""
    for ending in ("\r\n", "\n", "\r"):
        if original.endswith(ending):
            return new if new.endswith(ending) else new + ending
    return new


def _note(finding: Finding, who: Identity, unsafe: bool, blocked: List[Fix], withdrawn, ran_out: bool) -> Optional[FixNote]:
    """What is left to say about a remaining finding's fix. One that was allowed but not
    applied was kept off a line silenced by ``# noqa``, did not work, or ran out of passes."""
    fix = finding.fix
    if isinstance(fix, Fix) and (fix.safe or unsafe):
        if any(fix is b for b in blocked):
            why = "it would rewrite a line whose finding `# noqa` silences"
        elif who in withdrawn:
            why = withdrawn[who]
        elif ran_out:
            why = "other fixes kept rewriting the same lines"
        else:
            why = "a fix for the same finding was applied already"
        return FixNote("unavailable", f"not applied: {why}")
    return FixNote.of(fix)


def read_for_fix(path: str, max_size: Optional[int] = MAX_FILE_SIZE) -> Tuple[str, str]:
    """(text, encoding) of a Python file; the encoding writes it back byte for byte
    (``utf-8-sig`` restores a BOM). ``SourceError`` when it cannot be read, decoded, or
    written back unchanged in that encoding."""
    data = read_bytes(path, max_size)
    text, encoding = decode_source(data)
    try:
        faithful = text.encode(encoding) == data
    except (UnicodeError, LookupError):
        faithful = False
    if not faithful:
        raise _Unwritable(text, f"not fixed: its encoding ({encoding}) does not write back byte for byte")
    return text, encoding


class _Unwritable(SourceError):
    """A file that can be linted but not rewritten."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(reason)
        self.text = text


def write_atomic(path: str, text: str, encoding: str) -> None:
    """Replace ``path``'s content in one step: no reader ever sees half a file, and a failure
    leaves the original untouched. Permissions and owner are kept; a symlink keeps pointing
    at its target, which is what gets rewritten. A hard-linked file (or one whose owner
    cannot be kept) is rewritten in place instead, so that it stays the same file.
    ``OSError`` when it cannot be written (a read-only file or folder)."""
    real = os.path.realpath(path)
    data = text.encode(encoding)
    info = os.stat(real)
    if not info.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise PermissionError(13, "the file is read-only", path)
    if info.st_nlink > 1:
        return _write_in_place(real, data)
    folder, name = os.path.split(real)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".gradlint-fix")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        if not _same_owner(tmp, info):
            os.unlink(tmp)
            return _write_in_place(real, data)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _same_owner(tmp: str, info: os.stat_result) -> bool:
    """Give ``tmp`` the original's owner and group; False when that is not allowed."""
    if not hasattr(os, "chown"):
        return True
    mine = os.stat(tmp)
    if (mine.st_uid, mine.st_gid) == (info.st_uid, info.st_gid):
        return True
    try:
        os.chown(tmp, info.st_uid, info.st_gid)
        return True
    except OSError:
        return False


def _write_in_place(real: str, data: bytes) -> None:
    with open(real, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=path, tofile=path)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def fix_file(path: str, selection: Optional[Selection] = None, unsafe: bool = False,
             write: bool = True, max_size: Optional[int] = MAX_FILE_SIZE,
             build: Optional[Build] = None) -> FixResult:
    """Fix one file (read with its project view when ``build`` is given, see ``fix_text``);
    ``write=False`` only computes the diff (``--diff``)."""
    if path.endswith(NOTEBOOK_SUFFIX):
        from .notebook_fix import fix_notebook

        return fix_notebook(path, selection, unsafe, write)
    try:
        text, encoding = read_for_fix(path, max_size)
    except _Unwritable as exc:
        return FixResult(path, _unfixed(exc.text, path, selection, exc.reason))
    except SourceError as exc:
        return FixResult(path, [Finding(path, 1, 1, exc.code, exc.reason)])
    new_text, remaining, fixed = fix_text(text, path, selection, unsafe, build=build)
    if new_text == text or any(f.is_error for f in remaining):
        return FixResult(path, remaining)
    if write:
        try:
            write_atomic(path, new_text, encoding)
        except OSError as exc:
            why = f"cannot write the fixes: {exc.strerror or exc}; the file is unchanged"
            return FixResult(path, _unfixed(text, path, selection, "not applied: the file cannot be written")
                             + [Finding(path, 1, 1, "E902", why)])
    return FixResult(path, remaining, fixed, unified_diff(path, text, new_text))


def _unfixed(text: str, path: str, selection: Optional[Selection], why: str) -> List[Finding]:
    """The findings of the file as it stands, each fix marked as not applied and why."""
    findings = lint_text(text, path, selection, fixes="notes")
    return [dataclasses.replace(f, fix=FixNote("unavailable", why)) if getattr(f.fix, "applicability", "") in
            ("safe", "unsafe") else f for f in findings]


_SHARED: dict = {}   # name -> the Prepared views forked fix workers read


def _fix_one(args) -> FixResult:
    path, selection, unsafe, write, max_size = args
    if path.endswith(NOTEBOOK_SUFFIX):
        return fix_file(path, selection, unsafe, write, max_size)
    prep = _SHARED.get(os.path.abspath(path))
    if prep is None:
        return FixResult(path, [])  # not PyTorch code, or no rule to run: nothing to fix
    if prep.settled.get(path):
        return FixResult(path, prep.settled[path])
    return fix_file(path, selection, unsafe, write, max_size, build=prep.build(os.path.abspath(path)))


def _failed(task, failure: Failure) -> FixResult:
    return FixResult(task[0], [failed_file(task[0], failure)])


@fewer_collections()
def fix_paths(files, unsafe: bool = False, write: bool = True, jobs: int = 0, progress=None,
              selection_for: Optional[Callable[[str], Selection]] = None,
              max_file_size: Optional[int] = MAX_FILE_SIZE, cache_dir: Optional[str] = None) -> List[FixResult]:
    """Fix many files, each read with the project view of its root, as ``gradlint`` lints it
    (a fix for a finding the view rules out is never written); results in the order of
    ``files``. The summaries are made first (over workers when it pays), then the files are
    fixed: in workers forked with the views where workers are forked, else in this process.
    A file whose fixing crashes or raises is an E903; every other file is fixed and reported."""
    from .project.lint import by_root, prepare, worker_pool
    from .project.view import ProjectView
    from .workers import forks

    files = list(files)
    tasks = [(f, selection_for(f) if selection_for else Selection(), unsafe, write, max_file_size) for f in files]
    python = [f for f in files if not f.endswith(NOTEBOOK_SUFFIX)]
    cache = Cache.at(cache_dir) if cache_dir else None
    pool = worker_pool(jobs, len(python))
    try:
        for root, group in by_root(python):
            prep = prepare(ProjectView(root, max_file_size=max_file_size), group, cache, pool=pool)
            for path in group:
                absolute = os.path.abspath(path)
                if prep.settled.get(path) or absolute in prep.pytorch:
                    _SHARED[absolute] = prep
        if pool is not None:
            pool.close()  # the fixing workers are forked with the views
        return map_files(_fix_one, tasks, jobs if forks() else 1, progress, failed=_failed)
    finally:
        _SHARED.clear()
        if pool is not None:
            pool.close()


def project_fixer(path: str, text: str, cache_dir: Optional[str] = None):
    """For one file given as text (standard input, an editor): (the findings that stand for
    it when no rule runs, else None; the ``build`` for ``fix_text``, None when it is not
    PyTorch code)."""
    from .project.lint import prepare
    from .project.layout import root_of
    from .project.view import ProjectView

    absolute = os.path.abspath(path)
    prep = prepare(ProjectView(root_of(path), {absolute: text}), [path], Cache.at(cache_dir) if cache_dir else None)
    if prep.settled.get(path):
        return prep.settled[path], None
    return None, (prep.build(absolute) if absolute in prep.pytorch else None)
