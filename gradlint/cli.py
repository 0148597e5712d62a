"""The ``gradlint`` command.

``gradlint PATH...`` lints (the ``check`` subcommand is implied); ``gradlint -`` lints
standard input (``--stdin-filename`` names it, for configuration and per-file ignores);
``gradlint rules`` lists the rules; ``gradlint explain CODE`` prints a rule's doc;
``gradlint server`` is the language server; ``gradlint verify`` runs the runtime verifier.
Exit status: see ``EXIT_STATUS``. ``--fix`` rewrites files and exits 1 only for what
remains; ``--diff`` prints the fixes as a unified diff, writes nothing and exits 1 when it
would change a file.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Dict, List, Optional, Tuple

import click

from . import __version__
from .cache import DEFAULT_DIR as DEFAULT_CACHE
from .catalog import CATALOG
from .config import ConfigError, Overrides, Resolver, parse_per_file_ignores
from .discovery import GitIgnore, discover
from .docs import doc_for, render_markdown
from .autofix import fix_paths
from .engine import LintCrash, lint_paths
from .finding import Finding
from .output import DOCUMENT_FORMATS, FORMATS, Run, SourceLines, writer
from .output.text import use_color
from .progress import Progress
from .report import fix_hint, fix_summary, statistics as report_statistics, summary
from .rules import implemented
from .selection import Selection, SelectionError, parse_codes

EXIT_STATUS = """\b
Exit status:
  0  no problems found
  1  problems found, or a file could not be linted (with --fix: problems remain;
     with --diff: a file would change)
  2  usage, configuration or internal error, or a path that does not exist"""


class _Fatal(click.ClickException):
    """A usage, configuration or internal error: message on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"gradlint: error: {self.format_message()}", err=True)


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``check``, and whose
    help shows the lint options (``gradlint --help`` is what a ruff user reads first).

    Any unexpected exception is an internal error: reported with its traceback, exit status 2.
    A closed stdout (``gradlint ... | head``) is not: click ends the run quietly.
    """

    GROUP_OPTIONS = ("--help", "-h", "--version", "-V")

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in self.GROUP_OPTIONS):
            args = ["check"] + list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            raise  # click's main() exits 1 without a traceback
        except Exception:
            raise _Fatal(f"internal error, please report it:\n{traceback.format_exc()}") from None

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage("gradlint", "[OPTIONS] [PATHS]... | COMMAND [ARGS]...")

    def format_options(self, ctx, formatter) -> None:
        check = self.commands["check"]
        with click.Context(check, info_name="check", parent=ctx) as sub:
            rows = [p.get_help_record(sub) for p in check.get_params(sub)
                    if isinstance(p, click.Option) and "--help" not in p.opts]
        rows += [p.get_help_record(ctx) for p in self.get_params(ctx) if isinstance(p, click.Option)]
        with formatter.section("Options (gradlint [OPTIONS] PATHS... is gradlint check)"):
            formatter.write_dl([r for r in rows if r is not None])
        self.format_commands(ctx, formatter)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_STATUS)
@click.version_option(__version__, "-V", "--version", prog_name="gradlint", message="%(prog)s %(version)s")
def main() -> None:
    """Find PyTorch gradient and train/eval-mode mistakes.

    \b
    gradlint PATH...       lint files and folders (the default command: gradlint check)
    gradlint -             lint standard input (name it with --stdin-filename)
    gradlint rules         list the rules
    gradlint explain CODE  print a rule's documentation
    gradlint server        the language server, for editors (stdio)
    gradlint verify        prove the rules by running programs under runtime monitors
    """


def _settings(select, ignore, extend_select, extend_ignore, per_file_ignores, exclude, extend_exclude,
              respect_gitignore, config, isolated) -> Resolver:
    cwd = os.getcwd()
    try:
        overrides = Overrides(
            select=tuple(parse_codes(select)) if select else None,
            ignore=tuple(parse_codes(ignore)) if ignore else None,
            extend_select=tuple(parse_codes(extend_select)),
            extend_ignore=tuple(parse_codes(extend_ignore)),
            per_file_ignores=parse_per_file_ignores(per_file_ignores, cwd) if per_file_ignores else None,
            exclude=tuple((cwd, p) for p in exclude) if exclude else None,
            extend_exclude=tuple((cwd, p) for p in extend_exclude),
            respect_gitignore=respect_gitignore,
        )
    except (SelectionError, ConfigError) as exc:
        raise click.UsageError(str(exc))
    try:
        return Resolver(overrides, config_path=config, isolated=isolated)
    except ConfigError as exc:
        raise _Fatal(str(exc))


@main.command(epilog=EXIT_STATUS)
@click.argument("paths", nargs=-1, type=click.Path(readable=False, allow_dash=True))
@click.option("--select", multiple=True, metavar="CODES", help="Rule codes or prefixes to run (GL1 = every GL1xx).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to skip.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rule codes or prefixes to run in addition.")
@click.option("--extend-ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to skip in addition.")
@click.option("--per-file-ignores", multiple=True, metavar="PATTERN:CODES",
              help="Skip CODES in files matching PATTERN (replaces the configured table).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Glob patterns of files or folders to skip (replaces the configured list).")
@click.option("--extend-exclude", multiple=True, metavar="PATTERN", help="Glob patterns to skip in addition.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None,
              help="Skip what git ignores (.gitignore, .git/info/exclude, global excludes) when walking "
                   "folders. [default: respect]")
@click.option("--force-exclude", is_flag=True,
              help="Apply excludes to files named on the command line too (the pre-commit hook does).")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="Read settings from this file only (pyproject.toml or a gradlint TOML file).")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--stdin-filename", metavar="PATH",
              help="The name of the file read from standard input (`gradlint -`): its configuration, "
                   "per-file ignores and kind (.ipynb) follow that name.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: path:line:col: CODE message; full: with source context and help; json; "
                   "sarif (2.1.0); github: workflow annotations.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write the report to this file instead of standard output.")
@click.option("--statistics", is_flag=True, help="Count the findings of each rule after the report.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option("--quiet", "-q", is_flag=True, help="Print the findings only: no summary, no progress.")
@click.option("--jobs", "-j", type=int, default=0, help="Processes to use (default: all cores from 4 cores on, else 1).")
@click.option("--no-cache", is_flag=True,
              help="Lint every file again instead of reusing unchanged files' results from .gradlint_cache/.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, envvar="GRADLINT_CACHE_DIR",
              help="Where results are cached (default: .gradlint_cache in the current folder).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes in place; report what remains.")
@click.option("--diff", is_flag=True,
              help="Print the fixes as a unified diff and change nothing (exit 1 when there is a change).")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply (with --fix, --diff) or offer fixes that change more than the bug "
                   "(outputs, training).")
def check(paths: Tuple[str, ...], select, ignore, extend_select, extend_ignore, per_file_ignores, exclude,
          extend_exclude, respect_gitignore, force_exclude, config, isolated, stdin_filename, output_format,
          output_file, statistics, exit_zero, quiet, jobs, no_cache, cache_dir, fix, diff, unsafe_fixes) -> None:
    """Lint PATHS (files or folders; default: the current folder; - reads standard input)."""
    resolver = _settings(select, ignore, extend_select, extend_ignore, per_file_ignores, exclude, extend_exclude,
                         respect_gitignore, config, isolated)
    options = _Options(output_format, output_file, statistics, exit_zero, quiet, fix, diff, unsafe_fixes,
                       _docs_url(resolver))
    if "-" in paths or (not paths and stdin_filename):
        if len(paths) > 1:
            raise click.UsageError("`-` (standard input) cannot be combined with other paths")
        _check_stdin(stdin_filename, resolver, force_exclude, options)
        return
    missing = [p for p in paths if not os.path.lexists(p)]
    for path in missing:
        click.echo(f"gradlint: error: {path}: no such file or directory", err=True)
    present: List[str] = [p for p in paths if os.path.lexists(p)] if paths else ["."]
    try:
        files = _discover(present, resolver, force_exclude)
        selections = {path: resolver.selection_for(path) for path in files}
    except ConfigError as exc:
        raise _Fatal(str(exc))
    progress = Progress(len(files), enabled=False if quiet else None)
    results = []
    try:
        if fix or diff:
            results = fix_paths(files, unsafe=unsafe_fixes, write=not diff, jobs=jobs,
                                selection_for=selections.__getitem__, progress=progress,
                                cache_dir=None if no_cache else (cache_dir or DEFAULT_CACHE))
            findings = sorted(f for r in results for f in r.findings)
        else:
            findings = lint_paths(files, jobs=jobs, selection_for=selections.__getitem__, progress=progress,
                                  fixes="notes", cache_dir=None if no_cache else (cache_dir or DEFAULT_CACHE))
    except LintCrash as exc:
        raise _Fatal(str(exc))
    finally:
        progress.close()
    if diff:
        for result in results:
            if result.diff:
                click.echo(result.diff, nl=False)
        status = 1 if any(r.changed for r in results) or any(f.is_error for f in findings) else 0
    else:
        status = 1 if findings and not exit_zero else 0
    fixed = sum(r.fixed for r in results) if (fix or diff) else None
    _report(options, findings, len(files), fixed, sum(1 for r in results if r.changed), len(missing))
    sys.exit(2 if missing else status)


def _discover(paths: List[str], resolver: Resolver, force_exclude: bool) -> List[str]:
    """The files to lint; each path named is walked with its own configuration's
    ``respect-gitignore`` (or the flag)."""
    ignore = GitIgnore()
    files: List[str] = []
    for path in paths:
        files.extend(discover([path], is_excluded=resolver.excluded, force_exclude=force_exclude,
                              respect_gitignore=resolver.respects_gitignore(path), gitignore=ignore))
    return files


def _docs_url(resolver: Resolver) -> Optional[str]:
    """``docs-url`` of the configuration that applies where gradlint runs."""
    try:
        return resolver.for_path(os.path.join(os.getcwd(), "-")).docs_url
    except ConfigError as exc:
        raise _Fatal(str(exc))


class _Options:
    def __init__(self, output_format, output_file, statistics, exit_zero, quiet, fix, diff, unsafe, docs_url):
        self.output_format = output_format
        self.output_file = output_file
        self.statistics = statistics
        self.exit_zero = exit_zero
        self.quiet = quiet
        self.fix = fix
        self.diff = diff
        self.unsafe = unsafe
        self.docs_url = docs_url
        self.texts: Dict[str, str] = {}  # what was not read from disk (stdin), for source context
        self.report_on_stderr = False    # stdout carries something else (the fixed source of stdin)


@contextlib.contextmanager
def _report_stream(options: _Options):
    if options.output_file is not None and options.output_file != "-":
        try:
            handle = open(options.output_file, "w", encoding="utf-8")
        except OSError as exc:
            raise _Fatal(f"{options.output_file}: cannot write the report: {exc.strerror or exc}")
        with handle:
            yield handle, False
        return
    stream = sys.stderr if options.report_on_stderr else sys.stdout
    yield stream, use_color(stream)


def _report(options: _Options, findings: List[Finding], checked: int, fixed: Optional[int], fixed_files: int,
            missing: int) -> None:
    """The report (stdout or --output-file), then the summary and hints: after it for people's
    formats, on stderr for documents (json, sarif) and after --diff (stdout holds the patch)."""
    fmt = options.output_format
    run = Run(findings, checked, fixed if options.fix else None, options.docs_url,
              SourceLines(options.texts), options.unsafe)
    with _report_stream(options) as (out, color):
        if not options.diff:
            writer(fmt)(run, out, color and fmt in ("text", "full"))
        to_stderr = options.diff or fmt in DOCUMENT_FORMATS or options.report_on_stderr

        def say(line: str) -> None:
            if to_stderr and out is not sys.stderr:
                click.echo(line, err=True)
            else:
                out.write(line + "\n")

        if options.statistics:
            for line in report_statistics(findings):
                say(line)
        if options.quiet:
            out.flush()
            return
        if options.fix or options.diff:
            say(fix_summary(fixed or 0, fixed_files, findings, checked, diff=options.diff, missing=missing))
        else:
            say(summary(findings, checked, missing))
        hint = "" if options.diff else fix_hint(findings, fixing=options.fix, unsafe=options.unsafe)
        if hint:
            say(hint)
        out.flush()


def _check_stdin(name: Optional[str], resolver: Resolver, force_exclude: bool, options: _Options) -> None:
    """``gradlint -``: lint (or fix) what standard input holds, as the file ``name`` would be.
    With --fix the fixed source goes to stdout and the report to stderr, as ruff does; with
    --diff, the diff."""
    from .stdin import lint_data, fix_data

    path = name or "-"
    where = name or os.path.join(os.getcwd(), "-")
    data = sys.stdin.buffer.read()
    try:
        excluded = bool(name) and force_exclude and resolver.excluded(name)
        selection = resolver.selection_for(where)
    except ConfigError as exc:
        raise _Fatal(str(exc))
    fixing = options.fix or options.diff
    if excluded:
        if options.fix:
            sys.stdout.buffer.write(data)
        sys.exit(0)
    if fixing:
        new_data, findings, fixed, diff_text, text = fix_data(path, data, selection, options.unsafe)
        options.texts[path] = text
        if options.diff:
            click.echo(diff_text, nl=False)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(new_data)
            sys.stdout.buffer.flush()
            options.report_on_stderr = True
        _report(options, findings, 1, fixed, int(new_data != data), 0)
        status = (1 if new_data != data or any(f.is_error for f in findings) else 0) if options.diff else \
            (1 if findings and not options.exit_zero else 0)
        sys.exit(status)
    findings, text = lint_data(path, data, selection)
    options.texts[path] = text
    _report(options, findings, 1, None, 0, 0)
    sys.exit(1 if findings and not options.exit_zero else 0)


@main.command()
def server() -> None:
    """Run the language server on stdin/stdout (for editors: diagnostics, quick fixes, hover)."""
    from .server import serve

    serve()


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
