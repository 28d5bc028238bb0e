"""poetry-env: the POETRY_* variables that make the install predictable and copyable."""

from __future__ import annotations

import fnmatch
import posixpath
import re

from ..refactor.compose import compose_covering_mount, compose_files
from ..refactor.document import Document, Instruction, parse_assignments
from ..refactor.edits import Edit, tidy_continuations
from ..refactor.facts import (
    PYTHON_IMAGE,
    Context,
    copied_before,
    copies_from,
    copy_arguments,
    copy_sources,
    creates_no_venv,
    falsy,
    inherited_system_install,
    install_runs,
    install_stage,
    login_shell,
    pinned_poetry,
    pip_install_arguments,
    poetry_config_commands,
    poetry_setup,
    project_dir,
    pyproject_destination,
    runs_as_root,
    script_run_matching,
    truthy,
    user_before,
)
from ..refactor.imports import TooManyFiles, first_importer
from ..refactor.project import normalise_name
from ..refactor.shell import run_commands
from ..refactor.versions import LATEST_KNOWN
from .base import Pass, PassResult
from .cache_mount import in_project_venv
from .narrow_copy import app_sources, not_needed_at_run_time

CACHE_DIR = "/tmp/poetry_cache"
_PRAGMA = re.compile(r"^\s*#\s*poetry-docker-fix:\s*ignore", re.IGNORECASE)
_CONFIG_CREATE = re.compile(
    r"(?P<lead>\s*&&\s*)?(?:\S*/)?poetry\s+config\s+(?:--local\s+)?(?:settings\.)?virtualenvs\.create\s+['\"]?(?:false|0)['\"]?"
    r"(?:\s+--local)?(?P<trail>\s*&&\s*)?"
)


def env_block(document: Document, assignments: list[str]) -> list[str]:
    """`ENV A=1 \\` / `    B=2` lines in the file's keyword case."""
    keyword = document.kw("ENV")
    if len(assignments) == 1:
        return [f"{keyword} {assignments[0]}"]
    lines = [f"{keyword} {assignments[0]} \\"]
    lines += [f"    {a} \\" for a in assignments[1:-1]]
    lines.append(f"    {assignments[-1]}")
    return lines


def insert_block_after(document: Document, line: int, block: list[str]) -> Edit:
    """Insert `block` after raw line `line`, separated by a blank line when the file spaces its instructions."""
    following = line + 1
    if following < len(document.lines) and document.lines[following].strip() == "":
        return Edit.insert(following, ["", *block])
    return Edit.insert(following, block)


