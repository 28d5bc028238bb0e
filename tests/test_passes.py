"""One pass at a time: a `_fixes` test beside a `_noop` test, on small projects made in tmp_path."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import poetry_docker_fix.transforms as transforms
from poetry_docker_fix.refactor.facts import Context, Options
from poetry_docker_fix.refactor.pipeline import Status, refactor, select_passes
from poetry_docker_fix.refactor.project import load_project
from poetry_docker_fix.refactor.versions import Version
from tests.helpers import CLASSIC, LOCK_1_1, LOCK_1_8, LOCK_2_5, fix, make_project, notes

NAIVE = """\
FROM python:3.11-slim
RUN pip install poetry
WORKDIR /app
COPY . .
RUN poetry install
CMD ["poetry", "run", "python", "-m", "app.main"]
"""


# A .dockerignore leaving out .venv: without it, a `COPY . .` that must stay keeps the install after it (a local
# .venv would replace the virtualenv), and these tests are about what else the passes do.
NO_VENV = {".dockerignore": ".venv\n"}

def test_every_transform_module_is_in_passes():
    modules = {m.name for m in pkgutil.iter_modules(transforms.__path__) if m.name != "base"}
    in_pipeline = {p.__module__.rsplit(".", 1)[-1] for p in transforms.PASSES}
    assert modules == in_pipeline
    for module in modules:
        importlib.import_module(f"poetry_docker_fix.transforms.{module}")
    for pass_class in transforms.PASSES:
        assert pass_class.doc() and pass_class.description and "\n" not in pass_class.description


# --- pin-poetry ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("before", "after"), [
    pytest.param("RUN pip install poetry", "RUN pip install --no-cache-dir poetry==1.8.5", id="pip"),
    pytest.param("RUN pip3 install -q poetry", "RUN pip3 install --no-cache-dir -q poetry==1.8.5", id="pip3"),
    pytest.param("RUN python -m pip install 'poetry'", "RUN python -m pip install --no-cache-dir 'poetry==1.8.5'",
                 id="quoted"),
    pytest.param("RUN pipx install poetry", "RUN pipx install poetry==1.8.5", id="pipx"),
    pytest.param("RUN curl -sSL https://install.python-poetry.org | python3 -",
                 "RUN curl -sSL https://install.python-poetry.org | python3 - --version 1.8.5", id="installer"),
])
def test_pin_poetry_fixes(tmp_path, before, after):
    make_project(tmp_path)
    output, _ = fix(tmp_path, f"FROM python:3.11\n{before}\nRUN poetry install\n", select=["pin-poetry"])
    assert output.splitlines()[1] == after


@pytest.mark.parametrize("line", [
    pytest.param("RUN pip install poetry==1.8.5", id="literal"),
    pytest.param('RUN pip install "poetry==${POETRY_VERSION}"', id="arg"),
    pytest.param("RUN pip install 'poetry>=1.8,<2'", id="range"),
    pytest.param("RUN POETRY_VERSION=1.8.5 curl -sSL https://install.python-poetry.org | python3 -", id="installer-env"),
])
def test_pin_poetry_noop(tmp_path, line):
    make_project(tmp_path)
    source = f"FROM python:3.11\nARG POETRY_VERSION=1.8.5\n{line}\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["pin-poetry"])
    assert output == source


def test_pin_poetry_warns_when_pin_is_older_than_lock(tmp_path):
    make_project(tmp_path, lock=LOCK_2_5)
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert output == source
    assert any("older than 2.5.1" in note for note in notes(result))


def test_pin_poetry_without_version_source_says_so(tmp_path):
    make_project(tmp_path, lock=LOCK_1_1)
    source = "FROM python:3.11\nRUN pip install poetry\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert output == source
    assert any("1.1–1.2" in note and "--poetry-version" in note for note in notes(result))


def test_pin_poetry_uses_requires_poetry_then_flag(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n', lock=None)
    (tmp_path / "pyproject.toml").write_text(CLASSIC.replace('readme = "README.md"\n',
                                                             'readme = "README.md"\nrequires-poetry = ">=2.0,<2.2"\n'))
    source = "FROM python:3.11\nRUN pip install poetry\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["pin-poetry"])
    assert "poetry==2.1.4" in output
    output, _ = fix(tmp_path, source, select=["pin-poetry"], poetry_version=Version.parse("2.0.1"))
    assert "poetry==2.0.1" in output


@pytest.mark.parametrize(("plugin", "pinned"), [
    ("poetry-plugin-export", False),  # its newest release needs Poetry 2: pinning 1.8.5 breaks the build
    ("poetry-plugin-export@^1.8", True), ("'poetry-plugin-export==1.8.0'", True),
])
def test_pin_poetry_leaves_poetry_unpinned_beside_an_unversioned_plugin(tmp_path, plugin, pinned):
    """A real build: `poetry self add poetry-plugin-export` under a pinned Poetry 1.8.5 failed (`depends on
    poetry (>=2.1.0,<3.0.0)`), where the unpinned original got the newest Poetry and worked."""
    make_project(tmp_path)
    source = f"FROM python:3.11\nRUN pip install poetry\nRUN poetry self add {plugin}\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert ("poetry==1.8.5" in output) == pinned
    if not pinned:
        assert any("adds the plugin `poetry-plugin-export` without a version" in note for note in notes(result))


@pytest.mark.parametrize(("requires", "pinned", "said"), [
    (">=2.2", "poetry==2.5.1", "which it does not allow"),  # the lock's 1.8.5 is ruled out: the newest allowed
    (">=1.8,<2.0", "poetry==1.8.5", "poetry.lock was written by Poetry 1.8.5"),  # allowed: the lock's writer
])
def test_pin_poetry_never_pins_a_version_requires_poetry_rules_out(tmp_path, requires, pinned, said):
    """Poetry refuses to run a project whose requires-poetry it does not meet: pinning the lock's writer then
    breaks a build that, unpinned, got the newest release and worked."""
    make_project(tmp_path, pyproject=CLASSIC.replace('readme = "README.md"\n',
                                                     f'readme = "README.md"\nrequires-poetry = "{requires}"\n'))
    source = "FROM python:3.11\nRUN pip install poetry\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert pinned in output
    assert any(said in change.reason for outcome in result.outcomes for change in outcome.changes)


@pytest.mark.parametrize(("install", "root"), [
    ("poetry install -E pg", "poetry install --only-root -E pg"),
    ("poetry install --extras pg --extras yaml", "poetry install --only-root --extras pg --extras yaml"),
    ("poetry install --extras='pg yaml'", "poetry install --only-root '--extras=pg yaml'"),
    ("poetry install --sync --all-extras --no-interaction", "poetry install --only-root --all-extras"),
    # A variable must still expand (a QA build: `Extra [$extras] is not specified` from '$EXTRAS').
    ('poetry install --extras "$EXTRAS"', 'poetry install --only-root --extras "$EXTRAS"'),
    ("poetry install --extras=${EXTRAS}", 'poetry install --only-root "--extras=${EXTRAS}"'),
])
def test_split_install_keeps_the_extras_on_the_root_install(tmp_path, install, root):
    """Poetry 1.x removes every extra an install does not name: a bare `--only-root` took out what the
    dependency install had just put in (a real build printed `Removing psycopg2-binary`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace("RUN poetry install", f"RUN {install}")
    output, _ = fix(tmp_path, source, select=["narrow-copy", "split-install"])
    assert [line for line in output.splitlines() if "--only-root" in line][0].endswith(f"&& {root}"), output
    again, _ = fix(tmp_path, output, select=["narrow-copy", "split-install"])
    assert again == output


@pytest.mark.parametrize(("command", "runtime"), [
    ('CMD ["sh", "-c", "poetry run alembic upgrade head && poetry run python -m app.main"]',
     'CMD ["sh", "-c", "alembic upgrade head && python -m app.main"]'),
    ('ENTRYPOINT ["/bin/bash", "-c", "poetry run alembic upgrade head; exec poetry run python -m app.main"]',
     'ENTRYPOINT ["/bin/bash", "-c", "alembic upgrade head; exec python -m app.main"]'),
    # Shell form: it stayed single-stage ("uses Poetry beyond `poetry run`"); a real build ran both the same.
    ("CMD poetry run alembic upgrade head && poetry run python -m app.main",
     "CMD alembic upgrade head && python -m app.main"),
])
def test_multi_stage_drops_every_poetry_run_of_a_shell_script_command(tmp_path, command, runtime):
    """Only the first `poetry run` went: the runtime stage, which has no Poetry, died with `sh: 1: poetry: not
    found` (a real build showed it)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace('CMD ["poetry", "run", "python", "-m", "app.main"]', command)
    output, _ = fix(tmp_path, source)
    assert runtime in output.split(" AS runtime")[1], output


@pytest.mark.parametrize(("run", "runtime"), [
    ("RUN mkdir -p /var/log/web\n", False),  # the app writes its log there: the runtime would lack it
    ("RUN touch /etc/app.flag\n", False),
    ("RUN mkdir -m 700 /app\n", False),
    ("RUN mkdir -p /app\n", True),  # the runtime's WORKDIR /app makes it again
    ("RUN mkdir /srv /srv/app\n", False),
    ("WORKDIR /app\nRUN touch README.md\n", True),  # the article's stand-in README for the root install
    ("WORKDIR /app\nRUN touch README.md app.db\n", False),
])
def test_multi_stage_keeps_a_folder_made_before_the_install(tmp_path, run, runtime):
    """`RUN mkdir -p /var/log/web` before the install stayed in the builder only: a real build's app died with
    `FileNotFoundError: '/var/log/web/app.log'`."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{run}ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == runtime, output
    if not runtime:
        assert any("may make files" in note for note in notes(result))


@pytest.mark.parametrize(("install", "runtime"), [
    ("RUN mkdir -p /var/log/web && poetry install --only main", False),
    ("RUN poetry install --only main && touch /app/.env", False),
    ("RUN mkdir -p app && touch app/__init__.py && poetry install --only main", True),  # split-install's stand-in
    ("RUN mkdir -p app/uploads && poetry install --only main", False),  # inside the package, but no stand-in
])
def test_multi_stage_judges_a_mkdir_beside_the_install_by_what_it_makes(tmp_path, install, runtime):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n").replace(
        "RUN poetry install --only main", install)
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == runtime, output


@pytest.mark.parametrize(("install", "command", "files", "runtime"), [
    ("poetry install --only main --no-root", 'CMD ["poetry", "run", "app-cli"]', {}, False),
    ("poetry install --only main --no-root", 'ENTRYPOINT ["poetry", "run"]\nCMD ["app-cli", "--help"]', {}, False),
    ("poetry install --only main --no-root", 'CMD ["sh", "-c", "poetry run app-cli"]', {}, False),
    ("poetry install --only main", 'CMD ["poetry", "run", "app-cli"]', {".dockerignore": "./README.md\n"}, False),
    ("poetry install --only main", 'CMD ["poetry", "run", "app-cli"]', {}, True),
    # The context has the README, but no COPY brings it (a review found it).
    ("poetry install --only main", 'CMD ["poetry", "run", "app-cli"]', {"no-readme-copy": ""}, False),
    # Order does not matter to Docker: the ENTRYPOINT after the CMD still runs it through `poetry run`.
    ("poetry install --only main --no-root", 'CMD ["app-cli"]\nENTRYPOINT ["poetry", "run"]', {}, False),
    ("poetry install --only main --no-root", 'CMD ["poetry", "run", "python", "-m", "app.main"]', {}, True),
])
def test_multi_stage_keeps_poetry_run_of_a_script_the_root_install_does_not_make(tmp_path, install, command, files,
                                                                                  runtime):
    """`poetry run app-cli` finds the script in pyproject.toml even when the project is not installed; the runtime
    stage's `app-cli` is only there when the root install made it. With --no-root, or a README the context does
    not hold (Poetry 1.x then skips the root install with a warning), a real build's runtime failed with
    `exec: "web-cli": executable file not found in $PATH`."""
    readme = "" if files.pop("no-readme-copy", None) is not None else " README.md"
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry.scripts]\napp-cli = "app.main:run"\n', files=files)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
              f"COPY pyproject.toml poetry.lock{readme} ./\nCOPY app ./app\nRUN {install}\n{command}\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == runtime, output
    if not runtime:
        assert any("runs a script of pyproject.toml" in note for note in notes(result))


@pytest.mark.parametrize(("copy", "entrypoint"), [
    ("COPY entrypoint.sh /entrypoint.sh\n", '["/entrypoint.sh"]'),
    ("COPY entrypoint.sh /usr/local/bin/\n", '["entrypoint.sh"]'),
    ("COPY entrypoint.sh /usr/local/bin/docker-entrypoint\n", '["docker-entrypoint"]'),
    ("COPY . /src\n", '["/src/entrypoint.sh"]'),
])
def test_multi_stage_reads_a_script_copied_to_an_absolute_path(tmp_path, copy, entrypoint):
    """`COPY entrypoint.sh /entrypoint.sh` + `ENTRYPOINT ["/entrypoint.sh"]`: the script's `poetry run` was never
    read, and the runtime died with `/entrypoint.sh: 4: poetry: not found` (a real build)."""
    make_project(tmp_path, files={"entrypoint.sh": '#!/bin/sh\npoetry run python -m app.migrate\nexec "$@"\n'})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{copy}ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        f"ENTRYPOINT {entrypoint}\nCMD [\"python\", \"-m\", \"app.main\"]\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert " AS runtime" not in output, output
    assert any("calls Poetry" in note for note in notes(result))


@pytest.mark.parametrize(("files", "setup", "command"), [
    ({"bin/start": "x"}, 'COPY bin /opt/tools\nENV PATH="/opt/tools:$PATH" ', '["start"]'),
    # Not a folder called bin (a review found the lookup skipped it).
    ({"scripts/start": "x"}, 'COPY scripts /opt/tools\nENV PATH="/opt/tools:$PATH" ', '["start"]'),
    # A relative name, where a COPY of a subfolder's file put it in the WORKDIR.
    ({"docker/entrypoint.sh": "x"}, "ENV ", '["./entrypoint.sh"]'),
    # A relative COPY destination, and the exec form (a review found both missed).
    ({"bin/start": "x"}, 'WORKDIR /app\nCOPY bin ./bin\nENV PATH="/app/bin:$PATH" ', '["start"]'),
    ({"docker/start": "x"}, 'COPY ["docker/start", "/usr/local/bin/start"]\nENV ', '["start"]'),
    # A folder copied under another name (a review found the basename test missed it).
    ({"deploy/bin/entrypoint.sh": "x"}, "WORKDIR /app\nCOPY deploy/bin ./bin\nENV ", '["./bin/entrypoint.sh"]'),
    # `COPY . .` fills /app, above the /app/bin the file puts on PATH.
    ({"bin/start": "x"}, 'WORKDIR /app\nCOPY . .\nENV PATH="/app/bin:$PATH" ', '["start"]'),
])
def test_multi_stage_reads_a_script_found_where_the_file_puts_it(tmp_path, files, setup, command):
    script = '#!/bin/sh\nexec poetry run python -m app.main\n'
    # (.venv left out: `COPY . .` would otherwise bring a local one over the runtime's virtualenv)
    make_project(tmp_path, files={**{name: script for name in files}, ".dockerignore": ".venv\n"})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{setup}POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    if "docker/" in next(iter(files)):
        source += "COPY docker/entrypoint.sh ./\n"
    source += f"CMD {command}\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert " AS runtime" not in output and any("calls Poetry" in note for note in notes(result)), output


def test_a_copy_source_the_disk_cannot_look_at_is_no_crash(tmp_path):
    """A name longer than the file system allows (or an unreadable folder) made the COPY mapping raise: the file
    failed with an internal error (a review found it)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"COPY {'x' * 300}/key /etc/app/key\n"
                                 "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'ENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["python", "-m", "app.main"]\n'
    _, result = fix(tmp_path, source, select=["multi-stage"])
    assert result.status is not Status.FAILED, result.reason


@pytest.mark.parametrize(("files", "command"), [
    # `cd` inside a shell command (a real build: `./entry.sh: exec: poetry: not found`).
    ({"scripts/entry.sh": "#!/bin/sh\nexec poetry run python -m app.main\n"},
     'CMD ["sh", "-c", "cd scripts && ./entry.sh"]'),
    # A script that runs another (a real build: `./scripts/run.sh: exec: poetry: not found`).
    ({"scripts/entry.sh": "#!/bin/sh\necho outer\nexec ./scripts/run.sh\n",
      "scripts/run.sh": "#!/bin/sh\nexec poetry run python -m app.main\n"}, 'CMD ["./scripts/entry.sh"]'),
    ({"scripts/entry.sh": "#!/bin/sh\n. ./lib.sh\nstart\n",
      "scripts/lib.sh": "start() { poetry run python -m app.main; }\n"}, 'CMD ["sh", "-c", "cd scripts && ./entry.sh"]'),
])
def test_multi_stage_reads_the_scripts_a_script_runs(tmp_path, files, command):
    _reads_scripts(tmp_path, files, command)


def test_script_lookup_reads_a_config_the_command_names_and_nothing_above_the_context(tmp_path):
    """A supervisord .ini named by the command is read again (a review found the lookup skipping it); a `cd ..`
    does not lead out of the build context."""
    make_project(tmp_path / "ctx", files={".dockerignore": ".venv\n",
                                          "deploy/supervisord.ini": "[program:web]\ncommand=poetry run python -m app\n"})
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "run.sh").write_text("#!/bin/sh\npoetry run x\n")
    for command, single in [('CMD ["supervisord", "-c", "deploy/supervisord.ini"]', True),
                            ('CMD ["sh", "-c", "cd .. && secret/run.sh"]', False)]:
        source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
            f"{command}\n"
        output, result = fix(tmp_path / "ctx", source, select=["multi-stage"])
        assert (" AS runtime" not in output) == single, notes(result)


def _reads_scripts(tmp_path, files, command):
    make_project(tmp_path, files={".dockerignore": ".venv\n", **files})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n").replace(
        "COPY app ./app\n", "COPY . .\n") + f"{command}\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert " AS runtime" not in output and any("calls Poetry" in n for n in notes(result)), (output, notes(result))


def test_multi_stage_keeps_the_full_image_for_a_program_an_entrypoint_script_calls(tmp_path):
    """A "wait for the database" entrypoint calling curl: on the slim runtime it died with `curl: not found`."""
    make_project(tmp_path, files={"docker-entrypoint.sh": '#!/bin/sh\ncurl -sf http://db:5432 || true\nexec "$@"\n'})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'COPY docker-entrypoint.sh ./\nENTRYPOINT ["./docker-entrypoint.sh"]\nCMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert "FROM python:3.11 AS runtime" in output, output
    assert "calls `curl`" in result.outcomes[0].changes[0].reason


@pytest.mark.parametrize(("files", "lock_package", "command", "slim"), [
    # GitPython runs git, which the slim image lacks (a real build: "Bad git executable").
    ({}, "gitpython", 'CMD ["python", "-m", "app.main"]', False),
    # LightGBM's wheel loads libgomp.so.1, which slim lacks (a real build: cannot open shared object file).
    ({}, "lightgbm", 'CMD ["python", "-m", "app.main"]', False),
    # A program's name in a comment or in a Python file the command runs is no command (a review found both).
    ({"app/run.py": "# make sure the settings are loaded\nprint(1)\n"}, None, 'CMD ["python", "app/run.py"]', True),
    ({"start.sh": "#!/bin/sh\n# curl is not needed here\nexec python -m app.main\n"}, None, 'CMD ["./start.sh"]',
     True),
    ({"start.sh": "#!/bin/sh\ncurl -sf http://db || true\nexec python -m app.main\n"}, None, 'CMD ["./start.sh"]',
     False),
    # The app's own code starting git (a real build: FileNotFoundError: 'git'); a mere string is no call.
    ({"app/vcs.py": 'import subprocess\nsubprocess.run(["git", "--version"])\n'}, None,
     'CMD ["python", "-m", "app.main"]', False),
    ({"app/vcs.py": 'import subprocess\nSOURCE = "git"\nsubprocess.run(["python", "-V"])\n'}, None,
     'CMD ["python", "-m", "app.main"]', True),
])
def test_multi_stage_slim_runtime_and_the_programs_the_app_runs(tmp_path, files, lock_package, command, slim):
    lock = LOCK_1_8 if lock_package is None else LOCK_1_8.replace(
        "[metadata]", f'[[package]]\nname = "{lock_package}"\nversion = "3.1.43"\n\n[metadata]')
    make_project(tmp_path, lock=lock, files={**NO_VENV, **files})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    source = source.replace("COPY app ./app\n", "COPY . .\n") + f"{command}\n"
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert ("FROM python:3.11-slim AS runtime" in output) == slim, output


@pytest.mark.parametrize("shell", ['CMD ["tini", "--", "bash", "-o", "pipefail", "-lc", "python -m app.main"]\n',
                                   'CMD ["bash", "-eo", "pipefail", "-lc", "python -m app.main"]\n',
                                   'SHELL ["/bin/bash", "-lc"]\nCMD python -m app.main\n',
                                   'CMD ["bash", "-lc", "python -m app.main"]\n',
                                   'ENTRYPOINT ["/bin/bash", "--login", "-c"]\nCMD ["python -m app.main"]\n'])
def test_a_login_shell_keeps_the_venv_off_its_path(tmp_path, shell):
    """/etc/profile resets PATH in a login shell: `web-cli: command not found` on the runtime (real builds), and
    a converted `virtualenvs.create false` gave the system `python` without the dependencies."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + shell
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("login shell" in note for note in notes(result))
    source = SPLIT_INPUT.replace("RUN pip install poetry==1.8.5\n",
                                 "RUN pip install poetry==1.8.5 && poetry config virtualenvs.create false\n") + shell
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("login shell" in note for note in notes(result))


