"""Findings cached by content: a file that has not changed is not parsed again.

One entry per linted path, under ``.gradlint_cache/`` in the current folder (as ruff keeps
``.ruff_cache``). An entry is valid only for the same file bytes, the same rule selection
and the same gradlint code (a hash of the package's own sources, so an upgrade or a local
edit of gradlint invalidates everything). Entries are written atomically; an unreadable or
stale entry is ignored, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence

from .finding import Finding
from .fixes import FixNote

DEFAULT_DIR = ".gradlint_cache"
_FORMAT = 1


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of gradlint's own source files: results of another version are not reused."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(_FORMAT).encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class Cache:
    def __init__(self, folder: str = DEFAULT_DIR) -> None:
        self.folder = Path(folder)

    def _entry(self, path: str) -> Path:
        name = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()
        return self.folder / name[:2] / f"{name}.json"

    @staticmethod
    def key(path: str, content: bytes, codes: Sequence[str], fixes: str) -> str:
        digest = hashlib.sha256(code_fingerprint().encode())
        digest.update("\0".join([os.path.abspath(path), ",".join(codes), fixes, ""]).encode())
        digest.update(content)
        return digest.hexdigest()

    def get(self, path: str, key: str) -> Optional[List[Finding]]:
        try:
            with open(self._entry(path), encoding="utf-8") as handle:
                entry = json.load(handle)
            if entry.get("key") != key:
                return None
            return [Finding(path, f["line"], f["col"], f["code"], f["message"],
                            fix=FixNote(*f["fix"]) if f.get("fix") else None, cell=f.get("cell"),
                            help=f.get("help", ""), end_line=f.get("end_line"), end_col=f.get("end_col"))
                    for f in entry["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, path: str, key: str, findings: List[Finding]) -> None:
        entry = self._entry(path)
        data = {"key": key, "findings": [
            {"line": f.line, "col": f.col, "code": f.code, "message": f.message, "cell": f.cell, "help": f.help,
             "end_line": f.end_line, "end_col": f.end_col,
             "fix": [f.fix.applicability, f.fix.description] if isinstance(f.fix, FixNote) else None}
            for f in findings]}
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# created by gradlint\n*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, entry)
        except OSError:
            pass  # a read-only folder: linting still works, only slower next time