class PoetryEnv(Pass):
    """Set the POETRY_* variables that make the install reproducible and movable.

    What: adds `POETRY_VIRTUALENVS_IN_PROJECT=1`, `POETRY_VIRTUALENVS_CREATE=1` and
    `POETRY_CACHE_DIR=/tmp/poetry_cache` right after Poetry is installed (only those not already set).
    `poetry config virtualenvs.create false` and `POETRY_VIRTUALENVS_CREATE=false` are converted: the
    dependencies then go into `<project>/.venv`, and `VIRTUAL_ENV`/`PATH` are set so `python` and the app's
    commands still find them.
    Why: the virtualenv must sit at a known path inside the project to be copied to a runtime stage (by default
    it hides in Poetry's cache dir, which a cache mount would also wipe); a fixed cache dir gives the cache
    mount a literal target. `POETRY_NO_INTERACTION` is not added: Poetry reads it nowhere, and without a
    terminal, as in `docker build`, it never prompts.
    Example: `ENV POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_VIRTUALENVS_CREATE=1 POETRY_CACHE_DIR=/tmp/poetry_cache`.
    Left alone: variables already set to a working value.
    """

    name = "poetry-env"
    description = "Put the virtualenv in the project and the cache at a fixed path"

    def run(self, document: Document, context: Context) -> PassResult:
        result = self._run(document, context)
        stage = install_stage(document)
        taken = copies_from(document, stage) if result.changes and stage is not None else None
        if taken is not None:
            # `COPY --from=builder /root/.cache/pypoetry/virtualenvs …` or the system site-packages: moving the
            # dependencies elsewhere would leave that stage without them.
            return PassResult(notes=result.notes + [
                f"line {taken.line_number}: another stage copies files out of this one, and the dependencies would "
                "no longer be where it takes them from; left alone"])
        return result

    def _run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        stage = install_stage(document)
        if stage is None:
            return result
        first_install = install_runs(stage)[0]
        parent = inherited_system_install(document, stage)
        if parent is not None:
            result.notes.append(f"`virtualenvs.create false` comes from stage `{parent.name}`: converting it would "
                                "change that stage too; left alone")
            return result
        user = user_before(document, stage, first_install.start)
        if not runs_as_root(user) and project_dir(document, stage, first_install) != f"/home/{user}" and \
                not in_project_venv(document, stage, first_install, context.project):
            # WORKDIR makes the project folder root-owned (COPY --chown does not change it): that user may not
            # create .venv there, and Poetry's default place in its home works. Its home is its own, and an
            # in-project venv the file already asks for is known to work.
            result.notes.append(f"line {first_install.line_number}: `poetry install` runs as USER {user}, who may "
                                "not be able to create .venv in the project folder; left alone")
            return result
        broad = next((i for i in stage.instructions if copy_sources(i) in (["."], ["./"])), None)
        project = context.project
        directory = project_dir(document, stage, first_install)
        active = document.stage_env(stage, first_install.start).get("VIRTUAL_ENV")
        if active and active.strip("'\"").rstrip("/") != f"{directory}/.venv":
            # Poetry installs into an activated virtualenv (`ENV VIRTUAL_ENV=/opt/venv` + `python -m venv`),
            # whatever virtualenvs.in-project says.
            result.notes.append(f"Poetry installs into the active virtualenv VIRTUAL_ENV={active.strip(chr(34))}, "
                                "not one of its own; left alone")
            return result
        has_compose = project is not None and bool(compose_files(project))
        venv_home = (pyproject_destination(document, stage, first_install) or directory) if has_compose else None
        mounted = compose_covering_mount(project, venv_home) if venv_home else None
        if mounted is not None and not truthy(
                document.stage_env(stage, first_install.start).get("POETRY_VIRTUALENVS_IN_PROJECT")):
            result.notes.append(f"{mounted[0]} mounts a volume over {mounted[1]}, which would hide an in-project "
                                f".venv in {venv_home} when the app runs there (or keep an old one); left alone")
            return result
        if broad is not None and project is not None and not project.is_ignored(".venv") and not truthy(
            document.stage_env(stage, first_install.start).get("POETRY_VIRTUALENVS_IN_PROJECT")
        ):
            result.notes.append(f"line {broad.line_number}: `{document.raw(broad)[0].strip()}` could copy a local "
                                ".venv (a developer's, in the build context) over an in-project virtualenv; add "
                                "`.venv` to .dockerignore to allow it")
            return result
        env = document.stage_env(stage, first_install.start)
        converted = False

        for instruction in stage.instructions:
            if instruction.start >= first_install.end + 1 and instruction is not first_install:
                break
            if instruction.keyword == "RUN" and any(
                creates_no_venv(args) for args in poetry_config_commands(instruction)
            ):
                edit = self._drop_config(document, instruction)
                if edit is None:
                    result.notes.append(
                        f"line {instruction.line_number}: cannot remove `poetry config virtualenvs.create false` "
                        "from this command; left alone"
                    )
                    return PassResult(notes=result.notes)
                converted = True
                result.change(edit, instruction.line_number, "drop `poetry config virtualenvs.create false`",
                              "installing into the system interpreter mixes the app with the image's own Python "
                              "(Poetry's docs advise against it, even in Docker) and leaves nothing to copy to a "
                              "runtime stage; the dependencies go into a virtualenv in the project instead")
            if instruction.keyword == "ENV" and falsy(env_value(instruction, "POETRY_VIRTUALENVS_CREATE")):
                edit = _set_value(document, instruction, "POETRY_VIRTUALENVS_CREATE", "1")
                if edit is not None:
                    converted = True
                    result.change(edit, instruction.line_number, "POETRY_VIRTUALENVS_CREATE=1",
                                  "a virtualenv in the project can be copied to a runtime stage; the system "
                                  "interpreter cannot")
            if instruction.keyword == "ENV" and falsy(env_value(instruction, "POETRY_VIRTUALENVS_IN_PROJECT")):
                edit = _set_value(document, instruction, "POETRY_VIRTUALENVS_IN_PROJECT", "1")
                if edit is not None:
                    result.change(edit, instruction.line_number, "POETRY_VIRTUALENVS_IN_PROJECT=1",
                                  "the virtualenv must be at a known path to be copied to a runtime stage")

        from_poetry_toml = not converted and project is not None and project.poetry_toml_creates_no_venv and \
            "POETRY_VIRTUALENVS_CREATE" not in env and \
            copied_before(stage, first_install.start, "poetry.toml", project)
        if from_poetry_toml:
            # poetry.toml's `create = false` makes a system install too; POETRY_VIRTUALENVS_CREATE=1 overrides it,
            # and then `python` must find the venv as for a converted `poetry config`.
            if "POETRY_VIRTUALENVS_IN_PROJECT" in env and not truthy(env["POETRY_VIRTUALENVS_IN_PROJECT"]):
                result.notes.append("poetry.toml says `virtualenvs.create = false` and POETRY_VIRTUALENVS_IN_PROJECT "
                                    "is off: left alone")
                return result
            converted = True
        wanted: list[str] = []
        if from_poetry_toml and "POETRY_VIRTUALENVS_IN_PROJECT" in env:
            wanted.append("POETRY_VIRTUALENVS_CREATE=1")
        if "POETRY_VIRTUALENVS_IN_PROJECT" not in env:
            # An untuned stage: set the three together. A stage that already chose where its virtualenv lives
            # is left to its own choice of cache (cache-mount then uses Poetry's default cache dir).
            wanted.append("POETRY_VIRTUALENVS_IN_PROJECT=1")
            if "POETRY_VIRTUALENVS_CREATE" not in env:
                wanted.append("POETRY_VIRTUALENVS_CREATE=1")
            if "POETRY_CACHE_DIR" not in env and not _has_cache_mount(stage):
                wanted.append(f"POETRY_CACHE_DIR={CACHE_DIR}")
        if converted:
            login = login_shell(stage)
            blocker = _needs_system_setuptools(document, stage, context) or _needs_poetrys_own(
                document, stage, project) or _system_program(
                stage, first_install, project, directory) or _system_pip_install(stage) or _path_set_later(
                document, stage) or (
                f"line {login.line_number}: a login shell resets PATH from /etc/profile, so `python` would not be the "
                "virtualenv's; `virtualenvs.create false` is left alone" if login is not None else None) or \
                _python_m_poetry(stage)
            if blocker:
                result.notes.append(blocker)
                return PassResult(notes=result.notes)
            if directory is None or directory == "/":
                result.notes.append("the install runs in the image root or an unknown WORKDIR: cannot place "
                                    "the virtualenv; left alone")
                return PassResult(notes=result.notes)
            if "VIRTUAL_ENV" not in env:
                # Poetry makes the in-project venv beside pyproject.toml, found from the WORKDIR upwards.
                home = pyproject_destination(document, stage, first_install) or directory
                wanted.append(f"VIRTUAL_ENV={home}/.venv")
                wanted.append(f'PATH="{home}/.venv/bin:$PATH"')
        if not wanted:
            return result

        setup = poetry_setup(document, stage)
        first_poetry_use = next(
            i for i in stage.instructions if i.keyword == "RUN" and _uses_poetry_command(i)
        )
        block = env_block(document, wanted)
        if setup is not None and setup.instruction.start < first_poetry_use.start:
            edit = insert_block_after(document, setup.instruction.end, block)
        else:
            # Poetry comes from the base image (or is installed later): set the variables before the build
            # context is copied, so the dependency install can later move right after the manifests COPY.
            first_copy_or_use = next(
                i for i in stage.instructions
                if i is first_poetry_use or (i.keyword in ("COPY", "ADD") and copy_sources(i) is not None)
            )
            anchor = document.comment_block_start(first_copy_or_use)
            following_blank = anchor > 0 and document.lines[anchor - 1].strip() == ""
            edit = Edit.insert(anchor, [*block, ""] if following_blank else block)
        reason = "an in-project virtualenv (`.venv` next to pyproject.toml) can be copied to a runtime stage"
        if any(word.startswith("POETRY_CACHE_DIR=") for word in wanted):
            reason += ", and a fixed cache dir gives the cache mount a literal target"
        if from_poetry_toml:
            reason += ("; POETRY_VIRTUALENVS_CREATE=1 overrides poetry.toml's `virtualenvs.create = false`, which "
                       "installed into the system interpreter")
        if converted:
            reason += "; VIRTUAL_ENV and PATH let `python` and the app's commands find the dependencies"
        # Reported on the instruction that installs Poetry (the block goes right after it), else on the first use.
        result.change(edit, setup.instruction.line_number if setup else first_poetry_use.line_number,
                      "set " + ", ".join(a.split("=")[0] for a in wanted), reason)
        return result

    @staticmethod
    def _drop_config(document: Document, instruction: Instruction) -> Edit | None:
        """Remove every `poetry config virtualenvs.create false` from a RUN (the whole RUN when that is all it
        does); None when the command around it is not a plain `&&` chain."""
        commands = run_commands(instruction)
        if all(_is_create_false(c) for c in commands):
            # A pragma above it goes too: left behind, it would protect the next instruction, or nothing.
            block = range(document.comment_block_start(instruction), instruction.start)
            first = next((line for line in block if _PRAGMA.match(document.lines[line])), instruction.start)
            return Edit.delete(first, instruction.end)
        if any(c.operator_before not in ("", "&&") for c in commands):
            return None
        lines = list(document.raw(instruction))
        for index, line in enumerate(lines):
            if line.lstrip().startswith("#"):
                continue
            while (match := _CONFIG_CREATE.search(line)) is not None:
                if match.group("lead") and match.group("trail"):
                    line = line[: match.start()] + " && " + line[match.end():]
                elif match.group("lead") or match.group("trail"):
                    line = line[: match.start()] + line[match.end():]
                else:
                    # Alone on its line: the `&&` that chains it starts the next line.
                    following = next((j for j in range(index + 1, len(lines))
                                      if not lines[j].lstrip().startswith("#")), None)
                    if following is None or not lines[following].lstrip().startswith("&&"):
                        return None
                    line = line[: match.start()].rstrip() + " " + line[match.end():].lstrip()
                    indent = len(lines[following]) - len(lines[following].lstrip())
                    lines[following] = lines[following][:indent] + lines[following].lstrip()[2:].lstrip()
            lines[index] = line
        lines = tidy_continuations(lines)
        text = " ".join(lines)
        if _CONFIG_CREATE.search(text) or re.search(r"(?i)^\s*run\s+(--\S+\s+)*&&|&&\s*(\\\s*)?&&", text):
            return None
        # Read back as the shell would: `poetry \` + `config virtualenvs.create false` on the next line is no
        # match for the pattern above, and must not be reported dropped while it stays (a fuzzing review).
        if "create" in text:  # (the words of the setting may still be there, split by a line break)
            again = next((i for i in Document.from_text("FROM scratch\n" + "\n".join(lines) + "\n").instructions
                          if i.keyword == "RUN"), None)
            if again is None or any(creates_no_venv(args) for args in poetry_config_commands(again)):
                return None
        return Edit.replace(instruction.start, instruction.end, lines)