def test_multi_stage_puts_the_venv_first_on_a_path_the_file_sets_again(tmp_path):
    """`ENV PATH="/usr/local/bin:$PATH"` carried after the venv's PATH made `python` the system one; `poetry run`
    had put the venv first (a QA round's suspicion; the fixed rewrite built and ran)."""
    make_project(tmp_path)
    for before, after in [('ENV PATH="/usr/local/bin:$PATH"\n', ""), ("", 'ENV PATH="/usr/local/bin:$PATH"\n')]:
        # Before the install (carried), or after it (a review found that one missed).
        source = SPLIT_INPUT.replace("WORKDIR /app\n", f"ENV POETRY_VIRTUALENVS_IN_PROJECT=1\n{before}WORKDIR /app\n") + \
            f'{after}CMD ["poetry", "run", "python", "-m", "app.main"]\n'
        output, _ = fix(tmp_path, source, select=["multi-stage"])
        runtime = output.split(" AS runtime")[1]
        assert runtime.index('ENV PATH="/usr/local/bin:$PATH"') < runtime.rindex('ENV PATH="/app/.venv/bin:$PATH"')
        assert runtime.rindex('ENV PATH="/app/.venv/bin:$PATH"') < runtime.index("CMD"), output
        again, _ = fix(tmp_path, output, select=["multi-stage"])
        assert again == output


@pytest.mark.parametrize(("setting", "files"), [
    ("ENV POETRY_VIRTUALENVS_OPTIONS_SYSTEM_SITE_PACKAGES=true\n", {}),
    ("RUN poetry config virtualenvs.options.system-site-packages true\n", {}),
    ("COPY poetry.toml ./\n", {"poetry.toml": "[virtualenvs]\noptions.system-site-packages = true\n"}),
])
def test_multi_stage_keeps_a_venv_that_sees_the_system_site_packages(tmp_path, setting, files):
    """Such a venv imported requests from the builder's system (pip put it there with Poetry); the slim runtime has
    none (a real build: No module named 'requests')."""
    make_project(tmp_path, files=files)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n{setting}")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("system site-packages" in n for n in notes(result)), notes(result)


def test_multi_stage_keeps_onbuild_triggers_in_the_final_image(tmp_path):
    """ONBUILD stayed in the builder: an image built FROM the rewrite no longer got `/app/plugins` (a real build)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
                                 "ONBUILD COPY plugins/ /app/plugins/\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("ONBUILD" in n for n in notes(result))


@pytest.mark.parametrize(("readme", "copies", "runtime"), [
    # The article's stand-in: an empty README touched in the project folder (a review found it refused).
    ("README.md", "COPY pyproject.toml poetry.lock ./\nRUN touch README.md\n", True),
    ('./README.md', "COPY pyproject.toml poetry.lock README.md ./\n", True),  # the same file, spelled with ./
    ("README.md", "COPY pyproject.toml poetry.lock ./\nCOPY ./*.md ./\n", True),  # a ./ glob (a review found it)
    # `*.md` matches within one folder: docs/README.md is not copied (a review found it counted).
    ("docs/README.md", "COPY pyproject.toml poetry.lock *.md ./\n", False),
    ("README.md", "COPY pyproject.toml poetry.lock ./\nCOPY README.md /tmp/\n", False),  # copied elsewhere
])
def test_multi_stage_and_the_readme_the_root_install_needs(tmp_path, readme, copies, runtime):
    pyproject = CLASSIC.replace('readme = "README.md"', f'readme = "{readme}"') + \
        '\n[tool.poetry.scripts]\napp-cli = "app.main:run"\n'
    make_project(tmp_path, pyproject=pyproject, files={"docs/README.md": "# docs\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
              f"{copies}RUN poetry install --only main --no-root\nCOPY app ./app\nRUN poetry install --only main\n"
              'CMD ["poetry", "run", "app-cli"]\n')
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == runtime, (output, notes(result))


def test_multi_stage_carries_a_copy_from_another_image_into_the_runtime(tmp_path):
    """`COPY --from=<image> /wait /wait` before the install stayed in the builder: the runtime's `CMD /wait && …`
    died with `/bin/sh: 1: /wait: not found` (a real build)."""
    make_project(tmp_path)
    copy = "COPY --from=ghcr.io/ufoscout/docker-compose-wait:2.12.1 /wait /wait\n"
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{copy}ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert copy in output.split(" AS runtime")[1], output


@pytest.mark.parametrize("copy", ["COPY --from=tools:1 /wait ./\n", 'COPY --from=tools:1 ["/wait", "wait"]\n'])
def test_multi_stage_stays_single_stage_for_a_relative_copy_from_another_image_elsewhere(tmp_path, copy):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{copy}ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("relative to WORKDIR" in note for note in notes(result))


@pytest.mark.parametrize("copy", ["COPY . /app\n", 'COPY [".", "/app"]\n',
                                  "COPY pyproject.* poetry.lock /app/\nCOPY app /app/app\n"])
def test_multi_stage_refuses_a_pyproject_toml_the_install_finds_elsewhere(tmp_path, copy):
    """Copied to /app while the install runs in /app/src, or to /opt/build and installed there with --directory:
    the venv is not in the WORKDIR the runtime would copy it from (a review found the second regress)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    for copies, install in [(f"{copy}WORKDIR /app/src\n", "poetry install --only main"),
                            ("WORKDIR /app\nCOPY pyproject.toml poetry.lock /opt/build/\n",
                             "poetry install --no-root --directory /opt/build")]:
        source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\n"
                  f"{copies}RUN {install}\nCMD [\"python\", \"-m\", \"app.main\"]\n")
        output, result = fix(tmp_path, source, select=["multi-stage"])
        assert output == source and any("pyproject.toml is copied to" in n for n in notes(result)), output


@pytest.mark.parametrize("copy", ["COPY . /app\n", 'COPY [".", "/app"]\n',
                                  "COPY pyproject.* poetry.lock /app/\nCOPY app /app/app\n"])
def test_multi_stage_looks_for_the_venv_beside_pyproject_toml_not_in_the_workdir(tmp_path, copy):
    """`COPY . /app` then `WORKDIR /app/src`: Poetry finds /app/pyproject.toml and makes /app/.venv; the runtime
    copied /app/src/.venv and the build failed (`"/app/src/.venv" not found`, a real build). The exec form and a
    glob bring it too."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\n"
              f"{copy}WORKDIR /app/src\nRUN poetry install --only main\n"
              'CMD ["python", "-m", "app.main"]\n')
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source
    assert any("pyproject.toml is copied to /app, not to the WORKDIR /app/src" in note for note in notes(result))


@pytest.mark.parametrize("copies", ["COPY . /app\nWORKDIR /app/src\n",
                                    # The nearest at or above the WORKDIR, not the last copied.
                                    "WORKDIR /app\nCOPY pyproject.toml poetry.lock ./\nCOPY . /srv/src\n"])
def test_poetry_env_puts_the_venv_beside_pyproject_toml_on_path(tmp_path, copies):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry config virtualenvs.create false\n"
              f"{copies}RUN poetry install --only main\n")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert "VIRTUAL_ENV=/app/.venv" in output and 'PATH="/app/.venv/bin:$PATH"' in output, output


def test_multi_stage_never_leaves_poetry_inside_a_shell_script_command():
    from poetry_docker_fix.transforms.multi_stage import _calls_poetry

    assert _calls_poetry(['CMD ["sh", "-c", "alembic upgrade head && poetry run python -m app"]'])
    assert _calls_poetry(['CMD ["sh", "-c", "/opt/poetry/bin/poetry install"]'])
    assert _calls_poetry(["CMD poetry run alembic upgrade head && poetry install"])
    assert not _calls_poetry(['CMD ["sh", "-c", "python -m app --name poetry-docs"]'])


@pytest.mark.parametrize("command", ["CMD poetry run -- python -m app.main", 'CMD ["poetry", "run", "--", "app"]',
                                     "HEALTHCHECK CMD poetry run -- python -m app.health\nCMD python -m app.main",
                                     "CMD poetry run python -m app.main && poetry install",
                                     "CMD poetry run python -m app.main && /opt/poetry/bin/poetry show",
                                     "CMD $(poetry env info --path)/bin/python -m app.main"])
def test_multi_stage_keeps_a_shell_command_that_runs_poetry_itself_single_stage(tmp_path, command):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace('CMD ["poetry", "run", "python", "-m", "app.main"]', command)
    output, result = fix(tmp_path, source)
    assert " AS runtime" not in output
    assert any("uses Poetry beyond `poetry run`" in note for note in notes(result))


def test_split_install_says_why_when_the_manifests_come_in_with_a_folder(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY services/worker/ .\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["split-install"])
    assert output == source
    assert any("no COPY brings pyproject.toml and poetry.lock alone" in note and "at line 4" in note
               for note in notes(result))


# --- narrow-copy -----------------------------------------------------------------------------------------
def test_a_readme_in_a_folder_is_copied_where_pyproject_toml_says_it_is(tmp_path):
    """`readme = "docs/README.md"`: copied to ./ it would be /app/README.md, and the root install (an error
    from Poetry 2.0) looks for /app/docs/README.md."""
    pyproject = CLASSIC.replace('readme = "README.md"', 'readme = ["docs/README.md", "CHANGES.md"]')
    make_project(tmp_path, pyproject=pyproject, lock=LOCK_2_5, files={"docs/README.md": "# x", "CHANGES.md": "",
                                                                      "docs/index.md": ""})
    (tmp_path / "README.md").unlink(missing_ok=True)
    output, result = fix(tmp_path, NAIVE)
    assert "COPY docs/README.md ./docs/\nCOPY CHANGES.md ./\n" in output, output
    assert "COPY docs/README.md ./\n" not in output
    again, _ = fix(tmp_path, output)
    assert again == output


PEP621_LICENSED = """\
[project]
name = "app"
version = "0.1.0"
readme = "README.md"
license = {file = "%s"}
requires-python = ">=3.11"
dependencies = ["six"]

[tool.poetry]
packages = [{include = "app"}]
"""


@pytest.mark.parametrize(("license_file", "copied"), [
    ("LICENSE", "COPY pyproject.toml poetry.lock LICENSE ./\n"),
    ("legal/LICENSE.txt", "COPY pyproject.toml poetry.lock ./\nCOPY legal/LICENSE.txt ./legal/\n"),
])
def test_the_license_file_poetry_2_reads_to_load_the_project_goes_with_the_manifests(tmp_path, license_file,
                                                                                    copied):
    """`[project] license = {file = …}`: Poetry 2 reads it whenever it loads the project, so the dependency
    install (with only the manifests copied) would stop at `license file … not found`."""
    make_project(tmp_path, pyproject=PEP621_LICENSED % license_file, lock=LOCK_2_5,
                 files={license_file: "MIT", "app/__init__.py": "", "app/main.py": ""})
    output, _ = fix(tmp_path, NAIVE)
    assert copied in output, output
    assert "poetry install" in output.split(copied)[1].splitlines()[0]  # the dependency install comes right after
    # A folder holding only the license needs no `COPY . .`: the whole rewrite goes through.
    assert "COPY . ." not in output and license_file not in output.split(" AS runtime")[1]  # the runtime needs none
    again, _ = fix(tmp_path, output)
    assert again == output


@pytest.mark.parametrize(("globs", "files", "copied"), [
    ('["LICENSES/*.txt"]', {"LICENSES/MIT.txt": "MIT"}, "COPY LICENSES/MIT.txt ./LICENSES/\n"),
    ('["LICENSE"]', {"LICENSE": "MIT"}, "COPY README.md LICENSE ./\n"),
])
def test_pep_639_license_files_are_there_for_the_root_install(tmp_path, globs, files, copied):
    """Building the project fails when a `license-files` glob matches nothing (`No files found for license file
    glob pattern`, a real build showed it): the files go in before the root install, like the README."""
    pyproject = (PEP621_LICENSED % "x").replace('license = {file = "x"}', f'license = "MIT"\nlicense-files = {globs}')
    make_project(tmp_path, pyproject=pyproject, lock=LOCK_2_5,
                 files={**files, "app/__init__.py": "", "app/main.py": ""})
    output, _ = fix(tmp_path, NAIVE)
    assert copied in output, output
    before_root = output.split("poetry install --only-root")[0]
    assert copied in before_root and "COPY . ." not in output
    assert all(name not in output.split(" AS runtime")[1] for name in files)
    again, _ = fix(tmp_path, output)
    assert again == output


def test_a_license_file_ignored_by_dockerignore_is_not_copied(tmp_path):
    make_project(tmp_path, pyproject=PEP621_LICENSED % "LICENSE", lock=LOCK_2_5,
                 files={"LICENSE": "MIT", ".dockerignore": "LICENSE\n", "app/__init__.py": ""})
    output, _ = fix(tmp_path, NAIVE)
    assert "COPY pyproject.toml poetry.lock ./\n" in output and "LICENSE" not in output


@pytest.mark.parametrize(("lock", "split"), [(LOCK_2_5, False), (LOCK_1_8, True)])
def test_split_install_leaves_a_license_copied_with_the_code_where_poetry_2_reads_it(tmp_path, lock, split):
    make_project(tmp_path, pyproject=PEP621_LICENSED % "LICENSE", lock=lock,
                 files={**NO_VENV, "LICENSE": "MIT", "app/__init__.py": ""})
    source = ("FROM python:3.11\nRUN pip install poetry\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
              "COPY . .\nRUN poetry install\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert (output != source) == split
    if not split:
        assert any("names its license file LICENSE, which Poetry 2.5.1 reads before any install" in note
                   for note in notes(result))


def test_a_lock_that_dockerignore_leaves_out_is_not_copied(tmp_path):
    """COPY of a file the build context does not hold fails the build (`"/poetry.lock" not found`)."""
    make_project(tmp_path, files={".dockerignore": "poetry.lock\n.venv\n"})
    output, _ = fix(tmp_path, NAIVE)
    assert "COPY pyproject.toml ./\n" in output and "poetry.lock" not in output
    again, _ = fix(tmp_path, output)
    assert again == output


FLAT_621 = """\
[project]
name = "flat"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["six"]

