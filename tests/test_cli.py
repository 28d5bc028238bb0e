"""The command line as a user meets it: modes, exit codes, errors, and what is (not) written."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_support import GOLDEN, run_cli
from tests.helpers import make_project

ARTICLE = GOLDEN / "article-7-cache-mount"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "article"
    shutil.copytree(ARTICLE, copy)
    return copy


def test_default_prints_a_unified_diff_and_writes_nothing(project):
    before = (project / "Dockerfile").read_bytes()
    code, out, err = run_cli([str(project / "Dockerfile")])
    assert code == 0
    text = out.decode()
    name = str(project / "Dockerfile").lstrip("/")
    assert text.startswith(f"--- a/{name}\n+++ b/{name}\n")
    assert "+FROM python:3.11-slim-buster AS runtime\n" in text
    assert (project / "Dockerfile").read_bytes() == before


def test_apply_rewrites_in_place_keeping_mode_and_then_check_is_clean(project):
    dockerfile = project / "Dockerfile"
    os.chmod(dockerfile, 0o640)
    code, out, err = run_cli(["--apply", str(dockerfile)])
    assert code == 0 and out == b""
    assert dockerfile.read_bytes() == (project / "expected.Dockerfile").read_bytes()
    assert stat.S_IMODE(dockerfile.stat().st_mode) == 0o640
    assert [p.name for p in project.iterdir() if p.name.startswith(".Dockerfile.")] == []  # no temp file left
    code, _, err = run_cli(["--check", str(dockerfile)])
    assert code == 0 and b"0 would be rewritten, 1 unchanged" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root can give a file to another owner (run as root, e.g. in CI's container)")
def test_apply_as_root_keeps_the_files_owner(project):
    dockerfile = project / "Dockerfile"
    os.chown(dockerfile, 65534, 65534)  # nobody:nogroup, as on a checkout mounted into a root container
    code, _, err = run_cli(["--apply", str(dockerfile)])
    assert code == 0, err
    assert (dockerfile.stat().st_uid, dockerfile.stat().st_gid) == (65534, 65534)
    assert dockerfile.read_bytes() == (project / "expected.Dockerfile").read_bytes()


def test_check_exits_1_and_changes_nothing(project):
    before = (project / "Dockerfile").read_bytes()
    code, out, err = run_cli(["--check", str(project / "Dockerfile")])
    assert code == 1 and b"1 would be rewritten" in err
    assert (project / "Dockerfile").read_bytes() == before


def test_check_on_a_folder_finds_dockerfiles_and_reports(tmp_path):
    shutil.copytree(GOLDEN / "article-7-cache-mount", tmp_path / "repos" / "a")
    shutil.copytree(GOLDEN / "not-poetry", tmp_path / "repos" / "b")
    shutil.copytree(GOLDEN / "already-tuned", tmp_path / "repos" / "c")
    for case in ("a", "b", "c"):
        (tmp_path / "repos" / case / "expected.Dockerfile").unlink(missing_ok=True)
    code, out, err = run_cli(["--check", str(tmp_path / "repos")])
    assert code == 1
    assert b"1 would be rewritten, 2 unchanged" in err


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_output_option_writes_elsewhere_with_the_mode_a_redirection_gives(project, tmp_path, umask):
    target = tmp_path / "out.Dockerfile"
    previous = os.umask(umask)
    try:
        code, _, _ = run_cli(["-o", str(target), str(project / "Dockerfile")])
    finally:
        os.umask(previous)
    assert code == 0 and target.read_bytes() == (project / "expected.Dockerfile").read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_output_option_summary_says_when_nothing_was_written(project, tmp_path):
    target = tmp_path / "out.Dockerfile"
    code, _, err = run_cli(["-o", str(target), str(tmp_path / "missing")])
    assert code == 2 and not target.exists()
    assert b"written to" not in err and b"nothing written" in err
    code, _, err = run_cli(["-o", str(target), str(project / "Dockerfile")])
    assert code == 0 and f"1 changed (written to {target})".encode() in err


def test_stdin_to_stdout_uses_context(project):
    source = (project / "Dockerfile").read_bytes()
    code, out, _ = run_cli(["--context", str(project), "-"], stdin=source)
    assert code == 0 and out == (project / "expected.Dockerfile").read_bytes()


def test_stdin_honours_output_check_and_format(project, tmp_path):
    source = (project / "Dockerfile").read_bytes()
    expected = (project / "expected.Dockerfile").read_bytes()
    base = ["--context", str(project)]
    target = tmp_path / "out.Dockerfile"
    code, out, _ = run_cli([*base, "-o", str(target), "-"], stdin=source)
    assert code == 0 and out == b"" and target.read_bytes() == expected
    code, out, _ = run_cli([*base, "--check", "-"], stdin=source)
    assert code == 1 and out.startswith(b"--- a/-\n+++ b/-\n")
    code, out, _ = run_cli([*base, "--check", "-"], stdin=expected)
    assert code == 0 and out == b""
    code, out, _ = run_cli([*base, "--format", "json", "-"], stdin=source)
    report = json.loads(out)
    assert code == 0 and report["files"][0]["path"] == "-" and report["files"][0]["status"] == "changed"
    code, out, err = run_cli([*base, "--apply", "-"], stdin=source)
    assert code == 2 and out == b"" and "--apply cannot write back to stdin" in err.decode()


@pytest.mark.parametrize(("arguments", "message"), [
    (["--jobs", "-3"], "--jobs wants a number of processes"),
    (["--verify-timeout", "5"], "go with --verify"),
    (["--verify", "--verify-timeout", "-1"], "--verify-timeout wants a number of seconds above 0"),
])
def test_bad_numbers_are_usage_errors(project, arguments, message):
    code, out, err = run_cli([*arguments, str(project / "Dockerfile")])
    assert code == 2 and message in err.decode() and out == b""


def test_output_writes_through_a_symlink_and_into_a_fifo_as_a_shell_would(project, tmp_path):
    import threading

    expected = (project / "expected.Dockerfile").read_bytes()
    real = tmp_path / "real.Dockerfile"
    link = tmp_path / "out.link"
    link.symlink_to(real)
    code, _, err = run_cli(["-o", str(link), str(project / "Dockerfile")])
    assert code == 0, err
    assert link.is_symlink() and real.read_bytes() == expected
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run_cli(["-o", str(fifo), str(project / "Dockerfile")])
    reader.join(timeout=10)
    assert code == 0 and received == [expected] and stat.S_ISFIFO(fifo.lstat().st_mode), err


def test_output_to_dev_stdout_into_a_pipe(project):
    completed = subprocess.run(
        [sys.executable, "-m", "poetry_docker_fix", "-o", "/dev/stdout", str(project / "Dockerfile")],
        capture_output=True, check=False, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (project / "expected.Dockerfile").read_bytes()


def test_explain_names_each_pass_and_reason(project):
    code, _, err = run_cli(["--explain", str(project / "Dockerfile")])
    text = err.decode()
    for name in ("pin-poetry", "narrow-copy", "poetry-env", "no-dev", "split-install", "multi-stage", "cache-mount"):
        assert f": {name} (line " in text
    assert "written by Poetry 1.4.2" in text


def test_select_and_skip(project):
    code, out, _ = run_cli(["--select", "pin-poetry", str(project / "Dockerfile")])
    added = [line for line in out.decode().splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert code == 0 and added == ["+RUN pip install --no-cache-dir poetry==1.4.2"]
    code, out, _ = run_cli(["--skip", "multi-stage,cache-mount", str(project / "Dockerfile")])
    assert "AS runtime" not in out.decode() and "--mount" not in out.decode()


def test_list_passes_in_order():
    code, out, _ = run_cli(["--list-passes"])
    names = [line.split()[1] for line in out.decode().splitlines()]
    assert code == 0 and names == ["pin-poetry", "narrow-copy", "poetry-env", "no-dev", "split-install",
                                   "multi-stage", "cache-mount"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--select", "nope"], "unknown pass nope"),
    (["--apply", "--check"], "cannot be combined"),
    (["--poetry-version", "2"], "X.Y.Z"),
    ([], "no PATH"),
])
def test_usage_errors_exit_2(project, arguments, message):
    paths = [str(project / "Dockerfile")] if arguments else []
    code, _, err = run_cli([*arguments, *paths])
    assert code == 2 and message in err.decode()


def test_missing_file_is_a_one_line_error(tmp_path):
    code, out, err = run_cli([str(tmp_path / "Dockerfile")])
    assert code == 2 and out == b""
    assert err.decode().strip().splitlines() == [f"error: {tmp_path / 'Dockerfile'}: no such file"]


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x01binary", "binary file"),
    (b"FROM python:3.11\nRUN echo \xff\n", "not UTF-8"),
])
def test_unreadable_content_is_an_error(tmp_path, content, message):
    (tmp_path / "Dockerfile").write_bytes(content)
    code, _, err = run_cli(["--apply", str(tmp_path / "Dockerfile")])
    assert code == 2 and message in err.decode()
    assert (tmp_path / "Dockerfile").read_bytes() == content


def test_bad_pyproject_is_an_error_naming_it(tmp_path):
    make_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.poetry\nname=")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN poetry install\n")
    code, _, err = run_cli(["--apply", str(tmp_path / "Dockerfile")])
    assert code == 2 and "pyproject.toml: not valid TOML" in err.decode()


def test_crlf_bom_and_missing_final_newline_survive_apply(tmp_path):
    make_project(tmp_path)
    source = "\ufeffFROM python:3.11\r\nRUN pip install poetry\r\nWORKDIR /app\r\nCOPY . .\r\nRUN poetry install"
    (tmp_path / "Dockerfile").write_bytes(source.encode())
    code, _, _ = run_cli(["--apply", str(tmp_path / "Dockerfile")])
    data = (tmp_path / "Dockerfile").read_bytes()
    assert code == 0 and data.startswith("\ufeff".encode()) and not data.endswith(b"\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_apply_does_not_write_through_a_symlink(project, tmp_path):
    link = project / "Dockerfile.link"
    link.symlink_to(project / "Dockerfile")
    before = (project / "Dockerfile").read_bytes()
    code, _, err = run_cli(["--apply", str(link)])
    assert "is a symlink" in err.decode()
    assert (project / "Dockerfile").read_bytes() == before and link.is_symlink()


def test_not_a_poetry_build_gives_no_diff(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN pip install --no-cache-dir flask\n")
    code, out, err = run_cli(["--explain", str(tmp_path / "Dockerfile")])
    assert code == 0 and out == b"" and "not a Poetry build" in err.decode()


def test_python_dash_m_entry_point_works():
    completed = subprocess.run([sys.executable, "-m", "poetry_docker_fix", "--version"], capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0 and completed.stdout.startswith("poetry-docker-fix ")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="closes a standard stream of the child before exec")
@pytest.mark.parametrize(("closed", "arguments", "code", "stream", "text"), [
    (1, ["--check"], 1, "stderr", "1 would be rewritten"),  # stdout closed: the diff is dropped, the code tells
    (2, ["--check"], 1, "stdout", "+COPY pyproject.toml poetry.lock ./"),
    (0, ["--context", "{project}", "-"], 0, "stderr", "empty file"),  # stdin closed reads as empty
])
def test_a_closed_standard_stream_is_no_traceback(tmp_path, closed, arguments, code, stream, text):
    project = tmp_path / "article"
    shutil.copytree(GOLDEN / "article-1-pin-poetry", project)
    arguments = [a.format(project=project) for a in arguments]
    if "-" not in arguments:
        arguments.append(str(project / "Dockerfile"))
    completed = subprocess.run([sys.executable, "-m", "poetry_docker_fix", *arguments],
                               stdout=None if closed == 1 else subprocess.PIPE,
                               stderr=None if closed == 2 else subprocess.PIPE,
                               text=True, timeout=60, check=False, preexec_fn=lambda: os.close(closed))
    assert completed.returncode == code
    assert text in getattr(completed, stream) and "Traceback" not in (completed.stderr or "")


# Buffered, as a user's terminal or pipe is: with PYTHONUNBUFFERED set (as in some CI images and this project's
# sandbox) nothing is left to flush at exit, and the tests of what happens then could not fail.
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def _command(*arguments: str, **options) -> subprocess.CompletedProcess:
    options.setdefault("capture_output", True)
    return subprocess.run([sys.executable, "-m", "poetry_docker_fix", *arguments], timeout=60, check=False,
                          env={**BUFFERED, **options.pop("env", {})}, **options)


EXIT_NOW = """
import atexit, sys, threading, time
from poetry_docker_fix.__main__ import exit_now
atexit.register(lambda: sys.stdout.closed or sys.stdout.write(" and the exit handler ran"))
sys.stdout.write("buffered output")
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.2), sys.stdout.write(", the thread finished"))).start()
    exit_now(4)
