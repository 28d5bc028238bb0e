"""Hostile input through the CLI: whatever is on disk, the tool answers with one line and the right exit code
(2 for an input error, 0 for a skip), writes nothing it should not, leaves no temporary file behind and never
follows a symlink to write outside the tree it was given. A folder with bad files in it is processed past them,
and the summary counts them.

Most cases run in-process (`tests.golden_support.run_cli`, exceptions propagate and fail the test); the ones that
can hang or eat memory (a FIFO, a link to /dev/zero) run `python -m poetry_docker_fix` in a subprocess with a
timeout and an address-space limit.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_support import run_cli
from tests.helpers import make_project

REPO = Path(__file__).resolve().parent.parent
NAIVE = "FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\nRUN poetry install\n" \
        'CMD ["poetry", "run", "python", "-m", "app.main"]\n'
EXIT_OK, EXIT_INPUT = 0, 2
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- helpers ------------------------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, object]:
    """Every entry below `root` (links not followed): file bytes, 'dir', or ('link', target)."""
    found: dict[str, object] = {}
    for folder, directories, files in os.walk(root):
        for name in directories + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = "dir"
            elif stat.S_ISREG(path.lstat().st_mode):
                found[key] = path.read_bytes()
            else:
                found[key] = ("special", stat.S_IFMT(path.lstat().st_mode))
    return found


def temp_leftovers(root: Path) -> list[str]:
    return [key for key in snapshot(root) if Path(key).name.endswith(".tmp") or ".tmp" in Path(key).name]


def lines(err: bytes) -> list[str]:
    return [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]


def problem_lines(err: bytes) -> list[str]:
    """stderr lines other than the end-of-run summary."""
    return [line for line in lines(err) if not line.rstrip(".").split(", ")[0].split(" ", 1)[-1].startswith(
        ("rewritten", "would", "changed"))]


def project(root: Path, dockerfile: str | bytes = NAIVE) -> Path:
    make_project(root)
    (root / ".git").mkdir(exist_ok=True)  # bounds context discovery to this tree
    path = root / "Dockerfile"
    path.write_bytes(dockerfile if isinstance(dockerfile, bytes) else dockerfile.encode())
    return path


def run_isolated(arguments: list[str], timeout: float = 30, memory: int = 1536 * 1024 * 1024):
    """`python -m poetry_docker_fix ARGS` with a timeout and an address-space limit; (code, stdout, stderr)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    completed = subprocess.run([sys.executable, "-m", "poetry_docker_fix", *arguments], cwd=REPO,
                               capture_output=True, timeout=timeout, preexec_fn=limit, stdin=subprocess.DEVNULL)
    return completed.returncode, completed.stdout, completed.stderr


def assert_one_line(err: bytes, *words: str) -> str:
    found = problem_lines(err)
    assert len(found) == 1, f"expected one line, got {found}"
    assert "Traceback" not in err.decode("utf-8", "replace")
    for word in words:
        assert word.lower() in found[0].lower(), f"{word!r} not in {found[0]!r}"
    return found[0]


# --- unreadable Dockerfiles --------------------------------------------------------------------------------------
BAD_CONTENT = [
    pytest.param(b"FROM python:3.11\x00\x01\x02\nRUN poetry install\n", "binary", id="binary"),
    pytest.param(b"FROM python:3.11\nRUN echo \xff\xfe caf\xe9\nRUN poetry install\n", "UTF-8", id="invalid-utf8"),
    pytest.param(b"\xfe\xff\x00F\x00R\x00O\x00M", "binary", id="utf16-bom"),
]


