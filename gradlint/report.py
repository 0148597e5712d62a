"""Turning findings into what the user reads."""

from __future__ import annotations

from collections import Counter
from typing import List, TextIO

from .finding import Finding


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _not_found(missing: int) -> str:
    return f"{_plural(missing, 'path')} not found"


def summary(findings: List[Finding], checked: int, missing: int = 0) -> str:
    """The last line of a run. "No problems found" only when every path named was there and
    every file could be linted: a run that missed something never reads as clean."""
    problems = [f for f in findings if not f.is_error]
    errors = [f for f in findings if f.is_error]
    files = len({f.path for f in problems})
    checked_text = _plural(checked, "file") + " checked"
    unlinted = len({f.path for f in errors})
    if problems:
        text = f"Found {_plural(len(problems), 'problem')} in {_plural(files, 'file')} ({checked_text})"
        if unlinted:
            text += f"; {_plural(unlinted, 'file')} could not be linted"
    elif unlinted:
        text = f"{_plural(unlinted, 'file')} could not be linted; no problems in the others ({checked_text})"
    elif missing:
        text = f"No problems in the files found ({checked_text})"
    else:
        text = f"No problems found ({checked_text})"
    if missing:
        text = f"{_not_found(missing)}. {text}"
    return text + "."


def _applicability(finding: Finding) -> str:
    return getattr(finding.fix, "applicability", "")


def fix_hint(findings: List[Finding], fixing: bool = False, unsafe: bool = False) -> str:
    """What ``--fix`` could do about ``findings`` (after a fix: why they remain); "" for nothing."""
    counts = Counter(_applicability(f) for f in findings if not f.is_error)
    if not fixing and unsafe:  # --unsafe-fixes alone: unsafe fixes count as available, as in ruff
        total = counts["safe"] + counts["unsafe"]
        return f"[*] {total} fixable with `gradlint --fix --unsafe-fixes`." if total else ""
    if not fixing:
        if counts["safe"]:
            text = f"[*] {counts['safe']} fixable with `gradlint --fix`"
            if counts["unsafe"]:
                text += f" ({counts['unsafe']} more with `--fix --unsafe-fixes`)"
            return text + "."
        if counts["unsafe"]:
            return f"No safe fixes; {counts['unsafe']} fixable with `gradlint --fix --unsafe-fixes`."
        return ""
    parts = []
    if counts["unsafe"] and not unsafe:
        parts.append(f"{counts['unsafe']} fixable with `--unsafe-fixes`")
    if counts["unavailable"]:
        parts.append(f"{counts['unavailable']} not fixable automatically")
    return f"Of those remaining, {' and '.join(parts)}." if parts else ""


def fix_summary(fixed: int, fixed_files: int, findings: List[Finding], checked: int, diff: bool = False,
                missing: int = 0) -> str:
    """``Fixed 5 problems in 3 files, 2 remaining (12 files checked).`` (``Would fix`` for --diff)."""
    problems = [f for f in findings if not f.is_error]
    errors = [f for f in findings if f.is_error]
    checked_text = _plural(checked, "file") + " checked"
    verb = "Would fix" if diff else "Fixed"
    if not fixed and not problems:
        clean = "No problems found" if not (errors or missing) else "No problems in the files linted"
        text = f"{clean} ({checked_text})" if not diff else f"Nothing to fix ({checked_text})"
    else:
        text = f"{verb} {_plural(fixed, 'problem')}"
        if fixed:
            text += f" in {_plural(fixed_files, 'file')}"
        text += f", {len(problems)} remaining ({checked_text})"
    if errors:
        n = len({f.path for f in errors})
        text += f"; {_plural(n, 'file')} could not be linted"
    if missing:
        text = f"{_not_found(missing)}. {text}"
    return text + "."


def write_text(findings: List[Finding], out: TextIO) -> None:
    for finding in findings:
        out.write(finding.format() + "\n")


_ERROR_NAMES = {"E902": "file-not-readable", "E903": "file-not-analysed", "E999": "syntax-error"}


def statistics(findings: List[Finding]) -> List[str]:
    """``--statistics``: one ``count  CODE name`` line per code, most frequent first."""
    from .catalog import CATALOG

    counts = Counter(f.code for f in findings)
    lines = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        name = CATALOG[code].name if code in CATALOG else _ERROR_NAMES.get(code, "")
        lines.append(f"{count:<5} {code} {name}".rstrip())
    return lines