def _needs_system_setuptools(document: Document, stage, context: Context) -> str | None:
    """Why the system install must stay: the app's own code imports setuptools (or its pkg_resources), which
    the image's interpreter has (official images up to Python 3.11 ship it) but a virtualenv made by Poetry 2.x
    does not (it never seeds setuptools; 1.x does), and the dependency install does not bring it either. Its
    tests, docs, .dockerignored files and a setup.py / build.py (which Poetry 2.x runs in an isolated build
    environment) do not count."""
    project = context.project
    if project is None:
        return None
    python = PYTHON_IMAGE.match(stage.image)
    if python and tuple(int(part) for part in python.group("version").split(".")[:2]) >= (3, 12):
        return None  # no setuptools in the image's interpreter either: the venv changes nothing
    version, _exact = pinned_poetry(document, stage)
    version = version or LATEST_KNOWN  # unpinned: the build gets the newest Poetry, whatever wrote the lock
    if version.major < 2 or _installs_setuptools(project):
        return None
    try:
        importer = first_importer(project.root, ("setuptools", "pkg_resources"), skip=lambda name: (
            project.is_ignored(name) or name in ("setup.py", "build.py") or not_needed_at_run_time(name)))
    except TooManyFiles as error:
        return (f"the context holds more than {error.args[0]:,} Python files, too many to tell whether the app "
                f"imports setuptools, which a virtualenv made by Poetry {version} lacks; `virtualenvs.create "
                "false` is left alone")
    if importer is None:
        return None
    return (f"{importer} imports setuptools or pkg_resources: the system interpreter has it, but a virtualenv "
            f"made by Poetry {version} has no setuptools and the install does not bring it; `virtualenvs.create "
            "false` is left alone (add setuptools to the main dependencies to allow it)")


