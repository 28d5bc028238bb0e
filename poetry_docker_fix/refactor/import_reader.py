"""libcst's import time, overlapped with the rest of start-up.

Importing libcst takes about 0.1 s, as long as starting Python, importing typer and the tool, and rewriting a
Dockerfile together. A one-file run whose narrow-copy pass must read the app's imports used to pay the two one
after the other. So the command forks a reader process first thing, before anything heavy is imported: it
imports libcst (and parses a line, to warm the parser) on another core while this process starts up, then
parses the sources it is sent (`top_level_names`) and answers with the module names they import, exactly as
`imports.parse_top_level_names` finds them here.

It is a speed-up and nothing else:
- it starts only where it can pay (see `useful`): Linux, a second CPU, a few files whose Dockerfiles make the
  tool read Python, a flat app's context. A run over a folder uses the worker pool instead, whose workers
  import libcst while the tree is walked;
- any failure (the reader died, was stopped, libcst is missing there, a pipe broke) makes the caller parse in
  this process, which reports errors as it always did; waits for it are bounded;
- a process that inherited the reader (a pool worker forked from this one) never talks to it: only its owner
  does;
- it is killed and reaped as soon as the rewrites are done, or at exit, whether or not it was asked anything,
  so a run that never needed libcst does not wait for it; if the command is killed, the kernel kills it too
  (PR_SET_PDEATHSIG). Its standard streams are /dev/null, so a caller reading this command's output never
  waits for it either.

POETRY_DOCKER_FIX_PREFETCH=0 turns it off; =1 starts it wherever fork exists (tests use that).
"""

from __future__ import annotations

import gc
import marshal
import os
import re
import sys

UNAVAILABLE = object()  # top_level_names: ask libcst in this process instead

# Options of the command that take a value: the value is not a path to rewrite (tests/test_import_reader.py
# checks this list against the command's options).
VALUE_OPTIONS = frozenset({
    "--context", "-o", "--output", "--format", "--select", "--skip", "--poetry-version", "--runtime-image",
    "--extra-copy", "--exclude", "-j", "--jobs", "--verify-command", "--verify-timeout", "--docker",
    "--build-arg",
})
_NO_RUN = frozenset({"-h", "--help", "--version", "--list-passes"})
MAX_FILES = 8  # from runner.SERIAL_BELOW files on, a worker pool does the work (and imports libcst itself)


class _Reader:
    def __init__(self, pid: int, requests: int, replies: int) -> None:
        self.pid = pid
        self.requests = requests  # this process writes sources here
        self.replies = replies  # and reads the answers here
        self.owner = os.getpid()


_reader: _Reader | None = None


def useful(arguments: list[str]) -> bool:
    """Whether a reader may pay for itself in a run with these command-line `arguments`: a few files (or
    stdin) to rewrite, no folder, not just --help, a second core for the reader, Dockerfiles that may make the
    tool read Python (a broad `COPY .` for narrow-copy, `virtualenvs.create false` for poetry-env), and a build
    context holding a top-level .py file (a flat app such as `python app.py`: the layout whose imports
    narrow-copy reads). Anything else would pay the fork and the reader's CPU for nothing. Never raises: a path
    it cannot look at only means no reader."""
    setting = os.environ.get("POETRY_DOCKER_FIX_PREFETCH", "")
    if setting == "0" or not hasattr(os, "fork"):
        return False
    if setting == "1":
        return True
    try:
        return _useful(arguments)
    except Exception:  # noqa: BLE001 - a speed-up must never be why the command fails
        return False


def _useful(arguments: list[str]) -> bool:
    if not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2 or _cpu_quota() < 2:
        return False
    files: list[str] = []
    stdin = False
    context: str | None = None
    option = ""
    for argument in arguments:
        if option:
            if option == "--context":
                context = argument
            option = ""
            continue
        if argument in _NO_RUN:
            return False
        if argument in VALUE_OPTIONS:
            option = argument
            continue
        if argument.startswith("--context="):
            context = argument.partition("=")[2]
        elif argument == "-":
            stdin = True
        elif argument.startswith("-"):
            continue
        elif os.path.isdir(argument):
            return False
        elif os.path.isfile(argument):
            files.append(argument)
    if not 0 < len(files) + stdin < MAX_FILES:
        return False
    if files and not any(_may_read_python(path) for path in files):
        return False  # (stdin cannot be looked at before the command reads it: its context decides alone)
    if context is not None:
        return _holds_top_level_python(context)
    if stdin:
        return _holds_top_level_python(".")
    from pathlib import Path  # the command imports it anyway

    from .context import discover_context

    return any(_holds_top_level_python(str(discover_context(Path(path)))) for path in files)


# A COPY or ADD of the whole context (what narrow-copy narrows), or a system install (which poetry-env converts
# only after reading the app's imports).
_READS_PYTHON = re.compile(rb"(?im)^[ \t]*(?:copy|add)[ \t](?:[ \t]*--\S+)*[ \t]*\./?[ \t]|virtualenvs[._]create")


def _may_read_python(path: str) -> bool:
    with open(path, "rb") as stream:
        return _READS_PYTHON.search(stream.read(1 << 20)) is not None


