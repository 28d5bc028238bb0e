"""End-to-end checks of the golden cases on a real Docker engine.

For every ``golden/<case>/`` whose ``case.toml`` has an ``[e2e]`` table, in a temporary copy of the case:

* build the input ``Dockerfile`` and, when there is one, ``expected.Dockerfile`` (no expected file means
  the tool leaves the file unchanged: the input alone is built and run, once);
* when ``[e2e] input_build_error`` is given, the input no longer builds as written (an unpinned Poetry that
  became 2.x): its build must fail with that text in the log, and the expected file must build and print
  ``expected_stdout``;
* run both images with ``--network=none`` and require the same exit status (0 unless
  ``[e2e] expected_exit_code`` says otherwise) and the same stdout, equal to ``expected_stdout`` when given;
* when the expected file is multi-stage and the input was single-stage, require the rewritten image to be
  at most 35 % of the input image's size (only smaller than it when the input already ran on a slim
  base such as ``python:3.11-slim``: that base alone is most of either image);
* when the expected file is multi-stage, append ``# touched <random>`` to one Python source file (random, so
  that no earlier run left those bytes in the build cache), rebuild, and
  require, from BuildKit's plain progress log, that the dependency install (the RUN with
  ``poetry install`` and ``--no-root``) was CACHED and that the rebuilt image prints the same output.

The tests are skipped when no Docker engine answers, or fail when ``POETRY_DOCKER_FIX_REQUIRE_DOCKER=1``.
``POETRY_DOCKER_FIX_GOLDEN_DIR`` points them at another folder of cases; ``POETRY_DOCKER_FIX_DOCKER``
names the client binary. The parser test at the end needs no Docker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from poetry_docker_fix import docker_engine as docker_support
from tests.conftest import DockerEngine, use_docker

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GOLDEN_DIR_ENV = "POETRY_DOCKER_FIX_GOLDEN_DIR"
SIZE_RATIO_LIMIT = 0.35
BUILD_LOG_TAIL_LINES = 40

# Names of the Dockerfile copies written into the temporary build context (and dockerignored there).
INPUT_COPY = ".pdf-e2e-input.Dockerfile"
EXPECTED_COPY = ".pdf-e2e-expected.Dockerfile"


def golden_dir() -> Path:
    configured = os.environ.get(GOLDEN_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "golden"


@dataclass(frozen=True)
class E2ECase:
    name: str
    path: Path
    expected_stdout: str | None = None
    expected_exit_code: int = 0
    problem: str | None = None  # a case.toml that cannot be used: the test fails with this
    config: dict = field(default_factory=dict, compare=False, hash=False)
    input_build_error: str | None = None  # the input is broken today: its build must fail with this in the log


def load_e2e_cases(root: Path) -> list[E2ECase]:
    """Every case folder under ``root`` whose case.toml has an ``[e2e]`` table, sorted by name."""
    if not root.is_dir():
        return []
    cases = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        case_file = folder / "case.toml"
        if not case_file.is_file():
            continue
        try:
            config = tomllib.loads(case_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            cases.append(E2ECase(folder.name, folder, problem=f"{case_file}: {error}"))
            continue
        e2e = config.get("e2e")
        if e2e is None:
            continue
        problem = None
        if not isinstance(e2e, dict):
            problem = f"{case_file}: [e2e] must be a table"
            e2e = {}
        stdout = e2e.get("expected_stdout")
        exit_code = e2e.get("expected_exit_code", 0)
        if stdout is not None and not isinstance(stdout, str):
            problem = f"{case_file}: e2e.expected_stdout must be a string"
        if not isinstance(exit_code, int) or isinstance(exit_code, bool):
            problem = f"{case_file}: e2e.expected_exit_code must be an integer"
            exit_code = 0
        broken = e2e.get("input_build_error")
        if broken is not None and (not isinstance(broken, str) or not broken):
            problem = f"{case_file}: e2e.input_build_error must be a non-empty string"
            broken = None
        if broken is not None and stdout is None:
            problem = f"{case_file}: e2e.input_build_error needs expected_stdout (there is no input run to compare)"
        if broken is not None and not (folder / "expected.Dockerfile").is_file():
            problem = f"{case_file}: e2e.input_build_error needs an expected.Dockerfile (the rewrite that builds)"
        if not (folder / "Dockerfile").is_file():
            problem = f"{folder}: no Dockerfile"
        cases.append(E2ECase(folder.name, folder, stdout, exit_code, problem, config, broken))
    return cases


E2E_CASES = load_e2e_cases(golden_dir())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def image_tags(docker: str):
    """A list the test appends every tag it builds to; all of them are removed afterwards, pass or fail."""
    tags: list[str] = []
    yield tags
    docker_support.remove_images(tags, docker=docker)


# --------------------------------------------------------------------------- helpers


def _build(context: Path, dockerfile: Path, tag: str, docker: str, tags: list[str], what: str):
    tags.append(tag)
    result = docker_support.build_image(context, dockerfile, tag, docker=docker)
    if not result.ok:
        pytest.fail(
            f"building the {what} ({dockerfile.name}) failed with exit code {result.returncode}; "
            f"last {BUILD_LOG_TAIL_LINES} lines of the build output:\n{result.tail(BUILD_LOG_TAIL_LINES)}",
            pytrace=False,
        )
    return result


def _describe_run(what: str, run: docker_support.RunResult) -> str:
    return (
        f"{what}: exit code {run.returncode}\n"
        f"--- stdout ---\n{run.stdout.rstrip()}\n--- stderr (last lines) ---\n"
        + "\n".join(run.stderr.rstrip().splitlines()[-20:])
    )


def _check_run(case: E2ECase, what: str, run: docker_support.RunResult) -> None:
    assert run.returncode == case.expected_exit_code, (
        f"expected exit code {case.expected_exit_code}\n" + _describe_run(what, run)
    )
    if case.expected_stdout is not None:
        assert run.stdout.rstrip("\n") == case.expected_stdout, (
            f"stdout differs from case.toml's expected_stdout {case.expected_stdout!r}\n" + _describe_run(what, run)
        )


def _read_pyproject(project: Path) -> dict:
    try:
        return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _ignore_build_copies(project: Path) -> None:
    """Keep the Dockerfile copies out of the build context, so `COPY . .` sees the case as it is."""
    ignore_file = project / ".dockerignore"
    existing = ignore_file.read_text(encoding="utf-8") if ignore_file.is_file() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    ignore_file.write_text(existing + f"{INPUT_COPY}\n{EXPECTED_COPY}\n", encoding="utf-8")


def _steps_table(steps) -> str:
    return "\n".join(f"  {step.status:8} {step.name}" for step in steps) or "  (no Dockerfile steps found)"


# --------------------------------------------------------------------------- the end-to-end test


@pytest.mark.parametrize("case", E2E_CASES, ids=[case.name for case in E2E_CASES])
def test_golden_case_end_to_end(
    case: E2ECase, docker_engine: DockerEngine, docker: str, image_tags: list[str], tmp_path: Path
) -> None:
    use_docker(docker_engine)
    if case.problem:
        pytest.fail(case.problem, pytrace=False)
    project = tmp_path / case.name
    shutil.copytree(case.path, project, symlinks=True)
    _ignore_build_copies(project)
    repository = docker_support.unique_repository(case.name)

    input_dockerfile = docker_support.copy_dockerfile_for_build(project / "Dockerfile", project / INPUT_COPY)
    if case.input_build_error is not None:
        # A file that no longer builds as written (Poetry 2.x has no `poetry export` of its own): the input must
        # fail the way case.toml says, and the rewrite must build and print expected_stdout.
        image_tags.append(f"{repository}:input")
        broken = docker_support.build_image(project, input_dockerfile, f"{repository}:input", docker=docker)
        assert not broken.ok and case.input_build_error in broken.output, (
            f"the input was expected to fail to build with {case.input_build_error!r}; exit code "
            f"{broken.returncode}, last lines:\n{broken.tail(BUILD_LOG_TAIL_LINES)}")
        expected_dockerfile = docker_support.copy_dockerfile_for_build(project / "expected.Dockerfile",
                                                                       project / EXPECTED_COPY)
        _build(project, expected_dockerfile, f"{repository}:expected", docker, image_tags, "expected Dockerfile")
        _check_run(case, "expected image", docker_support.run_image(f"{repository}:expected", docker=docker))
        return
    _build(project, input_dockerfile, f"{repository}:input", docker, image_tags, "input Dockerfile")
    input_run = docker_support.run_image(f"{repository}:input", docker=docker)
    _check_run(case, "input image", input_run)

    expected_source = project / "expected.Dockerfile"
    if not expected_source.is_file():
        return  # the tool must leave this Dockerfile unchanged: there is nothing else to build

    expected_dockerfile = docker_support.copy_dockerfile_for_build(expected_source, project / EXPECTED_COPY)
    expected_tag = f"{repository}:expected"
    _build(project, expected_dockerfile, expected_tag, docker, image_tags, "expected Dockerfile")
    expected_run = docker_support.run_image(expected_tag, docker=docker)
    assert expected_run.returncode == input_run.returncode, (
        "exit codes differ\n" + _describe_run("input image", input_run) + "\n" + _describe_run("expected image", expected_run)
    )
    assert expected_run.stdout == input_run.stdout, (
        "stdout differs\n" + _describe_run("input image", input_run) + "\n" + _describe_run("expected image", expected_run)
    )
    _check_run(case, "expected image", expected_run)

    input_stages = docker_support.count_from_instructions(input_dockerfile.read_text(encoding="utf-8"))
    expected_stages = docker_support.count_from_instructions(expected_dockerfile.read_text(encoding="utf-8"))
    if expected_stages >= 2 and input_stages == 1:
        _check_size(
            input_dockerfile.read_text(encoding="utf-8"),
            docker_support.image_size(f"{repository}:input", docker=docker),
            docker_support.image_size(expected_tag, docker=docker),
        )

    if expected_stages >= 2:
        _check_code_only_rebuild(case, project, expected_dockerfile, repository, docker, image_tags, expected_run)


def _check_size(input_text: str, input_size: int, expected_size: int) -> None:
    """A single-stage input rewritten to multi-stage must come out much smaller.

    From a full base image (``python:3.11-buster``) the runtime stage moves to the slim one, and the image
    must be at most 35 % of the input's. When the input already ran on a slim (or Alpine) base, that base
    alone is most of both images and 35 % cannot be reached: the rewritten image must then still be smaller
    than the input, since it leaves Poetry and its dependencies behind.
    """
    base = (docker_support.from_images(input_text) or [""])[0]
    tag = base.rpartition(":")[2] if ":" in base.rpartition("/")[2] else ""
    slim_input = "slim" in tag or "alpine" in tag
    ratio = expected_size / input_size
    sizes = f"{expected_size / 1e6:.1f} MB, {ratio:.0%} of the input image's {input_size / 1e6:.1f} MB"
    if slim_input:
        assert expected_size < input_size, (
            f"the multi-stage image is {sizes}; from a slim input ({base}) it should still be smaller"
        )
    else:
        assert ratio <= SIZE_RATIO_LIMIT, (
            f"the multi-stage image is {sizes}; at most {SIZE_RATIO_LIMIT:.0%} expected from a full base image ({base})"
        )


def _check_code_only_rebuild(
    case: E2ECase,
    project: Path,
    dockerfile: Path,
    repository: str,
    docker: str,
    tags: list[str],
    expected_run: docker_support.RunResult,
) -> None:
    """A change to the code alone must not re-run the dependency install, nor change the output."""
    pyproject = _read_pyproject(project)
    source = docker_support.pick_source_file(project, pyproject)
    assert source is not None, f"{case.name}: no Python source file to touch for the code-only rebuild"
    package_mode = docker_support.project_package_mode(pyproject)

    # One retry with a second, different change: the first rebuild can miss the cache for reasons outside
    # the Dockerfile (another client pruning the build cache, a base image re-tagged in between). A
    # Dockerfile that really re-runs its dependency install on a code change fails both attempts.
    # Each comment is new to the build cache: the same bytes from an earlier run would be a cache hit.
    attempts = []
    for attempt in range(2):
        docker_support.touch_source_file(source, f"{docker_support.TOUCH_COMMENT} {secrets.token_hex(8)}")
        tag = f"{repository}:touched{attempt or ''}"
        rebuild = _build(project, dockerfile, tag, docker, tags, "expected Dockerfile after a code-only change")
        steps = docker_support.parse_build_steps(rebuild.output)
        installs = docker_support.dependency_install_steps(steps, package_mode=package_mode)
        assert installs, (
            f"no RUN step with `poetry install` and `--no-root` in the rebuild of {case.name}'s expected Dockerfile; "
            f"steps seen:\n{_steps_table(steps)}"
        )
        attempts.append((tag, steps, installs))
        if all(step.cached for step in installs):
            break
    tag, steps, installs = attempts[-1]
    relative = source.relative_to(project)
    assert all(step.cached for step in installs), (
        f"after appending a comment to {relative}, the dependency install was not CACHED "
        f"(in {len(attempts)} rebuilds); steps of the last rebuild:\n{_steps_table(steps)}"
    )
    assert any(not step.cached for step in steps if not step.instruction.upper().startswith("FROM ")), (
        f"appending a comment to {relative} changed no build step: the touched file is not part of the image, "
        f"so this check proves nothing; steps:\n{_steps_table(steps)}"
    )

    touched_run = docker_support.run_image(tag, docker=docker)
    assert touched_run.returncode == expected_run.returncode and touched_run.stdout == expected_run.stdout, (
        f"the rebuilt image behaves differently after a comment was added to {relative}\n"
        + _describe_run("expected image", expected_run)
        + "\n"
        + _describe_run("rebuilt image", touched_run)
    )


# --------------------------------------------------------------------------- parser tests (no Docker)

# Captured from `DOCKER_BUILDKIT=1 docker build --progress=plain` on Docker Engine 20.10.24 (BuildKit 0.8):
# a multi-stage build rebuilt after a comment was appended to annapurna/main.py.
REBUILD_AFTER_CODE_CHANGE = """\
#1 [internal] load build definition from expected.Dockerfile
#1 sha256:1eac41144cecda584bd2fd6639d76d943aa890d0c53b5067c0ad9ef91860a8a0
#1 transferring dockerfile: 41B done
#1 DONE 0.0s