# What Poetry itself installs into the interpreter pip put it in (module -> package): with `virtualenvs.create
# false` an app can import them without declaring them; a virtualenv has none of them.
POETRY_BRINGS = {
    "requests": "requests", "packaging": "packaging", "certifi": "certifi", "platformdirs": "platformdirs",
    "urllib3": "urllib3", "idna": "idna", "charset_normalizer": "charset-normalizer", "tomlkit": "tomlkit",
    "cachecontrol": "cachecontrol", "keyring": "keyring", "pkginfo": "pkginfo", "virtualenv": "virtualenv",
    "filelock": "filelock", "shellingham": "shellingham", "trove_classifiers": "trove-classifiers",
    "build": "build", "pyproject_hooks": "pyproject-hooks", "installer": "installer", "dulwich": "dulwich",
    "crashtest": "crashtest", "cleo": "cleo", "fastjsonschema": "fastjsonschema", "msgpack": "msgpack",
    "rapidfuzz": "rapidfuzz", "requests_toolbelt": "requests-toolbelt", "distlib": "distlib",
    "poetry": "poetry", "jaraco": "jaraco-classes", "more_itertools": "more-itertools",
}


def _needs_poetrys_own(document: Document, stage, project) -> str | None:
    """Why the system install must stay: the app's own code imports a package it does not declare but Poetry
    brought into the system interpreter (`import requests` working only because Poetry needs requests); a
    virtualenv would not have it (a real build: No module named 'requests'). Read as text (an `import` or `from`
    statement at the start of a line) in the app's own code, as narrow-copy reads it."""
    setup = poetry_setup(document, stage)
    if project is None or setup is None or setup.kind != "pip":
        return None  # the official installer and pipx keep Poetry's packages in a venv of its own
    # Declared: a main dependency (one only a dev group brings is not installed with --only main). A top-level
    # module of the project's own (`installer.py`, `build/`) is no package of Poetry's.
    # Installed: a main dependency, or a package the lock has (a dependency of one; one only a dev group brings
    # would be missed with --only main, a gap left open). The project's own `installer.py` is not Poetry's.
    main = {normalise_name(name) for name in project.group_packages.get("main", ())}
    locked = project.locks(*POETRY_BRINGS.values())
    undeclared = [module for module, package in POETRY_BRINGS.items()
                  if normalise_name(package) not in main and normalise_name(package) not in locked
                  and not project.exists(f"{module}.py") and not project.exists(f"{module}/__init__.py")]
    if not undeclared:
        return None
    pattern = re.compile(r"(?m)^[ \t]*(?:import|from)[ \t]+(" + "|".join(map(re.escape, undeclared)) + r")\b")
    for relative, text in app_sources(project):
        found = sorted(set(pattern.findall(text)))
        if found:
            return (f"{relative} imports {', '.join(found)}, which poetry.lock does not install but Poetry brought "
                    "into the system interpreter; a virtualenv would not have it; `virtualenvs.create false` is left "
                    "alone (add it to the main dependencies to allow it)")
    return None


