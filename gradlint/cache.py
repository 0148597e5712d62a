"""A content cache: results keyed by what they were computed from, so unchanged files are not
parsed again.

``Cache(folder).get(kind, key)`` / ``.put(kind, key, value)`` store JSON values in
namespaced entries (``kind``: ``findings``, and whatever else is worth keeping per file,
such as summaries); ``key`` is a hash of everything the value depends on (for findings: the
file's bytes and path, the rule selection and gradlint's own code, ``findings_key``).

What a repository cannot do to it (a cache folder can be committed, so it is untrusted):
- pre-fill it: an entry's file name is an HMAC of (kind, key) under a per-user secret kept
  outside the project (``$XDG_CACHE_HOME/gradlint/secret`` or ``~/.cache/gradlint/secret``,
  mode 0600), so an entry that hides findings cannot be computed from public data;
- redirect a write: nothing is opened through a symlink (``O_NOFOLLOW`` on every file,
  folders opened relative to their parent), nothing is written outside the folder, and
  a folder gradlint did not create is refused: gradlint only uses a folder holding the
  marker it wrote there (``CACHEDIR.TAG``, with an HMAC of the folder's path), one it
  creates itself, or an empty one (``mkdir -p`` in a CI script), which it marks;
- crash a run: an entry that cannot be read, is not valid JSON or has the wrong shape is a
  miss. Writes are atomic (a temporary file, then a rename), so readers never see half an entry.

The cache is an optimisation only: when it cannot be used (``refused`` says why) every
``get`` is a miss and every ``put`` does nothing. Entries unused for ``MAX_AGE_DAYS`` are
removed, at most once a day.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .finding import Finding
from .fixes import FixNote

DEFAULT_DIR = ".gradlint_cache"
_FORMAT = 2
MARKER = "CACHEDIR.TAG"
MAX_AGE_DAYS = 30
_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"  # https://bford.info/cachedir/
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_SAFE = bool(_NOFOLLOW) and all(f in os.supports_dir_fd for f in (os.open, os.mkdir, os.rename, os.unlink, os.stat))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of gradlint's own source files: results of another version are not reused."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(_FORMAT).encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def secret_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gradlint")


def user_secret() -> Optional[bytes]:
    """This user's secret (created on first use, mode 0600), or None when it cannot be kept."""
    return _secret_in(secret_dir())


@lru_cache(maxsize=4)
def _secret_in(folder: str) -> Optional[bytes]:
    path = os.path.join(folder, "secret")
    for _ in range(2):
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:
            pass
        except OSError:
            return None
        else:
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                data = handle.read(256)
            ours = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
            if stat.S_ISREG(info.st_mode) and len(data) >= 32 and info.st_mode & 0o077 == 0 and ours:
                return data
            return None  # not a file of ours: do not trust it, do not overwrite it
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        except FileExistsError:
            continue  # another process made it meanwhile: read that one
        except OSError:
            return None
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
    return None


