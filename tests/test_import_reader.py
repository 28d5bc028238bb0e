"""The reader process that imports libcst while the command starts up (refactor/import_reader.py): it answers
as libcst in this process does, never outlives the command, is never shared with a forked process, and any
failure of it falls back to parsing here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer

from poetry_docker_fix import cli
from poetry_docker_fix.refactor import import_reader
from poetry_docker_fix.refactor.imports import parse_top_level_names

from .helpers import make_project

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the reader is forked: no fork on this platform")

SOURCES = [
    "import helpers\nfrom lib.sub import x\n",
    "import os, json as j\nif True:\n    from ｈｅｌｐｅｒｓ import y\n",  # full-width letters: NFKC
    "def f(:\n    import helpers\n",  # a syntax error: None
    "from . import sibling\nimport a.b.c\n",
    "x = 'import nothing'\n",
]


def _python(script: str, **env: str) -> subprocess.CompletedProcess:
    # Output buffered, as it is for users: with PYTHONUNBUFFERED, nothing would be left to flush at exit.
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=60, env={**inherited, **env}, check=False)


def test_value_options_are_the_commands_options_that_take_a_value():
    command = typer.main.get_command(cli.app)
    takes_value = {name for param in command.params if param.param_type_name == "option"
                   and not param.is_flag and not param.count for name in param.opts}
    assert import_reader.VALUE_OPTIONS == takes_value


@needs_fork
def test_the_reader_answers_as_libcst_does_here():
    completed = _python(f"""
        import json
        from poetry_docker_fix.refactor import import_reader
        import_reader.start()
        answers = [import_reader.top_level_names(source) for source in {SOURCES!r}]
        print(json.dumps([sorted(a) if isinstance(a, set) else a for a in answers]))
        """)
    assert completed.returncode == 0, completed.stderr
    expected = [parse_top_level_names(source) for source in SOURCES]
    assert json.loads(completed.stdout) == [sorted(names) if names is not None else None for names in expected]
    assert expected[2] is None and expected[1] == {"os", "json", "helpers"}


@needs_fork
def test_a_dead_reader_means_parsing_here():
    completed = _python("""
        import os, signal
        from poetry_docker_fix.refactor import import_reader, imports
        import_reader.start()
        os.kill(import_reader._reader.pid, signal.SIGKILL)
        print(sorted(imports._top_level_names("import helpers\\n")), import_reader._reader)
        """)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["['helpers']", "None"]


@needs_fork
def test_a_forked_process_never_talks_to_the_reader_it_inherited():
    completed = _python("""
        import os
        from poetry_docker_fix.refactor import import_reader
        import_reader.start()
        pid = os.fork()
        if pid == 0:
            answer = import_reader.top_level_names("import helpers\\n")
            os._exit(0 if answer is import_reader.UNAVAILABLE else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), sorted(import_reader.top_level_names("import helpers\\n")))
        """)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["0", "['helpers']"]


@needs_fork
@pytest.mark.parametrize("ending", ["", "from poetry_docker_fix.__main__ import exit_now; exit_now(0)"])
def test_the_reader_is_reaped_when_the_command_exits(ending):
    # The parent exits at once, while the reader is still importing libcst: nothing of it is left, whether the
    # interpreter exits as usual or as the command does (exit_now, without the teardown).
    completed = _python(f"""
        from poetry_docker_fix.refactor import import_reader
        import_reader.start()
        print(import_reader._reader.pid)
        {ending}
        """)
    assert completed.returncode == 0, completed.stderr
    assert not Path(f"/proc/{int(completed.stdout)}").exists() or not Path("/proc/self").exists()


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.delenv("POETRY_DOCKER_FIX_PREFETCH", raising=False)
    monkeypatch.setattr(import_reader.sys, "platform", "linux")
    monkeypatch.setattr(import_reader.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(import_reader, "_cpu_quota", lambda: float("inf"))


NAIVE_FLAT = "FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\nRUN poetry install\n" \
             'CMD ["poetry", "run", "python", "app.py"]\n'


def _flat(root: Path, dockerfile: str = NAIVE_FLAT) -> Path:
    make_project(root, files={"app.py": "import helpers\n", "helpers.py": "", "Dockerfile": dockerfile})
    return root / "Dockerfile"


def _packaged(root: Path) -> Path:
    make_project(root, files={"app/__init__.py": "", "app/main.py": "", "Dockerfile": NAIVE_FLAT})
    return root / "Dockerfile"


@needs_fork
def test_useful_for_a_few_files_of_a_flat_app_that_the_tool_may_read(tmp_path, two_cores, monkeypatch):
    flat = _flat(tmp_path / "flat")
    packaged = _packaged(tmp_path / "packaged")
    assert import_reader.useful([str(flat)])
    assert import_reader.useful(["--check", "--format", "json", str(flat)])
    assert not import_reader.useful([str(packaged)])  # a packaged app's imports are not read
    assert not import_reader.useful([str(tmp_path)])  # a folder: the worker pool imports libcst
    assert not import_reader.useful([str(flat), "--help"])
    assert not import_reader.useful([str(flat)] * import_reader.MAX_FILES)
    assert not import_reader.useful(["--check"])  # nothing to rewrite
    # Only a broad COPY (narrow-copy) or a system install (poetry-env) makes the tool read Python: an
    # already-rewritten file, the usual CI run, never does.
    tuned = _flat(tmp_path / "tuned", NAIVE_FLAT.replace("COPY . .", "COPY pyproject.toml poetry.lock ./"))
    assert not import_reader.useful([str(tuned)])
    system = _flat(tmp_path / "system", NAIVE_FLAT.replace("COPY . .", "COPY app.py ./").replace(
        "RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install"))
    assert import_reader.useful([str(system)])
    assert import_reader.useful([str(_flat(tmp_path / "flags", NAIVE_FLAT.replace("COPY . .",
                                                                                  "copy --chown=1:1 ./ /app")))])
    # A --context value is where the project is, not a file to rewrite; it wins over the Dockerfile's folder.
    assert import_reader.useful(["--context", str(tmp_path / "flat"), str(packaged)])
    assert import_reader.useful([f"--context={tmp_path / 'flat'}", str(packaged)])
    assert not import_reader.useful(["--context", str(tmp_path / "packaged"), str(flat)])
    # docker/Dockerfile: the context is the folder above with pyproject.toml.
    (tmp_path / "flat" / "docker").mkdir()
    (tmp_path / "flat" / "docker" / "Dockerfile").write_text(NAIVE_FLAT)
    assert import_reader.useful([str(tmp_path / "flat" / "docker" / "Dockerfile")])
    monkeypatch.chdir(tmp_path / "flat")
    assert import_reader.useful(["-"])


@needs_fork
def test_useful_never_where_the_reader_has_no_core_and_never_raises(tmp_path, two_cores, monkeypatch):
    flat = _flat(tmp_path / "flat")
    monkeypatch.setattr(import_reader, "_cpu_quota", lambda: 1.0)  # docker run --cpus=1: two cores, one CPU
    assert not import_reader.useful([str(flat)])
    monkeypatch.setattr(import_reader, "_cpu_quota", lambda: float("inf"))
    monkeypatch.setattr(import_reader.os, "sched_getaffinity", lambda pid: {0})
    assert not import_reader.useful([str(flat)])
    monkeypatch.setattr(import_reader.os, "sched_getaffinity", lambda pid: {0, 1})

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    import poetry_docker_fix.refactor.context as context_module

    monkeypatch.setattr(context_module, "discover_context", denied)  # a parent folder it may not search
    assert not import_reader.useful([str(flat)])
    monkeypatch.setenv("POETRY_DOCKER_FIX_PREFETCH", "1")
    assert import_reader.useful([str(_packaged(tmp_path / "packaged"))])
    monkeypatch.setenv("POETRY_DOCKER_FIX_PREFETCH", "0")
    assert not import_reader.useful([str(flat)])


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000\n", float("inf")), ("100000 100000\n", 1.0), ("150000 100000\n", 1.5), (None, float("inf")),
    ("junk\n", float("inf")),
])
def test_cpu_quota_reads_the_cgroup_v2_limit(tmp_path, cpu_max, expected):
    (tmp_path / "cgroup").write_text("12:memory:/x\n0::/docker/abc\n")
    if cpu_max is not None:
        (tmp_path / "fs" / "docker" / "abc").mkdir(parents=True)
        (tmp_path / "fs" / "docker" / "abc" / "cpu.max").write_text(cpu_max)
    assert import_reader._cpu_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == expected


@needs_fork
def test_a_stopped_reader_means_parsing_here_not_waiting():
    completed = _python("""
        import os, signal, time
        from poetry_docker_fix.refactor import import_reader, imports
        import_reader.start()
        pid = import_reader._reader.pid
        os.kill(pid, signal.SIGSTOP)
        while import_reader._running(pid):
            time.sleep(0.01)
        start = time.monotonic()
        print(sorted(imports._top_level_names("import helpers\\n")), import_reader._reader,
              time.monotonic() - start < 5)
        """)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["['helpers']", "None", "True"]


@needs_fork
def test_the_reader_dies_with_a_killed_command():
    completed = _python("""
        import os, signal
        from poetry_docker_fix.refactor import import_reader
        import_reader.start()
        print(import_reader._reader.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no atexit: only the reader's parent-death signal can end it
        """)
    pid = int(completed.stdout)
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and import_reader._running(pid) and Path(f"/proc/{pid}").exists():
        time.sleep(0.01)
    assert not Path(f"/proc/{pid}").exists() or not import_reader._running(pid)


@needs_fork
def test_no_reader_when_a_closed_standard_stream_would_take_a_pipe():
    # With stdout closed, os.pipe() returns fd 1: the reader would overwrite it with /dev/null.
    completed = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom poetry_docker_fix.refactor import import_reader\n"
                               "import_reader.start()\nsys.stderr.write(repr(import_reader._reader))\n"],
        capture_output=False, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        preexec_fn=lambda: os.close(1))
    assert completed.returncode == 0 and completed.stderr == "None"


@pytest.mark.parametrize(("parts", "expected"), [(3000, None), (900, {"helpers"})])
def test_deep_code_reads_the_same_whatever_the_stack_depth(parts, expected):
    # libcst recurses on nested nodes: a dotted name of thousands of parts exhausts its depth. The reader's
    # stack is shallow and the command's deep; both give libcst the same depth, so a file reads the same
    # in either (here: as one libcst cannot read, not as an internal error).
    source = "import helpers." + ".".join(["a"] * parts) + "\n"

    def deep(levels: int):
        return deep(levels - 1) if levels else parse_top_level_names(source)

    assert parse_top_level_names(source) == deep(300) == deep(sys.getrecursionlimit() - 50) == expected


@needs_fork
def test_the_command_stops_the_reader_once_the_rewrites_are_done(tmp_path):
    flat = _flat(tmp_path / "flat")
    completed = _python(f"""
        import os
        from poetry_docker_fix.refactor import import_reader
        import_reader.start()
        pid = import_reader._reader.pid
        from poetry_docker_fix.cli import app
        try:
            app(["--check", "-q", {str(flat)!r}])
        except SystemExit as exit:
            print(exit.code, import_reader._reader, os.path.exists(f"/proc/{{pid}}"))
        """)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split()[-3:] == ["1", "None", "False"]


@needs_fork
@pytest.mark.parametrize("files", [1, 9])  # one file in this process; nine with a worker pool forked from it
def test_the_command_prints_the_same_with_and_without_the_reader(tmp_path, files):
    dockerfile = NAIVE_FLAT
    paths = []
    for number in range(files):
        root = tmp_path / f"p{number}"
        make_project(root, files={"app.py": "import helpers\n", "helpers.py": "import tools\n", "tools.py": "",
                                  "Dockerfile": dockerfile})
        paths.append(str(root / "Dockerfile"))
    outputs = []
    for setting in ("1", "0"):
        completed = subprocess.run([sys.executable, "-m", "poetry_docker_fix", "--check", "--jobs", "2", *paths],
                                   capture_output=True, text=True, timeout=120, check=False,
                                   env={**os.environ, "POETRY_DOCKER_FIX_PREFETCH": setting})
        outputs.append((completed.returncode, completed.stdout, completed.stderr))
    assert outputs[0] == outputs[1]
    # tools.py is there because libcst read helpers.py, which app.py imports.
    assert outputs[0][0] == 1 and "+COPY app.py helpers.py tools.py ./" in outputs[0][1], outputs[0]
