"""Recall of gradlint on real PyTorch bugs that maintainers fixed (benchmarks/recall/bugs.csv).

    python benchmarks/recall/run.py [--python PY] [--mirrors DIR] [--scratch DIR] [--only B01,B07] [--json]

For each bug, the buggy commit's Python files (*.py, *.ipynb, plus pyproject.toml and setup.cfg)
are copied out of its bare mirror (`fetch github:owner/name`, under /work/.mirror/owner+name/)
into --scratch, outside the checkout, with an empty `.git` folder marking the root as a clone
would. Then `PY -m gradlint` runs twice: on the whole tree from its root (as a user would) and on
the single file. A bug is found when a finding of its code lies on its line, or inside the
same statement (a multi-line statement's lines; for a compound statement such as `for` or
`with`, its header lines only). Only git and the mirrors are used: no network.

Why a separate interpreter: the lead measures other checkouts' gradlint with the same bugs.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUFFIXES = (".py", ".ipynb")
CONFIG_NAMES = ("pyproject.toml", "setup.cfg")
MODES = ("repo", "file")


def git_dir(mirrors: Path, repo: str) -> Path:
    """The mirror's git directory: fetch gives owner+name/repo, sometimes with a work tree."""
    base = mirrors / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def git(gdir: Path, *args: str, env=None, stdin=None) -> bytes:
    return subprocess.run(["git", "--git-dir", str(gdir), *args], check=True, capture_output=True,
                          env=env, input=stdin).stdout


def materialize(gdir: Path, commit: str, dest: Path) -> None:
    """Copy the commit's Python and config files (regular files only, no symlinks) into dest."""
    done = dest.with_name(dest.name + ".done")
    if done.exists():
        return
    listing = git(gdir, "ls-tree", "-r", "-z", commit).split(b"\0")
    names = []
    for entry in filter(None, listing):
        meta, name = entry.split(b"\t", 1)
        mode = meta.split()[0]
        text = name.decode("utf-8", "surrogateescape")
        if mode in (b"100644", b"100755") and (text.endswith(SUFFIXES) or os.path.basename(text) in CONFIG_NAMES):
            names.append(name)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".git").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(tmp, "index"))
        git(gdir, "read-tree", commit, env=env)
        git(gdir, "--work-tree", str(dest), "checkout-index", "-f", "-z", "--stdin",
            env=env, stdin=b"\0".join(names))
    done.touch()