[tool.poetry]
package-mode = false
"""
FLAT_DOCKERFILE = NAIVE.replace('CMD ["poetry", "run", "python", "-m", "app.main"]', 'CMD ["python", "app.py"]')
NO_PACKAGE = {"app/__init__.py": None, "app/main.py": None}  # make_project's default package: not in a flat app


def test_narrow_copy_copies_a_package_the_app_imports_even_named_docs(tmp_path):
    """`from docs import TEXT` with no other local module: the import scan used to skip names like `docs`,
    and the image failed with ModuleNotFoundError (a real build showed it)."""
    make_project(tmp_path, pyproject=FLAT_621, lock=LOCK_2_5,
                 files={"app.py": "from docs import TEXT\nprint(TEXT)\n", "docs/__init__.py": "TEXT = 1\n",
                        ".dockerignore": ".venv\n", **NO_PACKAGE})
    output, _ = fix(tmp_path, FLAT_DOCKERFILE, select=["narrow-copy"])
    assert "COPY docs ./docs" in output and "COPY . ." not in output, output


@pytest.mark.parametrize(("files", "code"), [
    ({"notes.md": "x"}, 'print(open("notes.md").read())'),
    ({"docs/help.txt": "x"}, 'from pathlib import Path\nprint(Path("docs/help.txt").read_text())'),
    ({"LICENSE": "MIT"}, 'print(open("LICENSE").readline())'),
    ({".env.example": "A=1"}, "print(open('.env.example').read())"),
    ({"docs/x.md": ""}, 'from pathlib import Path\nprint((Path(__file__).parent / "docs").exists())'),
    # From inside a package, the natural spelling (a real build failed: FileNotFoundError '/app/web/../CHANGELOG.md').
    ({"CHANGELOG.md": "x"}, 'from pathlib import Path\nprint((Path(__file__).parent / "../CHANGELOG.md").exists())'),
    ({"docs/help.txt": ""}, 'BASE = "/app"\nprint(open(f"{BASE}/docs/help.txt").read())'),
])
def test_narrow_copy_keeps_what_the_app_reads_even_with_a_name_an_image_rarely_needs(tmp_path, files, code):
    """The app's code names the file: dropping it made the rewrite fail at run time (FileNotFoundError, real
    builds showed it). `COPY . .` stays for it, and the reason names the file that reads it."""
    make_project(tmp_path, pyproject=FLAT_621, lock=LOCK_2_5,
                 files={"app.py": code + "\n", ".dockerignore": ".venv\n", **NO_PACKAGE, **files})
    output, result = fix(tmp_path, FLAT_DOCKERFILE, select=["narrow-copy"])
    assert "COPY . ." in output
    name = next(iter(files)).split("/")[0]
    assert any(f"which app.py names" in change.reason and name in change.reason
               for outcome in result.outcomes for change in outcome.changes)


def test_narrow_copy_is_not_fooled_by_a_url_path(tmp_path):
    make_project(tmp_path, pyproject=FLAT_621, lock=LOCK_2_5,
                 files={"app.py": 'DOCS_URL = "/docs"\nprint(DOCS_URL)\n', "docs/index.md": "", "tests/t.py": "",
                        ".dockerignore": ".venv\n", **NO_PACKAGE})
    output, _ = fix(tmp_path, FLAT_DOCKERFILE, select=["narrow-copy"])
    assert "COPY . ." not in output and "COPY app.py ./" in output


@pytest.mark.parametrize(("code", "runtime_copy"), [
    ('import tomllib\nprint(tomllib.load(open("pyproject.toml", "rb"))["tool"]["poetry"]["version"])',
     "COPY pyproject.toml poetry.lock ./"),
    ('from pathlib import Path\nprint((Path(__file__).resolve().parents[1] / "README.md").read_text())',
     "COPY README.md ./"),
])
def test_the_runtime_stage_gets_the_manifests_or_readme_the_app_reads(tmp_path, code, runtime_copy):
    """Reading the version from pyproject.toml at run time is common: the runtime stage left it in the builder,
    and the rewrite failed with FileNotFoundError (a real build showed it)."""
    make_project(tmp_path, files={"app/main.py": code + "\n", ".dockerignore": ".venv\n"})
    output, _ = fix(tmp_path, NAIVE)
    runtime = output.split(" AS runtime")[1]
    assert runtime_copy in runtime, output
    again, _ = fix(tmp_path, output)
    assert again == output


def test_narrow_copy_adds_no_workdir_where_the_parent_stage_set_one(tmp_path):
    """`FROM python AS poetry` under a stage with `WORKDIR /srv`: the copy is in /srv, not at the root. An added
    `WORKDIR /app` moved the code away from where the runtime stage copies it from (a real build of a corpus
    file failed with `can't open file '/srv/app.py'`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = ("FROM python:3.11-slim AS python\nWORKDIR /srv\n\nFROM python AS poetry\nRUN pip install poetry\n"
              "COPY . ./\nRUN poetry install\n\nFROM python AS runtime\nCOPY --from=poetry /srv /srv\n"
              'CMD ["python", "-m", "app.main"]\n')
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "WORKDIR /app" not in output and "COPY pyproject.toml poetry.lock ./" in output


@pytest.mark.parametrize(("entrypoint", "narrowed"), [
    ('ENTRYPOINT ["docker-entrypoint.sh"]', True),  # run from PATH, where the first COPY put it
    ('ENTRYPOINT ["sh", "docker-entrypoint.sh"]', False),  # read in the WORKDIR, from `COPY . .`
    ('ENTRYPOINT ["./docker-entrypoint.sh"]', False),
])
def test_narrow_copy_places_a_script_already_copied_onto_path(tmp_path, entrypoint, narrowed):
    make_project(tmp_path, files={"docker-entrypoint.sh": '#!/bin/sh\nexec "$@"\n', ".dockerignore": ".venv\n"})
    source = NAIVE.replace("WORKDIR /app\n", "COPY docker-entrypoint.sh /usr/local/bin/\nWORKDIR /app\n").replace(
        'CMD ["poetry", "run", "python", "-m", "app.main"]', entrypoint)
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert ("COPY . ." not in output) == narrowed, output


def test_narrow_copy_fixes(tmp_path):
    make_project(tmp_path, files={"tests/test_x.py": "", "docs/index.md": "", ".gitignore": "x"})
    output, _ = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert output.splitlines()[3:7] == [
        "COPY pyproject.toml poetry.lock ./", "COPY README.md ./", "COPY app ./app", "RUN poetry install"]


def test_narrow_copy_follows_imports_of_the_entrypoint(tmp_path):
    make_project(tmp_path, pyproject='[project]\nname = "x"\nversion = "1"\n[tool.poetry]\npackage-mode = false\n',
                 files={"app/__init__.py": None, "app/main.py": None, "README.md": None,
                        "app.py": "import helpers\nfrom lib.format import f\nimport os\n",
                        "helpers.py": "", "lib/__init__.py": "", "lib/format.py": "from . import x\n",
                        "unused_dir/readme.md": None})
    source = NAIVE.replace('"-m", "app.main"', '"app.py"')
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY app.py helpers.py ./" in output and "COPY lib ./lib" in output
    assert "COPY README.md" not in output  # package-mode = false: no root install, no README needed


def test_narrow_copy_reads_only_modules_that_could_import_a_top_level_script(tmp_path, monkeypatch):
    # A Django-style layout: the app package plus a top-level manage.py. Only a module that spells a top-level
    # module's name can import it, so libcst reads none here (it used to read the whole package) ...
    modules = {f"app/mod{i}.py": f"from app import mod{i + 1}\nimport os\n" for i in range(50)}
    make_project(tmp_path, files={**NO_VENV, **modules, "manage.py": "import app\n"})
    monkeypatch.setitem(__import__("sys").modules, "libcst", None)  # importing it now would raise
    _, result = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert "manage.py, which the tool cannot tell the app does not need" in result.outcomes[0].changes[0].reason
    # ... and the one module that does import it still brings it into the image.
    monkeypatch.undo()
    (tmp_path / "app" / "mod7.py").write_text("from manage import setup\n")
    output, _ = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert "COPY manage.py ./" in output and "COPY . ." not in output


def test_narrow_copy_keeps_broad_copy_for_unknown_entries(tmp_path):
    make_project(tmp_path, files={**NO_VENV, "templates/page.html": "<p>", "settings.yaml": "a: 1"})
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert output.splitlines()[3:5] == ["COPY pyproject.toml poetry.lock ./", "COPY . ."]
    reason = result.outcomes[0].changes[0].reason
    assert "settings.yaml" in reason and "templates/" in reason


@pytest.mark.parametrize(("files", "kept_for"), [
    ({"docker/Dockerfile": "FROM python:3.11\n", "docker/compose.yaml": "services: {}\n"}, None),
    ({"env311/pyvenv.cfg": "home = /usr\n", "env311/lib/x.py": ""}, None),  # a virtualenv under any name
    ({"docker/Dockerfile": "FROM python:3.11\n", "docker/entrypoint.sh": "exec \"$@\"\n"}, "docker/"),
    ({"dist/app-0.1.0-py3-none-any.whl": "", "dist/app-0.1.0.tar.gz": ""}, None),  # `poetry build` output
    ({"build/lib/app/__init__.py": "", "build/bdist.linux-x86_64/x": ""}, None),
    ({"dist/index.html": "<html>", "dist/app.js": ""}, "dist/"),  # a built frontend the app serves
])
def test_narrow_copy_leaves_out_folders_the_image_never_needs(tmp_path, files, kept_for):
    make_project(tmp_path, files={**NO_VENV, **{name: text for name, text in files.items() if text is not None}})
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"])
    if kept_for is None:
        assert "COPY . ." not in output
    else:
        assert "COPY . ." in output and kept_for in result.outcomes[0].changes[0].reason


def test_narrow_copy_keeps_an_empty_folder_the_app_may_write_to(tmp_path):
    make_project(tmp_path, files=NO_VENV)
    (tmp_path / "uploads").mkdir()
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert "COPY . ." in output and "uploads/" in result.outcomes[0].changes[0].reason


def test_narrow_copy_reads_the_dockerfiles_own_ignore_file_instead_of_dockerignore(tmp_path):
    # BuildKit reads Dockerfile.dockerignore, when there is one, instead of .dockerignore.
    from poetry_docker_fix.refactor.runner import Request, process

    make_project(tmp_path, files={".dockerignore": ".git\n", "data/x.csv": "1", "Dockerfile": NAIVE})
    assert "COPY . ." in process(tmp_path / "Dockerfile", Request()).refactoring.output  # data/ is in the context
    (tmp_path / "Dockerfile.dockerignore").write_text("data\n")
    assert "COPY . ." not in process(tmp_path / "Dockerfile", Request()).refactoring.output  # now it is not


@pytest.mark.parametrize(("extra", "copied", "files"), [
    (".env", "COPY .env ./", {".env": "A=1\n"}),  # was read as `env`
    ("./config/", "COPY config ./config", {"config/app.yaml": "a: 1\n"}),
    ("config/app.yaml", "COPY config ./config", {"config/app.yaml": "a: 1\n"}),
])
def test_narrow_copy_extra_copy_paths_as_written(tmp_path, extra, copied, files):
    make_project(tmp_path, files=files)
    output, _ = fix(tmp_path, NAIVE, select=["narrow-copy"], extra_copy=(extra,))
    assert copied in output and "COPY . ." not in output


def test_narrow_copy_names_the_whole_missing_extra_copy_path(tmp_path):
    make_project(tmp_path, files={"does/exist.txt": "x"})
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"], extra_copy=("does/not/exist",))
    assert output == NAIVE
    assert notes(result)[0].startswith("warning: line 4: extra-copy names does/not/exist, which is not in the build")


@pytest.mark.parametrize("reference", ['ENTRYPOINT ["/start.sh"]', "CMD python /app/main.py",
                                       'HEALTHCHECK CMD ["/bin/sh", "-c", "test -f /README.md"]'])
def test_narrow_copy_adds_no_workdir_when_the_image_reads_the_copy_at_the_root(tmp_path, reference):
    # `COPY . .` without WORKDIR puts the context at /; a WORKDIR /app would move /start.sh to /app/start.sh.
    make_project(tmp_path, files={"start.sh": "exec python -m app.main\n"})
    source = NAIVE.replace("WORKDIR /app\n", "").replace('CMD ["poetry", "run", "python", "-m", "app.main"]', reference)
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert output == source and any("is read at the image root" in note for note in notes(result))


@pytest.mark.parametrize("code", ['open("/data/peaks.txt")', "Path('/data')", 'CONFIG = "/app/settings.toml"',
                                  # A default path is a file, not a route (a review found `.get(` taken for one).
                                  'CONFIG = os.environ.get("APP_CONFIG", "/data/peaks.txt")'])
def test_narrow_copy_adds_no_workdir_when_the_app_code_reads_the_copy_at_the_root(tmp_path, code):
    """`COPY . .` without WORKDIR puts data/ at /data, which the app opens by that path: a WORKDIR /app moved it
    to /app/data (a real build failed with FileNotFoundError; the original and this rewrite print the same)."""
    make_project(tmp_path, files={"data/peaks.txt": "8091\n", "app/settings.py": f"{code}\n",
                                  "settings.toml": "a = 1\n"})
    source = NAIVE.replace("WORKDIR /app\n", "")
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert output == source and any("at the image root" in note and "app/settings.py reads" in note
                                    for note in notes(result))


def test_narrow_copy_still_adds_workdir_when_root_paths_are_not_the_contexts(tmp_path):
    # Not files: other folders of the image, and URL routes that happen to spell a top-level entry.
    make_project(tmp_path, files={**NO_VENV, "app/paths.py": 'TMP = "/tmp/x"\nETC = "/etc/app.conf"\n'
                                                  'api = FastAPI(docs_url="/docs")\n@router.get("/app/{id}")\n'
                                                  'app.mount("/static", StaticFiles(directory="static"))\n',
                                  "docs/index.md": "", "static/site.css": ""})
    source = NAIVE.replace("WORKDIR /app\n", "").replace('CMD ["poetry", "run", "python", "-m", "app.main"]',
                                                           'CMD ["/usr/local/bin/python", "-m", "app.main"]')
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "WORKDIR /app" in output


@pytest.mark.parametrize(("step", "kept_for"), [
    ("RUN poetry run pytest", "tests/"),  # pytest finds tests/ by itself
    ("RUN python -m pytest -q && make lint", "Makefile"),
    ('CMD ["make", "serve"]', "Makefile"),
    ("RUN cp docs/banner.txt /etc/motd", "docs/"),  # named outright
    ('RUN ["python", "-m", "pytest"]', "tests/"),  # exec form
    ('CMD ["sh", "-c", "pytest -q && python -m app.main"]', "tests/"),
    ("HEALTHCHECK --interval=30s \\\n    CMD make health", "Makefile"),
])
def test_narrow_copy_keeps_what_a_later_build_step_reads(tmp_path, step, kept_for):
    # Tests, docs and a Makefile are not needed to *run* the app, but a step after the install may read them:
    # narrowing the COPY then breaks the build.
    make_project(tmp_path, files={**NO_VENV, "tests/test_x.py": "def test():\n    pass\n",
                                  "Makefile": "lint:\n\ttrue\n", "docs/banner.txt": "hi\n"})
    source = NAIVE.replace("RUN poetry install\n", f"RUN poetry install\n{step}\n")
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY . ." in output and kept_for in result.outcomes[0].changes[0].reason


@pytest.mark.parametrize("install", ["RUN poetry install && poetry run pytest", "RUN make deps && poetry install"])
def test_narrow_copy_keeps_what_the_install_run_itself_reads(tmp_path, install):
    _keeps_what_the_install_reads(tmp_path, install)


@pytest.mark.parametrize("step", ["RUN poetry build -f wheel", "RUN poetry install --no-root && poetry build",
                                  "RUN pip wheel --no-deps -w dist .", "RUN python -m build"])
def test_narrow_copy_keeps_the_readme_for_a_build_of_the_project(tmp_path, step):
    """`poetry build` reads the README even when the install has --no-root (a real build: No such file or
    directory: '/app/README.md')."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace("RUN poetry install\n", f"RUN poetry install --no-root\n{step}\n")
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY . ." in output and "README.md" in result.outcomes[0].changes[0].reason, output


def _keeps_what_the_install_reads(tmp_path, install):
    make_project(tmp_path, files={"tests/test_x.py": "def test():\n    pass\n", "Makefile": "deps:\n\ttrue\n"})
    source = NAIVE.replace("RUN poetry install\n", f"{install}\n")
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY . ." in output


def test_narrow_copy_keeps_a_folder_of_markdown_the_app_reads(tmp_path):
    # Only Docker's own files make a folder droppable: prompts/*.md is data (a review found this).
    make_project(tmp_path, files={**NO_VENV, "prompts/system.md": "You are…", "prompts/user.md": "Hi"})
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert "COPY . ." in output and "prompts/" in result.outcomes[0].changes[0].reason


def test_narrow_copy_adds_no_workdir_when_an_env_before_the_copy_names_a_root_path(tmp_path):
    make_project(tmp_path, files={"config/app.yaml": "a: 1\n"})
    source = NAIVE.replace("WORKDIR /app\n", "ENV APP_CONFIG=/config/app.yaml\n")
    output, result = fix(tmp_path, source, select=["narrow-copy"], extra_copy=("config",))
    assert output == source and any("is read at the image root" in note for note in notes(result))


DYNAMIC = CLASSIC + "\n[tool.poetry-dynamic-versioning]\nenable = true\n"


@pytest.mark.parametrize(("pyproject", "step", "why"), [
    (DYNAMIC, "", "poetry-dynamic-versioning takes"),
    (CLASSIC + '\n[build-system]\nrequires = ["poetry-core", "setuptools_scm>=8"]\n', "", "setuptools-scm takes"),
    (CLASSIC + "\n[tool.setuptools_scm]\n", "", "setuptools-scm takes"),
    (CLASSIC + '\n[tool.poetry-version-plugin]\nsource = "git-tag"\n', "", "poetry-version-plugin takes"),
    (DYNAMIC.replace("[tool.poetry.dependencies]", '[tool.poetry.requires-plugins]\n'
                     'poetry-dynamic-versioning = { version = ">=1", extras = ["plugin"] }\n\n'
                     "[tool.poetry.dependencies]"), "", "poetry-dynamic-versioning takes"),
    (CLASSIC, "RUN git describe --tags > VERSION\n", "a later step runs git"),
    (CLASSIC, "RUN sh -c 'git describe --tags > VERSION'\n", "a later step runs git"),
    (CLASSIC, "RUN echo $(git rev-parse HEAD) > REVISION\n", "a later step runs git"),
    (CLASSIC, 'RUN ["bash", "-lc", "git -C /app log -1 > LAST"]\n', "a later step runs git"),
    (CLASSIC, "RUN poetry version $(dunamai from git)\n", "a later step runs dunamai"),
])
def test_narrow_copy_keeps_git_when_the_build_reads_it(tmp_path, pyproject, step, why):
    # The version comes from git tags, or a step runs git: without .git the build fails or writes 0.0.0.
    make_project(tmp_path, pyproject=pyproject, files={**NO_VENV, ".git/HEAD": "ref: refs/heads/main\n"})
    source = NAIVE.replace("RUN poetry install\n", f"RUN poetry install\n{step}")
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    reason = result.outcomes[0].changes[0].reason
    assert "COPY . ." in output and ".git/, which the build reads" in reason and why in reason


@pytest.mark.parametrize(("pyproject", "step"), [
    (CLASSIC, "RUN pip download git\n"),
    (CLASSIC, "RUN git clone https://example.com/assets.git /opt/assets\n"),
    (CLASSIC, 'RUN git config --global url."https://x@github.com/".insteadOf "https://github.com/"\n'),
    (CLASSIC, "RUN --mount=type=bind,source=.git,target=.git git describe --tags > VERSION\n"),
    (CLASSIC, "RUN pip install git+https://example.com/lib.git\n"),
    (CLASSIC, "RUN --mount=type=cache,target=/cache/git pip install -q six\n"),
    (CLASSIC, "FROM alpine/git AS docs\nRUN git log > /changes\n"),  # a stage that never sees the copy
    (DYNAMIC.replace("enable = true", "enable = false"), ""),  # opt-in, and off
    (CLASSIC + "\n[tool.poetry-dynamic-versioning]\n", ""),  # `enable` defaults to false
    (DYNAMIC + '\n[tool.poetry-dynamic-versioning.from-file]\nsource = "VERSION"\n', ""),
    (CLASSIC.replace("[tool.poetry.dependencies]", '[tool.poetry.requires-plugins]\n'
                     'poetry-dynamic-versioning = { version = ">=1", extras = ["plugin"] }\n\n'
                     "[tool.poetry.dependencies]"), ""),  # installed, never enabled
])
def test_narrow_copy_drops_git_when_nothing_reads_it(tmp_path, pyproject, step):
    make_project(tmp_path, pyproject=pyproject, files={".git/HEAD": "ref: refs/heads/main\n"})
    output, _ = fix(tmp_path, NAIVE.replace("RUN poetry install\n", f"RUN poetry install\n{step}"),
                    select=["narrow-copy"])
    assert "COPY . ." not in output


@pytest.mark.parametrize("given", ["ENV POETRY_DYNAMIC_VERSIONING_BYPASS=1.2.3\n",
                                   "ARG SETUPTOOLS_SCM_PRETEND_VERSION=1.2.3\n"])
def test_narrow_copy_drops_git_when_the_build_gives_the_version(tmp_path, given):
    make_project(tmp_path, pyproject=DYNAMIC + "\n[tool.setuptools_scm]\n",
                 files={".git/HEAD": "ref: refs/heads/main\n"})
    output, _ = fix(tmp_path, NAIVE.replace("WORKDIR /app\n", f"WORKDIR /app\n{given}"), select=["narrow-copy"])
    assert "COPY . ." not in output


def test_narrow_copy_names_git_plainly_when_a_build_tool_reads_the_whole_context(tmp_path):
    # `make` may read anything, .git among the rest: no claim that something runs git.
    make_project(tmp_path, files={**NO_VENV, ".git": "gitdir: /elsewhere/.git/worktrees/app\n",
                                  "Makefile": "all:\n\ttrue\n"})
    output, result = fix(tmp_path, NAIVE.replace("RUN poetry install\n", "RUN poetry install\nRUN make\n"),
                         select=["narrow-copy"])
    reason = result.outcomes[0].changes[0].reason
    assert "COPY . ." in output and "which the build reads" not in reason and ".git," in reason


def test_narrow_copy_drops_tests_and_docs_when_no_later_step_reads_them(tmp_path):
    make_project(tmp_path, files={"tests/test_x.py": "", "Makefile": "lint:\n\ttrue\n", "docs/index.md": ""})
    source = NAIVE.replace("RUN poetry install\n", "RUN poetry install\nRUN python -m compileall -q app\n")
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY . ." not in output


def test_narrow_copy_respects_dockerignore(tmp_path):
    make_project(tmp_path, files={"data/x.csv": "1", ".dockerignore": "data\n*.md\n"})
    output, _ = fix(tmp_path, NAIVE, select=["narrow-copy"])
    assert "COPY . ." not in output and "README.md" not in output


def test_narrow_copy_adds_workdir_for_copy_into_root(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nCOPY . .\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert output.splitlines()[1:3] == ["WORKDIR /app", "COPY pyproject.toml poetry.lock ./"]


def test_narrow_copy_absolute_destination_and_flags(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nWORKDIR /srv\nCOPY --chown=app:app . /srv\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY --chown=app:app pyproject.toml poetry.lock /srv/" in output
    assert "COPY --chown=app:app app /srv/app" in output


@pytest.mark.parametrize("source", [
    pytest.param("FROM python:3.11\nWORKDIR /app\nCOPY . /elsewhere\nRUN poetry install\n", id="other-dir"),
    pytest.param("FROM python:3.11\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\nRUN poetry install\n",
                 id="already-narrow"),
    pytest.param("FROM python:3.11\nWORKDIR /app\nCOPY --from=build . .\nRUN poetry install\n", id="from-stage"),
])
def test_narrow_copy_noop(tmp_path, source):
    make_project(tmp_path)
    output, _ = fix(tmp_path, source, select=["narrow-copy"])
    assert output == source


# --- poetry-env ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user_lines", [
    ("RUN useradd -m appuser\n", "USER appuser\n"),
    ("RUN useradd -m appuser\nUSER 1000:1000\n", ""),
])
def test_poetry_env_leaves_an_install_run_by_a_non_root_user_alone(tmp_path, user_lines):
    """WORKDIR makes /app root-owned and `COPY --chown` does not change it: with the in-project venv, a real build
    failed (`virtualenv: error: argument dest: the destination . is not write-able at /app`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    before, after = user_lines
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\n{before}WORKDIR /app\n"
              f"COPY --chown=appuser:appuser . .\n{after}RUN poetry install\n")
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source
    assert any("runs as USER" in note and "left alone" in note for note in notes(result))


@pytest.mark.parametrize("setup", ["WORKDIR /home/appuser\n",
                                   "WORKDIR /srv\nRUN poetry config virtualenvs.in-project true\n"])
def test_poetry_env_under_a_non_root_user_in_its_home_or_an_in_project_venv_goes_on(tmp_path, setup):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN useradd -m appuser\nUSER appuser\n{setup}"
              "COPY . .\nRUN poetry install\n")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert "POETRY_CACHE_DIR=/tmp/poetry_cache" in output or "POETRY_VIRTUALENVS_IN_PROJECT=1" in output


