"""Re-lint the judged corpus and show what changed against the verdicts.

    python benchmarks/corpus/run.py [--split tune|check|all] [--repo NAME] [--python PY] [--json OUT]

For each repository of the manifest (pinned repo@commit, optionally a subfolder), the
commit is materialized from its fetched mirror into a scratch folder outside the checkout
and gradlint is run on it the way a user would (from the repository's root, the whole
tree, JSON output). Each finding is matched with verdicts.csv by (repo, path, cell, line,
code); the source line's hash tells a changed line from a judged one. Printed: every
finding that is new (unjudged), every judged finding that is gone, then a table per split
and rule. The check split is never for tuning: run it only for the final judgement.
No network: mirrors come from the search tool's `fetch` (see README.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.csv"
VERDICTS = HERE / "verdicts.csv"
VERDICT_FIELDS = ["repo", "path", "cell", "line", "code", "line_sha", "verdict", "reason"]
VERDICT_WORDS = ("true", "false", "debatable")
# gradlint's own discovery skips these folders; the line count must skip them too.
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules", "build", "dist",
    "site-packages", ".ipynb_checkpoints", ".gradlint_cache",
}
KEPT_SUFFIXES = (".py", ".ipynb")
KEPT_NAMES = ("pyproject.toml", "setup.cfg")
TORCH_IMPORT = re.compile(r"^\s*(import\s+torch\b|from\s+torch\b)", re.M)

Key = Tuple[str, str, str, int, str]  # repo, path, cell ("" for .py), line, code


@dataclass
class Repo:
    """One manifest row."""
    repo: str
    commit: str
    split: str
    kind: str
    subdir: str
    lines: int

    @property
    def mirror(self) -> str:
        return self.repo.replace("/", "+")


@dataclass
class Result:
    """What one repository gave: its findings (with line hashes), or why it gave none."""
    repo: Repo
    findings: List[dict] = field(default_factory=list)
    not_linted: int = 0
    missing: List[str] = field(default_factory=list)
    lines: int = 0
    error: str = ""


def load_manifest() -> List[Repo]:
    with MANIFEST.open(newline="") as fh:
        return [Repo(r["repo"], r["commit"], r["split"], r["kind"], r["subdir"], int(r["lines"]))
                for r in csv.DictReader(fh)]


def load_verdicts(path: Path) -> Dict[Key, dict]:
    out: Dict[Key, dict] = {}
    if not path.exists():
        return out
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["verdict"] not in VERDICT_WORDS:
                sys.exit(f"verdicts.csv: {r['repo']} {r['path']}:{r['line']} has verdict {r['verdict']!r}")
            out[(r["repo"], r["path"], r["cell"], int(r["line"]), r["code"])] = r
    return out


def line_sha(text: str) -> str:
    """A short hash of the stripped line: detects a moved or edited line without storing code."""
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:10]


def materialize(repo: Repo, mirrors: Path, workdir: Path) -> Path:
    """The pinned tree (or its subfolder) under workdir, extracted once and reused.

    Only what gradlint reads is written: *.py, *.ipynb and the project files that mark a root
    (pyproject.toml, setup.cfg). Snapshots lack blobs of 4 MiB and more, so `git archive`
    fails on them; blobs are read one by one instead and the missing ones are listed.
    """
    git_dir = mirrors / repo.mirror / "repo"
    if not git_dir.is_dir():
        raise RuntimeError(f"no mirror at {git_dir}: run the search tool's fetch github:{repo.repo}")
    root = workdir / f"{repo.mirror}@{repo.commit[:12]}"
    done = workdir / f"{root.name}.done"
    if done.exists():
        return root
    git = ["git", "--git-dir", str(git_dir)]
    probe = subprocess.run(git + ["cat-file", "-e", f"{repo.commit}^{{commit}}"], capture_output=True)
    if probe.returncode:
        raise RuntimeError(f"commit {repo.commit} is not in {git_dir}: fetch github:{repo.repo} again")
    listing = subprocess.run(git + ["ls-tree", "-r", "-z", repo.commit, "--", repo.subdir or "."],
                             capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
    wanted = []
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000" and (path.endswith(KEPT_SUFFIXES) or
                                                    os.path.basename(path) in KEPT_NAMES):
            wanted.append((sha, path))
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    missing = []
    batch = subprocess.Popen(git + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    feeder = threading.Thread(target=_feed, args=(batch.stdin, [sha for sha, _ in wanted]))
    feeder.start()
    for sha, path in wanted:
        header = batch.stdout.readline().split()
        if header[1] == b"missing":
            missing.append(path)
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        out = root / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    feeder.join()
    if batch.wait():
        raise RuntimeError(f"git cat-file failed on {git_dir}")
    (root.parent / f"{root.name}.missing").write_text("".join(p + "\n" for p in missing))
    done.touch()
    return root


def _feed(pipe, shas: List[str]) -> None:
    for sha in shas:
        pipe.write(sha.encode() + b"\n")
    pipe.close()


def missing_files(root: Path) -> List[str]:
    """Source files the snapshot lacks (blobs of 4 MiB and more), so gradlint cannot see them."""
    listed = root.parent / f"{root.name}.missing"
    return [p for p in listed.read_text().splitlines() if p.endswith((".py", ".ipynb"))] if listed.exists() else []


def source_files(top: Path):
    """The *.py and *.ipynb files gradlint's folder walk visits."""
    for base, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                         and not (Path(base, d) / "pyvenv.cfg").is_file())
        for name in sorted(files):
            if name.endswith((".py", ".ipynb")):
                yield Path(base, name)


