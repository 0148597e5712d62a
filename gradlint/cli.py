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