def run_gradlint(python: str, root: Path, target: str, timeout: float) -> list:
    """Findings of `python -m gradlint target` run from root, as (relative path, line, code)."""
    cmd = [python, "-m", "gradlint", target, "--output-format", "json", "--no-cache", "--exit-zero", "-q"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"gradlint exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    report = json.loads(proc.stdout)
    return [(os.path.normpath(f["path"]), f["line"], f["code"]) for f in report["findings"]]


def statement_lines(source: str, line: int) -> range:
    """Lines of the innermost statement holding `line` (a compound statement's header only)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return range(line, line + 1)
    best = range(line, line + 1)
    found = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            span = range(node.lineno, max(node.lineno, body[0].lineno - 1) + 1)
        else:
            span = range(node.lineno, node.end_lineno + 1)
        if line in span and (not found or len(span) <= len(best)):
            best, found = span, True
    return best


def judge(findings: list, bug: dict, span: range) -> dict:
    """found (exact line or same statement) and where else the bug's code fired in its file."""
    path = os.path.normpath(bug["path"])
    lines = sorted({ln for p, ln, c in findings if p == path and c == bug["code"]})
    if int(bug["line"]) in lines:
        return {"found": True, "match": "line", "code_lines_in_file": lines}
    if any(ln in span for ln in lines):
        return {"found": True, "match": "statement", "code_lines_in_file": lines}
    return {"found": False, "match": None, "code_lines_in_file": lines}


def measure(bugs: list, args) -> list:
    """One result per bug: its verdict in each mode, or the error that stopped it."""
    repo_cache = {}
    results = []
    for bug in bugs:
        result = {"id": bug["id"], "repo": bug["repo"], "code": bug["code"], "scope": bug["scope"],
                  "path": bug["path"], "line": int(bug["line"]), "verdicts": {}}
        gdir = git_dir(args.mirrors, bug["repo"])
        try:
            if not gdir.is_dir():
                raise RuntimeError(f"mirror missing: {gdir} (fetch github:{bug['repo']})")
            root = args.scratch / bug["repo"].replace("/", "+") / bug["buggy_commit"][:12]
            materialize(gdir, bug["buggy_commit"], root)
            source_path = root / bug["path"]
            if not source_path.is_file():
                raise RuntimeError(f"{bug['path']} is not in {bug['buggy_commit'][:12]}")
            span = statement_lines(source_path.read_text(encoding="utf-8", errors="replace"), int(bug["line"]))
            key = (bug["repo"], bug["buggy_commit"])
            for mode in args.modes:
                if mode == "repo":
                    if key not in repo_cache:
                        repo_cache[key] = run_gradlint(args.python, root, ".", args.timeout)
                    findings = repo_cache[key]
                else:
                    findings = run_gradlint(args.python, root, bug["path"], args.timeout)
                result["verdicts"][mode] = judge(findings, bug, span)
        except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
            result["error"] = str(exc)
        results.append(result)
        if not args.json:
            print(row_text(result, args.modes), flush=True)
    return results


def row_text(result: dict, modes) -> str:
    cells = [f"{result['id']:4}", f"{result['code']:6}", f"{result['scope']:8}"]
    for mode in modes:
        verdict = result["verdicts"].get(mode)
        cells.append(f"{mode}: " + ("ERROR " if verdict is None else
                                    ("found " if verdict["found"] else "missed")))
    where = f"{result['repo']}:{result['path']}:{result['line']}"
    tail = f"  ({result['error']})" if "error" in result else ""
    return "  ".join(cells) + f"  {where}{tail}"


def tally(results: list, key: str, modes) -> "OrderedDict[str, dict]":
    """found / total per value of key (code or scope), for each mode; errors count as not found."""
    table = OrderedDict()
    for res in sorted(results, key=lambda r: r[key]):
        cell = table.setdefault(res[key], {"total": 0, "errors": 0, **{m: 0 for m in modes}})
        cell["total"] += 1
        cell["errors"] += "error" in res
        for mode in modes:
            cell[mode] += bool(res["verdicts"].get(mode, {}).get("found"))
    return table


def table_text(title: str, table: dict, modes) -> str:
    lines = [f"{title:8} {'bugs':>5} " + " ".join(f"{m + ' found':>11}" for m in modes) + "  errors"]
    total = {"total": 0, "errors": 0, **{m: 0 for m in modes}}
    for name, cell in list(table.items()) + [("all", None)]:
        cell = cell or total
        if name != "all":
            for k in total:
                total[k] += cell[k]
        lines.append(f"{name:8} {cell['total']:>5} " + " ".join(f"{cell[m]:>11}" for m in modes)
                     + f"  {cell['errors']:>6}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bugs", type=Path, default=HERE / "bugs.csv")
    parser.add_argument("--python", default=sys.executable, help="interpreter whose gradlint is measured")
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "gradlint-recall")
    parser.add_argument("--only", default="", help="comma-separated bug ids")
    parser.add_argument("--mode", choices=("both",) + MODES, default="both")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per gradlint run")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args(argv)
    args.modes = MODES if args.mode == "both" else (args.mode,)
    if os.sep in args.python:  # gradlint runs from each tree's root; keep the venv's symlink unresolved
        args.python = os.path.abspath(args.python)
    with open(args.bugs, newline="") as handle:
        bugs = list(csv.DictReader(handle))
    if args.only:
        wanted = set(args.only.split(","))
        bugs = [b for b in bugs if b["id"] in wanted]
    results = measure(bugs, args)
    by_rule, by_scope = tally(results, "code", args.modes), tally(results, "scope", args.modes)
    if args.json:
        json.dump({"python": args.python, "matching": "same line, or same statement", "bugs": results,
                   "by_rule": by_rule, "by_scope": by_scope}, sys.stdout, indent=1)
        print()
    else:
        print()
        print(table_text("rule", by_rule, args.modes))
        print()
        print(table_text("scope", by_scope, args.modes))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