@pytest.mark.parametrize(("content", "word"), BAD_CONTENT)
@pytest.mark.parametrize("mode", [[], ["--apply"], ["--check"]], ids=["diff", "apply", "check"])
def test_unreadable_content_is_an_input_error(tmp_path, content, word, mode):
    dockerfile = project(tmp_path / "p", content)
    before = snapshot(tmp_path)
    code, out, err = run_cli([*mode, str(dockerfile)])
    assert code == EXIT_INPUT
    assert_one_line(err, "Dockerfile", word)
    assert out == b""
    assert snapshot(tmp_path) == before


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path):
    dockerfile = project(tmp_path / "p")
    with dockerfile.open("r+b") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: cheap to make, 50 MB to read
    before_mtime = dockerfile.stat().st_mtime_ns
    code, out, err = run_cli(["--apply", str(dockerfile)])
    assert code == EXIT_INPUT
    assert_one_line(err, "Dockerfile", "large")
    assert dockerfile.stat().st_size == 50 * 1024 * 1024 and dockerfile.stat().st_mtime_ns == before_mtime
    assert temp_leftovers(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b"\n\n", b"# only a comment\n", b"\xef\xbb\xbf"], ids=["empty", "blank",
                                                                                             "comment", "bom-only"])
def test_an_empty_file_is_skipped_with_a_reason(tmp_path, content):
    dockerfile = project(tmp_path / "p", content)
    before = snapshot(tmp_path)
    code, out, err = run_cli(["--apply", str(dockerfile)])
    assert code == EXIT_OK
    assert_one_line(err, "Dockerfile", "skipped")
    assert snapshot(tmp_path) == before


def test_a_directory_named_dockerfile(tmp_path):
    """Given as PATH it is a folder to search; found inside a folder it is not a Dockerfile. Either way: one line,
    exit 0 (nothing to do) or 2 (input error), nothing written."""
    make_project(tmp_path / "p")
    (tmp_path / "p" / "Dockerfile").mkdir()
    (tmp_path / "p" / "Dockerfile" / "README").write_text("not a Dockerfile\n")
    before = snapshot(tmp_path)
    code, _out, err = run_cli(["--apply", str(tmp_path / "p" / "Dockerfile")])
    assert code in (EXIT_OK, EXIT_INPUT)
    assert_one_line(err, "Dockerfile")
    code, _out, err = run_cli(["--apply", str(tmp_path / "p")])
    assert code in (EXIT_OK, EXIT_INPUT)
    assert "Traceback" not in err.decode()
    assert snapshot(tmp_path) == before