@pytest.mark.parametrize("env", ["", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\n"])
def test_poetry_env_overrides_a_poetry_toml_without_venv_and_puts_the_venv_on_path(tmp_path, env):
    """poetry.toml's `[virtualenvs] create = false` made a system install. POETRY_VIRTUALENVS_CREATE=1 moved the
    dependencies into /app/.venv while `python` stayed the system one: a real build failed with
    `ModuleNotFoundError: No module named 'click'`."""
    make_project(tmp_path, files={".dockerignore": ".venv\n", "poetry.toml": "[virtualenvs]\ncreate = false\n"})
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\n{env}WORKDIR /app\nCOPY . .\nRUN poetry install\n"
              'RUN python -c "import app"\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert "POETRY_VIRTUALENVS_CREATE=1" in output and "VIRTUAL_ENV=/app/.venv" in output
    assert 'PATH="/app/.venv/bin:$PATH"' in output
    assert "overrides poetry.toml" in result.outcomes[0].changes[0].reason
    again, _ = fix(tmp_path, output, select=["poetry-env"])
    assert again == output


def test_multi_stage_counts_a_poetry_toml_without_venv_as_a_system_install(tmp_path):
    make_project(tmp_path, files={".dockerignore": ".venv\n", "poetry.toml": "[virtualenvs]\ncreate = false\n"})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n").replace(
        "COPY pyproject.toml poetry.lock ./", "COPY pyproject.toml poetry.lock poetry.toml ./")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("system interpreter" in note for note in notes(result))


@pytest.mark.parametrize("runtime", [
    "COPY --from=builder /root/.cache/pypoetry/virtualenvs /root/.cache/pypoetry/virtualenvs\n"
    "COPY --from=builder /app /app\n",
    "COPY --from=builder /usr/local/lib/python3.11/site-packages /usr/local/lib/python3.11/site-packages\n",
])
def test_poetry_env_leaves_a_stage_another_stage_copies_from_alone(tmp_path, runtime):
    """An existing multi-stage file whose runtime takes the venv from Poetry's cache dir, or the system
    site-packages of a `virtualenvs.create false` builder: moving the dependencies into /app/.venv left it
    without them (real builds: "failed to walk …/root/.cache/pypoetry", `No module named 'click'`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = ("FROM python:3.11 AS builder\nRUN pip install poetry==1.8.5\nWORKDIR /app\n"
              "COPY pyproject.toml poetry.lock ./\n"
              "RUN poetry config virtualenvs.create false && poetry install --no-root\n"
              f"\nFROM python:3.11-slim\nWORKDIR /app\n{runtime}COPY app ./app\nCMD [\"python\", \"-m\", \"app.main\"]\n")
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("another stage copies files out of this one" in note for note in notes(result))


@pytest.mark.parametrize("pip", ["RUN pip install gunicorn==23.0.0\n",
                                 "RUN pip install --no-cache-dir -r requirements.txt\n"])
def test_poetry_env_keeps_a_system_install_beside_packages_pip_puts_there(tmp_path, pip):
    _system_install_beside(tmp_path, pip, kept=True)


@pytest.mark.parametrize("pip", ["RUN pip install -i https://mirror.example/simple poetry==1.8.5\n",
                                 "RUN pip install --index-url https://mirror.example/simple -c c.txt poetry\n",
                                 "RUN pip install poetry==1.8.5 poetry-plugin-export\n",
                                 "RUN pipx install pre-commit\n"])
def test_poetry_env_converts_beside_installs_of_poetry_and_its_plugins(tmp_path, pip):
    """Option values, Poetry's plugins and pipx's own venvs are no packages in the system (a review found them
    counted)."""
    _system_install_beside(tmp_path, pip, kept=False)


def _system_install_beside(tmp_path, pip, kept):
    """`RUN pip install gunicorn` + `virtualenvs.create false`: gunicorn stays in the system interpreter, which
    no longer saw the app's dependencies once they were in a virtualenv (a real build: No module named 'click')."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\n{pip}WORKDIR /app\nCOPY . .\n"
              "RUN poetry config virtualenvs.create false && poetry install --no-root\n"
              'CMD ["gunicorn", "app.wsgi:app"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert (output == source) == kept
    assert any("installs packages with pip into the system" in n for n in notes(result)) == kept


@pytest.mark.parametrize(("compose", "left_alone"), [
    ("services:\n  web:\n    build: .\n    volumes:\n      - .:/app\n", True),
    ("services:\n  web:\n    volumes:\n      - type: bind\n        source: .\n        target: /app\n", True),
    ("services:\n  web:\n    volumes:\n      - ./data:/app/data\n", False),  # not the source over the venv
    # Other spellings of the same mount (a review found them missed).
    ('services:\n  web:\n    volumes: [".:/app"]\n', True),
    ("services:\n  web:\n    volumes:\n      - ${PWD}:/app\n", True),
    ("services:\n  web:\n    volumes:\n      - type: bind\n        target: /app\n        source: .\n", True),
])
def test_poetry_env_and_a_compose_file_that_mounts_the_source(tmp_path, compose, left_alone):
    """`volumes: [".:/app"]`: the in-project /app/.venv is hidden by the mount (a real `docker run -v` of the
    rewrite: `web-cli: executable file not found`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n", "docker-compose.yml": compose})
    for env in ("", "ENV POETRY_VIRTUALENVS_IN_PROJECT=false\n"):  # set off, it would be turned on
        source = NAIVE.replace("WORKDIR /app\n", f"{env}WORKDIR /app\n")
        output, result = fix(tmp_path, source, select=["poetry-env"])
        assert (output == source) == left_alone, output
        assert any("mounts a volume over /app" in n for n in notes(result)) == left_alone


@pytest.mark.parametrize(("compose", "workdir", "left_alone"), [
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend:/app\n", "/app", True),
    ('services:\n  api:\n    build: ./backend\n    volumes: ["./backend/:/app:cached"]\n', "/app", True),
    ("services:\n  api:\n    volumes:\n      - type: bind\n        source: ./backend\n        target: /app\n", "/app",
     True),
    ("services:\n  api:\n    volumes:\n      - ${PWD}/backend:/app\n", "/app", True),
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend/data:/app/data\n", "/app", False),
    ("services:\n  web:\n    build: ./frontend\n    volumes:\n      - ./frontend:/app\n", "/app", False),  # not ours
    # A named volume over the project folder keeps the first image's .venv on later builds: stale dependencies.
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - backend:/app\nvolumes:\n  backend:\n", "/app", True),
    # What a review found missed: a mount over a folder above the venv, variables with defaults, flow long syntax.
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - .:/workspace\n", "/workspace/backend", True),
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend:/app\n", "/app/src", True),
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - ${BACKEND_SRC:-./backend}:/app\n", "/app", True),
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - {type: bind, source: ./backend, target: /app}\n",
     "/app", True),
    ("services:\n  api:\n    build: ./backend\n    volumes:\n      - ~/src/backend:/app\n", "/app", True),
])
def test_poetry_env_reads_a_compose_file_in_a_folder_above_the_context(tmp_path, compose, workdir, left_alone):
    """The monorepo layout: docker-compose.yml at the repository's root mounts `./backend` over /app, where the
    rewrite would put the virtualenv (`docker compose up` would lose the dependencies). Before, only the build
    context's own compose files were read."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "docker-compose.yml").write_text(compose)
    make_project(tmp_path / "backend", files=NO_VENV)
    source = NAIVE.replace("WORKDIR /app", f"WORKDIR {workdir}")
    output, result = fix(tmp_path / "backend", source, select=["poetry-env"])
    assert (output == source) == left_alone, output
    assert any("../docker-compose.yml mounts a volume over" in n for n in notes(result)) == left_alone


@pytest.mark.parametrize(("files", "left_alone"), [
    # An override file adds the mount to a service the main file builds from ./backend (a review found it missed).
    ({"docker-compose.yml": "services:\n  api:\n    build: ./backend\n",
      "docker-compose.override.yml": "services:\n  api:\n    volumes:\n      - ./backend:/app\n"}, True),
    ({"docker-compose.local.yml": "services:\n  api:\n    build: ./backend\n    volumes:\n      - ./backend:/app\n"},
     True),  # any compose file name, not a fixed list
    ({"docker-compose.yml": "services:\n  api:\n    extends:\n      file: common.yml\n      service: base\n",
      "common.yml": "services:\n  base:\n    build: ./backend\n    volumes:\n      - ./backend:/app\n"}, True),
    ({"docker-compose.yml": "x-api: &api\n  build: ./backend\n  volumes:\n    - ./backend:/app\n"
                            "services:\n  api:\n    <<: *api\n"}, True),  # an anchor merged into the service
    ({"docker-compose.yml": "services:\n  api:\n    build:\n      context: ./backend\n"
                            "      dockerfile: Dockerfile.dev\n    volumes:\n      - ./backend:/app\n"}, False),
])
def test_poetry_env_reads_every_compose_file_of_the_folder_that_names_the_context(tmp_path, files, left_alone):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    root = make_project(tmp_path / "backend", files=NO_VENV)
    context = Context(load_project(root, root / "Dockerfile"), Options())
    output = refactor(NAIVE, context, select_passes(["poetry-env"])).output
    assert (output == NAIVE) == left_alone, output


def test_poetry_env_reads_compose_files_above_a_repository_root_that_name_the_context(tmp_path):
    """A compose file above the repository's root that builds or mounts the context's folder is about it (a
    workspace compose file beside several clones; a submodule's parent)."""
    (tmp_path / "docker-compose.yml").write_text("services:\n  api:\n    volumes:\n      - ./repo/backend:/app\n")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    make_project(tmp_path / "repo" / "backend", files={**NO_VENV, ".git": "gitdir: ../../.git/modules/backend\n"})
    output, result = fix(tmp_path / "repo" / "backend", NAIVE, select=["poetry-env"])
    assert output == NAIVE and any("../../docker-compose.yml mounts a volume over /app" in n for n in notes(result))
    (tmp_path / "docker-compose.yml").write_text("services:\n  api:\n    volumes:\n      - ./elsewhere:/app\n")
    output, _ = fix(tmp_path / "repo" / "backend", NAIVE, select=["poetry-env"])
    assert output != NAIVE  # a compose file that does not name the folder is someone else's


def test_poetry_env_keeps_a_system_install_when_a_later_env_puts_the_system_first(tmp_path):
    """`ENV PATH="/usr/local/bin:$PATH"` after Poetry is installed: the venv's PATH, inserted before it, would come
    second, and `python` would stay the system one without the dependencies (a review found it)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV PATH=\"/usr/local/bin:$PATH\"\nWORKDIR /app\n"
              "COPY . .\nRUN poetry config virtualenvs.create false && poetry install\n"
              'CMD ["python", "-m", "app.main"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("sets PATH after Poetry is installed" in n for n in notes(result))


@pytest.mark.parametrize(("locked", "kept"), [(False, True), (True, False)])
def test_poetry_env_keeps_a_system_install_the_app_takes_poetrys_own_packages_from(tmp_path, locked, kept):
    """`import requests` without declaring it works beside Poetry in the system interpreter only (a real build of
    the converted rewrite: No module named 'requests'). Declared as main dependencies, the venv has them (only
    locked, through a dev group, they would not be: a review found that)."""
    lock = LOCK_1_8 if not locked else LOCK_1_8.replace(
        "[metadata]", '[[package]]\nname = "requests"\nversion = "2.32.3"\n\n'
                      '[[package]]\nname = "packaging"\nversion = "24.1"\n\n[metadata]')
    pyproject = CLASSIC if not locked else CLASSIC.replace('six = "*"', 'six = "*"\nrequests = "*"\npackaging = "*"')
    make_project(tmp_path, pyproject=pyproject, lock=lock,
                 files={".dockerignore": ".venv\n", "app/net.py": "import requests\nfrom packaging.version import Version\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
              'RUN poetry config virtualenvs.create false && poetry install\nCMD ["python", "-m", "app.main"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert (output == source) == kept
    if kept:
        assert any("app/net.py imports packaging, requests" in n for n in notes(result)), notes(result)


@pytest.mark.parametrize("copy", ["COPY deploy/supervisord.conf /etc/supervisord.conf\n",
                                  "COPY deploy/ /etc/supervisor/conf.d/\n"])
def test_poetry_env_keeps_a_system_install_a_copied_config_runs(tmp_path, copy):
    _system_program_in_a_config(tmp_path, copy)


def test_poetry_env_keeps_a_system_install_a_procfile_runs(tmp_path):
    """honcho runs the Procfile's `web: /usr/local/bin/app-cli`, which the converted venv would not have (a real
    build: `/usr/local/bin/web-cli: not found`)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n", "Procfile": "web: /usr/local/bin/app-cli\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
              'RUN poetry config virtualenvs.create false && poetry install --only main\nCMD ["honcho", "start"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("Procfile" in n and "by its path" in n for n in notes(result))


def _system_program_in_a_config(tmp_path, copy):
    """supervisord reads /etc/supervisord.conf by itself: its `command=/usr/local/bin/python -m app.main` would not
    see the dependencies in a virtualenv (a real build: No module named 'click')."""
    conf = "[program:web]\ncommand=/usr/local/bin/python -m app.main\n"
    make_project(tmp_path, files={".dockerignore": ".venv\n", "deploy/supervisord.conf": conf})
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\n{copy}WORKDIR /app\nCOPY . .\n"
              'RUN poetry config virtualenvs.create false && poetry install --only main\nCMD ["supervisord"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("runs `/usr/local/bin/python` by its path" in n for n in notes(result))


@pytest.mark.parametrize(("setup", "files", "converted"), [
    # The official installer keeps Poetry's packages in its own venv: the app's requests is its own business.
    ("ENV POETRY_HOME=/opt/poetry\nRUN curl -sSL https://install.python-poetry.org | python3 -\n"
     'ENV PATH="/opt/poetry/bin:$PATH"\n', {"app/net.py": "import requests\n"}, True),
    # The project's own installer.py is no package of Poetry's.
    ("RUN pip install poetry==1.8.5\n", {"installer.py": "X = 1\n", "app/net.py": "from installer import X\n"},
     True),
    # A package the lock installs (here through a main dependency) is the venv's too (a review found it refused).
    ("RUN pip install poetry==1.8.5\n", {"app/net.py": "import requests\n"}, True),
    ("RUN pip install poetry==1.8.5\n", {"app/net.py": "import certifi\n"}, False),  # not in the lock
])
def test_poetry_env_and_packages_poetry_brings(tmp_path, setup, files, converted):
    lock = LOCK_1_8.replace("[metadata]", '[[package]]\nname = "requests"\nversion = "2.32.3"\n\n[metadata]')
    pyproject = CLASSIC.replace('pytest = "*"', 'pytest = "*"\nrequests-mock = "*"')
    make_project(tmp_path, pyproject=pyproject, lock=lock, files={".dockerignore": ".venv\n", **files})
    source = (f"FROM python:3.11\n{setup}WORKDIR /app\nCOPY . .\n"
              'RUN poetry config virtualenvs.create false && poetry install --only main\n'
              'CMD ["python", "-m", "app.main"]\n')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert ("VIRTUAL_ENV" in output) == converted, notes(result)


def test_poetry_env_fixes(tmp_path):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    output, _ = fix(tmp_path, NAIVE, select=["poetry-env"])
    assert output.splitlines()[2:5] == [
        "ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \\", "    POETRY_VIRTUALENVS_CREATE=1 \\",
        "    POETRY_CACHE_DIR=/tmp/poetry_cache"]


def test_poetry_env_converts_virtualenvs_create_false(tmp_path):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert "virtualenvs.create" not in output
    assert "RUN poetry install" in output
    assert "VIRTUAL_ENV=/app/.venv" in output and 'PATH="/app/.venv/bin:$PATH"' in output


@pytest.mark.parametrize(("command", "converted"), [
    ('CMD ["/usr/local/bin/python", "-m", "app.main"]', False),  # the system interpreter, by its path
    ('CMD /usr/local/bin/python3.11 -m app.main', False),
    ('CMD ["/usr/local/bin/gunicorn", "app.main:app"]', False),  # a console script the system install put there
    ('HEALTHCHECK CMD /usr/bin/python3 -c "import app"', False),
    ('CMD ["python3.11", "-m", "app.main"]', True),  # by name: the virtualenv's PATH finds its own
    ('CMD ["/bin/sh", "-c", "exec python -m app.main"]', True),
])
def test_poetry_env_keeps_the_system_install_for_a_program_run_by_its_system_path(tmp_path, command, converted):
    """A virtualenv's PATH does not change what `/usr/local/bin/python` runs: converted, the image would start
    without its dependencies."""
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    source = source.replace('CMD ["poetry", "run", "python", "-m", "app.main"]', command)
    assert command in source
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert ("virtualenvs.create false" not in output) == converted
    if not converted:
        assert output == source and any("by its path, which would not see the dependencies" in note
                                        for note in notes(result))


@pytest.mark.parametrize(("script", "converted"), [
    ('#!/bin/sh\nexec /usr/local/bin/python -m app.main "$@"\n', False),
    ('#!/bin/sh\nexec python -m app.main "$@"\n', True),
])
def test_poetry_env_reads_the_script_the_image_runs_for_a_system_path(tmp_path, script, converted):
    """`CMD ["./run.sh"]` whose script runs /usr/local/bin/python: converted, the app crashed with
    ModuleNotFoundError (a real build showed it)."""
    make_project(tmp_path, files={".dockerignore": ".venv\n", "run.sh": script})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    source = source.replace('CMD ["poetry", "run", "python", "-m", "app.main"]', 'CMD ["./run.sh"]')
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert ("virtualenvs.create false" not in output) == converted
    if not converted:
        assert any("`./run.sh`, which the image runs, runs `/usr/local/bin/python` by its path" in note
                   for note in notes(result))


SETUPTOOLS_LOCKED = '\n[[package]]\nname = "setuptools"\nversion = "75.0"\n{extra}\n[package.extras]\ntest = []\n'