if sys.argv[1] == "closed":
    sys.stdout.flush()
    sys.stdout.close()
    exit_now(0)
if sys.argv[1] == "unprintable":
    class Code:
        def __str__(self):
            raise ValueError("no")
    exit_now(Code())
exit_now(eval(sys.argv[1]))
"""


@pytest.mark.parametrize(("code", "status", "out", "err"), [
    ("0", 0, "buffered output and the exit handler ran", ""),
    ("None", 0, "buffered output and the exit handler ran", ""),
    ("3", 3, "buffered output and the exit handler ran", ""),
    ("259", 3, "buffered output and the exit handler ran", ""),  # what the system keeps of it, as sys.exit
    ("2**63", 255, "buffered output and the exit handler ran", ""),  # out of range: Python's -1
    ("'a message'", 1, "buffered output and the exit handler ran", "a message\n"),
    ("unprintable", 1, "buffered output and the exit handler ran", "<unprintable Code object>\n"),
    ("closed", 0, "buffered output", ""),  # a closed stdout is not flushed, and not an error
    # A thread still running: the interpreter's own exit, which waits for it.
    ("thread", 4, "buffered output, the thread finished and the exit handler ran", ""),
])
def test_the_command_exits_without_teardown_as_sys_exit_would(code, status, out, err):
    """The console entry skips the interpreter's teardown (10-20 ms of a one-file run) but nothing that can be
    seen: buffered output is written, exit handlers run, the status is sys.exit's."""
    completed = subprocess.run([sys.executable, "-c", EXIT_NOW, code], capture_output=True, text=True,
                               timeout=60, check=False, env=BUFFERED)
    assert (completed.returncode, completed.stdout, completed.stderr) == (status, out, err)


