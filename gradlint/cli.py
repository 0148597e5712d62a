"""The ``gradlint`` command.

``gradlint PATH...`` lints (the ``check`` subcommand is implied); ``gradlint rules``
lists the rules; ``gradlint explain CODE`` prints a rule's doc. Exit status: 0 clean,
1 problems found (``# noqa``-silenced findings do not count), 2 usage, configuration or
internal error. ``--fix`` rewrites files and exits 1 only for what remains; ``--diff``
prints the fixes as a unified diff, writes nothing and exits 1 when it would change a file.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import List, Tuple

import click

from . import __version__
from .cache import DEFAULT_DIR as DEFAULT_CACHE
from .catalog import CATALOG
from .config import ConfigError, Overrides, Resolver, parse_per_file_ignores
from .discovery import discover
from .docs import doc_for, render_markdown
from .autofix import fix_paths
from .engine import LintCrash, lint_paths
from .output import DOCUMENT_FORMATS, FORMATS, Run, writer
from .output.text import use_color
from .progress import Progress
from .report import fix_hint, fix_summary, statistics as report_statistics, summary
from .rules import implemented
from .selection import Selection, SelectionError, parse_codes


class _Fatal(click.ClickException):
    """A usage, configuration or internal error: message on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"gradlint: error: {self.format_message()}", err=True)


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``check``.

    Any unexpected exception is an internal error: reported with its traceback, exit status 2.
    """

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check"] + list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception:
            raise _Fatal(f"internal error, please report it:\n{traceback.format_exc()}") from None


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlint")
def main() -> None:
    """Find PyTorch gradient and train/eval-mode mistakes.

    \b
    gradlint PATH...       lint files and folders (the default command)
    gradlint rules         list the rules
    gradlint explain CODE  print a rule's documentation
    gradlint verify        prove the rules by running programs under runtime monitors
    """


def _settings(select, ignore, extend_select, per_file_ignores, exclude, extend_exclude,
              config, isolated) -> Resolver:
    cwd = os.getcwd()
    try:
        overrides = Overrides(
            select=tuple(parse_codes(select)) if select else None,
            ignore=tuple(parse_codes(ignore)) if ignore else None,
            extend_select=tuple(parse_codes(extend_select)),
            per_file_ignores=parse_per_file_ignores(per_file_ignores, cwd) if per_file_ignores else None,
            exclude=tuple((cwd, p) for p in exclude) if exclude else None,
            extend_exclude=tuple((cwd, p) for p in extend_exclude),
        )
    except SelectionError as exc:
        raise click.UsageError(str(exc))
    except ConfigError as exc:
        raise click.UsageError(str(exc))
    try:
        return Resolver(overrides, config_path=config, isolated=isolated)
    except ConfigError as exc:
        raise _Fatal(str(exc))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES", help="Rule codes or prefixes to run (GL1 = every GL1xx).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to skip.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rule codes or prefixes to run in addition.")
@click.option("--per-file-ignores", multiple=True, metavar="PATTERN:CODES",
              help="Skip CODES in files matching PATTERN (replaces the configured table).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Glob patterns of files or folders to skip (replaces the configured list).")
@click.option("--extend-exclude", multiple=True, metavar="PATTERN", help="Glob patterns to skip in addition.")
@click.option("--force-exclude", is_flag=True,
              help="Apply excludes to files named on the command line too (the pre-commit hook does).")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Read settings from this file only (pyproject.toml or a gradlint TOML file).")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: path:line:col: CODE message; json; sarif (2.1.0); github: workflow annotations.")
@click.option("--statistics", is_flag=True, help="Count the findings of each rule after the report.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option("--quiet", "-q", is_flag=True, help="Print the findings only: no summary, no progress.")
@click.option("--jobs", "-j", type=int, default=0, help="Processes to use (default: all cores).")
@click.option("--no-cache", is_flag=True,
              help="Lint every file again instead of reusing unchanged files' results from .gradlint_cache/.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, envvar="GRADLINT_CACHE_DIR",
              help="Where results are cached (default: .gradlint_cache in the current folder).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes in place; report what remains.")
@click.option("--diff", is_flag=True,
              help="Print the fixes as a unified diff and change nothing (exit 1 when there is a change).")
@click.option("--unsafe-fixes", is_flag=True,
              help="With --fix or --diff, also apply fixes that change more than the bug (outputs, training).")
def check(paths: Tuple[str, ...], select, ignore, extend_select, per_file_ignores, exclude, extend_exclude,
          force_exclude, config, isolated, output_format, statistics, exit_zero, quiet, jobs,
          no_cache, cache_dir, fix, diff, unsafe_fixes) -> None:
    """Lint PATHS (files or folders; default: the current folder)."""
    resolver = _settings(select, ignore, extend_select, per_file_ignores, exclude, extend_exclude,
                         config, isolated)
    missing = [p for p in paths if not os.path.exists(p)]
    for path in missing:
        click.echo(f"gradlint: error: {path}: no such file or directory", err=True)
    present: List[str] = [p for p in paths if os.path.exists(p)] if paths else ["."]
    try:
        files = list(discover(present, is_excluded=resolver.excluded, force_exclude=force_exclude))
        selections = {path: resolver.selection_for(path) for path in files}
    except ConfigError as exc:
        raise _Fatal(str(exc))
    if unsafe_fixes and not (fix or diff):
        raise click.UsageError("--unsafe-fixes works with --fix or --diff")
    progress = Progress(len(files), enabled=False if quiet else None)
    try:
        if fix or diff:
            results = fix_paths(files, unsafe=unsafe_fixes, write=not diff, jobs=jobs,
                                selection_for=selections.__getitem__, progress=progress)
            findings = sorted(f for r in results for f in r.findings)
        else:
            findings = lint_paths(files, jobs=jobs, selection_for=selections.__getitem__, progress=progress,
                                  fixes="notes", cache_dir=None if no_cache else (cache_dir or DEFAULT_CACHE))
    except LintCrash as exc:
        raise _Fatal(str(exc))
    finally:
        progress.close()
    if diff:
        _report_diff(results, findings, len(files), quiet, missing)
    fixed = sum(r.fixed for r in results) if fix else None
    run = Run(findings, len(files), fixed)
    writer(output_format)(run, sys.stdout, output_format == "text" and use_color(sys.stdout))
    # People read text and github output; json and sarif are documents, so the rest goes to stderr.
    to_stderr = output_format in DOCUMENT_FORMATS
    if statistics:
        for line in report_statistics(findings):
            click.echo(line, err=to_stderr)
    if not quiet:
        if fix:
            click.echo(fix_summary(fixed, sum(1 for r in results if r.changed), findings, len(files)),
                       err=to_stderr)
        else:
            click.echo(summary(findings, len(files)), err=to_stderr)
        hint = fix_hint(findings, fixing=fix, unsafe=unsafe_fixes)
        if hint:
            click.echo(hint, err=to_stderr)
    if missing:
        sys.exit(2)
    sys.exit(1 if findings and not exit_zero else 0)


def _report_diff(results, findings, checked: int, quiet: bool, missing) -> None:
    """``--diff``: the patch alone on stdout (it can be piped to ``patch -p0``), the summary on
    stderr; exit 1 when a file would change or could not be linted."""
    for result in results:
        if result.diff:
            click.echo(result.diff, nl=False)
    if not quiet:
        changed = [r for r in results if r.changed]
        click.echo(fix_summary(sum(r.fixed for r in results), len(changed), findings, checked, diff=True),
                   err=True)
    if missing:
        sys.exit(2)
    sys.exit(1 if any(r.changed for r in results) or any(f.is_error for f in findings) else 0)


@main.command(short_help="Print a rule's documentation.")
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of rule CODE, for example GL101."""
    code = code.strip().upper()
    doc = doc_for(code)
    if doc is not None:
        click.echo(render_markdown(doc).split("\n", 2)[2].rstrip("\n"))
        return
    info = CATALOG.get(code)
    if info is None:
        raise _Fatal(f"unknown rule code {code!r}; `gradlint rules` lists them")
    click.echo(f"# {info.code}: {info.name}\n\n**Severity:** {info.severity}. {info.summary}\n\n"
               f"This rule is in the catalog but has no check yet, so gradlint never reports it.")


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
              help="Run your own program: gradlint verify --run SCRIPT [ARGS...] (or --run -m MODULE [ARGS...]).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=float, default=None,
              help="Seconds a program may run before it is stopped (default: no limit for --run, 120 per fixture).")