@pytest.mark.parametrize(("lock", "pin", "code", "locked", "converted"), [
    (LOCK_2_5, "==2.5.1", "import pkg_resources\n", "", False),  # a Poetry 2.x venv has no setuptools
    (LOCK_2_5, "==2.5.1", "from setuptools import find_packages\n", "", False),
    (LOCK_2_5, "==2.5.1", "import pkg_resources\n", SETUPTOOLS_LOCKED.format(extra='groups = ["main"]'), True),
    (LOCK_2_5, "==2.5.1", "import pkg_resources\n", SETUPTOOLS_LOCKED.format(extra=""), True),  # no groups
    # Locked for a group `--only main` leaves out, or as an optional extra: not installed.
    (LOCK_2_5, "==2.5.1", "import pkg_resources\n", SETUPTOOLS_LOCKED.format(extra='groups = ["dev"]'), False),
    (LOCK_2_5, "==2.5.1", "import pkg_resources\n", SETUPTOOLS_LOCKED.format(extra="optional = true"), False),
    (LOCK_1_8, "==1.8.5", "import pkg_resources\n", "", True),  # Poetry 1.x seeds setuptools into its venvs
    (LOCK_1_8, "", "import pkg_resources\n", "", False),  # unpinned: the build gets the newest Poetry
    (LOCK_2_5, "==2.5.1", "# pkg_resources is gone\nimport os\n", "", True),  # named, not imported
])
def test_poetry_env_keeps_the_system_install_when_the_app_needs_its_setuptools(tmp_path, lock, pin, code, locked,
                                                                                converted):
    make_project(tmp_path, lock=lock + locked, files={".dockerignore": ".venv\n", "app/version.py": code})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    source = source.replace("pip install poetry", f"pip install poetry{pin}")
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert ("virtualenvs.create" not in output) is converted
    if not converted:
        assert output == source
        assert any("app/version.py imports setuptools or pkg_resources" in note for note in notes(result))
    if not converted and pin:  # (unpinned, pin-poetry pins the lock's 1.8.5 first in a whole run)
        _, whole = fix(tmp_path, source)  # multi-stage then says why it stays single-stage
        assert any("installs into the system interpreter" in note for note in notes(whole))


def test_poetry_env_converts_on_python_3_12_whose_interpreter_has_no_setuptools_either(tmp_path):
    make_project(tmp_path, lock=LOCK_2_5,
                 files={".dockerignore": ".venv\n", "app/version.py": "import pkg_resources\n"})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    output, _ = fix(tmp_path, source.replace("python:3.11-slim", "python:3.12-slim"), select=["poetry-env"])
    assert "virtualenvs.create" not in output


@pytest.mark.parametrize("where", ["tests/conftest.py", "docs/conf.py", "setup.py", "build.py", "scripts/x.py",
                                   "build/lib/app/v.py"])
def test_poetry_env_reads_only_the_code_the_image_runs_for_setuptools(tmp_path, where):
    # Tests, docs, a setup.py shim, Poetry's build script (run in an isolated build environment on 2.x), a
    # .dockerignored folder and build output do not run in the image.
    make_project(tmp_path, lock=LOCK_2_5,
                 files={".dockerignore": ".venv\nscripts\n", where: "import pkg_resources\n"})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    output, _ = fix(tmp_path, source.replace("pip install poetry", "pip install poetry==2.5.1"),
                    select=["poetry-env"])
    assert "virtualenvs.create" not in output


def test_poetry_env_says_when_the_context_is_too_large_to_read_for_setuptools(tmp_path, monkeypatch):
    from poetry_docker_fix.refactor import imports

    monkeypatch.setattr(imports, "SCAN_LIMIT", 3)
    make_project(tmp_path, lock=LOCK_2_5, files={".dockerignore": ".venv\n", **{f"app/m{n}.py": "x = 1\n"
                                                                                  for n in range(5)}})
    source = NAIVE.replace("RUN poetry install", "RUN poetry config virtualenvs.create false && poetry install")
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source and any("more than 3 Python files" in note for note in notes(result))


def test_poetry_env_converts_env_false(tmp_path):
    make_project(tmp_path, files={".dockerignore": ".venv\n"})
    source = NAIVE.replace("WORKDIR /app", "ENV POETRY_VIRTUALENVS_CREATE=false\nWORKDIR /app")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert "POETRY_VIRTUALENVS_CREATE=1" in output and "false" not in output


def test_poetry_env_noop_when_a_broad_copy_could_bring_a_local_venv(tmp_path):
    make_project(tmp_path)
    output, result = fix(tmp_path, NAIVE, select=["poetry-env"])
    assert output == NAIVE
    assert any("add `.venv` to .dockerignore" in note for note in notes(result))


def test_poetry_env_noop_when_in_project_set(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("WORKDIR /app", "ENV POETRY_VIRTUALENVS_IN_PROJECT=true\nWORKDIR /app")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert output == source


# --- no-dev ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("pin", "install", "expected"), [
    pytest.param("1.8.5", "poetry install", "poetry install --only main", id="plain"),
    pytest.param("1.8.5", "poetry install --no-dev", "poetry install --only main", id="deprecated-no-dev"),
    pytest.param("2.5.1", "poetry install --no-dev --no-interaction", "poetry install --only main --no-interaction",
                 id="removed-no-dev"),
    pytest.param("1.1.15", "poetry install", "poetry install --no-dev", id="poetry-1.1"),
])
def test_no_dev_fixes(tmp_path, pin, install, expected):
    make_project(tmp_path)
    source = f"FROM python:3.11\nRUN pip install poetry=={pin}\nRUN {install}\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == f"RUN {expected}"


def test_no_dev_repairs_without_dev_when_no_dev_group(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC.split("[tool.poetry.group.dev.dependencies]")[0])
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry install --without dev\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == "RUN poetry install --only main"
    assert "Group(s) not found" in result.outcomes[0].changes[0].reason


@pytest.mark.parametrize(("install", "expected"), [
    ("poetry install --with server --without dev", "poetry install --with server"),
    ("poetry install --no-dev --with server --without dev", "poetry install --with server"),
])
def test_no_dev_repair_keeps_the_optional_groups_with_asks_for(tmp_path, install, expected):
    """`--only main` would override `--with server`: the image would lose gunicorn. The missing group's
    `--without` goes instead (FACTS: --only overrides --with/--without)."""
    pyproject = CLASSIC.split("[tool.poetry.group.dev.dependencies]")[0] + (
        '[tool.poetry.group.server]\noptional = true\n\n[tool.poetry.group.server.dependencies]\ngunicorn = "*"\n')
    make_project(tmp_path, pyproject=pyproject)
    source = f"FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN {install}\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == f"RUN {expected}"
    assert "dropped" in result.outcomes[0].changes[0].summary
    again, _ = fix(tmp_path, output, select=["no-dev"])
    assert again == output


def test_no_dev_keeps_groups_that_may_be_runtime(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry.group.server.dependencies]\nuvicorn = "*"\n')
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == "RUN poetry install --without dev"


@pytest.mark.parametrize("install", ["poetry install --only main", "poetry install --with docs,dev",
                                     "poetry install --without dev", "poetry install --only-root"])
def test_no_dev_noop(tmp_path, install):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n')
    source = f"FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN {install}\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output == source


SERVER_GROUP = '[tool.poetry.group.server]\noptional = true\n\n[tool.poetry.group.server.dependencies]\ngunicorn = "*"\n'


@pytest.mark.parametrize(("install", "expected", "summary"), [
    # `--with` adds to the non-optional groups: dev and lint would be installed too.
    ("poetry install --with server", "poetry install --without dev,lint --with server", "install with --without"),
    ("poetry install --with=server,lint", "poetry install --without dev --with=server,lint", "install with --without"),
    # 2.0 rejects `--no-dev`: it becomes the `--without` (on 1.2-1.8, see the test below).
    ("poetry install --no-dev --with server", "poetry install --without dev,lint --with server",
     "`--no-dev` → --without dev,lint"),
    # A `--without` of a missing group is repaired to the groups --with would bring in.
    ("poetry install --with server --without test", "poetry install --with server --without dev,lint",
     "--without dev,lint"),
    ("poetry install --no-dev --with server --without test", "poetry install --with server --without dev,lint",
     "drop `--no-dev`"),
])
def test_no_dev_with_optional_groups_leaves_the_development_groups_out(tmp_path, install, expected, summary):
    """`poetry install --with server` installs main, server and every non-optional group, dev and lint included:
    the production image got pytest and ruff. `--only main` would override `--with`, so `--without` of the
    development groups it does not name goes in; the output is stable (a second run changes nothing)."""
    pyproject = CLASSIC + '\n[tool.poetry.group.lint.dependencies]\nruff = "*"\n\n' + SERVER_GROUP
    make_project(tmp_path, pyproject=pyproject, lock=LOCK_2_5)
    source = f"FROM python:3.11\nRUN pip install poetry==2.1.4\nRUN {install}\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == f"RUN {expected}"
    assert summary in result.outcomes[0].changes[0].summary
    again, _ = fix(tmp_path, output, select=["no-dev"])
    assert again == output


@pytest.mark.parametrize("install", ["poetry install --no-dev --with server", "poetry install --with server --no-dev",
                                     "poetry install --no-dev --only server"])  # 1.x: main and server
def test_no_dev_on_poetry_1_keeps_what_no_dev_beside_with_installs(tmp_path, install):
    """Poetry 1.2-1.8 read `--no-dev` as `--only main`, which overrides `--with` (a review read it in Poetry's
    source): the original installs main only, and so must the rewrite."""
    make_project(tmp_path, pyproject=CLASSIC + "\n" + SERVER_GROUP)
    source = f"FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN {install}\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[2] == "RUN " + install.replace("--no-dev", "--only main")
    again, _ = fix(tmp_path, output, select=["no-dev"])
    assert again == output


@pytest.mark.parametrize(("install", "expected"), [
    ("poetry install --all-groups", None),  # every group asked for; Poetry 2 refuses --only beside it
    ("poetry install --without docs", None),  # an optional group that exists is no missing group
    ("poetry install --without main", None),
])
def test_no_dev_group_options_it_must_not_touch(tmp_path, install, expected):
    pyproject = (CLASSIC + "\n" + SERVER_GROUP.replace("server", "docs")
                 + '\n[tool.poetry.group.web.dependencies]\nflask = "*"\n')
    make_project(tmp_path, pyproject=pyproject, lock=LOCK_2_5)
    source = f"FROM python:3.11\nRUN pip install poetry==2.1.4\nRUN {install}\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output == source


@pytest.mark.parametrize(("install", "expected"), [
    ("poetry install --with $GROUPS", "poetry install --with $GROUPS"),
    ("poetry install --with server --without $SKIP", "poetry install --with server --without $SKIP"),
    # `--no-dev` means `--only main` on 1.x, whatever the variable holds (a review found it dropped).
    ("poetry install --no-dev --with ${GROUPS}", "poetry install --only main --with ${GROUPS}"),
    # A variable on its own may hold options: `--build-arg group="--with dev"` (a real build lost flake8).
    ("poetry install --no-root $group", "poetry install --no-root $group"),
    ('poetry install "${POETRY_ARGS}"', 'poetry install "${POETRY_ARGS}"'),
    ("poetry install -E $EXTRAS", "poetry install --only main -E $EXTRAS"),  # a value: extras only
])
def test_no_dev_and_groups_named_through_a_variable(tmp_path, install, expected):
    """`ARG GROUPS=dev` then `--with $GROUPS`: an added `--without dev` would win over it and drop what the build
    asks for (a review found it)."""
    make_project(tmp_path, pyproject=CLASSIC + "\n" + SERVER_GROUP)
    source = f"FROM python:3.11\nRUN pip install poetry==1.8.5\nARG GROUPS=dev\nRUN {install}\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output.splitlines()[-1] == f"RUN {expected}", output


def test_no_dev_with_keeps_the_groups_it_names(tmp_path):
    """`--with dev` asks for dev: nothing is left out."""
    make_project(tmp_path, pyproject=CLASSIC + "\n" + SERVER_GROUP)
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry install --with server,dev\n"
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output == source


def test_no_dev_noop_without_groups(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC.split("[tool.poetry.group.dev.dependencies]")[0])
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output == source
    assert any("no dependency groups" in note for note in notes(result))


# --- split-install ---------------------------------------------------------------------------------------
SPLIT_INPUT = """\
FROM python:3.11
RUN pip install poetry==1.8.5
WORKDIR /app
COPY pyproject.toml poetry.lock ./
COPY README.md ./
COPY app ./app
RUN poetry install --only main
"""


def test_split_install_readme_with_the_manifests_is_not_called_code(tmp_path):
    """`COPY pyproject.toml poetry.lock README.md ./` before the install brings no code: the note says the install
    already comes first, not that the manifests come with the code."""
    make_project(tmp_path)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\n"
              "COPY pyproject.toml poetry.lock README.md ./\nRUN poetry install --only main\nCOPY app ./app\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert output == source
    assert notes(result) == ["line 4 copies README.md with the manifests, before any code: the install already "
                             "comes before the code (it runs again only when README.md changes too); left alone"]


@pytest.mark.parametrize("build", ['[tool.poetry.build]\nscript = "build.py"\ngenerate-setup-file = false\n',
                                   '[tool.poetry]\nbuild = "build.py"\n'])
def test_a_build_script_keeps_the_root_install_after_the_code_and_the_image_single_stage(tmp_path, build):
    """Poetry runs the build script on the root install: the empty stand-in failed (`can't open file
    '/app/build.py'`, a real build), and what it generates would not reach a runtime stage."""
    pyproject = CLASSIC.replace("[tool.poetry]\n", "[tool.poetry]\n" + build.split("\n", 1)[1], 1) \
        if build.startswith("[tool.poetry]") else CLASSIC + "\n" + build
    make_project(tmp_path, pyproject=pyproject, files={".dockerignore": ".venv\n", "build.py": "print('built')\n"})
    assert load_project(tmp_path).build_script == "build.py"
    output, result = fix(tmp_path, NAIVE)
    assert "--only-root" not in output and " AS runtime" not in output, output
    assert any("build script build.py" in note for note in notes(result))


def test_split_install_is_not_stopped_by_a_copy_outside_the_project(tmp_path):
    """`COPY docker-entrypoint.sh /usr/local/bin/` before the manifests is no code the install reads: it was
    taken for code, and the note said a manifest came after the code."""
    make_project(tmp_path, files={"docker-entrypoint.sh": "#!/bin/sh\nexec \"$@\"\n"})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "COPY docker-entrypoint.sh /usr/local/bin/\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert "RUN poetry install --only main --no-root" in output, notes(result)