def code_lines(path: Path) -> List[List[str]]:
    """The file's lines: one list for a .py file, one per cell for a notebook (markdown cells empty)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return [text.splitlines()]
    try:
        data = json.loads(text)
        cells = data.get("cells") or [c for w in data.get("worksheets", []) for c in w.get("cells", [])]
    except (ValueError, AttributeError):
        return [[]]
    out = []
    for c in cells:
        src = c.get("source", c.get("input", "")) if isinstance(c, dict) else ""
        src = "".join(src) if isinstance(src, list) else str(src)
        out.append(src.splitlines() if c.get("cell_type") == "code" else [])
    return out


def count_lines(top: Path) -> int:
    return sum(len(cell) for p in source_files(top) for cell in code_lines(p))


def lint(repo: Repo, args) -> Result:
    result = Result(repo)
    try:
        root = materialize(repo, args.mirrors, args.workdir)
    except RuntimeError as exc:
        result.error = str(exc)
        return result
    (root / ".git").mkdir(exist_ok=True)  # a user lints a clone: its root is marked as one
    target = repo.subdir or "."
    result.missing = missing_files(root)
    result.lines = count_lines(root / target)
    if args.count_only:
        return result
    cmd = [args.python, "-m", "gradlint", "--output-format", "json", "--no-cache", "--exit-zero", target]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    if proc.returncode or report is None:  # with --exit-zero only a usage or internal error exits nonzero
        result.error = f"gradlint exited {proc.returncode}: {proc.stderr.strip()[-400:]}"
        return result
    result.not_linted = len(report.get("errors", []))
    texts: Dict[str, Tuple[List[List[str]], bool]] = {}
    for f in report["findings"]:
        path = f["path"].replace(os.sep, "/")
        path = path[2:] if path.startswith("./") else path
        if path not in texts:
            file = root / path
            cells = code_lines(file)
            texts[path] = (cells, any(TORCH_IMPORT.search("\n".join(c)) for c in cells))
        cells, torch_file = texts[path]
        cell = f.get("cell")
        lines = cells[cell - 1] if cell else cells[0]
        text = lines[f["line"] - 1] if 0 < f["line"] <= len(lines) else ""
        result.findings.append({"repo": repo.repo, "path": path, "cell": str(cell or ""), "line": f["line"],
                                "code": f["code"], "line_sha": line_sha(text), "message": f["message"],
                                "torch_import": torch_file})
    return result


def judge(results: List[Result], verdicts: Dict[Key, dict]):
    """Each finding with its verdict (or None), and the judged findings no longer reported."""
    seen = set()
    judged = []
    for res in results:
        for f in res.findings:
            key = (f["repo"], f["path"], f["cell"], f["line"], f["code"])
            v = verdicts.get(key)
            if v is not None and v["line_sha"] != f["line_sha"]:
                f["note"] = f"line changed since judged ({v['line_sha']} -> {f['line_sha']})"
                v = None
            seen.add(key)
            judged.append((f, v["verdict"] if v else None))
    ran = {res.repo.repo for res in results if not res.error}  # a failed repository loses no verdict
    gone = [v for k, v in verdicts.items() if k[0] in ran and k not in seen]
    return judged, gone


def where(f: dict) -> str:
    cell = f"cell {f['cell']}:" if f["cell"] else ""
    return f"{f['repo']} {f['path']}:{cell}{f['line']}"


def table(judged, results: List[Result]) -> List[dict]:
    """Rows per split and rule (and 'all'): counts, both precisions, findings per 10k lines."""
    lines = Counter()
    for res in results:
        if not res.error:
            lines[res.repo.split] += res.lines
            lines["all"] += res.lines
    split_of = {res.repo.repo: res.repo.split for res in results}
    counts: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
    for f, verdict in judged:
        for split in (split_of[f["repo"]], "all"):
            for code in (f["code"], "all"):
                c = counts[(split, code)]
                c["findings"] += 1
                c[verdict or "unjudged"] += 1
                c["no_torch_import"] += not f["torch_import"]
    rows = []
    splits = sorted(s for s in lines if s != "all") + (["all"] if len(lines) > 2 else [])
    for split in splits:
        codes = sorted({code for (s, code) in counts if s == split and code != "all"}) + ["all"]
        for code in codes:
            c = counts[(split, code)]
            judged_n = c["true"] + c["false"] + c["debatable"]
            rows.append({
                "split": split, "rule": code, "findings": c["findings"], "true": c["true"], "false": c["false"],
                "debatable": c["debatable"], "unjudged": c["unjudged"], "no_torch_import": c["no_torch_import"],
                "precision": round(c["true"] / judged_n, 3) if judged_n else None,
                "precision_decided": round(c["true"] / (c["true"] + c["false"]), 3) if c["true"] + c["false"] else None,
                "per_10k_lines": round(c["findings"] * 1e4 / lines[split], 2) if lines[split] else None,
                "lines": lines[split],
            })
    return rows


def show(rows: List[dict]) -> None:
    head = ["split", "rule", "findings", "true", "false", "debatable", "unjudged", "no_torch_import",
            "precision", "precision_decided", "per_10k_lines", "lines"]
    cells = [[("-" if r[h] is None else str(r[h])) for h in head] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))
    print("precision = true / judged (debatable counts against); precision_decided = true / (true + false)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "check", "all"),
                        help="default: tune (with --repo: whichever split holds it)")
    parser.add_argument("--repo", action="append", help="owner/name (or name); repeatable")
    parser.add_argument("--python", default=sys.executable, help="interpreter whose gradlint runs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gradlint-corpus"))
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--parallel", type=int, default=2, help="repositories linted at once")
    parser.add_argument("--verdicts", type=Path, default=VERDICTS)
    parser.add_argument("--json", type=Path, help="write the summary, findings and changes here")
    parser.add_argument("--new-rows", type=Path, help="write the unjudged findings as verdicts.csv rows to fill in")
    parser.add_argument("--count-only", action="store_true", help="materialize and count lines; lint nothing")
    args = parser.parse_args(argv)

    split = args.split or ("all" if args.repo else "tune")
    repos = [r for r in load_manifest() if split in ("all", r.split)]
    if args.repo:
        repos = [r for r in repos if r.repo in args.repo or r.repo.split("/")[1] in args.repo]
    if not repos:
        sys.exit("no repository of the manifest matches")
    args.workdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        results = list(pool.map(lambda r: lint(r, args), repos))

    failed = [res for res in results if res.error]
    for res in results:
        if res.missing:
            print(f"note: {res.repo.repo}: the snapshot lacks {len(res.missing)} source files: "
                  + ", ".join(res.missing))
        if res.lines != res.repo.lines and not res.error:
            print(f"note: {res.repo.repo} has {res.lines} lines, the manifest says {res.repo.lines}")
    if args.count_only:
        for res in results:
            print(f"{res.repo.repo},{res.repo.split},{res.lines}{'  ERROR ' + res.error if res.error else ''}")
        return 1 if failed else 0

    judged, gone = judge(results, load_verdicts(args.verdicts))
    new = [f for f, v in judged if v is None]
    for f in new:
        note = f"  ({f['note']})" if f.get("note") else ""
        print(f"NEW  {where(f)} {f['code']} [{f['line_sha']}] {f['message'][:150]}{note}")
    for v in gone:
        print(f"GONE {v['repo']} {v['path']}:{v['cell'] + ':' if v['cell'] else ''}{v['line']} {v['code']} "
              f"(was {v['verdict']}: {v['reason']})")
    for res in results:
        if res.not_linted:
            print(f"note: {res.repo.repo}: {res.not_linted} files not linted (E902/E999)")
    for res in failed:
        print(f"FAILED {res.repo.repo}: {res.error}")
    rows = table(judged, results)
    print()
    show(rows)
    if args.new_rows:
        with args.new_rows.open("w", newline="") as fh:
            w = csv.DictWriter(fh, VERDICT_FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(dict(f, verdict="", reason=f["message"][:100]) for f in new)
    if args.json:
        args.json.write_text(json.dumps({
            "table": rows, "new": new, "gone": gone,
            "failed": {res.repo.repo: res.error for res in failed},
            "repos": {res.repo.repo: {"split": res.repo.split, "lines": res.lines, "findings": len(res.findings),
                                      "not_linted": res.not_linted, "missing": res.missing} for res in results},
            "findings": [dict(f, verdict=v) for f, v in judged],
        }, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