def test_a_profiler_still_gets_its_data(tmp_path):
    """A profiler, tracer or coverage tool writes its data in the teardown: then the command exits as usual."""
    shutil.copytree(GOLDEN / "article-1-pin-poetry", tmp_path / "project")
    completed = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(tmp_path / "profile"), "-m",
                                "poetry_docker_fix", "--check", str(tmp_path / "project" / "Dockerfile")],
                               capture_output=True, timeout=60, check=False, env=BUFFERED)
    assert (tmp_path / "profile").stat().st_size > 0, completed.stderr  # (cProfile exits 0 whatever the code)


def test_every_byte_of_a_long_output_reaches_a_pipe(tmp_path):
    """With the teardown skipped, output still buffered at exit must be written (with the import reader
    started, and without it)."""
    for index in range(12):
        shutil.copytree(GOLDEN / "article-1-pin-poetry", tmp_path / f"p{index:02d}")
    files = sorted(str(path) for path in tmp_path.glob("*/Dockerfile"))
    completed = _command("--check", "--jobs", "2", *files[:5], env={"POETRY_DOCKER_FIX_PREFETCH": "1"})
    assert completed.returncode == 1 and completed.stdout == b"".join(
        run_cli(["--check", path])[1] for path in files[:5])
    expected = b"".join(run_cli(["--check", path])[1] for path in files)
    completed = _command("--check", *files)
    assert completed.returncode == 1 and completed.stdout == expected and len(expected) > 8192
    completed = _command("--context", str(tmp_path / "p00"), "-", input=Path(files[0]).read_bytes())
    assert completed.returncode == 0 and completed.stdout == run_cli(  # stdin: the rewritten file, exit 0
        ["--context", str(tmp_path / "p00"), "-"], stdin=Path(files[0]).read_bytes())[1]