# --- special files: must neither hang nor eat memory -------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("as_folder", [False, True], ids=["file", "folder"])
def test_a_fifo_named_dockerfile_does_not_hang(tmp_path, as_folder):
    """Nobody writes to this pipe: reading it blocks forever. It is not a regular file: refuse it (exit 2)."""
    make_project(tmp_path / "p")
    os.mkfifo(tmp_path / "p" / "Dockerfile")
    target = tmp_path / "p" if as_folder else tmp_path / "p" / "Dockerfile"
    try:
        code, _out, err = run_isolated([str(target)], timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the tool blocks reading a FIFO named Dockerfile")
    assert code == EXIT_INPUT
    assert_one_line(err, "Dockerfile")


def test_a_link_to_dev_zero_does_not_exhaust_memory(tmp_path):
    """A symlink to /dev/zero: stat says 0 bytes, reading never ends. The size limit must hold while reading."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    make_project(tmp_path / "p")
    os.symlink("/dev/zero", tmp_path / "p" / "Dockerfile")
    try:
        code, _out, err = run_isolated([str(tmp_path / "p" / "Dockerfile")], timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the tool keeps reading /dev/zero")
    assert "MemoryError" not in err.decode("utf-8", "replace")
    assert code == EXIT_INPUT
    assert_one_line(err, "Dockerfile")


# --- symlinks --------------------------------------------------------------------------------------------------
def test_symlink_loop_is_an_input_error(tmp_path):
    make_project(tmp_path / "p")
    (tmp_path / "p" / ".git").mkdir()
    os.symlink(tmp_path / "p" / "Dockerfile", tmp_path / "p" / "Dockerfile")
    before = snapshot(tmp_path)
    for mode in ([], ["--apply"]):
        code, _out, err = run_cli([*mode, str(tmp_path / "p" / "Dockerfile")])
        assert code == EXIT_INPUT
        assert_one_line(err, "Dockerfile")
    assert snapshot(tmp_path) == before


def test_apply_does_not_write_through_a_link_pointing_outside_the_tree(tmp_path):
    outside = project(tmp_path / "outside")
    tree = tmp_path / "tree"
    make_project(tree)
    (tree / ".git").mkdir()
    os.symlink(outside, tree / "Dockerfile")
    outside_before = outside.read_bytes()
    for arguments in (["--apply", str(tree / "Dockerfile")], ["--apply", str(tree)]):
        before = snapshot(tree)
        code, _out, err = run_cli(arguments)
        assert code in (EXIT_OK, EXIT_INPUT)
        assert outside.read_bytes() == outside_before, "wrote through a symlink to a file outside the tree"
        assert snapshot(tree) == before, "the link itself was replaced"
        found = problem_lines(err)
        assert len(found) == 1 and "symlink" in found[0].lower(), found
        assert "tree" in found[0], f"the message must name the path given, not the link's target: {found[0]!r}"
        assert temp_leftovers(tmp_path) == []


def test_a_symlinked_folder_pointing_outside_is_not_rewritten(tmp_path):
    outside = project(tmp_path / "outside")
    tree = tmp_path / "tree"
    project(tree / "service")
    os.symlink(outside.parent, tree / "linked")
    outside_before = outside.read_bytes()
    code, _out, err = run_cli(["--apply", str(tree)])
    assert code in (EXIT_OK, EXIT_INPUT), err
    assert outside.read_bytes() == outside_before
    assert (tree / "service" / "Dockerfile").read_bytes() != NAIVE.encode()  # the real one was rewritten
    assert temp_leftovers(tmp_path) == []


def test_a_symlink_inside_the_tree_is_not_replaced_by_a_file(tmp_path):
    tree = tmp_path / "tree"
    real = project(tree)
    real.rename(tree / "real.Dockerfile")
    os.symlink("real.Dockerfile", tree / "Dockerfile")
    code, _out, err = run_cli(["--apply", str(tree / "Dockerfile")])
    assert code in (EXIT_OK, EXIT_INPUT)
    assert (tree / "Dockerfile").is_symlink() and os.readlink(tree / "Dockerfile") == "real.Dockerfile"
    assert temp_leftovers(tmp_path) == []


# --- permissions -------------------------------------------------------------------------------------------------
@pytest.mark.skipif(IS_ROOT, reason="running as root: chmod 000 cannot make a file unreadable for root")
def test_unreadable_file_is_an_input_error(tmp_path):
    dockerfile = project(tmp_path / "p")
    os.chmod(dockerfile, 0)
    try:
        code, _out, err = run_cli(["--apply", str(dockerfile)])
        assert code == EXIT_INPUT
        assert_one_line(err, "Dockerfile", "permission")
    finally:
        os.chmod(dockerfile, 0o644)
    assert dockerfile.read_bytes() == NAIVE.encode()


@pytest.mark.skipif(IS_ROOT, reason="running as root: a read-only file in a read-only folder is still writable "
                                    "for root, so the write error cannot be provoked")
def test_apply_on_a_read_only_file_in_a_read_only_folder(tmp_path):
    dockerfile = project(tmp_path / "p")
    os.chmod(dockerfile, 0o444)
    os.chmod(dockerfile.parent, 0o555)
    try:
        code, _out, err = run_cli(["--apply", str(dockerfile)])
        assert code == EXIT_INPUT
        assert_one_line(err, "Dockerfile", "cannot write")
        assert dockerfile.read_bytes() == NAIVE.encode()
        assert temp_leftovers(tmp_path) == []
    finally:
        os.chmod(dockerfile.parent, 0o755)
        os.chmod(dockerfile, 0o644)


def test_output_into_a_missing_folder_is_an_input_error(tmp_path):
    dockerfile = project(tmp_path / "p")
    before = snapshot(tmp_path)
    code, _out, err = run_cli(["-o", str(tmp_path / "missing" / "out.Dockerfile"), str(dockerfile)])
    assert code == EXIT_INPUT
    assert_one_line(err, "out.Dockerfile")
    assert snapshot(tmp_path) == before


# --- project files that do not parse -------------------------------------------------------------------------------
BAD_PYPROJECTS = [
    pytest.param("[tool.poetry\nname = 'x'\n", id="toml-syntax"),
    pytest.param(b"[tool.poetry]\nname = \"caf\xe9\"\n", id="not-utf8"),
    pytest.param("tool = 1\n", id="tool-is-a-number"),
    pytest.param("[tool]\npoetry = [1, 2]\n", id="tool.poetry-is-a-list"),
    pytest.param('[tool.poetry]\nname = "app"\nscripts = 5\n', id="scripts-is-a-number"),
    pytest.param('[project]\nname = "app"\nscripts = ["x"]\n', id="project.scripts-is-a-list"),
    pytest.param('[tool.poetry]\nname = "app"\ngroup = 3\n', id="group-is-a-number"),
    pytest.param('[tool.poetry]\nname = "app"\ndependencies = ["six"]\n', id="dependencies-is-a-list"),
    pytest.param('[tool.poetry]\nname = "app"\n[tool.poetry.group.dev]\ndependencies = 3\n', id="group-deps-number"),
    pytest.param('[project]\nname = 5\n', id="name-is-a-number"),
    pytest.param("dependency-groups = [1]\n", id="dependency-groups-is-a-list"),
    pytest.param("[tool]\npoetry-docker-fix = 1\n", id="tool-config-is-a-number"),
]


@pytest.mark.parametrize("content", BAD_PYPROJECTS)
def test_a_pyproject_that_does_not_parse_is_an_input_error(tmp_path, content):
    """Valid TOML of the wrong shape is as broken as a syntax error: one line naming pyproject.toml, exit 2."""
    dockerfile = project(tmp_path / "p")
    pyproject = tmp_path / "p" / "pyproject.toml"
    pyproject.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(tmp_path)
    code, out, err = run_cli(["--apply", str(dockerfile)])
    assert code == EXIT_INPUT, err
    assert_one_line(err, "pyproject.toml")
    assert snapshot(tmp_path) == before


BAD_LOCKS = [
    pytest.param("[metadata]\nlock-version = \n", id="toml-syntax-in-metadata"),
    pytest.param("# This file is automatically @generated by Poetry 1.8.5\n", id="no-metadata"),
    pytest.param(b"\x00\x01\x02[metadata]\x00", id="binary"),
    pytest.param(b"[metadata]\nlock-version = \"2.0\"\ncontent-hash = \"\xff\"\n", id="not-utf8"),
]


@pytest.mark.parametrize("content", BAD_LOCKS)
def test_a_lock_that_does_not_parse_is_an_input_error(tmp_path, content):
    dockerfile = project(tmp_path / "p")
    (tmp_path / "p" / "poetry.lock").write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(tmp_path)
    code, _out, err = run_cli(["--apply", str(dockerfile)])
    assert code == EXIT_INPUT, err
    assert_one_line(err, "poetry.lock")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("which", ["pyproject.toml", "poetry.lock"])
def test_a_project_file_that_is_a_folder_or_a_loop_does_not_crash(tmp_path, which):
    for kind in ("folder", "loop"):
        root = tmp_path / kind
        dockerfile = project(root)
        (root / which).unlink()
        if kind == "folder":
            (root / which).mkdir()
        else:
            os.symlink(root / which, root / which)
        code, _out, err = run_cli([str(dockerfile)])
        assert code in (EXIT_OK, EXIT_INPUT)
        assert "Traceback" not in err.decode()
        if code == EXIT_INPUT:
            assert_one_line(err, which)


def test_a_dockerfile_outside_any_project_is_skipped_and_not_written(tmp_path):
    """No pyproject.toml in the context (nor above it, up to the repository root): the tool cannot know the
    project, so it says so and leaves the file alone, even with --apply."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".git").mkdir()
    dockerfile = tree / "Dockerfile"
    dockerfile.write_text(NAIVE)
    before = snapshot(tmp_path)
    code, _out, err = run_cli(["--apply", str(dockerfile)])
    assert code == EXIT_OK
    line = assert_one_line(err, "Dockerfile")
    assert "pyproject.toml" in line or "project" in line.lower(), line
    assert snapshot(tmp_path) == before, "a Dockerfile with no Poetry project in its context was rewritten"


# --- stdin -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "word"), [
    pytest.param(b"\x00\x01FROM python", "binary", id="binary"),
    pytest.param(b"FROM python:3.11\nRUN echo \xff\n", "UTF-8", id="invalid-utf8"),
])
def test_bad_stdin_is_an_input_error(tmp_path, monkeypatch, data, word):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["-"], stdin=data)
    assert code == EXIT_INPUT
    assert_one_line(err, "stdin", word)
    assert out == b""


