"""A one-line progress display on stderr, for long runs in a terminal only.

Drawn only when stderr is a terminal and the run has at least ``MIN_FILES`` files; never
into a pipe or a file, so captured and redirected output never carries it. The line is
redrawn in place (carriage return, erase line) at most every ``interval`` seconds and
erased when the run ends, before the report is printed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Optional, TextIO

MIN_FILES = 20
ERASE = "\r\033[K"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(self, total: int, stream: Optional[TextIO] = None, enabled: Optional[bool] = None,
                 interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.done = 0
        self.interval = interval
        self.enabled = (_is_terminal(self.stream) and total >= MIN_FILES) if enabled is None else enabled
        self._drawn = False
        self._last = 0.0

    def __call__(self, path: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if self._drawn and self.done < self.total and now - self._last < self.interval:
            return
        self._last = now
        width = shutil.get_terminal_size((80, 24)).columns
        head = f"gradlint [{self.done}/{self.total}] {100 * self.done // max(self.total, 1)}% "
        room = max(0, width - len(head) - 1)
        name = path.replace(os.sep, "/")
        if len(name) > room:
            name = "..." + name[len(name) - room + 3:] if room > 3 else ""
        self.stream.write(f"{ERASE}{head}{name}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write(ERASE)
            self.stream.flush()
            self._drawn = False