#2 [internal] load .dockerignore
#2 sha256:5f99378ca29aa47f1dc3f0d08528a7751c3fe5b3339c01dab46f723407294bff
#2 transferring context: 34B done
#2 DONE 0.0s

#3 [internal] load metadata for docker.io/library/python:3.11-buster
#3 sha256:e6addec88fd262c680555922caa4a8358267c255899efe3bfe496a8402ddc253
#3 DONE 0.0s

#4 [internal] load metadata for docker.io/library/python:3.11-slim-buster
#4 sha256:4de070d11085317b4a4fc2564c898599b17507aa96b11682ac94c41495a3a990
#4 DONE 0.0s

#7 [builder 1/5] FROM docker.io/library/python:3.11-buster
#7 sha256:7e14837ac0b4d1cbb29097a1834e366d2aac0ec956780c2637bf2656968f613a
#7 DONE 0.0s

#5 [runtime 1/4] FROM docker.io/library/python:3.11-slim-buster
#5 sha256:6ba6068cb3fb2061a9c5f5850a29d7f76d2fb897a90cbc2fd1e2eb8a36db21bd
#5 DONE 0.0s

#10 [internal] load build context
#10 sha256:98b431aaeb98e6501fe701c7c2a23f5b669b10637a1667f2c7fd0a9294bf8424
#10 transferring context: 369B done
#10 DONE 0.0s