class Cache:
    """Namespaced JSON entries in ``folder``; see the module's docstring for what it refuses."""

    _open: Dict[str, "Cache"] = {}

    def __init__(self, folder: str = DEFAULT_DIR, secret: Optional[bytes] = None) -> None:
        self.folder = os.path.abspath(folder)
        self.refused: Optional[str] = None
        self._secret = secret if secret is not None else user_secret()
        self._fd: Optional[int] = None
        if self._secret is None:
            self.refused = f"no per-user secret could be kept in {secret_dir()}"
        elif not _SAFE:
            self.refused = "this platform cannot open files without following symlinks"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @classmethod
    def at(cls, folder: str) -> "Cache":
        """The process's one ``Cache`` for ``folder`` (the folder is checked once)."""
        key = os.path.abspath(folder)
        if key not in cls._open:
            cls._open[key] = cls(folder)
        return cls._open[key]

    # -- the folder ------------------------------------------------------------------------------
    def _token(self) -> str:
        return hmac.new(self._secret, f"cache folder\0{self.folder}".encode(), hashlib.sha256).hexdigest()

    def _root(self, create: bool) -> Optional[int]:
        """A descriptor of the folder once it is known to be gradlint's, else None."""
        if self._fd is not None or self.refused:
            return self._fd
        try:
            fd = os.open(self.folder, _DIR_FLAGS)
        except FileNotFoundError:
            if not create:
                return None
            return self._create()
        except OSError as exc:
            self.refused = f"{self.folder} is not a folder gradlint can use ({exc.strerror or exc})"
            return None
        if self._marked(fd) or (create and not os.listdir(fd) and self._mark(fd)):
            self._fd = fd
            self._prune()
        else:
            os.close(fd)
            self.refused = f"{self.folder} was not created by gradlint (no {MARKER} of its own in it)"
        return self._fd

    def _create(self) -> Optional[int]:
        try:
            os.mkdir(self.folder, 0o700)
        except FileExistsError:  # made meanwhile, by us or by someone else: check it
            return self._root(create=False)
        except OSError:
            return None  # a read-only place: no cache, linting goes on
        fd = os.open(self.folder, _DIR_FLAGS)
        if not self._mark(fd):
            os.close(fd)
            return None
        self._fd = fd
        return fd

    def _mark(self, fd: int) -> bool:
        """Make a new (or empty) folder gradlint's: its marker and a .gitignore."""
        try:
            self._write(fd, MARKER, f"{_SIGNATURE}\n# created by gradlint: {self._token()}\n".encode())
            self._write(fd, ".gitignore", b"# created by gradlint\n*\n")
        except OSError:
            return False
        return True

    def _marked(self, fd: int) -> bool:
        data = self._read(fd, MARKER, 4096)
        return data is not None and hmac.compare_digest(
            data.decode("latin-1").rsplit(": ", 1)[-1].strip(), self._token())

    # -- files inside it, never through a symlink ----------------------------------------------
    @staticmethod
    def _read(dir_fd: int, name: str, limit: int) -> Optional[bytes]:
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return handle.read(limit)

    @staticmethod
    def _write(dir_fd: int, name: str, data: bytes) -> None:
        tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
            raise

    @staticmethod
    def _subdir(dir_fd: int, name: str, create: bool) -> Optional[int]:
        for _ in range(2):
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(name, 0o700, dir_fd=dir_fd)
                except FileExistsError:
                    pass
            except OSError:  # a symlink (ELOOP), a file where a folder should be
                return None
        return None

    def _name(self, kind: str, key: str) -> Optional[str]:
        if not _KIND.match(kind) or not isinstance(key, str):
            return None
        return hmac.new(self._secret, f"{kind}\0{key}".encode(), hashlib.sha256).hexdigest()

    # -- the interface ----------------------------------------------------------------------------
    def get(self, kind: str, key: str) -> Optional[Any]:
        """The JSON value stored for (kind, key), or None (a miss, whatever went wrong)."""
        root = self._root(create=False)
        name = self._name(kind, key) if root is not None else None
        if name is None:
            return None
        folder = self._subdir(root, kind, create=False)
        if folder is None:
            return None
        try:
            sub = self._subdir(folder, name[:2], create=False)
            if sub is None:
                return None
            try:
                data = self._read(sub, f"{name}.json", 64 << 20)
                if data is not None:
                    try:
                        os.utime(f"{name}.json", dir_fd=sub, follow_symlinks=False)
                    except (OSError, NotImplementedError):
                        pass
            finally:
                os.close(sub)
        finally:
            os.close(folder)
        if data is None:
            return None
        try:
            entry = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
            return None
        return entry["value"]

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store a JSON value for (kind, key); a cache that cannot be written is left alone."""
        root = self._root(create=True)
        name = self._name(kind, key) if root is not None else None
        if name is None:
            return
        try:
            data = json.dumps({"key": key, "value": value}).encode()
        except (TypeError, ValueError):
            return
        folder = self._subdir(root, kind, create=True)
        if folder is None:
            return
        try:
            sub = self._subdir(folder, name[:2], create=True)
            if sub is None:
                return
            try:
                self._write(sub, f"{name}.json", data)
            except OSError:
                pass  # a full disk, a read-only folder: linting still works, only slower next time
            finally:
                os.close(sub)
        finally:
            os.close(folder)

    def _prune(self) -> None:
        """Remove entries unused for MAX_AGE_DAYS, at most once a day (a stamp file says when)."""
        now = time.time()
        try:
            info = os.stat("pruned", dir_fd=self._fd, follow_symlinks=False)
            if now - info.st_mtime < 86400:
                return
        except OSError:
            pass
        try:
            self._write(self._fd, "pruned", b"")
        except OSError:
            return
        old = now - MAX_AGE_DAYS * 86400
        for kind in os.listdir(self._fd):
            folder = self._subdir(self._fd, kind, create=False) if _KIND.match(kind) else None
            if folder is None:
                continue
            try:
                for part in os.listdir(folder):
                    sub = self._subdir(folder, part, create=False)
                    if sub is None:
                        continue
                    try:
                        for entry in os.listdir(sub):
                            try:
                                if os.stat(entry, dir_fd=sub, follow_symlinks=False).st_mtime < old:
                                    os.unlink(entry, dir_fd=sub)
                            except OSError:
                                pass
                    finally:
                        os.close(sub)
            finally:
                os.close(folder)


# -- findings, through the cache ------------------------------------------------------------------

def findings_key(path: str, content: bytes, codes: Sequence[str], fixes: str) -> str:
    """What a file's findings depend on: gradlint's code, the path, the rules, the fix mode, the bytes."""
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update("\0".join([os.path.abspath(path), ",".join(codes), fixes, ""]).encode())
    digest.update(content)
    return digest.hexdigest()


_APPLICABILITY = ("safe", "unsafe", "unavailable")


def load_findings(cache: Cache, path: str, key: str) -> Optional[List[Finding]]:
    """The cached findings of ``path``, or None when there are none of the right shape."""
    value = cache.get("findings", key)
    if not isinstance(value, list):
        return None
    findings = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 9):
            return None
        line, col, code, message, cell, fix, help_, end_line, end_col = item
        if not (type(line) is int and type(col) is int and isinstance(code, str) and isinstance(message, str)
                and (cell is None or type(cell) is int) and isinstance(help_, str)
                and (end_line is None or type(end_line) is int) and (end_col is None or type(end_col) is int)):
            return None
        if fix is not None:
            if not (isinstance(fix, list) and len(fix) == 2 and fix[0] in _APPLICABILITY and isinstance(fix[1], str)):
                return None
            fix = FixNote(fix[0], fix[1])
        findings.append(Finding(path, line, col, code, message, fix=fix, cell=cell, help=help_,
                                end_line=end_line, end_col=end_col))
    return findings


def store_findings(cache: Cache, key: str, findings: List[Finding]) -> None:
    cache.put("findings", key, [
        [f.line, f.col, f.code, f.message, f.cell,
         [f.fix.applicability, f.fix.description] if isinstance(f.fix, FixNote) else None,
         f.help, f.end_line, f.end_col]
        for f in findings])
