"""Running a program under the monitors in a child process, with an optional timeout.

The parent writes a JSON spec, starts ``python -m gradlint.verify.child SPEC RESULT`` in
its own session and reads the JSON result back. On timeout, or when the user presses
Ctrl-C, it sends SIGINT (the child turns it into KeyboardInterrupt and still writes what it
measured), then kills the whole process group after a grace period. Whatever the program
leaves running is killed when it ends, and the child dies with the parent (it watches a
pipe the parent holds open). The linter process itself never imports torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

GRACE_SECONDS = 10
OUTPUT_TAIL = 4000


class VerifyError(Exception):
    """A problem the user must fix before anything can be verified (shown as is, exit 2)."""


@dataclass
class RunResult:
    result: dict = field(default_factory=dict)
    returncode: Optional[int] = None
    timed_out: bool = False
    output: str = ""
    interrupted: bool = False      # stopped by the user (Ctrl-C)

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timeout"
        return self.result.get("status") or "crashed"

    def problem(self, timeout: Optional[float]) -> Optional[str]:
        """A sentence for the user when the program did not run to completion, else None."""
        if self.timed_out:
            return f"the program did not finish within {timeout:g} s and was stopped; verdicts are partial"
        if self.interrupted:
            return "the program was stopped (Ctrl-C); verdicts are partial"
        status = self.result.get("status")
        if status == "error":
            return self.result.get("error", "the verifier could not start the program")
        if status == "exception":
            exc = self.result.get("exception") or {}
            where = f" at {exc.get('path')}:{exc.get('line')}" if exc.get("line") else ""
            return f"the program raised {exc.get('type')}{where}: {_first(exc.get('message', ''))}"
        if status == "exit":
            return f"the program exited with status {self.result.get('exit_code')}"
        if status == "interrupted":
            return "the program was interrupted"
        if not self.result:
            tail = _first(self.output.strip().splitlines()[-1] if self.output.strip() else "")
            return (f"the verifier's child process died (exit status {self.returncode})"
                    + (f": {tail}" if tail else ""))
        return None


def _first(text: str) -> str:
    text = str(text).strip()
    return text.splitlines()[0] if text else ""


def require_torch() -> None:
    """Fail with a clear message when the interpreter that would run the child has no torch."""
    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise VerifyError("gradlint verify needs PyTorch in this environment: pip install 'torch-gradlint[verify]' "
                          "(or pip install torch)")


def child_env(device: str, threads: Optional[int] = None, extra: Optional[Dict[str, str]] = None) -> dict:
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["GRADLINT_DEVICE"] = device if device != "auto" else env.get("GRADLINT_DEVICE", "cpu")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    if extra:
        env.update(extra)
    return env


def make_spec(program: str, args: Sequence[str] = (), files: Optional[Sequence[str]] = None,
              watch: Optional[Dict[str, List[int]]] = None, device: str = "cpu",
              module: Optional[str] = None) -> dict:
    """The child's spec. ``module``: run it as ``python -m`` runs it (``program`` is its file)."""
    program = os.path.abspath(program)
    return {"program": program, "args": list(args), "files": [os.path.abspath(f) for f in (files or [program])],
            "watch": {os.path.abspath(k): sorted(set(v)) for k, v in (watch or {}).items()}, "device": device,
            "module": module}


def run_child(spec: dict, timeout: Optional[float], capture: bool = True, threads: Optional[int] = None,
              progress: Optional[Callable[[dict], None]] = None) -> RunResult:
    """Run one program in a fresh interpreter under the monitors. ``timeout``: seconds the
    program may run (counted from its start, the child's own start-up aside), or None to wait
    as long as it runs. ``progress(snapshot)`` is called with each new snapshot of the
    measurements while it runs. Ctrl-C stops the program and keeps what it measured."""
    with tempfile.TemporaryDirectory(prefix="gradlint-verify-") as tmp:
        spec_path = os.path.join(tmp, "spec.json")
        result_path = os.path.join(tmp, "result.json")
        log_path = os.path.join(tmp, "output.txt")
        progress_path = os.path.join(tmp, "progress.json")
        started_path = os.path.join(tmp, "started")
        spec = dict(spec, started=started_path)
        if progress is not None:
            spec = dict(spec, progress=progress_path)
        with open(spec_path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        cmd = [sys.executable, "-m", "gradlint.verify.child", spec_path, result_path]
        log = open(log_path, "wb") if capture else None
        lifeline, keep = os.pipe()  # the child watches `lifeline`; it ends when `keep` closes
        run = RunResult()
        try:
            env = child_env(spec.get("device", "cpu"), threads, {"GRADLINT_LIFELINE": str(lifeline)})
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=log if capture else sys.stderr.fileno(),
                                    stderr=subprocess.STDOUT if capture else None,
                                    env=env, pass_fds=(lifeline,), start_new_session=(os.name == "posix"))
            os.close(lifeline)
            lifeline = -1
            try:
                run.returncode, run.timed_out = _wait(proc, timeout, progress, progress_path, started_path)
            except KeyboardInterrupt:
                run.interrupted = True
                run.returncode = _stop(proc)
            finally:
                _kill_group(proc)
        finally:
            if lifeline >= 0:
                os.close(lifeline)
            os.close(keep)
            if log is not None:
                log.close()
        if capture:
            with open(log_path, "rb") as handle:
                data = handle.read()
            run.output = data[-OUTPUT_TAIL:].decode("utf-8", "replace")
        run.result = _load(result_path)
        return run