#9 [builder 3/5] WORKDIR /app
#9 sha256:3a15100b2413895da9449f4f6d22b69c44866911ef6d0c2f40817efcb8bdee9f
#9 CACHED

#11 [builder 4/5] COPY pyproject.toml poetry.lock README.md ./
#11 sha256:7eadf6c240cb06ef93ba4e2002e59d159a651d8d3983bf11289b8ecaf08d6995
#11 CACHED

#8 [builder 2/5] RUN pip install --no-cache-dir poetry==2.5.1
#8 sha256:03ec7200028bb2635b318433cb3228f255cc771fe36bee711005ac4926cf606d
#8 CACHED

#12 [builder 5/5] RUN --mount=type=cache,target=/tmp/poetry_cache poetry install -n --only main --no-root --no-directory
#12 sha256:743ceb4e0bcf401eae461650151f21767809bca4a22d285802a88e1d29c4852a
#12 CACHED

#6 [runtime 2/4] WORKDIR /app
#6 sha256:e5d3cffd550c98bc7cc8906591e0e025f98e6e35a924edb3406a4e0efbf44a8d
#6 CACHED

#13 [runtime 3/4] COPY --from=builder /app/.venv /app/.venv
#13 sha256:1f9ed91ad0bbd3a56d7e0fe649fd833880bd07abf2d4e42614eb36bee7234401
#13 CACHED