# A program run by its absolute path where the official python images keep the interpreter and where a system
# install puts console scripts: a virtualenv's PATH does not change what such a path runs.
_SYSTEM_PROGRAM = re.compile(r"(?<![\w./-])(/usr/local/bin/[\w.+-]+|/usr/bin/python[\w.]*)")


def _python_m_poetry(stage) -> str | None:
    """Why the system install must stay: the file runs Poetry as `python -m poetry`, and with the virtualenv first
    on PATH `python` becomes the virtualenv's, which has no Poetry, from the first install on (the fuzzing review
    replayed it: `No module named poetry`)."""
    for instruction in stage.instructions:
        if instruction.keyword == "RUN" and "poetry" in instruction.value:
            for command in run_commands(instruction):
                if is_python_m_poetry(command):
                    return (f"line {instruction.line_number} runs Poetry as `python -m poetry`, which would be the "
                            "virtualenv's python (without Poetry) once the virtualenv is first on PATH; "
                            "`virtualenvs.create false` is left alone")
    return None


def is_python_m_poetry(command) -> bool:
    tokens = command.tokens
    return len(tokens) >= 3 and re.fullmatch(r"(?:\S*/)?python[\d.]*", tokens[0]) is not None and \
        tokens[1:3] == ("-m", "poetry")


