"""Where the work runs: a process pool that survives a worker's native crash, and a thread
with room for deeply nested files.

``WorkerPool`` runs ``func(task)`` for many tasks in worker processes. A worker that dies
(libcst's native parser can segfault, the kernel can kill a process for memory) costs
only the task it was running: that task's result is a ``Failure`` saying why, a new
worker takes its place and every other task completes. A task whose ``func`` raises
gives a ``Failure`` too. No worker outlives the pool: they are stopped when it closes,
killed when the code using it raises, and on Linux killed by the kernel when the process
that started them dies (``PR_SET_PDEATHSIG``); elsewhere a worker leaves as soon as it
sees the pool's end of its pipe close.

``run_deep(func, *args)`` calls ``func`` on a thread with a 512 MiB stack and a raised
recursion limit, for the files whose nesting the ordinary stack cannot follow.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import queue
import signal
import sys
import threading
import traceback
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import connection, get_context
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence

IN_PROCESS_BELOW = 8     # fewer tasks than this run in this process: starting workers costs more
IN_FLIGHT = 2            # tasks sent ahead to each worker, so it never waits for the next one
# A parse allocates hundreds of thousands of nodes that live on (the facts point into the tree):
# at Python's default thresholds the cyclic collector scans them again and again, a third of
# a run's time (still a quarter at a threshold of 50,000). Trees hold no reference cycles and
# reference counting frees them, so a run turns the cyclic collector off: on 2,800 files the
# peak memory was the same (243 MB) with it on and off.
RUN_GC_THRESHOLD = (0, 0, 0)


@contextmanager
def fewer_collections():
    """Python's cyclic collector at ``RUN_GC_THRESHOLD`` (0: off) for a run, restored after it."""
    before = gc.get_threshold()
    gc.set_threshold(*RUN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class Failure:
    """What a task gave instead of its result: ``reason`` is one line for the user (which
    signal killed the worker, or the exception ``func`` raised and where), ``detail`` the
    traceback when there is one."""

    reason: str
    detail: str = ""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def failure_of(exc: BaseException) -> Failure:
    """The ``Failure`` for an exception raised by gradlint itself: its type, message and the
    innermost frame inside gradlint (else the innermost frame), so the report can be acted on."""
    if isinstance(exc, MemoryError):
        return Failure("not enough memory to analyse it")
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}gradlint{os.sep}" in f.filename and f.filename != __file__] or frames
    where = f" at {_short(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return Failure(f"internal error ({type(exc).__name__}{': ' + text[:200] if text else ''}{where}); "
                   f"please report it",
                   "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _short(filename: str) -> str:
    marker = f"{os.sep}gradlint{os.sep}"
    return "gradlint/" + filename.rsplit(marker, 1)[1].replace(os.sep, "/") if marker in filename else filename