@click.option("--fixtures", "fixtures_root", type=click.Path(file_okay=False), default=None,
              help="The fixtures folder (default: the fixtures/ of the checkout gradlint runs from).")
@click.option("--jobs", "-j", type=int, default=0, help="Fixtures run at once (default: all cores).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def verify(device, select, ignore, run_script, fmt, timeout, fixtures_root, jobs, args) -> None:
    """Prove the rules by running programs under runtime monitors.

    \b
    gradlint verify [FIXTURES...]           gradlint's own fixtures (or the given ones): the rules' evidence
    gradlint verify --run SCRIPT [ARGS...]  lint SCRIPT and the project files it imports, run it
                                            once, and show each finding's measured effect
    gradlint verify --run -m MODULE [ARGS...]  the same for `python -m MODULE`
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
            if not args or (args[0] == "-m" and len(args) < 2):
                raise click.UsageError("--run needs a SCRIPT (or -m MODULE) to run")
            if args[0] == "-m":
                _verify_program(None, args[2:], selection, device, timeout, fmt, module=args[1])
            else:
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
        click.echo(report.fixture_summary(rows, report.devices_used(rows, device), time.perf_counter() - started))
    sys.exit(0 if all(r.ok for r in rows) else 1)


def _verify_program(script, args, selection, device, timeout, fmt, module=None) -> None:
    from .verify import program, report

    rows, run = program.verify_program(script, list(args), selection, device, timeout, module=module,
                                       live=program.LiveReport())
    script = script or f"-m {module}"
    problem = run.problem(timeout)
    if fmt == "json":
        report.write_json([{k: r[k] for k in ("path", "line", "code", "verdict", "evidence")} for r in rows],
                          sys.stdout)
    else:
        if rows:
            report.write_program_table(rows, sys.stdout)
        confirmed = sum(1 for r in rows if r["verdict"] == "confirmed")
        used = run.result.get("device") or "no device (the program did not start)"
        click.echo(f"{len(rows)} finding{'s' if len(rows) != 1 else ''}, {confirmed} confirmed at run time "
                   f"on {used}.")
    if problem:
        click.echo(f"gradlint verify: {script}: {problem}", err=True)
    if any(r["verdict"] == "confirmed" for r in rows):
        sys.exit(1)
    sys.exit(2 if problem else 0)
