"""The child process: install the monitors, run the program, write what was measured.

``python -m gradlint.verify.child SPEC.json RESULT.json``. The spec names the program (a
script, or a module run as ``python -m`` runs it), its argv, its own files (where call
sites are looked for), the lines to watch, the device and, optionally, a progress file
the monitors write snapshots to. The result is written even when the program raises,
exits or is interrupted (the parent sends SIGINT on timeout or Ctrl-C), so partial
observations still come back.

Nothing the program starts outlives it: the child adopts its orphaned descendants
(Linux: ``PR_SET_CHILD_SUBREAPER``) and kills whatever of them is left when the program
ends; and a thread watches a pipe from the parent (``GRADLINT_LIFELINE``): when the
parent dies, the child and everything it started are killed.

``python -m gradlint.verify.child --serve`` is the warm variant for the fixtures: it
imports torch once (about 5 s with the optimizer's lazy imports) and forks one fresh
process per job, so each fixture costs a fraction of a second. A job line on stdin is
``{"spec", "result", "log", "timeout"}``; the answer line is ``{"returncode", "timed_out"}``.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from collections import defaultdict
from typing import List


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


# -- nothing outlives the program -------------------------------------------------------------
def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def descendants(pid: int) -> List[int]:
    """Every process below ``pid`` (Linux /proc; elsewhere none are found)."""
    children = defaultdict(list)
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants() -> None:
    """Kill what the program started and left running (data loader workers, servers), and
    reap them; the child itself goes on."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


def _watch_lifeline() -> None:
    """When the parent dies (its end of the pipe closes), kill everything and leave."""
    fd = os.environ.pop("GRADLINT_LIFELINE", "")
    if not fd.isdigit():
        return
    fd = int(fd)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(137)

    threading.Thread(target=watch, name="gradlint-lifeline", daemon=True).start()


def main(argv) -> int:
    spec_path, result_path = argv[1], argv[2]
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of the program become our children
    _watch_lifeline()
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
    module = spec.get("module")
    files = spec.get("files") or [program]
    monitor = Monitor(files, spec.get("watch", {}), progress=spec.get("progress"),
                      about={"device": device, "torch": torch.__version__})
    sys.argv = [program] + list(spec.get("args", []))
    if module:
        sys.path[0] = os.getcwd()  # as `python -m` has it
    else:
        sys.path[0] = os.path.dirname(program)
    started = time.perf_counter()
    monitor.install()
    monitor.report_progress(force=True)
    if spec.get("started"):
        open(spec["started"], "w").close()  # the parent's timeout counts from here
    try:
        if module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
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
        kill_descendants()
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

        from ..workers import die_with_parent

        os.setpgid(0, 0)  # its own group: the server kills whatever the fixture leaves
        die_with_parent(job["server"])
        random.seed()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = main(["child", job["spec"], job["result"]])
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _parent_gone() -> bool:
    """The parent closed our stdin (it exited or was killed): no more jobs will come."""
    import select

    try:
        readable, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    return not sys.stdin.buffer.peek(1) if hasattr(sys.stdin.buffer, "peek") else False


def _wait(pid: int, timeout: float):
    """Wait for a forked job; on timeout SIGINT it, then SIGKILL its whole process group after
    a grace period. Whatever the job leaves running is killed when it ends."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    timed_out = False
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
                return code, timed_out
            if _parent_gone():
                _kill_group(pid)
                os._exit(0)
            if time.monotonic() > deadline:
                if not timed_out:
                    timed_out = True
                    os.kill(pid, signal.SIGINT)
                    deadline = time.monotonic() + 10
                else:
                    _kill_group(pid)
                    deadline = time.monotonic() + 3600
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        _kill_group(pid)


def serve() -> int:
    import torch  # noqa: F401  (the point of the server: import once, fork many)

    try:
        import torch._dynamo  # noqa: F401  (torch.optim imports it lazily, at 2-3 s)
    except Exception:  # noqa: BLE001
        pass
    from . import monitors  # noqa: F401
    from ..workers import die_with_parent

    current = {}

    def stop(signum, frame):  # the parent died (PR_SET_PDEATHSIG): take the running job along
        if current.get("pid"):
            _kill_group(current["pid"])
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    die_with_parent(int(os.environ.get("GRADLINT_PARENT", os.getppid())), signal.SIGTERM)
    answers = os.dup(1)
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        job = dict(json.loads(line), server=os.getpid())
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_forked(job, answers)
        current["pid"] = pid
        returncode, timed_out = _wait(pid, float(job.get("timeout", 120)))
        current["pid"] = None
        os.write(answers, (json.dumps({"returncode": returncode, "timed_out": timed_out}) + "\n").encode())
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve())
    sys.exit(main(sys.argv))
