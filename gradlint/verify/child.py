"""The child process: install the monitors, run the program, write what was measured.

``python -m gradlint.verify.child SPEC.json RESULT.json``. The spec names the program,
its argv, its own files (where call sites are looked for), the lines to watch and the
device. The result is written even when the program raises, exits or is interrupted
(the parent sends SIGINT on timeout), so partial observations still come back.
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