def _path_set_later(document: Document, stage) -> str | None:
    """Why the venv's PATH would not come first: an ENV after Poetry is installed (where the venv's goes) sets
    PATH again with the system's folders ahead (`ENV PATH="/usr/local/bin:$PATH"`), so `python` stays the
    system one."""
    setup = poetry_setup(document, stage)
    start = setup.instruction.start if setup is not None else -1
    for instruction in stage.instructions:
        if instruction.keyword == "ENV" and instruction.start > start:
            value = parse_assignments(instruction.value).get("PATH")
            parts = value.strip("'\"").split(":") if value else []
            own = next((i for i, part in enumerate(parts) if part in ("$PATH", "${PATH}")), len(parts))
            # Folders put ahead of the PATH the venv's is on; Poetry's own (`$PATH:/root/.poetry/bin`) do no harm.
            ahead = [part for part in parts[:own] if part and not re.search(
                r"(?i)VIRTUAL_ENV|\.venv|poetry|/\.local/bin", part)]
            if ahead:
                return (f"line {instruction.line_number} sets PATH after Poetry is installed, ahead of where the "
                        "virtualenv's would go; `virtualenvs.create false` is left alone")
    return None


_PIP_OPTIONS_WITH_VALUE = {"-i", "--index-url", "--extra-index-url", "-c", "--constraint", "-f", "--find-links",
                           "--trusted-host", "--target", "-t", "--prefix", "--root", "--platform", "--python-version",
                           "--implementation", "--abi", "--cache-dir", "--src", "--upgrade-strategy", "--progress-bar",
                           "--log", "--proxy", "--retries", "--timeout", "--cert", "--client-cert", "--global-option",
                           "--config-settings", "-C", "--only-binary", "--no-binary", "--root-user-action",
                           "--exists-action", "--report", "--python", "--keyring-provider"}
