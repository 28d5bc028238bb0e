"""Patterns from real Dockerfiles (a corpus of public Poetry projects, see bench/corpus_report.py) that the tool
rewrote wrongly. Each test is a minimal reproducer written here, not a copy of the file it was found in; the
docstring names the shape of the real file and what went wrong.

Every check is made on the output as BuildKit sees it (the `dockerfile` package), so a test says what the image
must still do, not which lines the tool should write.
"""

from __future__ import annotations

import posixpath
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from poetry_docker_fix.refactor.facts import Context, Options
from poetry_docker_fix.refactor.pipeline import Status, refactor, select_passes
from poetry_docker_fix.refactor.project import load_project
from tests.helpers import CLASSIC, LOCK_1_1, LOCK_1_8, fix, make_project, notes

dockerfile = pytest.importorskip("dockerfile", reason="the `dockerfile` package (BuildKit's parser) is a dev dependency")

WITH_POETHEPOET = CLASSIC.replace('pytest = "*"', 'pytest = "*"\npoethepoet = "*"')


# --- reading an output the way BuildKit does -----------------------------------------------------------------
def stages(text: str) -> list[list]:
    """The output's commands, one list per stage (each starting with its FROM)."""
    found: list[list] = []
    for command in dockerfile.parse_string(text):
        if command.cmd.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def resolve(workdir: str, path: str) -> str:
    joined = path if path.startswith("/") else posixpath.join(workdir, path)
    return posixpath.normpath(joined)


def context_copies(stage: list) -> list[tuple[int, list[str], str]]:
    """(index, sources, absolute destination) of every COPY/ADD from the build context in `stage`."""
    workdir = "/"
    found = []
    for index, command in enumerate(stage):
        kind = command.cmd.upper()
        if kind == "WORKDIR":
            workdir = resolve(workdir, command.value[0])
        elif kind in ("COPY", "ADD") and not any(flag.startswith("--from") for flag in command.flags):
            *sources, destination = command.value
            found.append((index, list(sources), resolve(workdir, destination)))
    return found


def argv(command) -> list[str]:
    return list(command.value) if command.json else shlex.split(command.value[0])


def installs(stage: list) -> list[int]:
    return [i for i, c in enumerate(stage) if c.cmd.upper() == "RUN" and "poetry install" in " ".join(c.value)]


# --- 1. a relative COPY destination must land where it landed before -------------------------------------------
def test_runtime_copy_with_relative_destination_lands_where_the_original_did(tmp_path):
    """Real shape: `COPY . app/` *before* `WORKDIR /app` (the code goes to /app), then the install.

    multi-stage repeats `COPY . app/` in the runtime stage *after* its own `WORKDIR /app`, so the code lands in
    /app/app and `CMD ["gunicorn", "server.app:app"]` no longer finds its module. The runtime COPY must resolve
    to the same absolute path as in the input (write it absolute, or resolve it against the WORKDIR it had)."""
    root = make_project(tmp_path / "p")
    source = textwrap.dedent("""\
        FROM python:3.11
        COPY . app/
        WORKDIR /app
        RUN pip install poetry==1.8.5 && poetry install --only main
        CMD ["python", "-m", "app.main"]
        """)
    before = {destination for _i, sources, destination in context_copies(stages(source)[-1]) if "." in sources}
    assert before == {"/app"}
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    landed = {destination for _i, sources, destination in context_copies(stages(output)[-1]) if "." in sources}
    assert landed == before, f"the code lands in {sorted(landed)} instead of /app:\n{output}"


# --- 2. no install may run before poetry.lock is in place ------------------------------------------------------
@pytest.mark.parametrize("manifests", [
    pytest.param("COPY pyproject.toml ./\nCOPY poetry.lock ./", id="two-COPY"),
    pytest.param("ADD pyproject.toml ./\nADD poetry.lock ./", id="two-ADD"),
    pytest.param("COPY ./pyproject.toml pyproject.toml\nCOPY ./poetry.lock poetry.lock", id="explicit-names"),
])
def test_install_never_moves_above_the_copy_of_the_lock(tmp_path, manifests):
    """Real shape: pyproject.toml and poetry.lock copied by two separate instructions, then
    `RUN poetry install --no-root` (or a plain install), then the code.

    split-install inserts (or moves) the `--no-root` install right after the *first* manifest COPY — before the
    lock is copied — so Poetry resolves the dependencies afresh and the lock is ignored (different versions in
    the image, and a resolve on every build). Every install must stay below the COPY of poetry.lock. (The same
    root cause makes multi-stage treat `COPY poetry.lock ./` as code and repeat it in the runtime stage.)"""
    root = make_project(tmp_path / "p")
    lock_copy, pyproject_copy = manifests.splitlines()[1], manifests.splitlines()[0]
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\n{pyproject_copy}\n{lock_copy}\n"
              "RUN poetry install --no-root\nCOPY . .\nRUN poetry install\n"
              'CMD ["python", "-m", "app.main"]\n')
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    for stage in stages(output):
        lock_at = [i for i, sources, _d in context_copies(stage) if any(s.endswith("poetry.lock") for s in sources)]
        for install in installs(stage):
            assert lock_at and min(lock_at) < install, f"`poetry install` runs before poetry.lock is copied:\n{output}"