def test_split_install_makes_no_stand_in_under_a_code_copy_that_sets_its_owner(tmp_path):
    """`COPY --chown=app:app app ./app` after a stand-in `mkdir -p app` as root left /app/app owned by root: the
    app, running as USER app, could no longer write there (a real build: Permission denied)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("COPY README.md ./\nCOPY app ./app\n",
                                 "COPY --chown=app:app README.md ./\nCOPY --chown=app:app app ./app\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert "--only-root" not in output and "--no-root" in output, output
    assert "sets its owner or mode" in result.outcomes[0].changes[0].reason


@pytest.mark.parametrize(("table", "split", "stand_in"), [
    # The plugin runs on every install, --no-root too (a real build: "Unable to detect version control system").
    ('\n[tool.poetry-dynamic-versioning]\nenable = true\n', False, False),
    ('\n[tool.poetry-dynamic-versioning]\nenable = true\n', True, True),  # with the bypass variable set
    # A build backend reads git only when the root is built: the dependency layer splits, the stand-in does not.
    ('\n[tool.setuptools_scm]\n', True, False),
])
def test_split_install_and_a_version_taken_from_git(tmp_path, table, split, stand_in):
    make_project(tmp_path, pyproject=CLASSIC + table)
    source = SPLIT_INPUT
    if split and stand_in:
        source = source.replace("WORKDIR /app\n", "ENV POETRY_DYNAMIC_VERSIONING_BYPASS=1.0.0\nWORKDIR /app\n")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert ("--no-root" in output) == split, output
    assert ("--only-root" in output) == stand_in, output


@pytest.mark.parametrize(("copy", "kept"), [
    ("COPY auth.toml /root/.config/pypoetry/auth.toml\n", True), ("COPY pip.conf /etc/pip.conf\n", True),
    ("COPY .netrc /root/.netrc\n", True),
    ("COPY .netrc /root/\n", True), ("COPY pip.conf /etc/\n", True),  # into a folder (a review found them missed)
    ("COPY config.toml ./\n", False),  # the app's own settings (a review found it counted)
])
def test_split_install_keeps_the_install_after_the_configuration_it_reads(tmp_path, copy, kept):
    """Credentials for a private index copied after the manifests: the install moved above them would fail to
    authenticate (a review found it)."""
    make_project(tmp_path, files={"config.toml": "a = 1\n", ".netrc": "machine x\n", "pip.conf": "[global]\n"})
    source = SPLIT_INPUT.replace("COPY README.md ./\n", f"{copy}COPY README.md ./\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert (output == source) == kept
    assert any("configuration Poetry or pip reads" in n for n in notes(result)) == kept


def test_split_install_fixes(tmp_path):
    make_project(tmp_path)
    output, _ = fix(tmp_path, SPLIT_INPUT, select=["split-install"])
    assert output.splitlines()[3:] == [
        "COPY pyproject.toml poetry.lock ./",
        "RUN poetry install --only main --no-root",
        "COPY README.md ./",
        "RUN mkdir -p app && touch app/__init__.py && poetry install --only-root",
        "COPY app ./app",
    ]


def test_split_install_keeps_root_install_after_code_on_poetry_1_1(tmp_path):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("1.8.5", "1.1.15").replace("--only main", "--no-dev")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert output.splitlines()[3:] == [
        "COPY pyproject.toml poetry.lock ./", "RUN poetry install --no-dev --no-root", "COPY README.md ./",
        "COPY app ./app", "RUN poetry install --no-dev"]


def test_split_install_package_mode_false_just_moves_the_install(tmp_path):
    make_project(tmp_path, pyproject='[project]\nname = "x"\nversion = "1"\n[tool.poetry]\npackage-mode = false\n')
    output, _ = fix(tmp_path, SPLIT_INPUT, select=["split-install"])
    assert output.splitlines()[3:] == [
        "COPY pyproject.toml poetry.lock ./", "RUN poetry install --only main", "COPY README.md ./", "COPY app ./app"]


@pytest.mark.parametrize("source", [
    pytest.param(SPLIT_INPUT.replace("COPY README.md ./\nCOPY app ./app\n", "") + "COPY app ./app\n", id="already"),
    pytest.param(SPLIT_INPUT.replace("RUN poetry install --only main", "RUN poetry install && python -m app.build"),
                 id="chained"),
    # Poetry commands that read the code: moving them above the code COPY breaks the build.
    pytest.param(SPLIT_INPUT.replace("RUN poetry install --only main",
                                     "RUN poetry install && poetry run python -m app.build"), id="chained-poetry-run"),
    pytest.param(SPLIT_INPUT.replace("RUN poetry install --only main", "RUN poetry install; poetry build"),
                 id="chained-poetry-build"),
    pytest.param(SPLIT_INPUT.replace("COPY app ./app\n", "COPY app ./app\nRUN python -m app.prepare\n"), id="run-between"),
])
def test_split_install_noop(tmp_path, source):
    make_project(tmp_path)
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert output == source


# --- multi-stage -----------------------------------------------------------------------------------------
def test_multi_stage_fixes_and_moves_runtime_instructions(tmp_path):
    make_project(tmp_path)
    source = """\
    FROM python:3.11-bookworm
    ENV PYTHONUNBUFFERED=1
    RUN pip install poetry==1.8.5
    ENV POETRY_VIRTUALENVS_IN_PROJECT=1
    WORKDIR /app
    COPY pyproject.toml poetry.lock ./
    RUN poetry install --only main --no-root
    COPY app ./app
    EXPOSE 8000
    # the server
    CMD poetry run python -m app.main
    """
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    lines = output.splitlines()
    assert lines[0] == "FROM python:3.11-bookworm AS builder"
    runtime = lines[lines.index("FROM python:3.11-slim-bookworm AS runtime"):]
    assert runtime == [
        "FROM python:3.11-slim-bookworm AS runtime", "", "WORKDIR /app", "",
        "ENV VIRTUAL_ENV=/app/.venv \\", '    PATH="/app/.venv/bin:$PATH"', "",
        "COPY --from=builder /app/.venv /app/.venv", "ENV PYTHONUNBUFFERED=1", "COPY app ./app", "EXPOSE 8000",
        "# the server", "CMD python -m app.main"]


@pytest.mark.parametrize("ending", ["\n", "\n\n", "\n  \n\t\n", ""])
def test_multi_stage_keeps_the_blank_lines_that_end_the_file(tmp_path, ending):
    make_project(tmp_path)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
              "COPY pyproject.toml poetry.lock ./\nRUN poetry install --only main --no-root\nCOPY app ./app\n\n"
              'CMD ["python", "-m", "app.main"]' + ending)
    context = Context(load_project(tmp_path), Options())  # not `fix`: its dedent would blank the "  " line
    refactoring = refactor(source, context, select_passes(["multi-stage"]))
    assert refactoring.changed
    assert refactoring.output.endswith('\nCMD ["python", "-m", "app.main"]' + ending)


@pytest.mark.parametrize(("image", "runtime"), [
    ("python:3.11", "python:3.11-slim"), ("python:3.12.4-bookworm", "python:3.12.4-slim-bookworm"),
    ("python:3.11-slim", "python:3.11-slim"), ("python:3.11-alpine", "python:3.11-alpine"),
    ("registry.example.com/python:3.11-buster", "registry.example.com/python:3.11-slim-buster"),
    ("mycorp/base:1", "mycorp/base:1"),
])
def test_multi_stage_slim_twin(image, runtime):
    from poetry_docker_fix.transforms.multi_stage import slim_twin

    assert slim_twin(image)[0] == runtime


@pytest.mark.parametrize(("extra", "reason"), [
    ("RUN apt-get update && apt-get install -y --no-install-recommends libpq5\n", "apt-get"),
    ("USER nobody\n", "USER"),
])
def test_multi_stage_noop_when_unsafe(tmp_path, extra, reason):
    make_project(tmp_path)
    source = (f"FROM python:3.11\n{extra}RUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\n"
              "WORKDIR /app\nCOPY . .\nRUN poetry install\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source
    assert any(reason in note for note in notes(result))


def test_multi_stage_needs_in_project_venv(tmp_path):
    make_project(tmp_path)
    output, result = fix(tmp_path, NAIVE, select=["multi-stage"])
    assert output == NAIVE
    assert any("POETRY_VIRTUALENVS_IN_PROJECT" in note for note in notes(result))


@pytest.mark.parametrize(("env", "carried"), [
    ('ENV PYTHONUNBUFFERED=1 APP_MODE="production mode" POETRY_HOME=/opt/poetry PATH="$POETRY_HOME/bin:$PATH"',
     'ENV PYTHONUNBUFFERED=1 APP_MODE="production mode"'),
    ("ENV POETRY_HOME=/opt/poetry \\\n    TZ=UTC", "ENV TZ=UTC"),
    ('ENV PATH="/root/.local/bin:$PATH"', None),  # Poetry's only: stays in the builder
])
def test_multi_stage_carries_the_apps_variables_out_of_an_env_that_mentions_poetry(tmp_path, env, carried):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{env}\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    runtime = output.split("AS runtime", 1)[1]
    assert (carried in runtime) if carried else ("ENV" not in runtime.replace("ENV VIRTUAL_ENV", ""))
    assert "POETRY_HOME" not in runtime and ".local" not in runtime


def test_multi_stage_runtime_keeps_the_builders_platform(tmp_path):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("FROM python:3.11\n", "FROM --platform=linux/amd64 python:3.11\n"
                                                      "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\n")
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert "FROM --platform=linux/amd64 python:3.11 AS builder" in output
    assert "FROM --platform=linux/amd64 python:3.11-slim AS runtime" in output


@pytest.mark.parametrize("where", ["before", "after"])
def test_multi_stage_runtime_keeps_the_shell_its_commands_run_in(tmp_path, where):
    make_project(tmp_path)
    shell = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]'
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    source = (source.replace("RUN pip install", f"{shell}\nRUN pip install") if where == "before"
              else source + shell + "\n") + "CMD source /etc/profile && [[ -n $HOME ]] && python -m app.main\n"
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    builder, runtime = output.split("AS runtime", 1)
    assert shell in runtime and runtime.index(shell) < runtime.index("CMD source")
    assert (shell in builder) == (where == "before")


@pytest.mark.parametrize(("extra", "locked", "runtime"), [
    ("HEALTHCHECK CMD curl -f http://localhost:8000/ || exit 1\n", (), "python:3.11"),
    ('CMD ["make", "serve"]\n', (), "python:3.11"),
    ("", ("psycopg2",), "python:3.11"),
    ("", ("psycopg",), "python:3.11"),
    ("", ("psycopg", "psycopg-binary"), "python:3.11-slim"),
    ("", ("six",), "python:3.11-slim"),
])
def test_multi_stage_keeps_the_full_image_when_the_runtime_needs_what_slim_lacks(tmp_path, extra, locked, runtime):
    packages = "".join(f'[[package]]\nname = "{name}"\nversion = "1.0"\n\n' for name in locked)
    lock = LOCK_1_8.replace("[metadata]", packages + "[metadata]")
    make_project(tmp_path, lock=lock, files={"Makefile": "serve:\n\ttrue\n"})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + extra
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert f"FROM {runtime} AS runtime" in output, notes(result)


# --- cache-mount -----------------------------------------------------------------------------------------
def test_cache_mount_fixes_and_drops_cleanup(tmp_path):
    make_project(tmp_path)
    source = ("FROM python:3.11\nENV POETRY_CACHE_DIR=/tmp/pc POETRY_VIRTUALENVS_IN_PROJECT=1\n"
              "RUN poetry install --only main \\\n    && rm -rf $POETRY_CACHE_DIR\n")
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert output.splitlines()[2:] == ["RUN --mount=type=cache,target=/tmp/pc poetry install --only main"]


@pytest.mark.parametrize("cleanup", [
    "poetry install --only main && \\\n    rm -rf $POETRY_CACHE_DIR",  # the path on the next line
    'poetry install --only main && rm -rf "$POETRY_CACHE_DIR"',
    "poetry install --only main; rm -rf $POETRY_CACHE_DIR",
    "poetry install --only main && rm -Rf /tmp/pc",
    "poetry install --only main && rm -r -f /tmp/pc",
    "poetry install --only main && rm -rf /tmp",  # a folder above the mount
    "poetry install --only main && rm -rf /tmp/*",  # a QA build: `cannot remove '/tmp/pc': Device or resource busy`
    "poetry install --only main && rm -rf /root/.cache/pip /tmp/pc",
    "poetry install --only main && rm -rf $(poetry config cache-dir)",
])
def test_cache_mount_not_added_where_a_cleanup_it_cannot_drop_removes_its_folder(tmp_path, cleanup):
    """`rm -rf` of a mount point fails (`Device or resource busy`): the mount was added while these cleanups
    stayed (a fuzzing review)."""
    make_project(tmp_path)
    source = f"FROM python:3.11\nENV POETRY_CACHE_DIR=/tmp/pc POETRY_VIRTUALENVS_IN_PROJECT=1\nRUN {cleanup}\n"
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert output == source
    assert any("removes the folder a cache mount would be on" in note for note in notes(result)), notes(result)


@pytest.mark.parametrize("cleanup", ["rm -rf /tmp/pc/artifacts", "rm -rf $(poetry config cache-dir)/{cache,artifacts}"])
def test_cache_mount_keeps_a_cleanup_inside_its_folder(tmp_path, cleanup):
    make_project(tmp_path)
    source = ("FROM python:3.11\nENV POETRY_CACHE_DIR=/tmp/pc POETRY_VIRTUALENVS_IN_PROJECT=1\n"
              f"RUN poetry install --only main; {cleanup}\n")
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert f"RUN --mount=type=cache,target=/tmp/pc poetry install --only main; {cleanup}" in output


def test_multi_stage_reads_the_cache_cleanup_template(tmp_path):
    """`&& rm -rf $(poetry config cache-dir)/{cache,artifacts}` (a common template) kept the file single-stage:
    "may make files or system packages the runtime needs" (a fuzzing review)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n").replace(
        "RUN poetry install --only main", "RUN poetry install --only main && rm -rf $(poetry config cache-dir)/{cache,artifacts}"
    ) + 'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert " AS runtime" in output, notes(result)


def test_cache_mount_default_dir_and_syntax_directive(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nRUN poetry install --only main\n"
    output, _ = fix(tmp_path, source, select=["cache-mount"], syntax_directive=True)
    assert output.splitlines()[0] == "# syntax=docker/dockerfile:1"
    assert "RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install" in output


@pytest.mark.parametrize(("setting", "files", "target"), [
    ("ENV XDG_CACHE_HOME=/var/cache/xdg\n", {}, "/var/cache/xdg/pypoetry"),
    ("ENV HOME=/home/me\n", {}, "/home/me/.cache/pypoetry"),
    ("ENV HOME=/home/me XDG_CACHE_HOME=/xdg\n", {}, "/xdg/pypoetry"),  # XDG_CACHE_HOME first, as platformdirs
    ("RUN poetry config cache-dir /opt/pc\n", {}, "/opt/pc"),
    ("ENV XDG_CACHE_HOME=/xdg\nCOPY poetry.toml ./\n", {"poetry.toml": 'cache-dir = "/srv/cache"\n'},
     "/srv/cache"),  # local config wins
    ("COPY . .\n", {"poetry.toml": 'cache-dir = "/srv/cache"\n', ".dockerignore": "poetry.toml\n"},
     "/root/.cache/pypoetry"),
    ("", {"poetry.toml": 'cache-dir = "/srv/cache"\n'}, "/root/.cache/pypoetry"),  # not copied into the image
])
def test_cache_mount_targets_the_cache_dir_poetry_really_uses(tmp_path, setting, files, target):
    """Without POETRY_CACHE_DIR, Poetry's cache follows its configuration, then XDG_CACHE_HOME and HOME: a mount
    on /root/.cache/pypoetry would then cache nothing and leave the downloads in the layer."""
    make_project(tmp_path, files=files)
    source = f"FROM python:3.11\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\n{setting}RUN poetry install --only main\n"
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert f"RUN --mount=type=cache,target={target} poetry install" in output


@pytest.mark.parametrize("install", ["XDG_CACHE_HOME=/c poetry install", "HOME=/root poetry install --only main"])
def test_cache_mount_leaves_an_install_that_moves_the_cache_inline(tmp_path, install):
    make_project(tmp_path)
    source = f"FROM python:3.11\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nENV HOME=/home/app\nRUN {install}\n"
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert output == source and "is set for this command only" in " ".join(notes(result))


def test_cache_mount_leaves_a_cache_dir_it_cannot_read_literally(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nENV HOME=$SOMEWHERE\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert output == source and "Poetry's cache dir comes from HOME, which is not a literal path" in \
        " ".join(notes(result))


@pytest.mark.parametrize(("syntax", "mounted"), [
    ("docker/dockerfile:1.0", False), ("docker/dockerfile:1.1.7", False), ("docker.io/docker/dockerfile:1.1", False),
    ("docker/dockerfile:1.0-experimental", True), ("docker/dockerfile:1.2", True), ("docker/dockerfile:1", True),
])
def test_cache_mount_needs_a_frontend_that_knows_run_mount(tmp_path, syntax, mounted):
    make_project(tmp_path)
    source = f"# syntax={syntax}\nFROM python:3.11\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert ("--mount=type=cache" in output) == mounted
    if not mounted:
        assert "older than 1.2, which does not know `RUN --mount`" in " ".join(notes(result))


@pytest.mark.parametrize("source", [
    pytest.param("FROM python:3.11\nRUN poetry install\n", id="venv-in-cache"),
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/c\nRUN --mount=type=cache,target=/c poetry install\n",
                 id="already"),
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/c\nUSER app\nRUN poetry install\n", id="non-root"),
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/c\nRUN poetry install --only-root\n", id="root-only"),
    # The virtualenv is in {POETRY_CACHE_DIR}/virtualenvs: a mount there hides it from the image (QA found these).
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/opt/pcache\nRUN poetry install\n", id="venv-in-own-cache"),
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/tmp/pc POETRY_VIRTUALENVS_IN_PROJECT=0\n"
                 "RUN poetry install\n", id="in-project-off"),
    pytest.param("FROM python:3.11\nENV POETRY_CACHE_DIR=/c POETRY_VIRTUALENVS_PATH=/c/venvs\nRUN poetry install\n",
                 id="venvs-path-in-cache"),
])
def test_cache_mount_noop(tmp_path, source):
    make_project(tmp_path)
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert output == source


def test_cache_mount_when_the_virtualenvs_live_outside_the_cache(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nENV POETRY_CACHE_DIR=/c POETRY_VIRTUALENVS_PATH=/opt/venvs\nRUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert "RUN --mount=type=cache,target=/c poetry install" in output


@pytest.mark.parametrize(("setting", "files"), [
    ("RUN poetry config virtualenvs.in-project true\n", {}),
    ("COPY pyproject.toml poetry.lock poetry.toml ./\n", {"poetry.toml": "[virtualenvs]\nin-project = true\n"}),
])
def test_cache_mount_sees_an_in_project_venv_set_outside_env(tmp_path, setting, files):
    make_project(tmp_path, files=files)
    source = f"FROM python:3.11\nENV POETRY_CACHE_DIR=/tmp/pc\n{setting}RUN poetry install\n"
    output, _ = fix(tmp_path, source, select=["cache-mount"])
    assert "RUN --mount=type=cache,target=/tmp/pc poetry install" in output


@pytest.mark.parametrize("poetry_toml", ["[virtualenvs]\nin-project = true\n", "[virtualenvs]\ncreate = false\n"])
@pytest.mark.parametrize(("copy", "ignore"), [("COPY pyproject.toml poetry.lock ./\n", ".venv\n"),
                                              ("COPY . .\n", "poetry.toml\n.venv\n")])  # left out by .dockerignore
def test_a_poetry_toml_the_image_never_gets_does_not_count(tmp_path, poetry_toml, copy, ignore):
    """Only copied in does poetry.toml decide where the venv lives: without it the venv is in the cache dir, and a
    cache mount there would hide it from the image."""
    make_project(tmp_path, files={"poetry.toml": poetry_toml, ".dockerignore": ignore})
    source = (f"FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\n{copy}"
              "RUN poetry install --only main --no-root\nCOPY app ./app\n")
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert output == source and any("lives in Poetry's cache dir" in note for note in notes(result))
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert "VIRTUAL_ENV" not in output and "POETRY_VIRTUALENVS_IN_PROJECT=1" in output


# --- the whole pipeline ----------------------------------------------------------------------------------
def test_not_a_poetry_build(tmp_path):
    make_project(tmp_path)
    source = "FROM python:3.11\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.UNCHANGED and "not a Poetry build" in result.reason


EXPORTING = """\
FROM python:3.11 AS requirements-stage
WORKDIR /tmp
RUN pip install poetry
COPY ./pyproject.toml ./poetry.lock* /tmp/
RUN poetry export -f requirements.txt --output requirements.txt --without-hashes
FROM python:3.11
WORKDIR /code
COPY --from=requirements-stage /tmp/requirements.txt /code/requirements.txt
RUN pip install --no-cache-dir --upgrade -r /code/requirements.txt
COPY ./app /code/app
CMD ["python", "-m", "app.main"]
"""


def test_a_poetry_export_file_gets_its_poetry_pinned_and_nothing_else(tmp_path):
    """The FastAPI documentation's layout: Poetry only exports requirements.txt for pip. Unpinned, it is Poetry
    2.x today, which has no `poetry export` without its plugin (a real build: `The requested command export does
    not exist`); pinned to the lock's 1.8.5 it builds. Before, such files were skipped."""
    make_project(tmp_path)
    output, result = fix(tmp_path, EXPORTING)
    assert result.status is Status.CHANGED
    assert output == EXPORTING.replace("RUN pip install poetry\n", "RUN pip install --no-cache-dir poetry==1.8.5\n")
    pinned = next(o for o in result.outcomes if o.name == "pin-poetry").changes[0]
    assert "line 5 fails on the newest" in pinned.reason
    assert [o.name for o in result.outcomes] == ["pin-poetry"]
    assert result.reason == "line 5 runs `poetry export`, not `poetry install`: only pin-poetry applies"
    again, second = fix(tmp_path, output)
    assert again == output and second.status is Status.UNCHANGED


@pytest.mark.parametrize(("setup", "warned"), [
    ("RUN pip install poetry\n", True),
    ("RUN pip install poetry poetry-plugin-export\n", False),
    ("RUN pip install poetry && poetry self add poetry-plugin-export@^1.8\n", False),
    ("RUN pip install poetry==2.5.1\n", True),  # already pinned: still the warning (a review found it missing)
    ("RUN pip install poetry==1.8.5\n", False),
])
def test_a_poetry_export_file_on_poetry_2_is_warned_without_the_plugin(tmp_path, setup, warned):
    make_project(tmp_path, lock=LOCK_2_5)
    output, result = fix(tmp_path, EXPORTING.replace("RUN pip install poetry\n", setup))
    assert "poetry==2.5.1" in output or "poetry==1.8.5" in setup
    assert any("has only with the poetry-plugin-export plugin" in n for n in notes(result)) == warned


@pytest.mark.parametrize(("run", "status"), [
    ("RUN poetry run python -m app.collect > r.txt", Status.SKIPPED),  # Poetry used for more than an export
    ("RUN poetry lock && poetry export -o r.txt", Status.SKIPPED),
    ("RUN poetry config warnings.export false && poetry export -o r.txt && pip install -r r.txt", Status.CHANGED),
])
def test_only_a_file_whose_poetry_only_exports_is_pinned_without_an_install(tmp_path, run, status):
    make_project(tmp_path)
    source = f"FROM python:3.11\nRUN pip install poetry\n{run}\n"
    output, result = fix(tmp_path, source)
    assert result.status is status and (output != source) == (status is Status.CHANGED)
    if status is Status.SKIPPED:
        assert "never runs `poetry install`" in result.reason


def test_a_poetry_export_file_without_pin_poetry_selected_is_left_with_the_reason(tmp_path):
    make_project(tmp_path)
    output, result = fix(tmp_path, EXPORTING, select=["no-dev", "multi-stage"])
    assert output == EXPORTING and result.status is Status.UNCHANGED
    assert "only pin-poetry applies to it" in result.reason


@pytest.mark.parametrize(("source", "reason"), [
    ("FROM python:3.11\nRUN <<EOF\npoetry install\nEOF\n", "heredoc"),
    ("# escape=`\nFROM python:3.11\nRUN poetry install\n", "escape"),
])
def test_unsupported_files_are_left_untouched(tmp_path, source, reason):
    make_project(tmp_path)
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.SKIPPED and reason in result.reason


def test_full_pipeline_is_idempotent_and_keeps_untouched_lines(tmp_path):
    make_project(tmp_path)
    source = "# Build the app\nFROM python:3.11-slim\n\n# tools\nRUN pip install poetry\n" \
             "WORKDIR /app\nCOPY . .\nRUN poetry install\nCMD [\"poetry\", \"run\", \"python\", \"-m\", \"app.main\"]\n"
    output, result = fix(tmp_path, source)
    assert result.status is Status.CHANGED
    assert output.startswith("# Build the app\nFROM python:3.11-slim AS builder\n\n# tools\n")
    again, second = fix(tmp_path, output)
    assert again == output and second.status is Status.UNCHANGED


def test_split_install_goes_after_the_last_manifest_copy(tmp_path):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("COPY pyproject.toml poetry.lock ./\n", "COPY pyproject.toml ./\nCOPY poetry.lock ./\n")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert output.splitlines()[3:6] == [
        "COPY pyproject.toml ./", "COPY poetry.lock ./", "RUN poetry install --only main --no-root"]


@pytest.mark.parametrize("setup", ["poetry config virtualenvs.in-project true", "poetry --version",
                                   "python -m poetry config installer.max-workers 4", "poetry self add poetry-plugin-x"])
def test_split_install_moves_poetry_setup_chained_with_the_install(tmp_path, setup):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", f"RUN {setup} && poetry install --only main")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert output.splitlines()[4] == f"RUN {setup} && poetry install --only main --no-root"


@pytest.mark.parametrize("chained", ["poetry run python -m app.collect", "poetry build", "poetry export -o r.txt"])
def test_multi_stage_keeps_one_stage_when_the_install_runs_code_or_makes_files(tmp_path, chained):
    # The builder's only product is the virtualenv: what `poetry run`/`build`/`export` make would be lost.
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", f"RUN poetry install --only main && {chained}")
    source = source.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source
    assert any("left single-stage" in note for note in notes(result))


@pytest.mark.parametrize("cleanup", ["rm -rf tests", "rm -rf /app/docs"])
def test_split_install_and_multi_stage_keep_a_cleanup_of_the_code_after_it(tmp_path, cleanup):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", "RUN poetry install --only main && " + cleanup)
    source = source.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["split-install", "multi-stage"])
    assert output == source
    assert any("chained" in note for note in notes(result))