#14 [runtime 4/4] COPY annapurna ./annapurna
#14 sha256:c2488e20d2ebd15cd9caa23aeac775ff6085b40efab7cbbba3abaced052ed96c
#14 DONE 0.0s

#15 exporting to image
#15 sha256:e8c613e07b0b7ff33893b694f7759a10d42e180f2b4dc349fb57dc6b71dcab00
#15 exporting layers done
#15 writing image sha256:8560804b4dd98c60ab2d0659f0aafc0768b9a8f5a216a9a274b383e45dfb4631 done
#15 naming to docker.io/library/pdf-capture:4 done
#15 DONE 0.0s
"""

# Same engine, first build of that Dockerfile: vertex #8 is interrupted by #6 (`#8 ...`) and its name
# line is printed again before its log lines and its DONE.
FIRST_BUILD_INTERLEAVED = """\
#8 [builder 2/5] RUN pip install --no-cache-dir poetry==2.5.1
#8 sha256:03ec7200028bb2635b318433cb3228f255cc771fe36bee711005ac4926cf606d
#8 ...

#6 [runtime 2/4] WORKDIR /app
#6 sha256:e5d3cffd550c98bc7cc8906591e0e025f98e6e35a924edb3406a4e0efbf44a8d
#6 DONE 0.2s