# --- 3. the runtime stage has no Poetry: nothing there may call it --------------------------------------------
@pytest.mark.parametrize("entrypoint", [
    pytest.param('ENTRYPOINT ["poetry", "run"]', id="poetry-run"),
    pytest.param('ENTRYPOINT ["/usr/local/bin/poetry", "run"]', id="absolute-poetry-run"),
    pytest.param("ENTRYPOINT poetry run", id="shell-form"),
])
def test_runtime_stage_does_not_call_poetry(tmp_path, entrypoint):
    """Real shape: `ENTRYPOINT ["poetry", "run"]` (or `/usr/local/bin/poetry run`) with the command in CMD.

    multi-stage rewrites `poetry run X` only where X is in the same instruction; this ENTRYPOINT is copied to a
    runtime stage that has no Poetry, so the container cannot start. Either drop the `poetry run` prefix (the
    virtualenv is on PATH) or stay single-stage."""
    root = make_project(tmp_path / "p")
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
              f"RUN poetry install --only main\n{entrypoint}\nCMD [\"python\", \"-m\", \"app.main\"]\n")
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    final = stages(output)[-1]
    has_poetry = any(c.cmd.upper() == "RUN" and "poetry" in " ".join(c.value) for c in final)
    if not has_poetry:
        for command in final:
            if command.cmd.upper() in ("CMD", "ENTRYPOINT"):
                words = argv(command)
                assert not words or posixpath.basename(words[0]) != "poetry", \
                    f"{command.original!r} in a stage without Poetry:\n{output}"


# --- 4. a development tool the image runs must not be dropped --------------------------------------------------
@pytest.mark.parametrize(("pyproject", "tail"), [
    pytest.param(CLASSIC, 'CMD ["pytest", "-q"]', id="CMD-pytest"),
    pytest.param(CLASSIC, "RUN poetry run pytest", id="RUN-poetry-run-pytest"),
    # `python -m pytest` in a RUN (a QA build: `No module named pytest`).
    pytest.param(CLASSIC, "RUN poetry run python -m pytest -q", id="RUN-poetry-run-python-m-pytest"),
    pytest.param(WITH_POETHEPOET, 'CMD ["poetry", "run", "poe", "serve"]', id="CMD-poe"),
])
def test_dev_group_kept_when_the_image_runs_a_dev_tool(tmp_path, pyproject, tail):
    """Real shapes: a test image (`CMD ["pytest", "-vv"]`), `RUN poetry run pytest` after the install, and
    `CMD ["poetry", "run", "poe", "app"]` with poethepoet in the dev dependencies.

    no-dev adds `--only main`, so pytest / poe are no longer installed: the build (RUN) or the container (CMD)
    fails. When a RUN after the install, CMD or ENTRYPOINT invokes a tool that only a non-main group provides,
    that group must still be installed (no `--only main`, no `--without` of it)."""
    root = make_project(tmp_path / "p", pyproject=pyproject, files={"tests/test_app.py": "def test_x():\n    pass\n"})
    source = f"FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n{tail}\n"
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    for stage in stages(output):
        for index in installs(stage):
            line = " ".join(stage[index].value)
            assert "--only main" not in line and "--without" not in line, \
                f"the dev group the image runs is dropped:\n{output}"


@pytest.mark.parametrize(("where", "compose", "kept"), [
    (".", "services:\n  app:\n    build: .\n  tests:\n    build: .\n    command: pytest -q\n", True),
    (".", 'services:\n  tests:\n    build: .\n    command: ["python", "-m", "pytest"]\n', True),
    (".", "services:\n  tests:\n    build: .\n    entrypoint:\n      - /app/.venv/bin/pytest\n", True),
    (".", 'services:\n  tests:\n    build: .\n    command: sh -c "pytest -q && coverage report"\n', True),
    (".", "services:\n  app:\n    build: .\n    command: python -m app.main\n", False),
    ("..", "services:\n  tests:\n    build: ./p\n    command: pytest -q\n", True),  # the monorepo layout
    ("..", "services:\n  tests:\n    build: ./other\n    command: pytest -q\n", False),  # another project's
])
def test_dev_group_and_tests_kept_when_a_compose_service_runs_a_dev_tool(tmp_path, where, compose, kept):
    """A `tests` service built from the same Dockerfile (`docker compose run tests`, `command: pytest -q`): with
    `--only main` and the code narrowed to the package, pytest and tests/ were gone (a real build: `exec: "pytest":
    executable file not found`)."""
    (tmp_path / ".git").mkdir()
    root = make_project(tmp_path / "p", files={".dockerignore": ".venv\n",
                                               "tests/test_app.py": "def test_x():\n    pass\n"})
    (root / where / "docker-compose.yml").write_text(compose)
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n" \
             'CMD ["python", "-m", "app.main"]\n'
    output, refactoring = fix(root, source)
    assert ("--only main" not in output) == kept, output
    assert ("COPY . ." in output) == kept, output  # tests/ goes into the image with the rest
    assert any("docker-compose.yml runs `pytest`, a development tool, in a service" in note
               for note in notes(refactoring)) == kept


