"""Progress on stderr: only on a terminal, only for runs of many files, never in a pipe."""

from __future__ import annotations

import io

from conftest import EVAL_BARE, gradlint, gradlint_on_tty, parse_lines, write

from gradlint.progress import ERASE, MIN_FILES, Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _many(tmp_path, count: int):
    for n in range(count):
        write(tmp_path, f"src/evaluate_{n:02d}.py", EVAL_BARE)
    return tmp_path


def test_drawn_on_a_terminal_and_erased_at_the_end():
    stream = FakeTerminal()
    progress = Progress(MIN_FILES, stream=stream, interval=0.0)
    for n in range(MIN_FILES):
        progress(f"src/file_{n}.py")
    progress.close()
    text = stream.getvalue()
    assert f"[1/{MIN_FILES}]" in text and f"[{MIN_FILES}/{MIN_FILES}] 100%" in text
    assert text.endswith(ERASE)


def test_nothing_for_a_pipe_or_a_small_run():
    pipe = io.StringIO()
    progress = Progress(100, stream=pipe, interval=0.0)
    for n in range(100):
        progress(f"f{n}.py")
    progress.close()
    assert pipe.getvalue() == ""
    terminal = FakeTerminal()
    small = Progress(MIN_FILES - 1, stream=terminal, interval=0.0)
    for n in range(MIN_FILES - 1):
        small(f"f{n}.py")
    small.close()
    assert terminal.getvalue() == ""


def test_redraws_are_throttled():
    stream = FakeTerminal()
    progress = Progress(1000, stream=stream, interval=3600)
    for n in range(1000):
        progress(f"f{n}.py")
    # the first and the last update only
    assert stream.getvalue().count(ERASE) == 2


def test_cli_shows_progress_on_a_terminal_stderr_only(tmp_path):
    project = _many(tmp_path, MIN_FILES + 5)
    total = MIN_FILES + 5
    status, terminal, stdout = gradlint_on_tty("--isolated", "src", tty="stderr", cwd=project)
    assert status == 1
    assert f"[{total}/{total}] 100%" in terminal
    assert "gradlint [" not in stdout and "\r" not in stdout
    assert len(parse_lines(stdout)) == 2 * total


def test_cli_piped_output_never_carries_progress(tmp_path):
    project = _many(tmp_path, MIN_FILES + 5)
    result = gradlint("--isolated", "src", cwd=project)
    assert result.returncode == 1
    assert result.stderr == ""
    assert "\r" not in result.stdout and "gradlint [" not in result.stdout


def test_quiet_turns_progress_off(tmp_path):
    project = _many(tmp_path, MIN_FILES + 5)
    _, terminal, _ = gradlint_on_tty("--isolated", "-q", "src", tty="stderr", cwd=project)
    assert "gradlint [" not in terminal