@pytest.mark.parametrize(("healthcheck", "runtime_line"), [
    ("HEALTHCHECK CMD poetry run python -m app.health", "HEALTHCHECK CMD python -m app.health"),
    ("HEALTHCHECK CMD poetry check", None),
])
def test_multi_stage_healthcheck_never_calls_poetry_in_the_runtime(tmp_path, healthcheck, runtime_line):
    make_project(tmp_path, files=NO_VENV)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
              f"COPY . .\nRUN poetry install\n{healthcheck}\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    if runtime_line is None:
        assert output == source and any("still call Poetry" in note for note in notes(result))
    else:
        assert output.splitlines()[-1] == runtime_line


def test_an_exec_form_poetry_install_is_skipped_with_that_reason(tmp_path):
    make_project(tmp_path)
    source = 'FROM python:3.11\nRUN ["pip", "install", "poetry"]\nCOPY . .\nRUN ["poetry", "install"]\n'
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.SKIPPED
    assert result.reason == 'line 2: an exec-form RUN (`RUN ["poetry", …]`) involves Poetry: not handled'


@pytest.mark.parametrize("run", ["RUN POETRY_VIRTUALENVS_CREATE=false poetry install",
                                 "RUN export POETRY_CACHE_DIR=/c && poetry install",
                                 "RUN env POETRY_VIRTUALENVS_IN_PROJECT=0 poetry install"])
def test_venv_or_cache_settings_inside_a_run_leave_the_file_alone(tmp_path, run):
    # multi-stage would copy an /app/.venv that `create=false` never makes: the build would fail.
    make_project(tmp_path)
    source = NAIVE.replace("RUN poetry install", run)
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.SKIPPED and "is set inside a RUN" in result.reason


def test_other_poetry_variables_inside_a_run_are_fine(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN poetry install", "RUN POETRY_HTTP_BASIC_PRIVATE_PASSWORD=$TOKEN poetry install")
    output, result = fix(tmp_path, source)
    assert result.status is Status.CHANGED and "POETRY_HTTP_BASIC_PRIVATE_PASSWORD=$TOKEN poetry install" in output


def test_a_wildcard_poetry_requirement_is_a_range_not_an_old_pin(tmp_path):
    make_project(tmp_path)  # the lock was written by Poetry 1.8.5
    source = 'FROM python:3.11\nRUN pip install "poetry==1.8.*"\nRUN poetry install\n'
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert output == source
    assert not any("older than" in note for note in notes(result))
    assert any("constrained by `==1.8.*`, not pinned" in note for note in notes(result))


@pytest.mark.parametrize(("image", "clash", "builder"), [
    ("python:3.12-slim", "its Python (3.12, not 3.11)", "python:3.11"),
    ("python:3.11-alpine", "its C library (musl, not glibc)", "python:3.11"),
    ("python:3.11-slim-bullseye", "its Debian release (bullseye, older than bookworm: an older glibc)",
     "python:3.11-bookworm"),
    # Python in /usr/bin, or none: the venv's python links to /usr/local/bin/python3.11.
    ("gcr.io/distroless/python3-debian12", "where Python lives", "python:3.11"),
    ("debian:bookworm-slim", "where Python lives", "python:3.11"),
    ("docker.io/library/ubuntu:24.04", "where Python lives", "python:3.11"),
    ("cgr.dev/chainguard/python:latest", "where Python lives", "python:3.11"),
    ("scratch", "where Python lives", "python:3.11"),
])
def test_a_runtime_image_the_virtualenv_cannot_run_on_is_refused_with_a_warning(tmp_path, image, clash, builder):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    source = source.replace("FROM python:3.11\n", f"FROM {builder}\n", 1)
    assert f"FROM {builder}\n" in source
    output, result = fix(tmp_path, source, select=["multi-stage"], runtime_image=image)
    assert output == source
    assert any(note.startswith("warning: ") and clash in note for note in notes(result))


@pytest.mark.parametrize("image", ["python:3.11-slim-trixie", "python:3.11-slim", "python:3.11-slim-bookworm",
                                   "registry.example.com/platform/python311:2024"])
def test_a_runtime_on_a_newer_or_unnamed_debian_release_is_accepted(tmp_path, image):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    source = source.replace("FROM python:3.11\n", "FROM python:3.11-bookworm\n", 1)
    output, _ = fix(tmp_path, source, select=["multi-stage"], runtime_image=image)
    assert f"FROM {image} AS runtime" in output


@pytest.mark.parametrize(("pinned", "lock", "written"), [("1.1.15", "LOCK_1_8", False), ("1.2.2", "LOCK_2_5", False),
                                                          ("1.3.2", "LOCK_2_5", True), ("1.1.15", "LOCK_1_1", True)])
def test_pin_poetry_refuses_a_version_that_cannot_read_the_lock(tmp_path, pinned, lock, written):
    import tests.helpers as helpers

    make_project(tmp_path, lock=getattr(helpers, lock))
    output, result = fix(tmp_path, NAIVE, select=["pin-poetry"], poetry_version=Version.parse(pinned))
    assert (f"poetry=={pinned}" in output) == written
    assert written or any(note.startswith("warning: ") and "cannot read this poetry.lock" in note
                          for note in notes(result))


def test_warnings_show_without_explain(tmp_path):
    from tests.golden_support import run_cli

    make_project(tmp_path)
    (tmp_path / "Dockerfile").write_text(NAIVE)
    code, _, err = run_cli(["--poetry-version", "1.1.15", str(tmp_path / "Dockerfile")])
    assert code == 0 and "pin-poetry: warning: Poetry left unpinned at line 2: Poetry 1.1.15 (--poetry-version) " \
        "cannot read this poetry.lock (lock-version 2.0)" in err.decode()
    code, _, err = run_cli(["-q", "--poetry-version", "1.1.15", str(tmp_path / "Dockerfile")])
    assert "warning" not in err.decode()


def test_a_continuation_running_into_the_next_instruction_is_left_alone(tmp_path):
    # Both parsers read `RUN pip install poetry && RUN echo hi`: one broken RUN. Editing it would hide the bug.
    make_project(tmp_path)
    source = "FROM python:3.11\nRUN pip install poetry && \\\nRUN echo hi\nCOPY . .\nRUN poetry install\n"
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.SKIPPED
    assert result.reason.startswith("line 2: a continuation runs into what looks like the next instruction")


@pytest.mark.parametrize("instruction", ["HEALTHCHECK --interval=30s --timeout=3s \\\n    CMD curl -f http://localhost/",
                                         "ONBUILD \\\n    RUN echo hi"])
def test_healthcheck_and_onbuild_may_continue_into_their_instruction(tmp_path, instruction):
    make_project(tmp_path)
    source = NAIVE + instruction + "\n"
    _, result = fix(tmp_path, source)
    assert result.status is Status.CHANGED


@pytest.mark.parametrize(("env", "carried"), [
    ('ENV PYTHONUNBUFFERED=1 POETRY_HOME=/opt/poetry PATH="$POETRY_HOME/bin:/app/bin:$PATH"',
     'ENV PYTHONUNBUFFERED=1 PATH="/app/bin:$PATH"'),
    # Beside POETRY_VERSION the whole ENV was taken for Poetry's: the runtime's `serve` (in /app/bin) was not
    # found (a real build).
    ('ENV POETRY_VERSION=1.8.5 PATH="/app/bin:$PATH"', 'ENV PATH="/app/bin:$PATH"'),
])
def test_multi_stage_carries_the_apps_folders_of_a_path_beside_poetrys(tmp_path, env, carried):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{env}\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert carried + "\n" in output.split(" AS runtime")[1], output


@pytest.mark.parametrize("env", ['ENV POETRY_HOME=/opt/poetry APP_DIR="$POETRY_HOME/../app"'])
def test_multi_stage_stays_single_when_the_apps_variables_are_made_of_poetrys(tmp_path, env):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", f"{env}\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("cannot tell the app's variables from Poetry's" in n for n in notes(result))


def test_multi_stage_carries_a_mixed_env_without_poetrys_variables(tmp_path):
    """README: an ENV that also sets Poetry's variables goes on without them (a QA round saw
    `POETRY_VIRTUALENVS_CREATE=1` carried into the runtime)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV PYTHONUNBUFFERED=1 POETRY_VIRTUALENVS_IN_PROJECT=1 "
                                                    "POETRY_VIRTUALENVS_CREATE=1\nWORKDIR /app\n")
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    runtime = output.split(" AS runtime")[1]
    assert "ENV PYTHONUNBUFFERED=1\n" in runtime and "POETRY_" not in runtime, output


def test_poetry_check_chained_with_the_install_is_not_moved_above_the_readme(tmp_path):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", "RUN poetry check && poetry install --only main")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert output == source


@pytest.mark.parametrize("pragma", ["# poetry-docker-fix: ignore=pin-poetry  # CVE pin",
                                    "# poetry-docker-fix ignore=pin-poetry", "# poetry-docker-fix: ignore pin-poetry"])
def test_a_pragma_the_tool_cannot_read_skips_the_file(tmp_path, pragma):
    make_project(tmp_path)
    source = NAIVE.replace("RUN pip install poetry", f"{pragma}\nRUN pip install poetry")
    output, result = fix(tmp_path, source)
    assert output == source and result.status is Status.SKIPPED and "is not a pragma the tool can read" in result.reason


@pytest.mark.parametrize("command", ["HEALTHCHECK CMD python -c \"import urllib.request as u; "
                                     "u.urlopen('http://localhost:8000/ping')\"",
                                     'CMD ["uvicorn", "app.main:app", "--root-path", "/api/make"]'])
def test_multi_stage_slim_check_ignores_program_names_inside_urls_and_paths(tmp_path, command):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + command + "\n"
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    assert "FROM python:3.11-slim AS runtime" in output


def test_multi_stage_reason_names_the_line_of_the_file_as_given(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("python:3.11-slim", "python:3.11") + "HEALTHCHECK CMD curl -f http://localhost/ || exit 1\n"
    _, result = fix(tmp_path, source)
    [change] = [c for o in result.outcomes if o.name == "multi-stage" for c in o.changes]
    assert "line 7 runs `curl`" in change.reason


@pytest.mark.parametrize("extra", [".", "..", "../shared", "/etc"])
def test_narrow_copy_refuses_an_extra_copy_outside_the_context(tmp_path, extra):
    make_project(tmp_path)
    output, result = fix(tmp_path, NAIVE, select=["narrow-copy"], extra_copy=(extra,))
    assert output == NAIVE and "which is not a path inside the build context" in notes(result)[0]


def test_a_wildcard_reached_through_an_arg_is_a_range_too(tmp_path):
    make_project(tmp_path)
    source = 'FROM python:3.11\nARG POETRY_VERSION=1.8.*\nRUN pip install "poetry==${POETRY_VERSION}"\nRUN poetry install\n'
    _, result = fix(tmp_path, source, select=["pin-poetry"])
    assert not any("older than" in note for note in notes(result))


# --- found by building rewrites for real (each failed to build or behaved differently) ---------------------------
def test_multi_stage_stays_single_when_an_app_variable_is_made_of_a_poetry_one(tmp_path):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", 'ENV POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_VERSION=1.8.5\n'
                                 'ENV BUILD_INFO="poetry-$POETRY_VERSION"\nWORKDIR /app\n')
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("uses Poetry's own variables" in note for note in notes(result))


def test_no_dev_keeps_dev_dependencies_for_a_test_run_in_the_install_run(tmp_path):
    make_project(tmp_path)
    source = NAIVE.replace("RUN poetry install\n", "RUN poetry install && poetry run pytest -q\n")
    output, _ = fix(tmp_path, source, select=["no-dev"])
    assert output == source


@pytest.mark.parametrize("entrypoint", ['ENTRYPOINT ["./start.sh"]', 'ENTRYPOINT ["/app/start.sh"]',
                                        'CMD ["sh", "start.sh"]', 'CMD ["bin/start.sh"]', 'CMD ["./bin/start.sh"]'])
def test_multi_stage_stays_single_when_the_entrypoint_script_calls_poetry(tmp_path, entrypoint):
    script = "#!/bin/sh\nexec poetry run python -m app.main \"$@\"\n"
    make_project(tmp_path, files={"start.sh": script, "bin/start.sh": script})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n")
    source += f"COPY start.sh ./\nCOPY bin ./bin\n{entrypoint}\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert output == source and any("calls Poetry" in note for note in notes(result))


@pytest.mark.parametrize("cache", ["/app", "/"])
def test_cache_mount_never_over_the_project(tmp_path, cache):
    make_project(tmp_path)
    source = (f"FROM python:3.11\nENV POETRY_CACHE_DIR={cache} POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
              "COPY pyproject.toml poetry.lock ./\nRUN poetry install --no-root\n")
    output, result = fix(tmp_path, source, select=["cache-mount"])
    assert output == source and any("holds the project" in note for note in notes(result))


@pytest.mark.parametrize(("install", "narrowed"), [("poetry install --no-root", True), ("poetry install", False)])
def test_narrow_copy_needs_no_package_that_is_never_installed(tmp_path, install, narrowed):
    """A flat app whose project name (`app`) names no folder: with `--no-root` the package is never installed, so
    its absence is no reason to leave `COPY . .` alone (a QA run of a real blog app found every pass skipped)."""
    make_project(tmp_path, files={"app/__init__.py": None, "app/main.py": None, "main.py": "print('hi')\n"})
    source = NAIVE.replace("RUN poetry install", f"RUN {install}").replace(
        '["poetry", "run", "python", "-m", "app.main"]', '["poetry", "run", "python", "main.py"]')
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    if narrowed:
        assert "COPY pyproject.toml poetry.lock ./\nCOPY main.py ./\n" in output, output
        assert "main.py, which the image runs" in result.outcomes[0].changes[0].reason
    else:
        assert output == source
        assert any("package `app` of the root install" in note for note in notes(result))


@pytest.mark.parametrize(("command", "dropped"), [('["poetry", "run", "python", "-m", "app.main"]', True),
                                                  ('["python", "-m", "app.main"]', False)])
def test_multi_stage_says_poetry_run_is_dropped_only_when_it_was_there(tmp_path, command, dropped):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        f"CMD {command}\n"
    _, result = fix(tmp_path, source, select=["multi-stage"])
    reason = result.outcomes[0].changes[0].reason
    assert ("`poetry run` is dropped" in reason) == dropped, reason
    assert reason.endswith("the venv's bin is on PATH")


@pytest.mark.parametrize(("manifests", "split"), [("pyproject.toml *.lock", True), ("pyproject.toml poetry.*", True),
                                                  ("pyproject.toml *.md", False)])  # *.md brings README.md: code?
def test_split_install_reads_a_glob_that_only_matches_manifests(tmp_path, manifests, split):
    """`COPY pyproject.toml *.lock ./` (a real project's): the install stayed after the code, and the note said
    the manifests came with the code."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("COPY pyproject.toml poetry.lock ./\nCOPY README.md ./\n", f"COPY {manifests} ./\n")
    output, _ = fix(tmp_path, source, select=["split-install"])
    lines = output.splitlines()
    assert (lines.index("RUN poetry install --only main --no-root") < lines.index("COPY app ./app")
            if split else output == source), output


@pytest.mark.parametrize("select", [None, ["narrow-copy"]])
def test_no_manifests_copy_when_the_install_stays_after_copy_all_anyway(tmp_path, select):
    """`COPY . .` must stay (settings.yaml), and a RUN between it and the install keeps split-install away: the
    manifests COPY narrow-copy added only cost a layer, and its reason promised a cached install. Asked for alone,
    narrow-copy still makes it (the split may come later)."""
    make_project(tmp_path, files={**NO_VENV, "settings.yaml": "a: 1\n"})
    source = NAIVE.replace("RUN poetry install", "RUN python -c 'print(1)'\nRUN poetry install")
    output, result = fix(tmp_path, source, select=select)
    assert ("COPY pyproject.toml" in output) == (select is not None), output
    if select is None:
        assert result.status is Status.CHANGED
        assert any("not applied: `COPY . .` stays, and the install stays after it (line 5: `RUN` between" in note
                   for note in notes(result)), notes(result)
        split = next(outcome for outcome in result.outcomes if outcome.name == "split-install")
        assert "narrow-copy makes" not in " ".join(split.notes)
        assert fix(tmp_path, output)[0] == output


@pytest.mark.parametrize(("setup", "split"), [
    # Poetry in a virtualenv of its own, as Poetry's docs suggest: only Poetry lives there.
    ("RUN python -m venv $POETRY_HOME && $POETRY_HOME/bin/pip install poetry==1.8.5\n", True),
    ("RUN python3 -m venv /opt/poetry && /opt/poetry/bin/pip install -U pip poetry==1.8.5\n", True),
    # Something else in that virtualenv, or a virtualenv nothing installs Poetry into: the runtime may need it.
    ("RUN python -m venv /opt/poetry && /opt/poetry/bin/pip install poetry==1.8.5 gunicorn\n", False),
    ("RUN python -m venv /opt/tools && pip install poetry==1.8.5\n", False),
    ("RUN python -m venv /app/.venv && /app/.venv/bin/pip install poetry==1.8.5\n", False),  # the project's
])
def test_multi_stage_with_poetry_in_a_virtualenv_of_its_own(tmp_path, setup, split):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN pip install poetry==1.8.5\n", 'ENV POETRY_HOME=/opt/poetry PATH="/opt/poetry/bin:$PATH" '
                                 f"POETRY_VIRTUALENVS_IN_PROJECT=1\n{setup}") + 'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, (output, notes(result))
    if split:
        runtime = output.split(" AS runtime")[1]
        assert "/opt/poetry" not in runtime and "POETRY_HOME" not in runtime, output


@pytest.mark.parametrize(("from_line", "builder", "final"), [
    ("FROM python:3.11 AS runtime", "FROM python:3.11 AS builder", "AS runtime"),  # two `runtime` stages before
    ("FROM python:3.11 as Runtime", "FROM python:3.11 as builder", "AS Runtime"),
    ("FROM python:3.11 AS app", "FROM python:3.11 AS builder", "AS app"),  # `--target app` still builds the app
    ("FROM python:3.11 AS builder", "FROM python:3.11 AS builder", "AS runtime"),  # the article names it so
    ("FROM python:3.11", "FROM python:3.11 AS builder", "AS runtime"),
])
def test_multi_stage_gives_the_final_image_the_stages_name(tmp_path, from_line, builder, final):
    """A single stage already named `runtime` got a second stage of that name and `COPY --from=runtime` (hadolint
    DL3024/DL3023, and BuildKit cannot resolve it); a stage named `app` became the builder, so `--target app`
    built an image without the code."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("FROM python:3.11", from_line).replace(
        "WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + 'CMD ["python", "-m", "app.main"]\n'
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    lines = output.splitlines()
    assert lines[0] == builder, output
    runtime = next(line for line in lines[1:] if line.upper().startswith("FROM "))
    assert runtime.endswith(final), output
    assert f"--from={builder.split()[-1]} " in output
    names = [line.split()[-1].lower() for line in lines if line.upper().startswith("FROM ")]
    assert len(set(names)) == 2, names


@pytest.mark.parametrize(("install", "expected"), [
    ("poetry install --only \\\n    main", "poetry install --no-root --only \\\n    main"),
    ("poetry install -E \\\n    pg", "poetry install --no-root -E \\\n    pg"),
    ("poetry install --only main \\\n    --no-interaction", "poetry install --only main --no-root \\\n    --no-interaction"),
])
def test_split_install_never_puts_no_root_between_an_option_and_its_value(tmp_path, install, expected):
    """`--only \\` with `main` on the next line became `--only --no-root \\ main`: Poetry fails with `The "--only"
    option requires a value` (a fuzzing review)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", f"RUN {install}")
    output, _ = fix(tmp_path, source, select=["split-install"])
    assert f"RUN {expected}\n" in output, output


def test_poetry_env_never_reports_a_config_it_could_not_drop(tmp_path):
    """`poetry \\` + `config virtualenvs.create false` on the next line: reported dropped, left in the RUN (a
    fuzzing review)."""
    make_project(tmp_path)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
              "RUN poetry \\\n    config virtualenvs.create false && poetry install --no-root\n")
    output, result = fix(tmp_path, source, select=["poetry-env"])
    assert output == source
    assert any("cannot remove `poetry config virtualenvs.create false`" in note for note in notes(result))