def death_reason(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == getattr(signal, "SIGSEGV", 11):
            return f"the process analysing it crashed ({name}: libcst's native parser, most likely)"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return f"the process analysing it was killed ({name}: out of memory, most likely)"
        return f"the process analysing it was stopped by {name}"
    return f"the process analysing it exited unexpectedly (status {exitcode})"


# -- the worker process -------------------------------------------------------------------------

def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Linux: the kernel sends ``sig`` to this process when its parent dies, however it dies
    (``PR_SET_PDEATHSIG``). Exits at once when ``parent`` is already gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _receive(conn, inbox: "queue.Queue") -> None:
    """Read the pool's messages as they come, so that the pool never blocks sending the next
    task while this worker blocks sending a result (both pipes full: a deadlock once tasks
    and results are large)."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the pool is gone
            message = None
        inbox.put(message)
        if message is None:
            return


def _worker(conn, parent: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.disable()  # a crash is reported as its task's Failure, not as a dump on stderr
    gc.set_threshold(*RUN_GC_THRESHOLD)  # a worker only ever runs gradlint
    inbox: "queue.Queue" = queue.Queue()
    threading.Thread(target=_receive, args=(conn, inbox), name="gradlint-inbox", daemon=True).start()
    while True:
        message = inbox.get()
        if message is None:
            break
        index, func, task = message
        try:
            reply = (index, func(task), None)
        except BaseException as exc:  # noqa: BLE001 - every failure is the task's result
            reply = (index, None, failure_of(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            break
        except Exception as exc:  # noqa: BLE001 - a result that cannot be pickled
            conn.send((index, None, failure_of(exc)))
    conn.close()


class _Worker:
    def __init__(self, context) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.inflight: Deque[int] = deque()

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def forks() -> bool:
    """Whether new workers are forked, and so start with a copy of this process's memory.
    fork starts a worker in milliseconds and shares what is already imported; it is only
    safe in a process that runs no other threads."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _context():
    return get_context("fork" if forks() else "spawn")


class WorkerPool:
    """Worker processes for ``map``; a context manager, reusable for several ``map`` calls.

    ``jobs``: the most workers (default: every core); with ``jobs`` <= 1, or fewer than
    ``in_process_below`` tasks, ``map`` runs in this process (a ``func`` that raises still
    gives a ``Failure``; a native crash there is what the callers' pre-checks prevent).
    A caller that has started workers for a run passes 1 to keep every later task in them.
    """

    def __init__(self, jobs: int = 0, in_process_below: int = IN_PROCESS_BELOW) -> None:
        self.jobs = jobs or default_jobs()
        self.in_process_below = in_process_below
        self._workers: List[_Worker] = []
        self._context = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.close(kill=kind is not None)

    def close(self, kill: bool = False) -> None:
        """Stop every worker (``kill``: at once, without letting it finish its task)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(kill)

    def map(self, func: Callable[[Any], Any], tasks: Sequence[Any], progress: Optional[Callable[[Any], None]] = None,
            cost: Optional[Callable[[Any], float]] = None) -> list:
        """``func(task)`` for each task; results in the order of ``tasks``, a ``Failure`` for a
        task that raised or whose worker died. ``progress(task)`` is called as each one ends;
        ``cost(task)``, when given, sends the costliest tasks first (so that a few big files do
        not leave the other workers idle at the end). ``func`` and the tasks must pickle."""
        tasks = list(tasks)
        if self.jobs <= 1 or len(tasks) < self.in_process_below:
            return [self._here(func, task, progress) for task in tasks]
        order = sorted(range(len(tasks)), key=lambda i: -cost(tasks[i])) if cost else list(range(len(tasks)))
        pending: Deque[int] = deque(order)
        results: List[Any] = [None] * len(tasks)
        left = len(tasks)
        if self._context is None:
            self._context = _context()
        while len(self._workers) < min(self.jobs, len(tasks)):
            self._workers.append(_Worker(self._context))
        try:
            while left:
                self._feed(func, tasks, pending)
                by_handle: Dict[Any, _Worker] = {}
                for worker in self._workers:
                    by_handle[worker.conn] = worker
                    by_handle[worker.process.sentinel] = worker
                for handle in connection.wait(list(by_handle)):
                    worker = by_handle[handle]
                    if worker not in self._workers:
                        continue  # replaced while handling an earlier handle
                    for index, value in self._collect(worker, pending):
                        results[index] = value
                        left -= 1
                        if progress:
                            progress(tasks[index])
        except BaseException:
            self.close(kill=True)
            raise
        return results

    @staticmethod
    def _here(func, task, progress):
        try:
            result = func(task)
        except Exception as exc:  # noqa: BLE001 - the task's result, as a worker would give it
            result = failure_of(exc)
        if progress:
            progress(task)
        return result

    def _feed(self, func, tasks, pending: Deque[int]) -> None:
        for worker in self._workers:
            while pending and len(worker.inflight) < IN_FLIGHT:
                index = pending.popleft()
                try:
                    worker.conn.send((index, func, tasks[index]))
                except (OSError, ValueError):  # it died: its sentinel says so next
                    pending.appendleft(index)
                    break
                worker.inflight.append(index)

    def _collect(self, worker: _Worker, pending: Deque[int]):
        """The results a worker has sent; if it has died, a Failure for the task it was
        running, its other tasks back in the queue, and a new worker in its place."""
        while True:
            try:
                if not worker.conn.poll():
                    break
                index, value, failure = worker.conn.recv()
            except (EOFError, OSError):
                break
            worker.inflight.remove(index)
            yield index, failure if failure is not None else value
        if worker.process.is_alive():
            return
        worker.process.join()
        if worker.inflight:
            crashed = worker.inflight.popleft()
            pending.extendleft(reversed(worker.inflight))
            yield crashed, Failure(death_reason(worker.process.exitcode))
        worker.inflight.clear()
        worker.conn.close()
        self._workers[self._workers.index(worker)] = _Worker(self._context)


# -- a thread with room for deep nesting --------------------------------------------------------

DEEP_STACK = 512 << 20      # bytes: libcst parsed a 200,000-operand `and` chain in this much
DEEP_RECURSION = 50000      # Python frames: under 10 KiB of that stack each, on every version
_deep = threading.local()
_deep_lock = threading.Lock()


def run_deep(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` on a thread with a ``DEEP_STACK`` stack and a recursion limit of
    ``DEEP_RECURSION``; its result, or its exception re-raised here. The stack is reserved,
    not used: only the pages a deep file touches cost memory. Called from inside such a
    thread, it just calls ``func``. While it runs the recursion limit of the whole
    interpreter is raised, so one deep call runs at a time."""
    if getattr(_deep, "active", False):
        return func(*args)
    outcome: Dict[str, Any] = {}

    def target() -> None:
        _deep.active = True
        try:
            outcome["value"] = func(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    with _deep_lock:
        limit = sys.getrecursionlimit()
        size = threading.stack_size(DEEP_STACK)
        sys.setrecursionlimit(max(limit, DEEP_RECURSION))
        try:
            thread = threading.Thread(target=target, name="gradlint-deep", daemon=True)
            thread.start()
            threading.stack_size(size)
            thread.join()
        finally:
            threading.stack_size(size)
            sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