def test_a_reader_gone_before_the_output_is_flushed_is_not_success(tmp_path):
    """`... | true`: the output never arrived, so the run did not succeed (click exits 1 when this happens
    during a write; a small output only fails when it is flushed at exit). Quietly, as a pipeline expects."""
    shutil.copytree(GOLDEN / "article-1-pin-poetry", tmp_path / "project")
    reading, writing = os.pipe()
    os.close(reading)
    try:
        completed = _command("--context", str(tmp_path / "project"), "-", stdout=writing,
                             input=(tmp_path / "project" / "Dockerfile").read_bytes(), capture_output=False,
                             stderr=subprocess.PIPE)
    finally:
        os.close(writing)
    assert completed.returncode == 1 and completed.stderr == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("arguments", [["--check", "{one}"], ["--check", "{tree}"], ["--version"],
                                       ["--list-passes"], ["--context", "{project}", "-"], ["--help"]])
@pytest.mark.parametrize("stderr_too", [False, True])
def test_a_full_output_device_is_exit_code_2_not_a_traceback(tmp_path, arguments, stderr_too):
    """Output that cannot be written is an error the exit code must not hide (1 would read as "changes
    found"), said in one line (when stderr can take it), never a traceback. Small outputs fail when flushed at
    exit, large ones when written."""
    for index in range(12):
        shutil.copytree(GOLDEN / "article-1-pin-poetry", tmp_path / "tree" / f"p{index:02d}")
    project = tmp_path / "tree" / "p00"
    arguments = [a.format(one=project / "Dockerfile", tree=tmp_path / "tree", project=project) for a in arguments]
    with open("/dev/full", "w") as full:
        completed = _command(*arguments, stdout=full, stderr=full if stderr_too else subprocess.PIPE,
                             capture_output=False, input=(project / "Dockerfile").read_bytes())
    assert completed.returncode == 2
    if not stderr_too:
        assert completed.stderr.decode() == "error: cannot write to standard output (No space left on device)\n" \
            or "would be rewritten" in completed.stderr.decode()
        assert "error: cannot write to standard output (No space left on device)" in completed.stderr.decode()
        assert "Traceback" not in completed.stderr.decode()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