@pytest.mark.parametrize(("files", "kept"), [
    ({"docker-compose.test.yml": "services:\n  tests:\n    build: .\n    command: pytest -q\n"}, True),  # any name
    ({"compose.yaml": 'services:\n  tests:\n    build: .\n    "command": ["pytest"]\n'}, True),  # a quoted key
    ({"compose.yaml": "x-test: &test pytest -q\nservices:\n  tests:\n    build: .\n    command: *test\n"}, True),
    ({"compose.yaml": "services:\n  tests:\n    build: .\n    command: sh -c\n      'pytest -q'\n"}, True),
    # Services that do not run this Dockerfile (a review found them counted): another Dockerfile, another folder.
    ({"compose.yaml": "services:\n  tests:\n    build:\n      context: .\n      dockerfile: Dockerfile.test\n"
                      "    command: pytest -q\n"}, False),
    ({"compose.yaml": "services:\n  e2e:\n    build: ./e2e\n    command: pytest -q\n"}, False),
])
def test_the_compose_services_that_run_this_dockerfile(tmp_path, files, kept):
    root = make_project(tmp_path / "p", files={".dockerignore": ".venv\n", **files,
                                               "tests/test_app.py": "def test_x():\n    pass\n"})
    (root / "Dockerfile").write_text("FROM python:3.11\n")
    context = Context(load_project(root, root / "Dockerfile"), Options())
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n" \
             'CMD ["python", "-m", "app.main"]\n'
    output = refactor(source, context, select_passes()).output
    assert ("--only main" not in output) == kept, output


COMPOSE_NAIVE = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
                 'CMD ["python", "-m", "app.main"]\n')


def _compose_case(tmp_path, files: dict[str, str]):
    """A repository with the project in backend/ and these files (compose files, scripts) around it; the
    rewrite as the CLI makes it (the Dockerfile's path known)."""
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    root = make_project(tmp_path / "backend", files={".dockerignore": ".venv\n",
                                                     "tests/test_app.py": "def test_x():\n    pass\n"})
    (root / "Dockerfile").write_text(COMPOSE_NAIVE)
    refactoring = refactor(COMPOSE_NAIVE, Context(load_project(root, root / "Dockerfile"), Options()), select_passes())
    by_pass = {outcome.name: outcome for outcome in refactoring.outcomes}
    return refactoring.output, by_pass


# What a second review of the compose reading found (each broke `docker compose up` or `run` after a rewrite).
@pytest.mark.parametrize(("files", "venv_kept_out", "runtime", "dev_kept"), [
    # An override file's `build:` without `context:` (args, target) is the same service.
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n",
      "compose.override.yaml": "services:\n  api:\n    build:\n      args:\n        DEV: 'true'\n"
                               "    command: poetry run uvicorn app:app --reload\n    volumes:\n      - ./backend:/app\n"},
     True, False, False),
    # A volume on the venv itself: compose keeps it across builds, with the first image's dependencies.
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend:/app\n"
                      "      - /app/.venv\n"}, True, False, False),
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n    volumes:\n      - venv:/app/.venv\n"
                      "volumes:\n  venv:\n"}, True, False, False),
    # A script or a Makefile the command runs.
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n    command: ./scripts/start.sh\n",
      "backend/scripts/start.sh": "#!/bin/sh\nexec poetry run uvicorn app:app\n"}, False, False, False),
    ({"compose.yaml": "services:\n  tests:\n    build: ./backend\n    command: make test\n",
      "backend/Makefile": "test:\n\tpytest -q\n"}, False, "python:3.11 AS runtime", True),  # no make in slim
    # A comment after the key, the list at the key's own indent.
    ({"compose.yaml": "services:\n  tests:\n    build: ./backend\n    command: # the suite\n    - pytest\n"},
     False, True, True),
    ({"compose.yaml": "services:\n  tests:\n    build: ./backend\n    command: python -m unittest discover\n"},
     False, True, True),
    # A compose file in a folder of the project, building its parent.
    ({"backend/docker/docker-compose.yml": "services:\n  api:\n    build: ..\n    command: poetry run python -m app\n"},
     False, False, False),
    ({"compose.yaml": "services:\n  tests:\n    build: ./backend\n    command: ${TEST_CMD:-pytest -q}\n"},
     False, True, True),
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend:${APP_DIR:-/app}\n"},
     True, False, False),
    ({"dev.docker-compose.yml": "services:\n  api:\n    build: ./backend\n    command: poetry run python -m app\n"},
     False, False, False),
    # Not this image: a public image mounting its own folder beside the service that builds this Dockerfile, a
    # cache folder from the home directory, a URL and a glob that are no YAML anchors.
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n  frontend:\n    image: node:20\n"
                      "    volumes:\n      - ./frontend:/app\n    command: npm test\n"}, False, True, False),
    ({"compose.yaml": "services:\n  docs:\n    image: squidfunk/mkdocs-material\n    volumes:\n"
                      "      - ~/.cache/mkdocs:/app\n"}, False, True, False),
    ({"compose.yaml": "services:\n  api:\n    build: ./backend\n    command: python -m app\n"
                      "    healthcheck:\n      test: wget -q 'http://x/?a=1&b=2' && ls *.py\n"
                      "  worker:\n    build: ./worker\n    command: poetry run celery\n"}, False, True, False),
    # A service that extends the one built from ./backend, with its own tag, or compose's default tag of it.
    ({"compose.yaml": "services:\n  web:\n    build: ./backend\n  dev:\n    extends:\n      service: web\n"
                      "    image: app-dev\n    volumes:\n      - ./backend:/app\n"}, True, False, False),
    ({"compose.yaml": "services:\n  web:\n    build: ./backend\n  worker:\n    extends: {service: web}\n"
                      "    image: app-dev\n    command: poetry run celery -A app worker\n"}, False, False, False),
    ({"compose.yaml": "services:\n  web:\n    build: ./backend\n  worker:\n    image: " + "{folder}-web\n"
                      "    command: poetry run celery -A app worker\n"}, False, False, False),
])
def test_compose_setups_a_review_found(tmp_path, files, venv_kept_out, runtime, dev_kept):
    files = {name: text.replace("{folder}", tmp_path.name.lower()) for name, text in files.items()}
    output, by_pass = _compose_case(tmp_path, files)
    assert ("POETRY_VIRTUALENVS_IN_PROJECT" not in output) == venv_kept_out, output
    if isinstance(runtime, str):
        assert runtime in output, output
    else:
        assert (" AS runtime" in output) == runtime, (output, by_pass["multi-stage"].notes)
    assert ("--only main" not in output) == dev_kept, output


