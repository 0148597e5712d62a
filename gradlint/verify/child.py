"""The child process: install the monitors, run the program, write what was measured.

``python -m gradlint.verify.child SPEC.json RESULT.json``. The spec names the program,
its argv, its own files (where call sites are looked for), the lines to watch and the
device. The result is written even when the program raises, exits or is interrupted
(the parent sends SIGINT on timeout), so partial observations still come back.

``python -m gradlint.verify.child --serve`` is the warm variant for the fixtures: it
imports torch once (about 5 s with the optimizer's lazy imports) and forks one fresh
process per job, so each fixture costs a fraction of a second. A job line on stdin is
``{"spec", "result", "log", "timeout"}``; the answer line is ``{"returncode", "timed_out"}``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
import traceback


def _resolve_device(requested: str):
    import torch

    if requested == "cpu":
        return "cpu", None
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        return None, f"--device cuda: CUDA is not available to torch {torch.__version__}"
    return ("cuda" if available else "cpu"), None


def _where(tb, monitor):
    """The innermost traceback entry inside the program's own files."""
    found = (None, None)
    while tb is not None:
        path = monitor.program_path(tb.tb_frame.f_code.co_filename) if monitor else None
        if path is not None:
            found = (path, monitor.index[path].start(tb.tb_lineno))
        tb = tb.tb_next
    return found


def _write(path: str, result: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)
    os.replace(tmp, path)


def main(argv) -> int:
    spec_path, result_path = argv[1], argv[2]
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    result = {"status": "not started", "exit_code": None, "exception": None}
    try:
        device, error = _resolve_device(spec.get("device", "cpu"))
    except ImportError as exc:
        result.update(status="error", error=f"torch cannot be imported: {exc}")
        _write(result_path, result)
        return 3
    if error:
        result.update(status="error", error=error)
        _write(result_path, result)
        return 3
    import torch

    from .monitors import Monitor

    os.environ["GRADLINT_DEVICE"] = device
    result.update(device=device, torch=torch.__version__)
    program = os.path.abspath(spec["program"])
    files = spec.get("files") or [program]
    monitor = Monitor(files, spec.get("watch", {}))
    sys.argv = [program] + list(spec.get("args", []))
    sys.path[0] = os.path.dirname(program)
    started = time.perf_counter()
    monitor.install()
    try:
        runpy.run_path(program, run_name="__main__")
        result.update(status="ok", exit_code=0)
    except SystemExit as exc:
        code = exc.code
        if code is None or code == 0:
            result.update(status="ok", exit_code=0)
        else:
            result.update(status="exit", exit_code=code if isinstance(code, int) else 1)
    except KeyboardInterrupt:
        result.update(status="interrupted", exit_code=130)
    except BaseException as exc:  # noqa: BLE001 - the program's own failure is an observation
        path, line = _where(exc.__traceback__, monitor)
        result.update(status="exception", exit_code=1, exception={
            "type": type(exc).__name__, "message": str(exc).strip()[:500], "path": path, "line": line,
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]})
    finally:
        monitor.uninstall()
        result["seconds"] = round(time.perf_counter() - started, 3)
        try:
            result.update(monitor.results())
        except Exception as exc:  # noqa: BLE001
            result["monitor_error"] = f"{type(exc).__name__}: {exc}"
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        _write(result_path, result)
    return 0


def _run_forked(job: dict, answers: int) -> None:
    """In the forked process: output to the job's log, run, and leave without cleanup."""
    code = 70
    try:
        os.close(answers)
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        import random
        import signal

        random.seed()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = main(["child", job["spec"], job["result"]])
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _wait(pid: int, timeout: float):
    """Wait for a forked job; on timeout SIGINT it, then SIGKILL after a grace period."""
    import signal

    deadline = time.monotonic() + timeout
    delay = 0.002
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status, timed_out
        if time.monotonic() > deadline:
            if not timed_out:
                timed_out = True
                os.kill(pid, signal.SIGINT)
                deadline = time.monotonic() + 10
            else:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 3600
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def serve() -> int:
    import torch  # noqa: F401  (the point of the server: import once, fork many)

    try:
        import torch._dynamo  # noqa: F401  (torch.optim imports it lazily, at 2-3 s)
    except Exception:  # noqa: BLE001
        pass
    from . import monitors  # noqa: F401

    answers = os.dup(1)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_forked(job, answers)
        returncode, timed_out = _wait(pid, float(job.get("timeout", 120)))
        os.write(answers, (json.dumps({"returncode": returncode, "timed_out": timed_out}) + "\n").encode())
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve())
    sys.exit(main(sys.argv))