def _cpu_quota(cgroup: str = "/proc/self/cgroup", mount: str = "/sys/fs/cgroup") -> float:
    """CPUs the cgroup v2 quota of this process allows (`docker run --cpus=1` sets one); inf without one."""
    try:
        with open(cgroup) as stream:
            path = next(line.partition("::")[2].strip() for line in stream if line.startswith("0::"))
        with open(f"{mount}{path.rstrip('/')}/cpu.max") as stream:
            quota, period = stream.read().split()
        return float("inf") if quota == "max" else int(quota) / int(period)
    except (OSError, StopIteration, ValueError):
        return float("inf")


def _holds_top_level_python(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(".py") for entry in entries)
    except OSError:
        return False


def start() -> None:
    """Fork the reader. Call before importing anything heavy: what this process has imported by then is what
    the reader starts with."""
    global _reader
    if _reader is not None:
        return
    import atexit

    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    fds = (requests_read, requests_write, replies_read, replies_write)
    pid = -1
    if min(fds) > 2:  # else a standard stream is closed and a pipe took its number: the reader would lose it
        try:
            pid = os.fork()
        except OSError:
            pass
    if pid < 0:
        for fd in fds:
            os.close(fd)
        return
    if pid == 0:  # pragma: no cover - the child; tests see it through its answers
        status = 0
        try:
            os.close(requests_write)
            os.close(replies_read)
            _serve(requests_read, replies_write, os.getppid())
        except BaseException:  # noqa: BLE001 - the parent falls back to parsing itself
            status = 1
        finally:
            os._exit(status)
    os.close(requests_read)
    os.close(replies_write)
    os.set_blocking(requests_write, False)  # waits are bounded (top_level_names): a stopped reader must not hang us
    os.set_blocking(replies_read, False)
    _reader = _Reader(pid, requests_write, replies_read)
    atexit.register(_stop_at_exit)


def _serve(requests: int, replies: int, parent: int) -> None:  # pragma: no cover - runs in the child
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:  # die with the parent, however it dies (kill -9 included), rather than at the next pipe read
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (ImportError, OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before that took effect
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # The import creates hundreds of classes; the cyclic garbage collector, run over and over as they pile up,
    # would add about 8% to what the parent may be waiting for.
    gc.disable()
    try:
        from .imports import parse_top_level_names

        parse_top_level_names("import os\n")  # imports libcst and warms its parser
        ready = True
    except BaseException:  # noqa: BLE001 - libcst missing or broken: the parent reports it
        ready = False
    gc.enable()
    while True:
        source = _receive(requests)
        if source is None:
            return
        reply: tuple = ("unavailable",)
        if ready:
            try:
                reply = ("ok", parse_top_level_names(source))
            except Exception:  # noqa: BLE001 - the parent parses it again and reports what went wrong
                pass
        _send(replies, reply)


PATIENCE = 120.0  # seconds an answer may take (a multi-MB module takes a few) before the command parses itself


def top_level_names(source: str):
    """`imports.parse_top_level_names(source)` computed by the reader, or UNAVAILABLE when there is no reader
    for this process or it cannot answer (then it is stopped, and the caller parses)."""
    reader = _reader
    if reader is None or reader.owner != os.getpid():
        return UNAVAILABLE
    import time

    deadline = time.monotonic() + PATIENCE

    def wait(fd: int, write: bool) -> None:
        import select

        while not any(select.select([] if write else [fd], [fd] if write else [], [], 0.25)[:2]):
            if time.monotonic() > deadline or not _running(reader.pid):
                raise TimeoutError("the reader does not answer")

    try:
        _send(reader.requests, source, wait)
        reply = _receive(reader.replies, wait)
    except (OSError, ValueError, EOFError, TypeError):  # TimeoutError and BrokenPipeError are OSErrors
        reply = None
    if not isinstance(reply, tuple) or len(reply) != 2 or reply[0] != "ok":
        stop()
        return UNAVAILABLE
    return reply[1]


def _running(pid: int) -> bool:
    """False when the reader is stopped (SIGSTOP, a debugger) or dead; True when /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            state = stream.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"T", b"t", b"Z", b"X")


def stop() -> None:
    """Close the pipes, kill the reader and reap it (in its owner only). The command calls it as soon as the
    rewrites are done, so the reader holds no process slot while --verify runs Docker."""
    global _reader
    reader = _reader
    if reader is None or reader.owner != os.getpid():
        return
    _reader = None
    for fd in (reader.requests, reader.replies):
        try:
            os.close(fd)
        except OSError:
            pass
    import signal

    try:
        os.kill(reader.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(reader.pid, 0)
    except OSError:  # ChildProcessError: already reaped
        pass


def _stop_at_exit() -> None:
    try:
        stop()
    except KeyboardInterrupt:  # Ctrl-C while exiting: the command is ending anyway, without a traceback
        pass


def _send(fd: int, value: object, wait=None) -> None:
    data = marshal.dumps(value)
    data = len(data).to_bytes(8, "little") + data
    view = memoryview(data)
    while view:
        if wait is not None:
            wait(fd, True)
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]


def _receive(fd: int, wait=None) -> object:
    """The next value on `fd`; None at end of file."""
    header = _read_exactly(fd, 8, wait)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "little"), wait)
    if body is None:
        return None
    return marshal.loads(body)


def _read_exactly(fd: int, size: int, wait=None) -> bytes | None:
    chunks = []
    while size:
        if wait is not None:
            wait(fd, False)
        try:
            chunk = os.read(fd, min(size, 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