# --- a folder with bad files in it -------------------------------------------------------------------------------
def test_a_folder_run_goes_past_bad_files_and_counts_them(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".git").mkdir()
    good = project(tree / "good")
    project(tree / "binary", b"FROM python\x00\x00\n")
    project(tree / "latin1", b"FROM python:3.11\nRUN echo caf\xe9\n")
    bad_pyproject = project(tree / "badpyproject")
    (bad_pyproject.parent / "pyproject.toml").write_text("[tool.poetry\n")
    bad_shape = project(tree / "badshape")
    (bad_shape.parent / "pyproject.toml").write_text("tool = 1\n")
    (tree / "loop").mkdir()
    os.symlink(tree / "loop" / "Dockerfile", tree / "loop" / "Dockerfile")
    (tree / "dirnamed").mkdir()
    (tree / "dirnamed" / "Dockerfile").mkdir()
    before = snapshot(tree)
    code, _out, err = run_cli(["--apply", str(tree)])
    assert code == EXIT_INPUT, err
    assert "Traceback" not in err.decode()
    assert good.read_bytes() != NAIVE.encode(), "the good file was not rewritten"
    after = snapshot(tree)
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    assert changed == ["good/Dockerfile"], changed
    bad = ["binary", "latin1", "badpyproject", "badshape", "loop"]
    error_lines = [line for line in problem_lines(err) if line.startswith("error:")]
    for name in bad:
        assert sum(1 for line in error_lines if f"{name}/" in line) == 1, (name, error_lines)
    summary = lines(err)[-1]
    assert summary.startswith("1 rewritten") and f"{len(bad)} not processed (input errors" in summary, summary
    assert temp_leftovers(tmp_path) == []


def test_a_dockerfile_over_the_size_limit_is_refused_and_one_that_grew_since_its_stat_is_read_whole(
        tmp_path, monkeypatch):
    from poetry_docker_fix.refactor import writer

    monkeypatch.setattr(writer, "MAX_SIZE", 100)
    big = tmp_path / "Dockerfile"
    big.write_text("#" * 101)
    with pytest.raises(writer.InputError, match="too large"):
        writer.read_dockerfile(big)

    class Grown(type(Path())):  # stat says 10 bytes, as it did before the file grew
        def stat(self, **kwargs):
            real = super().stat(**kwargs)
            return os.stat_result((real.st_mode, *real[1:6], 10, *real[7:]))

    grown = tmp_path / "Dockerfile.grown"
    grown.write_text("FROM python:3.11\nRUN poetry install\n")
    assert writer.read_dockerfile(Grown(grown)) == "FROM python:3.11\nRUN poetry install\n"
    grown.write_text("#" * 101)
    with pytest.raises(writer.InputError, match="too large"):
        writer.read_dockerfile(Grown(grown))
