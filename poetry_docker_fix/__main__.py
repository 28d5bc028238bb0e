"""The `poetry-docker-fix` command and `python -m poetry_docker_fix`."""

import os
import sys


def main() -> None:
    # Before typer and the tool are imported: a reader process imports libcst meanwhile (see import_reader).
    from .refactor import import_reader

    if import_reader.useful(sys.argv[1:]):
        import_reader.start()
    from .cli import main as run

    try:
        run()
    except SystemExit as request:
        exit_now(request.code)
    exit_now(0)


def exit_now(code: object) -> None:
    """Leave as `sys.exit(code)` would, without the interpreter's teardown: freeing every object of every module
    typer, click and libcst brought in takes 10-20 ms, a tenth of a one-file run, and changes nothing outside
    this process. What teardown does that matters is done here: exit handlers run (the import reader is
    stopped and reaped), buffered output is flushed, and a failure to flush it gives Python's exit code (120).
    (The command keeps no other file open at this point: it writes files in `with` blocks.)

    The interpreter exits as usual when something may still want its teardown: another thread still running
    (it would wait for it), or a profiler, tracer or coverage tool watching (it writes its data at exit)."""
    import atexit

    threading = sys.modules.get("threading")
    monitoring = getattr(sys, "monitoring", None)
    watched = sys.getprofile() is not None or sys.gettrace() is not None or (
        monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6)))
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None or watched or (threading is not None and threading.active_count() > 1):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code if -2**63 < code < 2**63 else -1  # Python's own reading of an out-of-range code
    else:  # sys.exit("message"): the message goes to stderr, the status is 1
        try:
            _write_error(f"{code}\n")
        except Exception:  # noqa: BLE001 - a code that cannot be printed: Python prints what it can
            _write_error(f"<unprintable {type(code).__name__} object>\n")
        status = 1
    run_handlers()
    if sys.stdout is not None and not getattr(sys.stdout, "closed", False):
        try:
            sys.stdout.flush()
        except Exception as error:  # noqa: BLE001 - as Python does: the output was lost, so the exit code says so
            _write_error(f"Exception ignored on flushing sys.stdout:\n{type(error).__name__}: {error}\n")
            status = 120
    if sys.stderr is not None and not getattr(sys.stderr, "closed", False):
        try:
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - nowhere left to say it
            pass
    os._exit(status & 0xFF)  # what the operating system keeps of any exit status


def _write_error(text: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(text)
    except Exception:  # noqa: BLE001 - a closed or broken stderr: nothing to do
        pass


if __name__ == "__main__":
    main()