@pytest.mark.parametrize(("code", "kept"), [
    ("import pytest\n", True),  # the app imports a package only the dev group installs (a real build failed)
    ("from pytest import approx\n", True),
    ('"""Tested with pytest."""\n', False),
    ("import os, sys, pytest\n", True),  # a comma list (a QA build: No module named 'tomli')
    ("import os; import pytest\n", True),
    ("from dateutil import parser\n", True),  # python-dateutil is imported as dateutil
    ("import attrs\n", True),  # attrs is imported as attr and as attrs (a review found the second missed)
    ('mod = importlib.import_module("pytest")\n', True),  # a QA build: ModuleNotFoundError at run time
    ("mod = __import__('pytest')\n", True),
    ('mod = importlib.import_module(name="pytest")\n', True),  # the keyword form (a fuzzing review)
])
def test_dev_group_kept_when_the_app_imports_from_it(tmp_path, code, kept):
    pyproject = CLASSIC.replace('pytest = "*"', 'pytest = "*"\npython-dateutil = "*"\nattrs = "*"')
    root = make_project(tmp_path / "p", pyproject=pyproject, files={"app/checks.py": code})
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    output, refactoring = fix(root, source, select=["no-dev"])
    assert ("--only main" not in output) == kept, output


def test_a_package_in_main_and_in_dev_is_no_reason_to_keep_dev(tmp_path):
    pyproject = CLASSIC.replace('six = "*"', 'six = "*"\npytest = "*"')
    root = make_project(tmp_path / "p", pyproject=pyproject, files={"app/checks.py": "import pytest\n"})
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    output, _ = fix(root, source, select=["no-dev"])
    assert "--only main" in output


def _lock(style: str, packages: list[tuple[str, str, str]]) -> str:
    """A poetry.lock of `packages` (name, group, its [package.dependencies] lines) in the given format: "2.1"
    (Poetry 2: `groups` on each package), "2.0" (Poetry 1.3-1.8: no group at all), "1.1" (`category`)."""
    header = {"2.1": "Poetry 2.1.4", "2.0": "Poetry 1.8.5", "1.1": ""}[style]
    text = f"# This file is automatically @generated by {header} and should not be changed by hand.\n\n" if header else ""
    for name, group, dependencies in packages:
        text += f'[[package]]\nname = "{name}"\nversion = "1.0"\ndescription = ""\n'
        text += {"2.1": f'groups = ["{group}"]\n', "2.0": "", "1.1": f'category = "{group}"\n'}[style]
        text += 'optional = false\npython-versions = "*"\nfiles = []\n\n'
        if dependencies:
            text += f"[package.dependencies]\n{dependencies}\n\n"
    return text + f'[metadata]\nlock-version = "{style}"\npython-versions = "^3.11"\ncontent-hash = "x"\n'


TRANSITIVE = [
    ("requests", "main", 'idna = ">=2"\nsocks = {version = "*", optional = true, markers = "extra == \\"socks\\""}'),
    ("idna", "main", ""), ("socks", "main", ""), ("six", "main", ""),
    ("pytest", "dev", 'packaging = ">=20"\npluggy = {version = ">=1", extras = ["fast"]}'),
    ("packaging", "dev", ""), ("pluggy", "dev", 'speedups = {version = "*", optional = true}\n\n[package.extras]\nfast = ["speedups (>=1)"]'),
    ("speedups", "dev", ""), ("typing-extensions", "dev", ""),
]


