"""The ``gradlint`` command.

``gradlint PATH...`` lints (the ``check`` subcommand is implied); ``gradlint rules``
lists the rules. Exit status: 0 clean, 1 problems found, 2 usage or internal error.
"""

from __future__ import annotations

import os
import sys
from typing import List, Tuple

import click

from . import __version__
from .catalog import CATALOG
from .discovery import discover
from .engine import lint_paths
from .report import summary, write_text
from .rules import implemented
from .selection import Selection, SelectionError


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``check``."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check"] + list(args)
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlint")
def main() -> None:
    """Find PyTorch gradient and train/eval-mode mistakes.

    \b
    gradlint PATH...     lint files and folders (the default command)
    gradlint rules       list the rules
    gradlint verify      prove the rules by running programs under runtime monitors
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to run (GL1 = every GL1xx).")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to skip.")
@click.option("--exclude", multiple=True, help="Glob patterns of files or folders to skip.")
@click.option("--jobs", "-j", type=int, default=0, help="Processes to use (default: all cores).")
def check(paths: Tuple[str, ...], select, ignore, exclude, jobs) -> None:
    """Lint PATHS (files or folders; default: the current folder)."""
    try:
        selection = Selection(select or ("GL",), ignore)
    except SelectionError as exc:
        raise click.UsageError(str(exc))
    missing = [p for p in paths if not os.path.exists(p)]
    for path in missing:
        click.echo(f"gradlint: error: {path}: no such file or directory", err=True)
    present: List[str] = [p for p in paths if os.path.exists(p)] if paths else ["."]
    files = list(discover(present, exclude))
    findings = lint_paths(files, selection, jobs)
    write_text(findings, sys.stdout)
    click.echo(summary(findings, len(files)))
    if missing:
        sys.exit(2)
    sys.exit(1 if findings else 0)


@main.command("rules")
def list_rules() -> None:
    """List the rules: code, name and what each finds."""
    for code in implemented():
        info = CATALOG[code]
        click.echo(f"{info.code}  {info.name:<40} {info.severity:<8} {info.summary}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
              help="Device the programs run on (fixtures read it from GRADLINT_DEVICE).")
@click.option("--select", multiple=True, help="Rule codes or prefixes to verify.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to skip.")
@click.option("--run", "run_script", is_flag=True,
              help="Run your own program: gradlint verify --run SCRIPT [ARGS...].")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=float, default=None,
              help="Seconds before a program is stopped (default: 300 for --run, 120 per fixture).")
@click.option("--fixtures", "fixtures_root", type=click.Path(file_okay=False), default=None,
              help="The fixtures folder (default: fixtures/ of this checkout or the current folder).")
@click.option("--jobs", "-j", type=int, default=0, help="Fixtures run at once (default: all cores).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def verify(device, select, ignore, run_script, fmt, timeout, fixtures_root, jobs, args) -> None:
    """Prove the rules by running programs under runtime monitors.

    \b
    gradlint verify [FIXTURES...]           every fixture (or the given ones): the rules' evidence
    gradlint verify --run SCRIPT [ARGS...]  lint SCRIPT and the project files it imports, run it
                                            once, and show each finding's measured effect
    Verdicts: confirmed (effect measured at the line), not reproduced (the line ran, no
    effect), not reached (the line never ran).
    """
    from .verify.runner import VerifyError

    try:
        selection = Selection(select or ("GL",), ignore)
    except SelectionError as exc:
        raise click.UsageError(str(exc))
    try:
        if run_script:
            if not args:
                raise click.UsageError("--run needs a SCRIPT to run")
            _verify_program(args[0], args[1:], selection, device, timeout, fmt)
        else:
            _verify_fixtures(args, selection, device, timeout, fmt, fixtures_root, jobs)
    except VerifyError as exc:
        click.echo(f"gradlint verify: error: {exc}", err=True)
        sys.exit(2)


def _verify_fixtures(paths, selection, device, timeout, fmt, root, jobs) -> None:
    import time

    from .verify import fixtures, report

    started = time.perf_counter()
    root = root or fixtures.default_root()
    rows = fixtures.verify_fixtures(root, list(paths), selection, device, jobs, timeout or 120.0)
    if fmt == "json":
        report.write_json([r.as_json() for r in rows], sys.stdout)
    else:
        report.write_fixture_table(rows, sys.stdout)
        click.echo(report.fixture_summary(rows, device, time.perf_counter() - started))
    sys.exit(0 if all(r.ok for r in rows) else 1)


def _verify_program(script, args, selection, device, timeout, fmt) -> None:
    from .verify import program, report

    timeout = timeout or program.DEFAULT_TIMEOUT
    rows, run = program.verify_program(script, list(args), selection, device, timeout)
    problem = run.problem(timeout)
    if fmt == "json":
        report.write_json([{k: r[k] for k in ("path", "line", "code", "verdict", "evidence")} for r in rows],
                          sys.stdout)
    else:
        if rows:
            report.write_program_table(rows, sys.stdout)
        confirmed = sum(1 for r in rows if r["verdict"] == "confirmed")
        click.echo(f"{len(rows)} finding{'s' if len(rows) != 1 else ''}, {confirmed} confirmed at run time "
                   f"on {run.result.get('device') or device}.")
    if problem:
        click.echo(f"gradlint verify: {script}: {problem}", err=True)
    if any(r["verdict"] == "confirmed" for r in rows):
        sys.exit(1)
    sys.exit(2 if problem else 0)
