"""SARIF 2.1.0 (OASIS), as code-scanning dashboards read it.

One run; the driver lists every implemented rule with its id, name, short and full
description and help text (the rule's page); a help URI only where ``docs-url`` says where
the pages are published. Findings are results, with ``partialFingerprints`` that survive
lines moving (code scanning matches alerts across commits by them); files that could not
be linted (E902, E999) are tool execution notifications. Columns count Unicode code points
(``columnKind``), as gradlint's columns do.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, TextIO
from urllib.parse import quote

from .. import __version__
from ..catalog import CATALOG
from ..docs import DOCS, doc_url, render_markdown
from ..finding import Finding
from ..rules import implemented

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "gradlintFinding/v1"
SRCROOT = "%SRCROOT%"


def _plain(markdown: str) -> str:
    return " ".join(markdown.split())


def rule_descriptor(code: str, docs_url: Optional[str] = None) -> Dict[str, Any]:
    info = CATALOG[code]
    doc = DOCS.get(code)
    descriptor: Dict[str, Any] = {
        "id": code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": _plain(f"{doc.what} {doc.why}") if doc else info.summary},
        "defaultConfiguration": {"level": _level(code)},
        "properties": {"tags": ["pytorch", "correctness"], "severity": info.severity},
    }
    if doc is not None:
        page = render_markdown(doc).split("\n", 2)[2]
        descriptor["help"] = {"text": _plain(doc.what), "markdown": page}
    url = doc_url(code, docs_url)
    if url:
        descriptor["helpUri"] = url
    return descriptor


def _level(code: str) -> str:
    info = CATALOG.get(code)
    return "warning" if info is not None and info.severity == "warning" else "error"


def _artifact(path: str, root: str) -> Dict[str, Any]:
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, root)
    if rel.startswith(".."):
        return {"uri": pathlib.Path(absolute).as_uri()}
    return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _location(finding: Finding, root: str) -> Dict[str, Any]:
    physical: Dict[str, Any] = {"artifactLocation": _artifact(finding.path, root)}
    if finding.cell is None:
        region = {"startLine": finding.line, "startColumn": finding.col}
        if finding.end_line is not None and finding.end_col is not None:
            region.update(endLine=finding.end_line, endColumn=finding.end_col)
        physical["region"] = region
        return {"physicalLocation": physical}
    # A notebook: the line is a line of the cell, not of the .ipynb file's JSON text.
    return {"physicalLocation": physical,
            "logicalLocations": [{"name": f"cell {finding.cell}", "kind": "module"}],
            "properties": {"cell": finding.cell, "line": finding.line, "column": finding.col}}


def _message(finding: Finding) -> str:
    text = finding.message + (f"\nhelp: {finding.help}" if finding.help else "")
    if finding.cell is None:
        return text
    return f"cell {finding.cell}, line {finding.line}, col {finding.col}: {text}"


def _fingerprints(findings: List[Finding], root: str,
                  lines: Optional[Callable[[Finding], Optional[List[str]]]]) -> Dict[int, str]:
    """A hash of what a finding is, not where: the rule, the file, the cell, the anchor line's
    text (stripped) and which of the identical ones it is. Inserting lines above it leaves
    it unchanged; editing the flagged line changes it."""
    seen: Counter = Counter()
    out: Dict[int, str] = {}
    for finding in findings:
        source = lines(finding) if lines is not None else None
        text = source[finding.line - 1].strip() if source and 0 < finding.line <= len(source) else \
            f"line {finding.line}"
        rel = os.path.relpath(os.path.abspath(finding.path), root).replace(os.sep, "/")
        key = "\0".join([finding.code, rel, str(finding.cell or ""), text])
        seen[key] += 1
        out[id(finding)] = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:32]
    return out


def sarif_log(findings: List[Finding], root: Optional[str] = None, docs_url: Optional[str] = None,
              lines: Optional[Callable[[Finding], Optional[List[str]]]] = None) -> Dict[str, Any]:
    """``lines(finding)`` gives the lines it points into, for its fingerprint."""
    root = os.path.abspath(root or os.getcwd())
    fingerprints = _fingerprints([f for f in findings if not f.is_error], root, lines)
    codes = implemented()
    index = {code: n for n, code in enumerate(codes)}
    results = []
    notifications = []
    for finding in findings:
        if finding.is_error:
            notifications.append({"level": "error", "message": {"text": f"{finding.code} {_message(finding)}"},
                                  "locations": [_location(finding, root)],
                                  "descriptor": {"id": finding.code}})
            continue
        result: Dict[str, Any] = {"ruleId": finding.code, "level": _level(finding.code),
                                  "message": {"text": _message(finding)},
                                  "locations": [_location(finding, root)],
                                  "partialFingerprints": {FINGERPRINT: fingerprints[id(finding)]}}
        if finding.code in index:
            result["ruleIndex"] = index[finding.code]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gradlint", "version": __version__, "semanticVersion": __version__,
                                "rules": [rule_descriptor(code, docs_url) for code in codes]}},
            "originalUriBaseIds": {SRCROOT: {"uri": pathlib.Path(root).as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def write(run, out: TextIO, color: bool = False) -> None:
    log = sarif_log(run.findings, docs_url=run.docs_url, lines=run.sources.lines)
    json.dump(log, out, indent=2, ensure_ascii=False)
    out.write("\n")