@pytest.mark.parametrize("style", ["2.1", "2.0", "1.1"])
@pytest.mark.parametrize(("code", "kept"), [
    # packaging comes only with pytest, a dev dependency: `--only main` left it out (ModuleNotFoundError).
    ("import packaging.version\n", True),
    ("from packaging import version\n", True),
    ("import os\nimport speedups\n", True),  # through an extra pytest asks of pluggy
    ("import idna\n", False),  # comes with requests, a main dependency
    ("import socks\n", False),  # an extra of a main dependency (which extras are asked for is not read)
    ("import json, six\n", False),
    ("import app.main\n", False),  # the app's own package
])
def test_dev_group_kept_when_the_app_imports_what_only_a_dev_package_brings(tmp_path, style, code, kept):
    pyproject = CLASSIC.replace('six = "*"', 'six = "*"\nrequests = "*"')
    root = make_project(tmp_path / "p", pyproject=pyproject, lock=_lock(style, TRANSITIVE),
                        files={"app/checks.py": code})
    pin = "poetry==1.2.2" if style == "1.1" else "poetry==1.8.5"
    source = f"FROM python:3.11\nRUN pip install {pin}\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    output, refactoring = fix(root, source, select=["no-dev"])
    assert ("--only main" not in output) == kept, output
    if kept:
        note = next(note for outcome in refactoring.outcomes for note in outcome.notes)
        assert "app/checks.py imports" in note and "a dependency of pytest" in note, note


@pytest.mark.parametrize("test_stage", ["FROM builder AS test\nRUN poetry run pytest -q tests\n",
                                        "FROM builder AS test\nRUN poetry run python -m pytest -q\n",
                                        "FROM builder AS test\nRUN pytest -q\n",
                                        'FROM builder AS test\nCMD ["pytest"]\n'])
def test_a_stage_built_from_the_install_stage_keeps_its_dev_tools(tmp_path, test_stage):
    """`FROM builder AS test` runs pytest (`docker build --target test` in CI): with `--only main` in the builder
    a real build failed with `Command not found: pytest`."""
    root = make_project(tmp_path / "p", files={"tests/test_app.py": "def test_x():\n    pass\n"})
    source = ("FROM python:3.11-slim AS builder\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
              f"RUN poetry install\n\n{test_stage}\nFROM python:3.11-slim AS runtime\nWORKDIR /app\n"
              'COPY --from=builder /app /app\nCMD ["python", "-m", "app.main"]\n')
    output, refactoring = fix(root, source, select=["no-dev"])
    assert output == source
    assert any("runs `pytest`" in note for outcome in refactoring.outcomes for note in outcome.notes)


# --- 5. get-poetry.py installs Poetry 1.1 at most ---------------------------------------------------------------
@pytest.mark.parametrize("installer", [
    pytest.param("RUN curl -sSL https://raw.githubusercontent.com/python-poetry/poetry/master/get-poetry.py | python -",
                 id="get-poetry-pipe"),
    pytest.param("RUN curl -sSL https://raw.githubusercontent.com/sdispater/poetry/master/get-poetry.py | python",
                 id="get-poetry-sdispater"),
])
def test_no_poetry_1_2_flags_for_the_get_poetry_installer(tmp_path, installer):
    """Real shape: `curl …/get-poetry.py | python -` and `ENV PATH=/root/.poetry/bin:$PATH`, then `poetry install`.

    get-poetry.py cannot install Poetry 1.2.0a1 or newer (python-poetry/poetry#4094): the Poetry in that image is
    1.1 at most. no-dev still writes `--only main` (assuming the newest Poetry), which 1.1 rejects
    ("The option --only does not exist"). For this installer only 1.1 flags (`--no-dev`) may be written."""
    root = make_project(tmp_path / "p", lock=LOCK_1_1)
    source = (f"FROM python:3.8\n{installer}\nENV PATH=\"/root/.poetry/bin:$PATH\"\nWORKDIR /app\n"
              "COPY pyproject.toml poetry.lock ./\nRUN poetry install\nCOPY . .\n")
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    assert "--only" not in output and "--without" not in output and "--only-root" not in output, output


# --- 6. a stage meant for development keeps its dev dependencies ----------------------------------------------
@pytest.mark.parametrize("name", ["development", "dev", "test"])
def test_development_stage_keeps_dev_dependencies(tmp_path, name):
    """Real shape: a builder stage, then `FROM builder AS development` → `RUN poetry install` and
    `FROM builder AS production` → `RUN poetry install --without dev`.

    The file already separates the two images; no-dev adds `--only main` to the *development* stage, so the dev
    image loses pytest, linters… A stage whose name says it is for development/tests must be left as written."""
    root = make_project(tmp_path / "p")
    source = (f"FROM python:3.11 AS base\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n\n"
              f"FROM base AS {name}\nRUN poetry install\n\nFROM base AS production\nRUN poetry install --without dev\n")
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    development = next(s for s in stages(output) if s[0].value[-1] == name)
    for index in installs(development):
        line = " ".join(development[index].value)
        assert "--only main" not in line and "--without" not in line, output