#8 [builder 2/5] RUN pip install --no-cache-dir poetry==2.5.1
#8 sha256:03ec7200028bb2635b318433cb3228f255cc771fe36bee711005ac4926cf606d
#8 0.422 Collecting poetry==2.5.1
#8 5.138 WARNING: Running pip as the 'root' user can result in broken permissions
#8 DONE 5.5s

#12 [builder 5/5] RUN --mount=type=cache,target=/tmp/poetry_cache poetry install -n --only main --no-root --no-directory
#12 sha256:165c14bf0da4c41940344be9752a633f5003a00d62f61fe22415cfc01d08ae57
#12 0.879 Creating virtualenv annapurna in /app/.venv
#12 1.374 Package operations: 6 installs, 0 updates, 0 removals
#12 1.392   - Installing starlette (0.27.0)
#12 DONE 1.9s
"""

# Same engine, a failing single-stage build (unnamed stage: no stage in the brackets).
FAILED_BUILD = """\
#4 [1/2] FROM docker.io/library/python:3.11-slim
#4 sha256:393f53992145d4e66db06c6fc234cc485994eafdf13c53302514ff86dbc4b283
#4 CACHED

#5 [2/2] RUN echo hello && exit 3
#5 sha256:7df89ce5a8fb4804c234b92f276bb543950dc00739dc0992176709b1b146c4cd
#5 0.031 hello
#5 ERROR: executor failed running [/bin/sh -c echo hello && exit 3]: exit code: 3
------
 > [2/2] RUN echo hello && exit 3:
