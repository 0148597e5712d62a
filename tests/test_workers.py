"""The worker pool: results in task order, a crashed or raising task costs only itself, the pool
is reusable, and no worker outlives it (closed, raised through, or its parent killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ROOT, run_env

from gradlint.workers import Failure, WorkerPool, run_deep

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc: Linux")


def work(task):
    kind, value = task
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "raise":
        raise ValueError(f"bad task {value}")
    if kind == "pid":
        return os.getpid()
    return value * 2


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_results_in_order_and_a_crash_or_an_exception_costs_only_its_task():
    tasks = [("ok", i) for i in range(12)]
    tasks[3] = ("crash", 0)
    tasks[7] = ("raise", 7)
    with WorkerPool(2) as pool:
        results = pool.map(work, tasks)
        assert [r for i, r in enumerate(results) if i not in (3, 7)] == [i * 2 for i in range(12) if i not in (3, 7)]
        assert isinstance(results[3], Failure) and "crashed (SIGSEGV" in results[3].reason
        assert isinstance(results[7], Failure) and "ValueError: bad task 7" in results[7].reason
        assert "test_workers.py" in results[7].reason and "Traceback" in results[7].detail
        again = pool.map(work, [("ok", i) for i in range(10)])  # the same pool, a crashed worker replaced
        assert again == [i * 2 for i in range(10)]


def echo(task):
    return task * 2


def test_large_tasks_and_large_results_do_not_deadlock():
    """A task sent ahead while the worker sends a large result: both pipes fill, and the pool
    once waited on the worker while the worker waited on the pool (a tune-corpus run hung)."""
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_workers import echo
        from gradlint.workers import WorkerPool
        with WorkerPool(2) as pool:
            results = pool.map(echo, [bytes([i]) * (4 << 20) for i in range(10)])
        assert [len(r) for r in results] == [8 << 20] * 10
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT / "tests")], capture_output=True, text=True,
                          env=run_env(), timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_small_task_lists_run_here_and_still_give_failures():
    seen = []
    results = WorkerPool(2).map(work, [("pid", 0), ("raise", 1)], progress=seen.append)
    assert results[0] == os.getpid() and isinstance(results[1], Failure)
    assert seen == [("pid", 0), ("raise", 1)]


def test_costliest_tasks_go_first_and_progress_sees_every_task():
    seen = []
    with WorkerPool(2) as pool:
        results = pool.map(work, [("ok", i) for i in range(9)], progress=seen.append, cost=lambda t: t[1])
    assert results == [i * 2 for i in range(9)] and sorted(seen) == [("ok", i) for i in range(9)]


def test_workers_stop_when_the_pool_closes_or_the_caller_raises():
    with WorkerPool(2) as pool:
        pids = set(pool.map(work, [("pid", i) for i in range(8)]))
    assert pids and not any(alive(p) for p in pids)

    def stop(task):
        raise KeyboardInterrupt

    pool = WorkerPool(2)
    with pytest.raises(KeyboardInterrupt):
        with pool:
            pids = set(pool.map(work, [("pid", i) for i in range(8)]))
            pool.map(work, [("ok", i) for i in range(8)], progress=stop)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_workers_die_with_a_killed_parent(tmp_path):
    """Killing gradlint (SIGKILL: no cleanup runs) used to leave its pool workers alive."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from gradlint.workers import WorkerPool
        from test_workers import work

        pool = WorkerPool(2)
        pids = pool.map(work, [("pid", i) for i in range(8)])
        print(" ".join(map(str, sorted(set(pids)))), flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=run_env())
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids and all(alive(p) for p in pids)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_run_deep_gives_room_for_deep_recursion_and_passes_exceptions_back():
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    with pytest.raises(RecursionError):
        depth(20000)
    assert run_deep(depth, 20000) == 20000
    limit = sys.getrecursionlimit()
    with pytest.raises(ZeroDivisionError):
        run_deep(lambda: 1 / 0)
    assert sys.getrecursionlimit() == limit