# --- 7. `virtualenvs.create false` set in a parent stage ------------------------------------------------------
def test_virtualenvs_create_false_from_a_parent_stage_keeps_python_seeing_the_dependencies(tmp_path):
    """Real shape: `FROM python AS base` with `RUN pip install poetry && poetry config virtualenvs.create false`,
    then `FROM base AS dev` with `RUN poetry install` and a CMD running `python`.

    poetry-env looks only at the install's own stage: it adds `POETRY_VIRTUALENVS_CREATE=1` (which overrides the
    inherited config) but no `VIRTUAL_ENV`/`PATH`, so the dependencies go into /app/.venv and `python` no longer
    sees them. Either leave such a stage alone or also put the virtualenv on PATH."""
    root = make_project(tmp_path / "p")
    source = ("FROM python:3.11 AS base\nRUN pip install poetry==1.8.5 && poetry config virtualenvs.create false\n"
              "WORKDIR /app\nCOPY . .\n\nFROM base AS dev\nRUN poetry install\nCMD [\"python\", \"-m\", \"app.main\"]\n")
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    for stage in stages(output):
        text = "\n".join(c.original for c in stage)
        if "POETRY_VIRTUALENVS_CREATE=1" in text and installs(stage):
            inherited = "\n".join(c.original for s in stages(output) for c in s)
            assert "VIRTUAL_ENV=" in inherited and ".venv/bin" in inherited, \
                f"a virtualenv is created but never put on PATH:\n{output}"