def _wait(proc: subprocess.Popen, timeout: Optional[float], progress, progress_path: str, started_path: str):
    """(exit status, timed out?): wait for the child, reporting progress snapshots as they
    come; the timeout counts from the moment the program starts (the child marks it)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    started = False
    seen = None
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        step = 0.5 if left is None else min(0.5, left)
        if progress is None and timeout is None:
            step = None
        try:
            return proc.wait(timeout=step), False
        except subprocess.TimeoutExpired:
            pass
        if not started and deadline is not None and os.path.exists(started_path):
            started = True
            deadline = time.monotonic() + timeout
        if progress is not None:
            try:
                stamp = os.stat(progress_path).st_mtime_ns
            except OSError:
                stamp = None
            if stamp is not None and stamp != seen:
                seen = stamp
                snapshot = _load(progress_path)
                if snapshot:
                    progress(snapshot)
        if deadline is not None and time.monotonic() >= deadline:
            return _stop(proc), True


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _kill_group(proc: subprocess.Popen) -> None:
    """Whatever the program left running in its process group goes with it."""
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _stop(proc: subprocess.Popen) -> Optional[int]:
    """SIGINT first (the child writes its partial result), then kill the process group."""
    code = None
    try:
        if os.name == "posix":
            os.kill(proc.pid, signal.SIGINT)
        else:
            proc.terminate()
        code = proc.wait(timeout=GRACE_SECONDS)
    except (subprocess.TimeoutExpired, OSError):
        pass
    try:  # the child and anything it started (data loader workers)
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        elif code is None:
            proc.kill()
    except OSError:
        pass
    return code if code is not None else proc.wait()


class WarmPool:
    """Servers that import torch once and fork a fresh process per program (POSIX only).

    Used for the fixtures, where the torch import would otherwise cost more than the
    programs themselves. A server that dies is replaced by a cold run of that job.
    """

    def __init__(self, size: int, device: str, threads: Optional[int] = None):
        import queue

        self._idle: "queue.Queue" = queue.Queue()
        self._all = []
        self._tmp = tempfile.TemporaryDirectory(prefix="gradlint-verify-")
        self._count = 0
        for _ in range(max(1, size)):
            proc = subprocess.Popen([sys.executable, "-m", "gradlint.verify.child", "--serve"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    env=child_env(device, threads, {"GRADLINT_PARENT": str(os.getpid())}),
                                    start_new_session=True)
            self._all.append(proc)
            self._idle.put(proc)
        self.threads = threads

    @staticmethod
    def available() -> bool:
        return hasattr(os, "fork") and os.name == "posix" and not os.environ.get("GRADLINT_VERIFY_COLD")

    def run(self, spec: dict, timeout: float) -> RunResult:
        proc = self._idle.get()
        try:
            return self._run(proc, spec, timeout)
        finally:
            self._idle.put(proc)

    def _run(self, proc: subprocess.Popen, spec: dict, timeout: float) -> RunResult:
        self._count += 1
        base = os.path.join(self._tmp.name, f"job{self._count}-{id(spec)}")
        job = {"spec": base + ".spec.json", "result": base + ".result.json", "log": base + ".log",
               "timeout": timeout}
        with open(job["spec"], "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        answer = ""
        if proc.poll() is None:
            try:
                proc.stdin.write((json.dumps(job) + "\n").encode())
                proc.stdin.flush()
                answer = proc.stdout.readline().decode()
            except OSError:
                answer = ""
        if not answer:  # the server is gone: run this one cold
            return run_child(spec, timeout, capture=True, threads=self.threads)
        reply = json.loads(answer)
        run = RunResult(returncode=reply.get("returncode"), timed_out=bool(reply.get("timed_out")))
        if os.path.exists(job["log"]):
            with open(job["log"], "rb") as handle:
                run.output = handle.read()[-OUTPUT_TAIL:].decode("utf-8", "replace")
        if os.path.exists(job["result"]):
            with open(job["result"], encoding="utf-8") as handle:
                try:
                    run.result = json.load(handle)
                except ValueError:
                    run.result = {}
        for path in job.values():
            if isinstance(path, str) and os.path.exists(path):
                os.unlink(path)
        return run

    def close(self) -> None:
        for proc in self._all:
            try:
                proc.stdin.close()
            except OSError:
                pass
        for proc in self._all:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self._tmp.cleanup()

    def __enter__(self) -> "WarmPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