------
executor failed running [/bin/sh -c echo hello && exit 3]: exit code: 3
"""


def test_cached_steps_reads_a_code_only_rebuild() -> None:
    cached = docker_support.cached_steps(REBUILD_AFTER_CODE_CHANGE)
    assert cached == {
        "FROM docker.io/library/python:3.11-buster": False,
        "FROM docker.io/library/python:3.11-slim-buster": False,
        "WORKDIR /app": True,
        "COPY pyproject.toml poetry.lock README.md ./": True,
        "RUN pip install --no-cache-dir poetry==2.5.1": True,
        "RUN --mount=type=cache,target=/tmp/poetry_cache poetry install -n --only main --no-root --no-directory": True,
        "COPY --from=builder /app/.venv /app/.venv": True,
        "COPY annapurna ./annapurna": False,
    }


def test_parse_build_steps_keeps_stage_position_and_order() -> None:
    steps = docker_support.parse_build_steps(REBUILD_AFTER_CODE_CHANGE)
    assert [step.number for step in steps] == [7, 5, 9, 11, 8, 12, 6, 13, 14]
    install = next(step for step in steps if step.number == 12)
    assert (install.stage, install.position, install.total, install.status) == ("builder", 5, 5, "CACHED")
    assert install.name.startswith("[builder 5/5] RUN --mount=type=cache")
    assert [step.number for step in docker_support.dependency_install_steps(steps)] == [12]


def test_parse_build_steps_handles_interleaved_output() -> None:
    steps = {step.number: step for step in docker_support.parse_build_steps(FIRST_BUILD_INTERLEAVED)}
    assert sorted(steps) == [6, 8, 12]
    assert steps[8].status == "DONE" and steps[8].instruction == "RUN pip install --no-cache-dir poetry==2.5.1"
    assert steps[12].status == "DONE" and not steps[12].cached
    assert docker_support.dependency_install_steps(steps.values()) == [steps[12]]


def test_parse_build_steps_reports_errors_and_unnamed_stages() -> None:
    steps = docker_support.parse_build_steps(FAILED_BUILD)
    assert [(step.stage, step.position, step.total, step.status) for step in steps] == [
        (None, 1, 2, "CACHED"),
        (None, 2, 2, "ERROR"),
    ]
    assert docker_support.cached_steps(FAILED_BUILD) == {
        "FROM docker.io/library/python:3.11-slim": True,
        "RUN echo hello && exit 3": False,
    }


def test_cached_steps_requires_every_copy_of_a_repeated_instruction() -> None:
    output = "#3 [a 2/2] WORKDIR /app\n#3 CACHED\n#4 [b 2/2] WORKDIR /app\n#4 DONE 0.1s\n#5 [c 1/1] RUN true\n"
    assert docker_support.cached_steps(output) == {"WORKDIR /app": False, "RUN true": False}
    assert docker_support.parse_build_steps(output)[-1].status == "STARTED"


def test_dependency_install_steps_without_root_package() -> None:
    output = "#7 [builder 4/6] RUN poetry install --only main\n#7 CACHED\n#8 [builder 6/6] RUN poetry sync --no-root\n#8 DONE 1.0s\n"
    steps = docker_support.parse_build_steps(output)
    assert [step.number for step in docker_support.dependency_install_steps(steps)] == [8]
    assert [step.number for step in docker_support.dependency_install_steps(steps, package_mode=False)] == [7, 8]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("# syntax=docker/dockerfile:1\nFROM x\n", "FROM x\n", id="syntax"),
        pytest.param("#syntax = docker/dockerfile:1.4\r\n# escape=`\r\nFROM x\r\n", "# escape=`\r\nFROM x\r\n", id="crlf"),
        pytest.param("# a comment\n# syntax=docker/dockerfile:1\nFROM x\n", None, id="not-a-directive-after-comment"),
        pytest.param("FROM x\n# syntax=docker/dockerfile:1\n", None, id="after-from"),
    ],
)
def test_strip_syntax_directive(text: str, expected: str | None) -> None:
    assert docker_support.strip_syntax_directive(text) == (text if expected is None else expected)


def test_count_from_instructions() -> None:
    text = "# FROM nothing\nFROM a AS builder\nRUN echo \\\n  FROM not-a-stage\nfrom --platform=linux/amd64 b\n"
    assert docker_support.count_from_instructions(text) == 2
    assert docker_support.from_images(text) == ["a", "b"]


def test_pick_source_file_prefers_the_package(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    (tmp_path / "src" / "greeter").mkdir(parents=True)
    (tmp_path / "src" / "greeter" / "cli.py").write_text("x = 1")
    (tmp_path / "setup_helper.py").write_text("")
    pyproject = {"tool": {"poetry": {"name": "greeter", "packages": [{"include": "greeter", "from": "src"}]}}}
    chosen = docker_support.pick_source_file(tmp_path, pyproject)
    assert chosen == tmp_path / "src" / "greeter" / "cli.py"
    docker_support.touch_source_file(chosen)
    assert chosen.read_text() == "x = 1\n# touched\n"
    assert docker_support.pick_source_file(tmp_path, {}) == tmp_path / "setup_helper.py"


def test_docker_available_reports_a_missing_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(docker_support.DOCKER_BINARY_ENV, "/nonexistent/docker-client")
    available, reason = docker_support.docker_available(docker_support.docker_binary())
    assert not available and "/nonexistent/docker-client" in reason
    assert "POETRY_DOCKER_FIX_REQUIRE_DOCKER=1" in docker_support.unavailable_message(reason)


@pytest.mark.parametrize(
    ("e2e", "expected_file", "problem"),
    [
        pytest.param('expected_stdout = "x"\ninput_build_error = "boom"\n', True, None, id="usable"),
        pytest.param('input_build_error = "boom"\n', True, "needs expected_stdout", id="no-stdout"),
        pytest.param('expected_stdout = "x"\ninput_build_error = "boom"\n', False, "needs an expected.Dockerfile",
                     id="no-expected-file"),
        pytest.param('expected_stdout = "x"\ninput_build_error = 3\n', True, "must be a non-empty string",
                     id="not-a-string"),
    ],
)
def test_load_e2e_cases_checks_input_build_error(tmp_path: Path, e2e: str, expected_file: bool,
                                                 problem: str | None) -> None:
    case = tmp_path / "broken-input"
    case.mkdir()
    (case / "Dockerfile").write_text("FROM python:3.11\n")
    if expected_file:
        (case / "expected.Dockerfile").write_text("FROM python:3.11\n")
    (case / "case.toml").write_text("[e2e]\n" + e2e)
    (loaded,) = load_e2e_cases(tmp_path)
    if problem is None:
        assert loaded.problem is None and loaded.input_build_error == "boom"
    else:
        assert loaded.problem is not None and problem in loaded.problem
