"""Fixtures that are projects (fixtures/projects/*): the facts that cross files.

Each project is linted whole (as ``gradlint .``), each of its files alone (as pre-commit
lints one changed file), and through flake8 (which sees one file at a time); every way
must report exactly the ``# expect:`` markers of its files. Its ``main.py`` runs, and under
the verifier each marker's effect is confirmed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Set, Tuple

import pytest

from conftest import FIXTURES, PYTHON, run_env
from gradlint.engine import lint_paths
from gradlint.expectations import parse_expectations

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir())
Marker = Tuple[str, int, str]


def python_files(project: Path):
    return sorted(p for p in project.rglob("*.py") if "__pycache__" not in p.parts)


def markers(project: Path) -> Set[Marker]:
    out = set()
    for path in python_files(project):
        rel = path.relative_to(project).as_posix()
        out |= {(rel, line, code) for line, code in parse_expectations(path.read_text(encoding="utf-8"))}
    return out


def found(project: Path, findings) -> Set[Marker]:
    return {(Path(f.path).resolve().relative_to(project.resolve()).as_posix(), f.line, f.code)
            for f in findings if f.code.startswith("GL")}


def test_every_project_is_marked_as_its_name_says():
    assert len(PROJECTS) >= 12
    for project in PROJECTS:
        assert (project / "pyproject.toml").is_file() and (project / "main.py").is_file(), project.name
        assert bool(markers(project)) == project.name.startswith("bad_"), project.name


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_whole_project_matches_markers(project):
    files = [str(p) for p in python_files(project)]
    assert found(project, lint_paths(files, jobs=1)) == markers(project)


def test_worker_processes_find_the_same_in_every_project():
    """The parallel path (phase 1 in waves, phase 2 in workers forked with the whole view, or
    sent the summaries a file needs) gives what the in-process path gives."""
    from gradlint.project import parallel
    from gradlint.project.lint import lint_project
    from gradlint.project.view import ProjectView
    from gradlint.selection import Selection
    from gradlint.workers import WorkerPool

    pick = lambda name: Selection()  # noqa: E731
    for forks in (True, False):
        for project in PROJECTS:
            files = [str(p) for p in python_files(project)]
            here = lint_project(ProjectView(str(project)), files, pick)
            with WorkerPool(2, in_process_below=1) as pool:
                real = parallel.forks
                parallel.forks = lambda: forks
                try:
                    there = lint_project(ProjectView(str(project)), files, pick, pool=pool)
                finally:
                    parallel.forks = real
            assert there == here, (project.name, forks)
            assert found(project, [f for fs in there.values() for f in fs]) == markers(project)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_each_file_alone_matches_its_markers(project):
    """pre-commit passes only the changed files: the other files still lend their facts."""
    expected = markers(project)
    for path in python_files(project):
        rel = path.relative_to(project).as_posix()
        assert found(project, lint_paths([str(path)], jobs=1)) == {m for m in expected if m[0] == rel}, rel


def test_flake8_sees_the_same_project():
    pytest.importorskip("flake8")
    expected, reported = set(), set()
    for project in PROJECTS:
        expected |= {(project.name,) + m for m in markers(project)}
        files = [p.relative_to(project).as_posix() for p in python_files(project)]
        proc = subprocess.run([PYTHON, "-m", "flake8", "--select", "GL", "--jobs", "1", *files],
                              cwd=project, capture_output=True, text=True, env=run_env(), timeout=300)
        assert proc.returncode in (0, 1), proc.stderr
        for line in proc.stdout.splitlines():
            path, row, _col, rest = line.split(":", 3)
            reported.add((project.name, path.lstrip("./"), int(row), rest.split()[0]))
    assert reported == expected


def test_projects_run_and_the_verifier_confirms_each_marker():
    pytest.importorskip("torch")
    from gradlint.verify.program import verify_program

    for project in PROJECTS:
        expectations = {}
        for path in python_files(project):
            rel = path.relative_to(project).as_posix()
            for (line, code), exp in parse_expectations(path.read_text(encoding="utf-8")).items():
                expectations[(rel, line, code)] = exp
        cwd = os.getcwd()
        os.chdir(project)
        try:
            rows, run = verify_program("main.py", timeout=120)
        finally:
            os.chdir(cwd)
        assert not run.problem(120), (project.name, run.problem(120))
        verdicts = {(r["path"], r["line"], r["code"]): r["verdict"] for r in rows}
        assert set(verdicts) == set(expectations), project.name
        for key, exp in expectations.items():
            wanted = "not reproduced" if exp.no_effect else "confirmed"
            assert verdicts[key] == wanted, (project.name, key, verdicts[key])


# Markers whose fix is refused, and why: the two places a fix is not known to be right.
NOT_FIXABLE = {
    ("bad_alias_of_context_elsewhere", "GL101"),    # the model is bound inside the region
    ("bad_optimizer_built_in_helper", "GL301"),     # the parameters are frozen after the helper builds it
}


def test_fix_reads_the_project_and_the_fixed_programs_run(tmp_path):
    """`--fix` sees what `gradlint .` sees: each bad project's cross-file findings are fixed
    (read alone, no file has a finding to fix), the good ones are left as they are, and the
    fixed programs still run."""
    import shutil

    from gradlint.autofix import fix_paths

    changed = []
    for project in PROJECTS:
        copy = tmp_path / project.name
        shutil.copytree(project, copy)
        files = [str(p) for p in python_files(copy)]
        before = found(copy, lint_paths(files, jobs=1))
        results = fix_paths(files, unsafe=True, jobs=1)
        left = {m for m in found(copy, [f for r in results for f in r.findings])}
        assert found(copy, lint_paths(files, jobs=1)) == left, project.name
        assert {(project.name, m[2]) for m in left} <= NOT_FIXABLE, (project.name, left)
        assert sum(r.fixed for r in results) == len(before - left), project.name
        if any(r.changed for r in results):
            changed.append(copy)
    assert len(changed) == len([p for p in PROJECTS if p.name.startswith("bad_")]) - len(NOT_FIXABLE)
    for copy in changed:
        proc = subprocess.run([PYTHON, "main.py"], cwd=copy, capture_output=True, text=True, env=run_env(),
                              timeout=300)
        assert proc.returncode == 0, (copy.name, proc.stderr[-2000:])
