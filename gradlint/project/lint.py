"""Linting with the project view: every file of the analysis set once, in order, then the rules.

Each file of the analysis set (see ``view``) is read, screened, parsed and analysed once,
after the files it imports, and its summary joins the view. The named files keep their
facts; once every summary is in, the call sites in other files are attached to their
functions and the rules run on them. Only PyTorch code gets GL findings
(``ProjectView.pytorch_files``); every named file still gets its E902 / E903 / E999, and
a file gradlint cannot analyse costs only its own E903, never the run.

With a cache (``gradlint.cache``), a summary is reused while the file's bytes and the
summaries of the files it imports are unchanged, and a file's findings while its summary
and the call sites that reach it from other files (``view.upward_digest``) are: an edit
that changes no call into a file leaves its cached findings standing.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Callable, Dict, List, Optional, Sequence

import libcst as cst

from ..cache import Cache, code_fingerprint, load_findings, store_findings
from ..parsing import parse
from ..engine import in_room, report_findings, syntax_only
from ..facts import FileFacts
from ..finding import Finding
from ..noqa import apply_noqa
from ..rules import implemented
from ..selection import Selection
from ..source import MAX_FILE_SIZE, SourceError, deep_problem, describe_syntax_error, nesting
from ..workers import failure_of, fewer_collections
from .summarize import summarize
from .summary import FORMAT
from .view import ProjectView, upward_digest

_SUMMARY = "summary"


def _problem(shown: str, exc: BaseException) -> Finding:
    """The E903 of a file whose analysis raised: a bug in gradlint, not in the file."""
    if isinstance(exc, SourceError):
        return Finding(shown, 1, 1, exc.code, exc.reason)
    return Finding(shown, 1, 1, "E903", f"gradlint could not analyse this file: {failure_of(exc).reason}")


def _parse_and_build(view: ProjectView, path: str, shown: str, text: str):
    try:
        module = parse(text)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return None, Finding(shown, line, col, "E999", message)
    return FileFacts.build(module, shown, project=view.context(path)), None


class _Run:
    """One lint of some files of one project."""

    def __init__(self, view: ProjectView, cache: Optional[Cache]) -> None:
        self.view = view
        self.cache = cache
        self.keys: Dict[str, str] = {}        # path -> summary key
        self.deep: Dict[str, bool] = {}

    def summary_key(self, path: str, text: str) -> str:
        view = self.view
        deps = [view.runtimes[d].data["exports_digest"] if d in view.runtimes else "-" for d in view.deps(path)]
        digest = hashlib.sha256(f"{FORMAT}\0{code_fingerprint()}\0{view.ref_of(path)}\0".encode())
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(json.dumps(deps).encode())
        return digest.hexdigest()

    def screen(self, path: str, shown: str, text: str, relevant: bool):
        """(the file's findings when that is all there is to it, else None), as ``engine.screen``
        decides it, except that a torch-free file the project needs is analysed."""
        deep = nesting(text).deep
        self.deep[path] = deep
        if deep:
            problem = deep_problem(text)
            if problem is not None:
                code, line, col, message = problem
                return [Finding(shown, line, col, code, message)]
        if not relevant:
            return in_room(deep, syntax_only, text, shown)
        return None

    def from_cache(self, path: str, text: str) -> bool:
        """Add the file's summary from the cache when it holds one for this text and these
        imports (the key is kept either way)."""
        key = self.keys[path] = self.summary_key(path, text)
        cached = self.cache.get(_SUMMARY, key) if self.cache is not None else None
        if isinstance(cached, dict) and cached.get("format") == FORMAT:
            try:
                self.view.add_summary(path, cached)
                return True
            except (KeyError, TypeError, ValueError, AttributeError):
                pass  # an entry of the wrong shape is a miss
        return False

    def build(self, path: str, shown: str, text: str, keep: bool):
        """Analyse the file and add its summary to the view: (its facts when ``keep``, else
        None; the finding that stands for the file when it could not be analysed)."""
        try:
            facts, error = in_room(self.deep.get(path, False), _parse_and_build, self.view, path, shown, text)
            if facts is None:
                return None, error
            data = summarize(facts, self.view.ref_of(path), self.view.ref_of(path), self.view.scan(path))
        except Exception as exc:  # noqa: BLE001 - one file's problem, never the run's
            return None, _problem(shown, exc)
        self.view.add_summary(path, data)
        return (facts if keep else None), None

    def store(self, path: str) -> None:
        if self.cache is not None and path in self.view.runtimes:
            self.cache.put(_SUMMARY, self.keys[path], self.view.runtimes[path].data)

    def summarise(self, path: str, shown: str, text: str, keep: bool):
        """Add the file's summary to the view (from the cache, or by analysing it); return its
        facts when they were built and ``keep``, and the finding that stands for the file when
        it could not be analysed."""
        if self.from_cache(path, text):
            return None, None
        facts, error = self.build(path, shown, text, keep)
        if error is None:
            self.store(path)
        return facts, error

    def findings_key(self, path: str, codes: Sequence[str], fixes: str, noqa: bool, pytorch: bool) -> str:
        parts = [self.keys[path], ",".join(codes), fixes, str(noqa), str(pytorch), upward_digest(self.view, path)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def findings(self, path: str, shown: str, facts: Optional[FileFacts], codes, fixes: str) -> List[Finding]:
        text = self.view.text(path) or ""
        try:
            if facts is None:  # its summary came from the cache: analyse it now, with the view
                facts, error = in_room(self.deep.get(path, False), _parse_and_build, self.view, path, shown, text)
                if facts is None:
                    return [error]
            self.view.attach_upward(path, facts)
            facts.forget_resolutions()
            return in_room(self.deep.get(path, False), report_findings, facts, shown, codes, fixes)
        except Exception as exc:  # noqa: BLE001
            return [_problem(shown, exc)]


def analyse(view: ProjectView, path: str, keep: bool = False, shown: Optional[str] = None):
    """Summarise one file of the analysis set into the view (no cache): its facts when
    ``keep``, and the finding that stands for it when it could not be analysed."""
    run = _Run(view, None)
    text = view.text(path)
    if text is None:
        return None, None
    return run.summarise(path, shown or path, text, keep)


def screen_all(view: ProjectView, run: _Run, order: Sequence[str], shown: Dict[str, str],
               results: Dict[str, List[Finding]]) -> Dict[str, str]:
    """Read and screen the analysis set: the text of each file to summarise, in order; a named
    file that is done with (unreadable, too deep, not worth a parse) gets its findings in
    ``results``."""
    relevant = view.relevant(list(order))
    todo: Dict[str, str] = {}
    for path in order:
        name = shown.get(path, path)
        text = view.text(path)
        if text is None:
            if path in shown:
                code, reason = view.errors.get(path, ("E902", "cannot read"))
                results[name] = [Finding(name, 1, 1, code, reason)]
            continue
        try:
            done = run.screen(path, name, text, path in relevant)
        except Exception as exc:  # noqa: BLE001
            done = [_problem(name, exc)]
        if done is None:
            todo[path] = text
        elif path in shown:
            results[name] = done
    return todo


class Prepared:
    """A project view with the summaries of the named files' analysis set in, calls linked:
    what linting or fixing a named file reads. ``settled[name]`` holds the findings of a
    named file that no rule runs on (it cannot be read or parsed, or its analysis failed);
    ``kept`` the facts built while summarising (in this process), ``early`` the findings a
    worker computed with the summary (``parallel``)."""

    def __init__(self, view: ProjectView, run: _Run, files: Sequence[str]) -> None:
        self.view, self.run = view, run
        self.shown = {os.path.abspath(f): f for f in files}
        self.settled: Dict[str, List[Finding]] = {f: [] for f in files}
        self.todo: Dict[str, str] = {}
        self.kept: Dict[str, Optional[FileFacts]] = {}
        self.early: Dict[str, List[Finding]] = {}
        self.pytorch: set = set()

    def named(self) -> List[str]:
        """The named files rules run on, as absolute paths, in analysis order."""
        return [p for p in self.todo if p in self.shown]

    def build(self, path: str):
        """``build(module)``: the facts of a new text of ``path`` (a fix pass), read with the
        view and the call sites that reach it from other files."""
        shown = self.shown.get(path, path)

        def build(module: cst.Module) -> FileFacts:
            facts = FileFacts.build(module, shown, project=self.view.context(path))
            self.view.attach_upward(path, facts)
            facts.forget_resolutions()
            return facts

        return build


def prepare(view: ProjectView, files: Sequence[str], cache: Optional[Cache] = None, progress=None,
            pool=None, early_codes: Optional[Callable[[str], List[str]]] = None, fixes: str = "") -> Prepared:
    """Screen and summarise the analysis set of ``files`` (over ``pool`` when given, else in
    this process) and link the calls. With ``early_codes``, a worker that summarises a named
    file nothing imports lints it too, with those codes."""
    run = _Run(view, cache)
    prep = Prepared(view, run, files)
    shown = prep.shown
    components = view.analysis_components(shown)
    order = [f for component in components for f in component]
    prep.todo = screen_all(view, run, order, shown, prep.settled)
    if pool is not None:
        from .parallel import summarise_in_waves

        summarise_in_waves(prep, components, pool, progress, early_codes, fixes)
    else:
        for path, text in list(prep.todo.items()):
            named = path in shown
            facts, error = run.summarise(path, shown.get(path, path), text, named)
            if error is not None:
                del prep.todo[path]
                if named:
                    prep.settled[shown[path]] = [error]
            elif named:
                prep.kept[path] = facts
            if named and progress:
                progress(shown[path])
    view.link_calls()
    prep.pytorch = view.pytorch_files()
    return prep


def codes_for(shown: Dict[str, str], selection_for: Callable[[str], Selection], path: str) -> List[str]:
    return list(selection_for(shown[path]).codes(implemented()))


def lint_project(view: ProjectView, files: Sequence[str], selection_for: Callable[[str], Selection],
                 fixes: str = "", progress=None, noqa: bool = True,
                 cache: Optional[Cache] = None, pool=None) -> Dict[str, List[Finding]]:
    """Findings of each named file of one project (by the path as named), in this process or
    over ``pool`` (``parallel``); ``noqa=False`` keeps the findings ``# noqa`` comments
    silence (flake8 applies its own)."""
    shown = {os.path.abspath(f): f for f in files}

    def early_codes(path: str) -> List[str]:
        return codes_for(shown, selection_for, path)

    prep = prepare(view, files, cache, progress, pool, early_codes, fixes)
    run, results = prep.run, prep.settled
    later = []
    for path in prep.named():
        name = shown[path]
        codes = codes_for(shown, selection_for, path)
        if path not in prep.pytorch or not codes:
            continue
        # The key holds `noqa`, so the findings are cached as reported, with `# noqa` applied.
        key = run.findings_key(path, codes, fixes, noqa, True) if cache is not None else None
        found = load_findings(cache, name, key) if key is not None else None
        if found is None:
            if path in prep.early:
                found = prep.early[path]
            elif pool is None:
                found = run.findings(path, name, prep.kept.get(path), codes, fixes)
            else:
                later.append((path, codes, key))
                continue
            found = apply_noqa(found, prep.todo[path]) if noqa else found
            if key is not None:
                keep_findings(cache, key, found)
        results[name] = found
    if later:
        from .parallel import lint_in_workers

        for (path, codes, key), found in zip(later, lint_in_workers(prep, later, pool, fixes)):
            found = apply_noqa(found, prep.todo[path]) if noqa else found
            if key is not None:
                keep_findings(cache, key, found)
            results[shown[path]] = found
    return results


def keep_findings(cache: Cache, key: str, found: List[Finding]) -> None:
    """Cache a file's findings, unless its analysis failed (a failure is not a result)."""
    if not any(f.code == "E903" for f in found):
        store_findings(cache, key, found)


@fewer_collections()
def lint_one(path: str, text: str, selection: Optional[Selection] = None,
             cache_dir: Optional[str] = None, fixes: str = "") -> List[Finding]:
    """One file's findings with its project's view, its text given (flake8, an editor);
    ``# noqa`` is left to the caller."""
    from .layout import root_of

    view = ProjectView(root_of(path), {os.path.abspath(path): text})
    pick = (lambda name: selection) if selection is not None else (lambda name: Selection())
    cache = Cache.at(cache_dir) if cache_dir else None
    return lint_project(view, [path], pick, fixes, noqa=False, cache=cache).get(path, [])


# The parallel path parses a file whose findings depend on its importers twice and sends each
# wave its imports' summaries: with 2 cores it is slower than one process (2,800 files: 32 s
# against 18 s; 29k lines: 1.67x against 1.27x a bare parse), so by default it is taken only
# from this many cores on. `--jobs N` (N > 1) asks for it whatever the machine.
DEFAULT_POOL_FROM_CORES = 4


def worker_pool(jobs: int, files: int):
    """The pool a run over ``files`` files uses, or None to run in this process: workers pay
    for themselves from ``IN_PROCESS_BELOW`` files on, with more than one job, and by default
    (``jobs`` 0) from ``DEFAULT_POOL_FROM_CORES`` cores on."""
    from ..workers import IN_PROCESS_BELOW, WorkerPool, default_jobs

    if jobs == 0 and default_jobs() < DEFAULT_POOL_FROM_CORES:
        return None
    pool = WorkerPool(jobs, in_process_below=1)
    return pool if pool.jobs > 1 and files >= IN_PROCESS_BELOW else None


def by_root(files: Sequence[str]) -> List[tuple]:
    """(project root, its files) for ``files``, roots in order."""
    from .layout import root_of

    groups: Dict[str, List[str]] = {}
    for f in files:
        groups.setdefault(root_of(f), []).append(f)
    return sorted(groups.items())


@fewer_collections()
def lint_files(files: Sequence[str], selection_for: Optional[Callable[[str], Selection]] = None,
               fixes: str = "", progress=None, texts: Optional[Dict[str, str]] = None,
               cache_dir: Optional[str] = None, max_file_size: Optional[int] = MAX_FILE_SIZE,
               jobs: int = 0) -> List[Finding]:
    """Findings of Python files, each with the project view of its root; over worker
    processes when it pays (``worker_pool``)."""
    selection_for = selection_for or (lambda path: Selection())
    cache = Cache.at(cache_dir) if cache_dir else None
    given = {os.path.abspath(k): v for k, v in (texts or {}).items()}
    out: List[Finding] = []
    pool = worker_pool(jobs, len(files))
    try:
        for root, group in by_root(files):
            view = ProjectView(root, given, max_file_size)
            for findings in lint_project(view, group, selection_for, fixes, progress, cache=cache,
                                         pool=pool).values():
                out.extend(findings)
    finally:
        if pool is not None:
            pool.close()
    return sorted(out)