# Poetry, its plugins, and pip's own tools: what installing Poetry brings into the system anyway.
_POETRY_TOOLING = re.compile(r"(?i)(?:poetry(?:[-_][\w-]+)?|pip|pipx|setuptools|wheel)(?:\[[^\]]*\])?(?:[=<>!~;@ ].*)?$")


def _system_pip_install(stage) -> str | None:
    """Why the conversion would split the app from packages pip puts into the system interpreter
    (`RUN pip install gunicorn`): that gunicorn would not see the dependencies once they are in a virtualenv."""
    for instruction in stage.instructions:
        if instruction.keyword != "RUN":
            continue
        for command in run_commands(instruction):
            arguments = pip_install_arguments(command)
            if arguments is None or command.tokens[0].rsplit("/", 1)[-1].startswith("pipx"):
                continue  # pipx installs into a venv of its own
            packages, taking = [], False
            for argument in arguments:
                if taking:  # the value of `-i URL`, `-c constraints.txt`, …
                    taking = False
                elif argument in _PIP_OPTIONS_WITH_VALUE:
                    taking = True
                elif not argument.startswith("-") and not _POETRY_TOOLING.match(argument.strip("'\"")):
                    packages.append(argument)
            if packages or any(a in ("-r", "--requirement") or a.startswith(("-r", "--requirement="))
                               for a in arguments):
                return (f"line {instruction.line_number} installs packages with pip into the system interpreter, "
                        "which would not see the dependencies in a virtualenv; `virtualenvs.create false` is left "
                        "alone")
    return None


def _system_program(stage, first_install, project, directory) -> str | None:
    """Why the conversion would break the image: a command (CMD, ENTRYPOINT, HEALTHCHECK, or a RUN from the
    install on), or a script of the build context that CMD or ENTRYPOINT runs, runs the system interpreter or a
    system console script by its path, which would not see the dependencies once they are in a virtualenv."""
    found = None
    for instruction in stage.instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK") or (
                instruction.keyword == "RUN" and instruction.start >= first_install.start):
            match = _SYSTEM_PROGRAM.search(instruction.value)
            if match:
                found = (f"line {instruction.line_number}", match.group(1))
                break
    if found is None:
        script = script_run_matching(stage, project, directory, _SYSTEM_PROGRAM)
        if script is not None:
            found = (f"`{script[0]}`, which the image runs,", script[1].group(1))
    if found is None and project is not None:
        found = _system_program_in_copied_config(stage, project, directory) or _system_program_in_process_files(
            stage, first_install, project)
    if found is None:
        return None
    where, program = found
    return (f"{where} runs `{program}` by its path, which would not see the dependencies in a virtualenv; "
            f"`virtualenvs.create false` is left alone (run `{program.rsplit('/', 1)[1]}` by name to allow it)")


_PROCESS_FILES = ("Procfile", "Procfile.*", "supervisord*.conf", "*supervisor*.conf", "circus*.ini")


