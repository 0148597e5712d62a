"""The project lint over worker processes: the findings of ``lint.lint_project``, with the
analysis spread over the cores and a file whose analysis kills its process (libcst's native
parser can segfault) costing only that file's E903.

Phase 1 summarises the analysis set in waves. A wave holds the import cycles (most are one
file) whose imports are all summarised; each cycle is one task, sent with the summaries of
everything it imports, transitively. A named file that no other file imports gets its
findings in the same task: nothing from another file can change them. Phase 2, once every
summary is in, lints each other named file in a worker that has the whole view: forked
from this process after phase 1 where workers are forked (Linux), else sent the summaries
of the file's own analysis set (its callers and what they import). That file is parsed a
second time.

Summaries and findings come from the cache (``gradlint.cache``) in this process, under the
keys the in-process lint uses, so either path reuses what the other stored.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

from ..finding import Finding
from ..workers import Failure, WorkerPool, forks
from .lint import _Run
from .view import ProjectView


def _view(root: str, max_size: Optional[int], texts: Dict[str, str], payload) -> ProjectView:
    view = ProjectView(root, texts, max_size)
    for path, data in payload:
        view.add_summary(path, data)
    return view


def summarise_unit(task) -> list:
    """Worker: summarise one import cycle; [path, summary key, summary, error, findings] for
    each of its files (findings for those given codes, when they are PyTorch code)."""
    root, max_size, payload, members, fixes = task
    view = _view(root, max_size, {m[0]: m[2] for m in members}, payload)
    run = _Run(view, None)
    out, live = [], []
    for path, shown, text, deep, codes in members:
        run.deep[path] = deep
        facts, error = run.summarise(path, shown, text, bool(codes))
        data = view.runtimes[path].data if error is None and path in view.runtimes else None
        out.append([path, run.keys[path], data, error, None])
        if facts is not None:
            live.append((out[-1], path, shown, facts, codes))
    if live:
        view.link_calls()
        pytorch = view.pytorch_files()
        for row, path, shown, facts, codes in live:
            row[4] = run.findings(path, shown, facts, codes, fixes) if path in pytorch else []
    return out


_SHARED: Dict[str, ProjectView] = {}   # the view phase 2's forked workers start with


def lint_file(task) -> List[Finding]:
    """Worker: one named file's findings, given the summaries of its analysis set (None: the
    view this worker was forked with)."""
    root, max_size, payload, path, shown, text, deep, codes, fixes = task
    if payload is None:
        view = _SHARED["view"]
    else:
        view = _view(root, max_size, {path: text}, payload)
        view.link_calls()
    run = _Run(view, None)
    run.deep[path] = deep
    return run.findings(path, shown, None, codes, fixes)


def _crashed(name: str, failure: Failure) -> Finding:
    return Finding(name, 1, 1, "E903", f"gradlint could not analyse this file: {failure.reason}")


def _payload(view: ProjectView, paths: Sequence[str], index: Dict[str, int]) -> list:
    """(path, summary) of every summarised file ``paths`` import, transitively, in order."""
    inside = set(paths)
    seen = set()
    stack = [d for p in paths for d in view.deps(p)]
    while stack:
        path = stack.pop()
        if path in seen or path in inside:
            continue
        seen.add(path)
        stack.extend(view.deps(path))
    return [(p, view.runtimes[p].data) for p in sorted(seen, key=lambda p: index.get(p, -1)) if p in view.runtimes]


def summarise_in_waves(prep, components: List[List[str]], pool: WorkerPool, progress=None,
                       early_codes: Optional[Callable[[str], List[str]]] = None, fixes: str = "") -> None:
    """Phase 1 for ``lint.prepare``: every summary into ``prep.view``, from the cache or from
    the workers; named files nothing imports linted in the same task when ``early_codes``."""
    view, run, shown, todo = prep.view, prep.run, prep.shown, prep.todo
    order = [f for component in components for f in component]
    index = {p: i for i, p in enumerate(order)}
    where = (view.root, view.max_file_size)

    def report(task) -> None:
        if progress:
            for member in task[3]:
                if member[0] in shown:
                    progress(shown[member[0]])

    for wave in _waves(view, components):
        tasks = []
        for component in wave:
            unit = []
            for path in (p for p in component if p in todo):
                if not unit and run.from_cache(path, todo[path]):
                    if path in shown and progress:
                        progress(shown[path])
                    continue
                codes = early_codes(path) if early_codes and path in shown and not view.importers(path) else []
                unit.append((path, shown.get(path, path), todo[path], run.deep.get(path, False), codes))
            if unit:
                tasks.append((*where, _payload(view, [m[0] for m in unit], index), unit, fixes))
        for task, outcome in zip(tasks, pool.map(summarise_unit, tasks, progress=report)):
            if isinstance(outcome, Failure):
                outcome = [[m[0], None, None, _crashed(m[1], outcome), None] for m in task[3]]
            for path, key, data, error, found in outcome:
                if error is not None:
                    del todo[path]
                    if path in shown:
                        prep.settled[shown[path]] = [error]
                    continue
                run.keys[path] = key
                view.add_summary(path, data)
                run.store(path)
                if found is not None and path in shown and early_codes and early_codes(path):
                    prep.early[path] = found


def lint_in_workers(prep, wanted: List[tuple], pool: WorkerPool, fixes: str = "") -> List[List[Finding]]:
    """Phase 2: the findings of each (path, codes, ...) in ``wanted``, linted in workers."""
    view = prep.view
    shared = forks()
    tasks = []
    for path, codes, *_ in wanted:
        payload = None if shared else [(p, view.runtimes[p].data) for p in view.analysis_set([path])
                                       if p in view.runtimes]
        tasks.append((view.root, view.max_file_size, payload, path, prep.shown[path], prep.todo[path],
                      prep.run.deep.get(path, False), codes, fixes))
    if shared:
        pool.close()  # the next workers are forked with the whole view
        _SHARED["view"] = view
    try:
        outcomes = pool.map(lint_file, tasks)
    finally:
        _SHARED.clear()
    return [[_crashed(task[4], found)] if isinstance(found, Failure) else found
            for task, found in zip(tasks, outcomes)]


def _waves(view: ProjectView, components: List[List[str]]) -> List[List[List[str]]]:
    """The components in waves: each after every component it imports."""
    of: Dict[str, int] = {}
    level: List[int] = []
    waves: List[List[List[str]]] = []
    for i, component in enumerate(components):
        for path in component:
            of[path] = i
        depth = 0
        for path in component:
            for dep in view.deps(path):
                j = of.get(dep)
                if j is not None and j != i:
                    depth = max(depth, level[j] + 1)
        level.append(depth)
        while len(waves) <= depth:
            waves.append([])
        waves[depth].append(component)
    return waves
