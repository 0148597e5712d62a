"""The child's measurements in the parent, indexed by (file, statement line).

Plain data only (no torch): ``effects`` reads these to decide each rule's verdict.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from .statements import StatementIndex

Anchor = Tuple[str, int]
CALL_TABLES = ("dropouts", "bn_updates", "backwards", "steps", "losses", "direct_forwards")  # monitors_calls


class Observations:
    def __init__(self, result: dict):
        self.result = result
        self.device = result.get("device")
        self.cuda_used = bool(result.get("cuda_used"))
        self.status = result.get("status")
        self.hits: Dict[Anchor, int] = {(p, ln): n for p, ln, n in result.get("hits", [])}
        self.hit_seqs: Dict[Anchor, List[int]] = defaultdict(list)
        for seq, p, ln in result.get("hit_log", []):
            self.hit_seqs[(p, ln)].append(seq)
        self.forwards: List[dict] = sorted(result.get("forwards", []), key=lambda r: r["seq"])
        self.forward_calls: Dict[Anchor, int] = {(p, ln): n for p, ln, n in result.get("forward_totals", [])}
        self._by_line: Dict[str, Dict[Anchor, list]] = {}
        for name in ("forwards", "probes", "exceptions", "warnings", "optimizers", "movement",
                     "param_changes", "param_orphans", "tensor_copies", "attr_targets") + CALL_TABLES:
            table: Dict[Anchor, list] = defaultdict(list)
            for item in result.get(name, []) or []:
                table[(item.get("path"), item.get("line"))].append(item)
            self._by_line[name] = table
        exc = result.get("exception")
        self.final_exception: Optional[dict] = exc
        if exc and exc.get("path"):
            seen = self._by_line["exceptions"][(exc["path"], exc["line"])]
            if not any(e["type"] == exc["type"] and e["message"] == exc["message"] for e in seen):
                seen.append(dict(exc, seq=10 ** 12))

    def at(self, name: str, anchor: Anchor) -> list:
        return self._by_line[name].get(anchor, [])

    def all(self, name: str) -> list:
        return [item for items in self._by_line[name].values() for item in items]

    def sites(self, name: str, keep=None) -> List[Tuple[Anchor, list]]:
        """Each statement's ``name`` records (those ``keep`` accepts), in file and line order:
        what a rule's scan over a whole run reads site by site."""
        out = []
        for anchor, items in self._by_line[name].items():
            kept = [r for r in items if keep is None or keep(r)]
            if anchor[0] and kept:
                out.append((anchor, kept))
        return sorted(out, key=lambda pair: pair[0])

    def reached(self, anchor: Anchor) -> bool:
        return (self.hits.get(anchor, 0) > 0 or bool(self.at("forwards", anchor))
                or bool(self.at("exceptions", anchor)) or bool(self.at("warnings", anchor)))

    def runs(self, anchor: Anchor) -> int:
        return self.hits.get(anchor, 0)


class Anchors:
    """Maps (path, line) as the linter reports it to the statement key the child records."""

    def __init__(self):
        self._index: Dict[str, StatementIndex] = {}

    def key(self, path: str, line: int) -> Anchor:
        real = os.path.realpath(path)
        index = self._index.get(real)
        if index is None:
            try:
                with open(real, encoding="utf-8", errors="replace") as handle:
                    index = StatementIndex(handle.read())
            except OSError:
                index = StatementIndex("")
            self._index[real] = index
        return real, index.start(line)