def _system_program_in_process_files(stage, first_install, project) -> tuple[str, str] | None:
    """A process manager's file of the context the image gets (`Procfile` for honcho, a supervisord config) that
    runs the system interpreter or a system console script by its path (`web: /usr/local/bin/web-cli`): a real
    build of the converted rewrite failed with `/usr/local/bin/web-cli: not found`."""
    for name in project.context_entries():
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in _PROCESS_FILES) or project.is_dir(name):
            continue
        if not copied_before(stage, 10**9, name, project):
            continue
        path = project.root / name
        try:
            if not path.is_file() or path.stat().st_size > 1_000_000:  # (not a FIFO, not a huge file)
                continue
            match = _SYSTEM_PROGRAM.search(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if match:
            return f"{name}, which the image gets,", match.group(1)
    return None


def _system_program_in_copied_config(stage, project, directory) -> tuple[str, str] | None:
    """A file a COPY puts outside the project folder (`COPY deploy/supervisord.conf /etc/supervisord.conf`, which
    supervisord reads by default) that runs the system interpreter by its path: the program it starts would not
    see the dependencies in a virtualenv (a real build: No module named 'click')."""
    for instruction in stage.instructions:
        arguments = copy_arguments(instruction)
        if not arguments or not arguments[-1].startswith("/") or "$" in arguments[-1]:
            continue
        target = posixpath.normpath(arguments[-1])
        if directory and (target == directory or target.startswith(directory.rstrip("/") + "/")):
            continue
        for source in arguments[:-1]:
            relative = posixpath.normpath(source).lstrip("/")
            if any(c in relative for c in "*?[$") or relative in (".", "") or not project.may_hold(relative):
                continue
            path = project.root / relative
            try:
                files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[:50] \
                    if path.is_dir() else []
                for file in files:
                    if file.stat().st_size < 1_000_000:
                        match = _SYSTEM_PROGRAM.search(file.read_text(encoding="utf-8", errors="replace"))
                        if match:
                            name = file.relative_to(project.root).as_posix()
                            return f"{name}, which line {instruction.line_number} copies to {target},", match.group(1)
            except OSError:
                continue
    return None


_PACKAGE_BLOCK = re.compile(r"(?m)^\[\[package\]\][ \t]*$")


def _installs_setuptools(project) -> bool:
    """Whether the dependency install brings setuptools: poetry.lock names it in the main group (the only one
    `--only main`, as no-dev writes it, installs), not as an optional extra. A lock without groups (Poetry 1.x
    wrote none) counts on the package being locked."""
    if not project.locks("setuptools"):
        return False
    for block in _PACKAGE_BLOCK.split(project.lock_text or "")[1:]:
        head = block.split("\n[", 1)[0]  # the package's own keys, before its sub-tables
        name = re.search(r'(?m)^name = "([^"]+)"', head)
        if name is None or normalise_name(name.group(1)) != "setuptools":
            continue
        if re.search(r"(?m)^optional = true", head):
            return False
        groups = re.search(r"(?m)^groups = \[([^\]]*)\]", head)
        return groups is None or '"main"' in groups.group(1)
    return False


def _has_cache_mount(stage) -> bool:
    return any(
        flag.startswith("--mount") and "type=cache" in flag
        for instruction in stage.instructions if instruction.keyword == "RUN"
        for flag in instruction.flags_and_args()[0]
    )


def _is_create_false(command) -> bool:
    tokens = list(command.tokens)
    return "config" in tokens and any(t.removeprefix("settings.") == "virtualenvs.create" for t in tokens)


def _uses_poetry_command(instruction: Instruction) -> bool:
    from ..refactor.shell import uses_poetry

    return uses_poetry(instruction)


def env_value(instruction: Instruction, name: str) -> str | None:
    from ..refactor.document import parse_assignments

    return parse_assignments(instruction.value, "ENV").get(name)


def _set_value(document: Document, instruction: Instruction, name: str, value: str) -> Edit | None:
    pattern = re.compile(rf"(\b{name}[=\s]+)(['\"]?)(false|0|no|off)\2", re.IGNORECASE)
    for index in range(instruction.start, instruction.end + 1):
        line = document.lines[index]
        match = pattern.search(line)
        if match:
            return Edit.replace(index, index, [line[: match.start()] + match.group(1) + value + line[match.end():]])
    return None