def test_poetry_env_takes_the_pragma_of_a_run_it_deletes(tmp_path):
    """Left behind, a pragma protected the next instruction, or nothing (and the output was then skipped)."""
    make_project(tmp_path, files=NO_VENV)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\n# why: no venv\n# poetry-docker-fix: ignore=cache-mount\n"
              "RUN poetry config virtualenvs.create false\nWORKDIR /app\nCOPY . .\nRUN poetry install\n")
    output, _ = fix(tmp_path, source, select=["poetry-env"])
    assert "poetry-docker-fix" not in output and "virtualenvs.create false" not in output, output
    assert "# why: no venv\n" in output


def test_multi_stage_says_a_slim_image_named_through_a_variable_is_slim():
    from poetry_docker_fix.transforms.multi_stage import slim_twin

    image, reason = slim_twin("python:${PY}-slim-bookworm")
    assert image == "python:${PY}-slim-bookworm" and "is already slim" in reason, reason


def test_an_active_virtualenv_is_where_poetry_installs(tmp_path):
    """`ENV VIRTUAL_ENV=/opt/venv` + `python -m venv $VIRTUAL_ENV`: Poetry installs there, whatever
    virtualenvs.in-project says. poetry-env claimed an in-project venv for a runtime stage, and cache-mount
    thought the venv was in Poetry's cache (a QA review)."""
    make_project(tmp_path, files=NO_VENV)
    source = ("FROM python:3.11-slim\nRUN pip install poetry==1.8.5\nENV VIRTUAL_ENV=/opt/venv\n"
              'RUN python -m venv $VIRTUAL_ENV\nENV PATH="$VIRTUAL_ENV/bin:$PATH"\nWORKDIR /app\n'
              "COPY pyproject.toml poetry.lock ./\nRUN poetry install --only main --no-root\n")
    output, result = fix(tmp_path, source, select=["poetry-env", "cache-mount"])
    assert "POETRY_VIRTUALENVS_IN_PROJECT" not in output, output
    assert "RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install" in output
    assert any("installs into the active virtualenv VIRTUAL_ENV=/opt/venv" in note for note in notes(result))


def test_split_install_moves_poetrys_own_setup_up_with_the_install(tmp_path):
    """`COPY . .`, `RUN pip install poetry`, `RUN poetry install` (a common shape): the RUN between kept every
    install after the code (a QA rebuild after a code change re-ran pip and Poetry)."""
    make_project(tmp_path, files=NO_VENV)
    source = ("FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install poetry==1.8.5\n"
              "RUN poetry install --only main\n")
    output, _ = fix(tmp_path, source, select=["narrow-copy", "poetry-env", "split-install"])
    lines = output.splitlines()
    assert lines[lines.index("COPY pyproject.toml poetry.lock ./") + 1] == "RUN pip install poetry==1.8.5", output
    dependencies = lines.index("RUN poetry install --only main --no-root")
    assert lines.index("RUN pip install poetry==1.8.5") < lines.index("ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \\") \
        < dependencies < lines.index("COPY app ./app"), output
    root = next(i for i, line in enumerate(lines) if "--only-root" in line)
    assert root < lines.index("COPY app ./app"), output
    assert output.count("pip install poetry") == 1


def test_split_install_keeps_the_root_install_after_a_readme_copied_after_the_code(tmp_path):
    """The stand-in's root install went after `COPY README.md ./`, itself after the code: a code change re-ran it,
    while the reason said it would not."""
    make_project(tmp_path)
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
              "COPY app ./app\nCOPY README.md ./\nRUN poetry install --only main\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    assert "--only-root" not in output and "touch" not in output, output
    assert output.splitlines()[-1] == "RUN poetry install --only main"
    assert "the README the root install needs is copied after the code" in result.outcomes[0].changes[0].reason


def test_a_workdir_named_through_a_variable_is_that_folder(tmp_path):
    """`ENV APP_HOME=/srv/app`, `WORKDIR $APP_HOME`, `COPY . $APP_HOME`: narrow-copy said the COPY and the install
    were in different folders, and multi-stage that no COPY brought the README (a QA review)."""
    make_project(tmp_path, files=NO_VENV)
    source = ("FROM python:3.11-slim\nENV APP_HOME=/srv/app\nRUN pip install poetry==1.8.5\nWORKDIR $APP_HOME\n"
              'COPY . $APP_HOME\nRUN poetry install --only main\nCMD ["poetry", "run", "python", "-m", "app.main"]\n')
    output, result = fix(tmp_path, source)
    assert "COPY pyproject.toml poetry.lock $APP_HOME/\n" in output, notes(result)
    assert " AS runtime" in output and "COPY --from=builder /srv/app/.venv /srv/app/.venv" in output, notes(result)
    assert "COPY app $APP_HOME/app\n" in output.split(" AS runtime")[1]


def test_narrow_copy_finds_a_script_named_by_its_path_in_the_image(tmp_path):
    """`CMD ["/app/scripts/run.py"]` after `COPY . /app`: "runs /app/scripts/run.py, which is not in the build
    context" (a QA review); it is scripts/run.py."""
    make_project(tmp_path, files={**NO_VENV, "scripts/run.py": "import app.main\n"})
    source = ("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . /app\n"
              'RUN poetry install --no-root --only main\nENTRYPOINT ["poetry", "run", "python"]\n'
              'CMD ["/app/scripts/run.py"]\n')
    output, result = fix(tmp_path, source, select=["narrow-copy"])
    assert "COPY scripts /app/scripts\n" in output and "COPY app /app/app\n" in output, (output, notes(result))


def test_multi_stage_adds_no_venv_path_after_an_env_that_puts_it_first(tmp_path):
    """`ENV PATH="/app/.venv/bin:$PATH"` after the install: the runtime repeated it once more (a QA review)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'ENV PATH="/app/.venv/bin:$PATH"\nCMD ["python", "-m", "app.main"]\n'
    output, _ = fix(tmp_path, source, select=["multi-stage"])
    runtime = output.split(" AS runtime")[1]
    assert runtime.count('PATH="/app/.venv/bin:$PATH"') == 2, output  # the runtime's own, and the file's


@pytest.mark.parametrize(("setup", "expected"), [
    # A real project's shape: the requirement alone on the continuation line.
    ("RUN pip install --no-cache-dir \\\n    poetry\n", "RUN pip install --no-cache-dir \\\n    poetry==1.8.5\n"),
    ('RUN pip install \\\n    --no-cache-dir \\\n    "poetry" && \\\n    poetry --version\n',
     'RUN pip install \\\n    --no-cache-dir \\\n    "poetry==1.8.5" && \\\n    poetry --version\n'),
    ("RUN pip install \\\n    poetry\n", "RUN pip install --no-cache-dir \\\n    poetry==1.8.5\n"),
    ("RUN pip install \\\n    poetry wheel\n", "RUN pip install \\\n    poetry wheel\n"),  # not alone: left, said
])
def test_pin_poetry_finds_the_requirement_on_a_continuation_line(tmp_path, setup, expected):
    make_project(tmp_path)
    source = f"FROM python:3.11\n{setup}WORKDIR /app\nCOPY . .\nRUN poetry install\n"
    output, result = fix(tmp_path, source, select=["pin-poetry"])
    assert output == source.replace(setup, expected), output
    if setup == expected:
        assert any("cannot locate the Poetry requirement" in note for note in notes(result))


@pytest.mark.parametrize(("code", "env", "kept"), [
    ('open("/app/docs/intro.md")', "", "docs"),  # by its path in the image: a QA build, FileNotFoundError
    ('os.environ["DOCS_DIR"]', "ENV DOCS_DIR=/app/docs\n", "docs"),  # named by an ENV the app reads
    ('os.environ["TERMS"]', "ENV TERMS=TERMS.md\n", "TERMS.md"),
    ('open("/app/README.md")', "", "README.md"),  # the runtime stage needs it too
    ('open("/srv/docs/intro.md")', "", None),  # elsewhere: not the context's docs/
])
def test_a_file_the_app_opens_by_its_image_path_or_through_an_env_is_kept(tmp_path, code, env, kept):
    make_project(tmp_path, files={**NO_VENV, "app/main.py": f"import os\nprint({code})\n", "docs/intro.md": "hi\n",
                                  "TERMS.md": "terms\n"})
    source = NAIVE.replace("WORKDIR /app\n", f"WORKDIR /app\n{env}")
    output, result = fix(tmp_path, source)
    runtime = output.split(" AS runtime")[1]
    if kept in ("docs", "TERMS.md"):
        assert "COPY . .\n" in runtime, output
    elif kept == "README.md":
        assert "COPY README.md ./\n" in runtime, output
    else:
        assert "COPY . .\n" not in output and "docs" not in runtime, output


@pytest.mark.parametrize(("setup", "split"), [
    ("ARG APP_HOME=/srv/app\n", False),  # `--build-arg APP_HOME=/opt/x`: the runtime's written-out paths would miss
    ("ENV APP_HOME=/srv/app\n", True),
    ("ARG APP_HOME=/srv/app\nENV APP_HOME=$APP_HOME\n", False),  # the ENV follows the argument
])
def test_multi_stage_leaves_a_workdir_made_of_a_build_argument(tmp_path, setup, split):
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("WORKDIR /app\nCOPY pyproject.toml poetry.lock ./\nCOPY README.md ./\nCOPY app ./app\n",
                                 f"{setup}ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR $APP_HOME\n"
                                 "COPY pyproject.toml poetry.lock ./\nCOPY README.md ./\nCOPY app ./app\n") + \
        'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, (output, notes(result))
    if setup.startswith("ARG") and "ENV" not in setup:
        assert any("the WORKDIR comes from the build argument APP_HOME" in note for note in notes(result))


def test_one_explanation_for_the_same_change_on_one_line(tmp_path):
    """split-install leaves two installs for the file's one (dependencies first, the project after the code):
    cache-mount's mount on both was explained, and annotated, twice on that line."""
    make_project(tmp_path, files={**NO_VENV, "settings.yaml": "a: 1\n"})
    output, result = fix(tmp_path, NAIVE)
    assert output.count("--mount=type=cache") == 2, output
    mounts = next(outcome for outcome in result.outcomes if outcome.name == "cache-mount").changes
    assert len(mounts) == 1, [(c.line, c.summary) for c in mounts]


@pytest.mark.parametrize(("compose", "split"), [
    ("services:\n  web:\n    build: .\n    command: poetry run python -m app.main\n", False),
    ('services:\n  web:\n    build: .\n    entrypoint: ["poetry", "run"]\n', False),
    ("services:\n  web:\n    build: .\n    command:\n      - poetry\n      - run\n      - app\n", False),
    ("services:\n  web:\n    build: .\n    command: python -m app.main\n", True),
    # A block scalar's own lines only: not another service's `poetry-cache` volume (a review).
    ("services:\n  web:\n    build: .\n    command: >\n      app-cli\n  db:\n    volumes:\n      - poetry-cache:/c\n",
     True),
])
def test_multi_stage_keeps_poetry_for_a_compose_command_that_runs_it(tmp_path, compose, split):
    """`command: poetry run web-cli` in docker-compose.yml: the runtime stage has no Poetry (a QA build:
    `exec: "poetry": executable file not found`)."""
    make_project(tmp_path, files={"docker-compose.yml": compose})
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, notes(result)


@pytest.mark.parametrize(("compose", "split"), [
    ("services:\n  api:\n    build: ./backend\n    command: poetry run python -m app.main\n", False),
    ("services:\n  api:\n    build:\n      context: ./backend\n      dockerfile: Dockerfile\n"
     "    command: poetry run python -m app.main\n", False),
    ("services:\n  api:\n    build: backend\n  worker:\n    image: acme/api\n    command: [\"poetry\", \"run\", \"w\"]\n",
     False),  # a service with no build may run this image
    ("services:\n  api:\n    build: ./backend\n    command: python -m app.main\n"
     "  web:\n    build: ./frontend\n    command: poetry run serve\n", True),  # Poetry runs in another image
    ("services:\n  web:\n    build: ./frontend\n    command: poetry run serve\n", True),  # not this folder
])
def test_multi_stage_reads_a_compose_file_in_a_folder_above_the_context(tmp_path, compose, split):
    """`command: poetry run …` in the repository root's docker-compose.yml for the service built from ./backend:
    the runtime stage has no Poetry."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "docker-compose.yml").write_text(compose)
    make_project(tmp_path / "backend")
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path / "backend", source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, notes(result)
    assert any("../docker-compose.yml (`command:`) runs Poetry" in n for n in notes(result)) == (not split)


@pytest.mark.parametrize(("files", "split"), [
    ({"docker-compose.yml": "services:\n  api:\n    build: ./backend\n",
      "docker-compose.override.yml": "services:\n  api:\n    command: poetry run python -m app.main\n"}, False),
    ({"docker-compose.yml": "services:\n  api:\n    build: ./backend\n  worker:\n    extends: api\n"
                            "    command:\n      sh -c 'poetry run worker'\n"}, False),
    ({"docker-compose.yml": "services:\n  api:\n    build: ./backend\n    command: python -m app.main\n"}, True),
])
def test_multi_stage_reads_the_override_files_beside_a_compose_file_that_names_the_context(tmp_path, files, split):
    """`docker-compose.override.yml` gives the service built from ./backend its `poetry run` command without
    naming the folder again (a review found it missed)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    make_project(tmp_path / "backend")
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        'CMD ["python", "-m", "app.main"]\n'
    output, result = fix(tmp_path / "backend", source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, notes(result)


@pytest.mark.parametrize(("setup", "pyproject_extra", "command", "split"), [
    ("RUN pip install poetry==1.8.5 poetry-dotenv-plugin\n", "", '["poetry", "run", "python", "-m", "app.main"]', False),
    ("RUN pip install poetry==1.8.5 && poetry self add poetry-dotenv-plugin\n", "",
     '["poetry", "run", "python", "-m", "app.main"]', False),
    ("RUN pip install poetry==1.8.5\n", '\n[tool.poetry.requires-plugins]\npoetry-dotenv-plugin = ">=0.2"\n',
     '["poetry", "run", "python", "-m", "app.main"]', False),
    ("RUN pip install poetry==1.8.5 poetry-dotenv-plugin\n", "", '["python", "-m", "app.main"]', True),  # no run
    ("RUN pip install poetry==1.8.5 poetry-plugin-export\n", "", '["poetry", "run", "python", "-m", "app.main"]',
     True),
])
def test_multi_stage_keeps_poetry_run_when_a_plugin_may_change_it(tmp_path, setup, pyproject_extra, command, split):
    """poetry-dotenv-plugin loads .env on every Poetry command: with `poetry run` dropped the app lost its
    variables (a QA build: `APP_MODE = None`)."""
    make_project(tmp_path, pyproject=CLASSIC + pyproject_extra)
    source = SPLIT_INPUT.replace("RUN pip install poetry==1.8.5\n", setup).replace(
        "WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + f"CMD {command}\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert (" AS runtime" in output) == split, notes(result)


@pytest.mark.parametrize("cleanup", ["rm -rf /tmp/*", "pip cache purge", "rm -rf /var/tmp/build /tmp/x"])
def test_split_install_moves_an_install_chained_with_a_temporary_files_cleanup(tmp_path, cleanup):
    """`poetry install … && rm -rf /tmp/*` was "chained with `rm -rf /tmp/*`, which may need the code": every code
    change re-ran the install (a QA build)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("RUN poetry install --only main", f"RUN poetry install --only main && {cleanup}")
    output, _ = fix(tmp_path, source, select=["split-install"])
    lines = output.splitlines()
    assert lines.index(f"RUN poetry install --only main --no-root && {cleanup}") < lines.index("COPY app ./app"), output


@pytest.mark.parametrize(("files", "command"), [
    ({"Makefile": "run:\n\tpoetry run python -m app.main\n"}, '["make", "run"]'),  # a QA build: `make: poetry: No
    ({"Makefile": "run:\n\tpoetry run python -m app.main\n"}, "make run"),         # such file or directory`
    ({"Procfile": "web: poetry run python -m app.main\n"}, '["honcho", "start"]'),
    ({"docker-compose.yml": 'services:\n  web:\n    build: .\n    command: >\n      bash -c "poetry run app"\n'},
     '["python", "-m", "app.main"]'),
    ({"docker-compose.yml": 'services:\n  web:\n    build: .\n    healthcheck:\n      test: ["CMD", "poetry", "run", "x"]\n'},
     '["python", "-m", "app.main"]'),
])
def test_multi_stage_finds_poetry_in_the_files_a_command_reads(tmp_path, files, command):
    make_project(tmp_path, files=files)
    source = SPLIT_INPUT.replace("WORKDIR /app\n", "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n") + \
        f"CMD {command}\n"
    output, result = fix(tmp_path, source, select=["multi-stage"])
    assert " AS runtime" not in output, notes(result)


@pytest.mark.parametrize("env", ["ENV BASE=/app\nENV DOCS=${BASE}/docs\n", "ARG DOCS=/app/docs\nENV D=$DOCS\n",
                                 'ENV OPTS="--intro /app/docs/intro.md"\n'])
def test_narrow_copy_reads_env_paths_through_variables_and_inside_values(tmp_path, env):
    """A path in an ENV through another variable, or inside a longer value: docs/ was left out, and a QA build
    failed with FileNotFoundError."""
    make_project(tmp_path, files={**NO_VENV, "docs/intro.md": "hi\n"})
    output, result = fix(tmp_path, NAIVE.replace("WORKDIR /app\n", f"WORKDIR /app\n{env}"), select=["narrow-copy"])
    assert "COPY . .\n" in output and any("docs/, which line" in c.reason for o in result.outcomes for c in o.changes), output


def test_env_values_are_expanded_as_docker_stores_them():
    """`ENV APP_HOME=$BASE/app` is stored expanded; single quotes and `\\$` keep the text (a review found both
    expanded)."""
    from poetry_docker_fix.refactor.document import Document

    document = Document.from_text("FROM python:3.11\nENV BASE=/srv\nENV HOME_DIR=$BASE/app\nENV APP='$BASE/app'\n"
                                  "ENV B2=\\$BASE/x\nENV P=/x:$PATH\nRUN true\n")
    env = document.stage_env(document.stages[0], 10**6)
    assert env["HOME_DIR"] == "/srv/app" and env["APP"] == "$BASE/app" and env["B2"] == "$BASE/x"
    assert env["P"] == "/x:$PATH"


def test_split_install_reads_a_readme_copied_before_the_manifests(tmp_path):
    """`COPY README.md ./` before `COPY pyproject.toml poetry.lock ./`: "a manifest is copied after the code",
    and every code change re-ran the install (a QA build)."""
    make_project(tmp_path)
    source = SPLIT_INPUT.replace("COPY pyproject.toml poetry.lock ./\nCOPY README.md ./\n",
                                 "COPY README.md ./\nCOPY pyproject.toml poetry.lock ./\n")
    output, result = fix(tmp_path, source, select=["split-install"])
    lines = output.splitlines()
    assert lines.index("RUN poetry install --only main --no-root") < lines.index("COPY app ./app"), notes(result)
    assert lines.index("RUN mkdir -p app && touch app/__init__.py && poetry install --only-root") < \
        lines.index("COPY app ./app")


def test_no_dev_says_nothing_about_an_install_that_already_chooses_its_groups(tmp_path):
    """`--only main` already: "development dependencies are kept" was wrong (a QA review)."""
    make_project(tmp_path, files={"app/checks.py": "import pytest\n"})
    source = "FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install --only main\n"
    output, result = fix(tmp_path, source, select=["no-dev"])
    assert output == source and not notes(result), notes(result)