# --- 8. a .venv in the build context must not land on the image's virtualenv ----------------------------------
def test_a_local_venv_in_the_context_does_not_overwrite_the_images_virtualenv(tmp_path):
    """Real shape: any naive file with `COPY . .` after the install, in a project whose developers use
    `virtualenvs.in-project` (a `.venv/` in the checkout) and no .dockerignore entry for it.

    poetry-env moves the virtualenv to <WORKDIR>/.venv, and the broad `COPY . .` (kept in the builder after the
    dependency install and repeated in the runtime stage after `COPY --from=builder …/.venv`) then copies the
    host's .venv — with symlinks to the host's Python — over it. The original image (virtualenv in Poetry's
    cache dir) was not affected. With an un-ignored .venv in the context, the image's virtualenv must not sit
    where a broad COPY writes afterwards."""
    root = make_project(tmp_path / "p", files={".venv/pyvenv.cfg": "home = /home/dev/.pyenv/bin\n",
                                               ".venv/bin/python": "#!/bin/false\n", "data/rows.csv": "1\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
              "RUN poetry install --only main\nCMD [\"python\", \"-m\", \"app.main\"]\n")
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED
    for stage in stages(output):
        workdir, venv_dirs = "/", set()
        env_in_project = any(c.cmd.upper() == "ENV" and "POETRY_VIRTUALENVS_IN_PROJECT=1" in c.original
                             for s in stages(output) for c in s)
        for command in stage:
            kind = command.cmd.upper()
            if kind == "WORKDIR":
                workdir = resolve(workdir, command.value[0])
            elif kind == "RUN" and "poetry install" in " ".join(command.value) and env_in_project:
                venv_dirs.add(workdir)
            elif kind in ("COPY", "ADD"):
                *sources, destination = command.value
                if any(f.startswith("--from") for f in command.flags):
                    venv_dirs.update(posixpath.dirname(resolve(workdir, s)) for s in sources if s.endswith(".venv"))
                elif "." in sources and resolve(workdir, destination) in venv_dirs:
                    pytest.fail(f"`{command.original}` copies the context's .venv over the image's "
                                f"virtualenv:\n{output}")


# --- 9. Poetry shipped by the base image -----------------------------------------------------------------------
@pytest.mark.parametrize("base", ["thehale/python-poetry:1.8.3-py3.11-slim", "mwalbeck/python-poetry:1.6.1-3.9",
                                  "fnndsc/python-poetry"])
def test_poetry_from_the_base_image_is_not_an_internal_error(tmp_path, base):
    """Real shape: `FROM <an image that ships Poetry>` (thehale/python-poetry, mwalbeck/python-poetry,
    fnndsc/python-poetry…), `COPY . .`, `RUN poetry install` — no `pip install poetry` anywhere.

    The run ends `failed` (exit 3, "not idempotent: a second run changes the output again (poetry-env,
    multi-stage, cache-mount)"): with no Poetry installation to anchor on, poetry-env puts its ENV block after
    the installs that narrow-copy/split-install made (after `COPY app ./app`), and the second run moves it again.
    The ENV must go before the first `poetry install` (or the file be left alone with a reason)."""
    root = make_project(tmp_path / "p")
    source = (f"FROM {base}\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
              'CMD ["poetry", "run", "python", "-m", "app.main"]\n')
    output, refactoring = fix(root, source)
    assert refactoring.status is not Status.FAILED, refactoring.reason
    for stage in stages(output):
        envs = [i for i, c in enumerate(stage) if c.cmd.upper() == "ENV" and "POETRY_VIRTUALENVS_IN_PROJECT" in c.original]
        for index in installs(stage):
            assert not envs or min(envs) < index, f"the Poetry ENV comes after `poetry install`:\n{output}"


# --- the report script itself ------------------------------------------------------------------------------------
def test_corpus_report_runs_on_a_small_corpus(tmp_path, capsys):
    """bench/corpus_report.py on three cases: a naive Poetry file, a non-Poetry file, a broken pyproject."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("corpus_report", Path(__file__).resolve().parent.parent / "bench"
                                                  / "corpus_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    corpus = tmp_path / "corpus"
    naive = make_project(corpus / "naive", lock=LOCK_1_8)
    (naive / "Dockerfile").write_text("FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\n"
                                      "RUN poetry install\nCMD [\"poetry\", \"run\", \"python\", \"-m\", \"app.main\"]\n")
    (naive / "source.txt").write_text("repo: example/naive\npath: Dockerfile\ncommit: 0\n")
    plain = corpus / "plain"
    plain.mkdir()
    (plain / "dockerfile").write_text("FROM alpine\nRUN echo hi\n")
    broken = make_project(corpus / "broken")
    (broken / "pyproject.toml").write_text("[tool.poetry\n")
    (broken / "Dockerfile").write_text("FROM python:3.11\nRUN pip install poetry && poetry install\n")
    report_path = tmp_path / "report.md"
    code = module.main([str(corpus), "--no-hadolint", "--cli-check", "2", "--details", "--output", str(report_path)])
    printed = capsys.readouterr().out
    assert printed == report_path.read_text()
    assert "| rewritten | 1 |" in printed and "| unchanged | 1 |" in printed
    assert "input error (exit 2) | 1 |" in printed and "`broken`" in printed
    assert code == 0, printed


SYNC_LOCK = LOCK_1_8.replace("Poetry 1.8.5", "Poetry 2.1.4").replace('lock-version = "2.0"', 'lock-version = "2.1"')


def test_poetry_sync_is_an_install(tmp_path):
    """`poetry sync` (Poetry 2's `install --sync`) was skipped as "never runs `poetry install`". The root install
    must not be `poetry sync --only-root`: sync with no group selected removes every dependency."""
    root = make_project(tmp_path / "p", lock=SYNC_LOCK)
    source = ("FROM python:3.11\nRUN pip install poetry==2.1.4\nWORKDIR /app\nCOPY . .\nRUN poetry sync\n"
              'CMD ["poetry", "run", "python", "-m", "app"]\n')
    output, refactoring = fix(root, source)
    assert refactoring.status is Status.CHANGED, refactoring.reason
    assert "poetry sync --only main --no-root\n" in output, output
    assert "poetry install --only-root\n" in output and "sync --only-root" not in output, output
    assert "AS runtime" in output


def test_poetry_sync_is_not_pinned_to_a_poetry_without_it(tmp_path):
    root = make_project(tmp_path / "p")  # poetry.lock written by Poetry 1.8.5, which has no `poetry sync`
    source = "FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\nRUN poetry sync --no-root\n"
    output, refactoring = fix(root, source, select=["pin-poetry"])
    assert "pip install poetry\n" in output
    assert any("runs `poetry sync`, which Poetry 1.8.5" in note for note in notes(refactoring))


VENV_SOURCE = ("FROM python:3.11\nRUN pip install poetry==1.8.5\n{env}WORKDIR /app\nCOPY . .\nRUN poetry install\n"
               'CMD ["poetry", "run", "python", "-m", "app"]\n')


@pytest.mark.parametrize(("env", "dockerignore", "left"), [
    ("", None, True),  # Poetry uses an existing .venv in the project when nothing says otherwise
    ("ENV POETRY_VIRTUALENVS_IN_PROJECT=true\n", None, True),
    ("ENV POETRY_VIRTUALENVS_IN_PROJECT=true\n", ".venv\n", False),
    ("ENV POETRY_VIRTUALENVS_IN_PROJECT=false\n", None, False),  # Poetry ignores a project .venv then
])
def test_a_local_venv_copied_after_the_install_would_replace_the_virtualenv(tmp_path, env, dockerignore, left):
    """`COPY . .` must stay (config.yaml may be read), and it brings a developer's .venv: before the install Poetry
    replaced it; moved after the install (split-install) or after the runtime's venv copy (multi-stage), it
    replaced the virtualenv, and a real build of the rewrite failed with ModuleNotFoundError at run time."""
    files = {"config.yaml": "a: 1\n", **({".dockerignore": dockerignore} if dockerignore else {})}
    root = make_project(tmp_path / "p", files=files)
    output, refactoring = fix(root, VENV_SOURCE.format(env=env))
    for stage in stages(output):
        copies = [i for i, c in enumerate(stage) if c.cmd.upper() == "COPY" and "." in c.value[:-1]]
        venv = [i for i, c in enumerate(stage) if c.cmd.upper() == "COPY" and ".venv" in " ".join(c.value)]
        install = [i for i, c in enumerate(stage) if c.cmd.upper() == "RUN" and "poetry install" in c.value[0]]
        if left:
            assert not (copies and install and copies[0] > install[0]), output
            assert not (copies and venv and copies[0] > venv[0]), output
    if left:
        assert "COPY pyproject.toml" not in output, output  # no manifests COPY that helps nothing
        assert any(".venv" in note for note in notes(refactoring)), notes(refactoring)
    else:
        assert "poetry install --only main --no-root" in output, output


def test_manifests_copied_with_the_readme_then_the_code_are_split(tmp_path):
    """`COPY pyproject.toml poetry.lock README.md ./` then `COPY app/ app/`: the install stayed after the code
    (a rebuild after a code change reinstalled everything), with a note blaming narrow-copy."""
    root = make_project(tmp_path / "p")
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock README.md ./\n"
              "COPY app/ app/\nRUN poetry install\n")
    output, refactoring = fix(root, source, select=["split-install"])
    lines = output.splitlines()
    assert lines.index("RUN poetry install --no-root") == lines.index("COPY pyproject.toml poetry.lock README.md ./") + 1
    assert lines.index("RUN mkdir -p app && touch app/__init__.py && poetry install --only-root") < \
        lines.index("COPY app/ app/"), output
    change = refactoring.outcomes[0].changes[0]
    assert "from the manifests and README.md, copied before the code" in change.reason


@pytest.mark.parametrize("tail", [
    'CMD ["poetry", "run", "python", "-c", "import pytest; print(pytest.__name__)"]\n',
    "RUN poetry run python -c 'import pytest'\n",
])
def test_dev_group_kept_when_python_c_code_of_the_image_imports_from_it(tmp_path, tail):
    """`python -c "import iniconfig"` in the CMD, or in a RUN after the install: a QA build of the rewrite failed
    (`No module named 'iniconfig'`), since only the app's files were read."""
    root = make_project(tmp_path / "p")
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n" + tail
    output, refactoring = fix(root, source, select=["no-dev"])
    assert "--only main" not in output, output
    assert any("line 6 imports pytest" in note for note in notes(refactoring)), notes(refactoring)


def test_python_m_poetry_runs_the_root_install_the_same_way(tmp_path):
    """`RUN python -m poetry install` (Poetry installed with `pip --user`, not on PATH): the stand-in's root install
    was a bare `poetry install --only-root`, and a QA build failed with `poetry: not found`."""
    root = make_project(tmp_path / "p")
    source = ("FROM python:3.11\nRUN pip install --user poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
              "COPY README.md ./\nCOPY app ./app\nRUN python -m poetry install --only main\n")
    output, _ = fix(root, source, select=["split-install"])
    assert "touch app/__init__.py && python -m poetry install --only-root\n" in output, output
    assert "RUN python -m poetry install --only main --no-root\n" in output


def test_python_m_poetry_keeps_the_system_install_and_is_not_split_on_a_venv_path(tmp_path):
    """`RUN python -m poetry install` runs the first `python` on PATH: with the virtualenv first there (poetry-env's
    conversion of `virtualenvs.create false`, or the file's own ENV), a second Poetry call after the dependency
    install ran the virtualenv's python, which has no Poetry (replayed by a fuzzing review: `No module named
    poetry`)."""
    root = make_project(tmp_path / "p")
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry config virtualenvs.create false\n"
              "WORKDIR /app\nCOPY pyproject.toml poetry.lock ./\nCOPY README.md ./\nCOPY app ./app\n"
              "RUN python -m poetry install\n")
    output, refactoring = fix(root, source)
    assert "virtualenvs.create false" in output and "VIRTUAL_ENV" not in output, output
    assert any("runs Poetry as `python -m poetry`" in note for note in notes(refactoring))
    assert "python -m poetry install --only-root" in output  # the system python has Poetry: the split is safe
    own = source.replace("RUN poetry config virtualenvs.create false\n",
                         'ENV VIRTUAL_ENV=/app/.venv PATH="/app/.venv/bin:$PATH"\n')
    output, refactoring = fix(root, own, select=["split-install"])
    assert output == own
    assert any("`python -m poetry` would find the virtualenv's python" in note for note in notes(refactoring))


def test_an_optional_dependency_of_a_main_package_is_not_installed_by_it(tmp_path):
    """click's optional `packaging` (an extra nobody asks for) counted as installed by the main group, while only
    pytest (dev) brings it: `--only main` would have left it out (a review)."""
    packages = [("click", "main", 'packaging = {version = "*", optional = true}\n\n[package.extras]\nfast = ["packaging"]'),
                ("pytest", "dev", 'packaging = ">=20"'), ("packaging", "dev", ""), ("six", "main", "")]
    pyproject = CLASSIC.replace('six = "*"', 'six = "*"\nclick = "*"')
    root = make_project(tmp_path / "p", pyproject=pyproject, lock=_lock("2.0", packages),
                        files={"app/checks.py": "import packaging\n"})
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    output, _ = fix(root, source, select=["no-dev"])
    assert "--only main" not in output, output