def test_a_usage_error_to_a_full_stderr_is_still_exit_code_2(tmp_path):
    with open("/dev/full", "w") as full:
        completed = _command("--no-such-option", stdout=subprocess.PIPE, stderr=full, capture_output=False)
    assert completed.returncode == 2 and completed.stdout == b""


@pytest.mark.parametrize(("copy", "where"), [
    ("COPY services/api/ .", "services/api/"),
    ("COPY ./services/api/pyproject.toml ./services/api/poetry.lock ./", "services/api/"),
    ("COPY . .", None),
    ("COPY libs/common /libs/common\nCOPY services/api/ .", "services/api/"),  # not the library copied first
])
def test_a_context_without_a_project_is_skipped_saying_where_the_project_is(tmp_path, copy, where):
    """A monorepo built from its root: `--context` cannot help, since the passes read the project at the top of
    the context; the reason names the folder the Dockerfile copies the project from."""
    make_project(tmp_path / "services" / "api")
    make_project(tmp_path / "libs" / "common")
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\n{copy}\n"
                                         "RUN poetry install\n")
    code, _, err = run_cli(["--check", str(tmp_path / "Dockerfile")])
    assert code == 0 and b"skipped" in err
    if where:
        line = 4 + copy.count("\n")
        assert f"line {line} copies the project from its folder `{where}`".encode() in err and b"--context" not in err
    else:
        assert b"no pyproject.toml in the build context" in err and b"--context" in err


@pytest.mark.parametrize(("copy", "skipped"), [
    ("COPY src/tracking /app/tracking\nWORKDIR /app/tracking", True),
    ("COPY services/api/ .", True),
    ("COPY pyproject.toml poetry.lock ./\nCOPY services/api/ services/api/", False),  # the root project, and code
    ("COPY . .", False),
])
def test_a_project_copied_from_a_folder_is_skipped_when_the_context_has_another(tmp_path, copy, skipped):
    """The context's top has a pyproject.toml too (a monorepo's tooling), but the install runs in the project
    copied from src/tracking: the passes read the top one, pinned its lock's Poetry, and the rewrite failed to
    build (`The fields ['authors', 'description', 'name', 'version'] are required in package mode`)."""
    make_project(tmp_path)
    make_project(tmp_path / ("src/tracking" if "tracking" in copy else "services/api"))
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\n{copy}\n"
                                         "RUN poetry install\n")
    code, _, err = run_cli(["--check", str(tmp_path / "Dockerfile")])
    if skipped:
        assert code == 0 and b"skipped" in err and b"copies the project from its folder" in err, err
        assert b"which has its own pyproject.toml" in err
    else:
        assert code == 1, err


def test_standard_input_that_cannot_be_read_is_an_input_error(tmp_path):
    """Not "cannot write to standard output", and not a traceback (a review found both)."""
    make_project(tmp_path)
    with open(tmp_path / "write-only", "w") as write_only:
        completed = _command("--context", str(tmp_path), "-", stdin=write_only, capture_output=True)
    assert completed.returncode == 2
    assert completed.stderr.decode() == "error: cannot read standard input (Bad file descriptor)\n"
