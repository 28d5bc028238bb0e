"""Facts several passes need about a Dockerfile: where Poetry is installed, which version, where it installs."""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .document import Document, Instruction, Stage, expand, parse_assignments, per_document, per_object, per_text
from .project import PoetryProject
from .shell import Command, poetry_installs, poetry_subcommand, run_commands
from .versions import LATEST_KNOWN, Version

PIP = re.compile(r"^(?:.*/)?pip(?:3(?:\.\d+)?)?$")
PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
POETRY_REQUIREMENT = re.compile(r"^poetry(?:\[[^\]]*\])?(?P<spec>(?:===|==|>=|<=|~=|!=|<|>).*)?$", re.IGNORECASE)
PIPX = re.compile(r"^(?:.*/)?pipx$")
INSTALLER_HOST = "install.python-poetry.org"
# An official python image tag: `python:3.11`, `python:3.11-slim-bookworm`, `docker.io/library/python:3.12-alpine`.
PYTHON_IMAGE = re.compile(
    r"^(?P<repo>(?:[\w.-]+(?::\d+)?/)?(?:library/)?python):(?P<version>\d+(?:\.\d+){0,2})"
    r"(?P<variant>-(?:slim-)?[a-z]+)?$"
)


@dataclass(frozen=True)
class Options:
    """Settings of a run that passes may read (never the CLI itself)."""

    poetry_version: Version | None = None  # --poetry-version: pin this instead of the lock's writer
    syntax_directive: bool = False  # --syntax-directive: add `# syntax=docker/dockerfile:1` with cache mounts
    runtime_image: str | None = None  # --runtime-image: base of the runtime stage instead of the slim twin
    extra_copy: tuple[str, ...] = ()  # --extra-copy: context paths the app needs that the tool cannot see
    poetry_version_from: str = "--poetry-version"  # where poetry_version was given, for the reasons


@dataclass(frozen=True)
class Context:
    project: PoetryProject | None
    options: Options = Options()
    root: Path | None = None  # the build context, for messages when it holds no project
    development: str | None = None  # the Dockerfile's name when it is named for development: left alone


def named_for_development(path: str) -> bool:
    """`Dockerfile.dev`, `test.Dockerfile`, `Dockerfile-ci`, `Dockerfile.local`, `.devcontainer/Dockerfile`: a
    file whose name says it builds a development, test or CI image, for which a production rewrite (no dev
    dependencies, no tests, no Poetry at run time) would take away what it is for. A name that also says
    production (`Dockerfile.test.prod`) is not."""
    parts = path.replace("\\", "/").split("/")
    if len(parts) > 1 and parts[-2].lower() in (".devcontainer", "devcontainer"):
        return True
    words = set(re.split(r"[.\-_]+", parts[-1].lower()))
    return bool(words & _DEVELOPMENT_WORDS) and not words & _PRODUCTION_WORDS


_DEVELOPMENT_WORDS = {"dev", "devel", "develop", "development", "devcontainer", "test", "tests", "testing", "ci",
                      "local", "debug", "e2e", "unittest", "unittests", "lint"}
_PRODUCTION_WORDS = {"prod", "production", "prd", "release", "live"}


@dataclass(frozen=True)
class PoetrySetup:
    """How a stage gets Poetry."""

    instruction: Instruction
    kind: str  # "pip", "pipx", "installer"
    spec: str | None  # the version specifier as written: "==1.4.2", "==${POETRY_VERSION}", None (unpinned)
    version: Version | None  # resolved exact version, when pinned


def installs_only_poetry_tools(arguments: list[str]) -> bool:
    """Whether pip's install arguments name only Poetry (its plugins too), pip, setuptools and wheel."""
    return all(a.startswith("-") or a.lower().startswith(("poetry", "pip", "setuptools", "wheel")) for a in arguments)


def pip_install_arguments(command: Command) -> list[str] | None:
    tokens = list(command.tokens)
    if tokens[:1] and PYTHON.match(tokens[0]) and tokens[1:3] == ["-m", "pip"]:
        tokens = tokens[3:]
    elif tokens[:1] and PIP.match(tokens[0]):
        tokens = tokens[1:]
    elif tokens[:1] and PIPX.match(tokens[0]):
        tokens = tokens[1:]
    else:
        return None
    if tokens[:1] != ["install"]:
        return None
    return tokens[1:]


@per_document
def poetry_setup(document: Document, stage: Stage) -> PoetrySetup | None:
    for instruction in stage.instructions:
        if instruction.keyword != "RUN":
            continue
        script = " ".join(document.raw(instruction))
        commands = run_commands(instruction)
        if INSTALLER_HOST in script or "get-poetry.py" in script:
            env = document.stage_env(stage, before_line=instruction.start)
            inline = {a.split("=", 1)[0]: a.split("=", 1)[1] for c in commands for a in c.assignments}
            text = None
            for command in commands:
                if "--version" in command.tokens:
                    position = command.tokens.index("--version")
                    if position + 1 < len(command.tokens):
                        text = command.tokens[position + 1]
            if text is None:
                text = inline.get("POETRY_VERSION") or env.get("POETRY_VERSION") or None
            resolved = expand(text, {**env, **inline}) if text else None
            return PoetrySetup(instruction, "installer", text, Version.parse(resolved) if resolved else None)
        for command in commands:
            arguments = pip_install_arguments(command)
            if arguments is None:
                continue
            for argument in arguments:
                match = POETRY_REQUIREMENT.match(argument)
                if not match:
                    continue
                kind = "pipx" if command.tokens[0].endswith("pipx") else "pip"
                spec = match.group("spec")
                version = None
                if spec and spec.startswith("==") and "*" not in spec:  # `==1.4.*` is a range, not a version
                    resolved = expand(spec[2:], document.stage_env(stage, before_line=instruction.start))
                    version = Version.parse(resolved) if resolved and "*" not in resolved else None
                return PoetrySetup(instruction, kind, spec, version)
    return None


@per_document
def install_stage(document: Document) -> Stage | None:
    """The first stage that runs `poetry install`."""
    for stage in document.stages:
        if _install_runs(stage):
            return stage
    return None


def install_runs(stage: Stage) -> list[Instruction]:
    return list(_install_runs(stage))


@per_object  # stages, like documents, never change
def _install_runs(stage: Stage) -> tuple[Instruction, ...]:
    return tuple(i for i in stage.instructions if i.keyword == "RUN" and poetry_installs(i))


def poetry_config_commands(instruction: Instruction) -> list[list[str]]:
    return [list(arguments) for arguments in _poetry_config_commands(instruction)]


@per_text
def _poetry_config_commands(instruction: Instruction) -> tuple[tuple[str, ...], ...]:
    found = []
    for command in run_commands(instruction):
        parsed = poetry_subcommand(command)
        if parsed and parsed[0] == "config":
            found.append(tuple(parsed[1]))
    return tuple(found)


def pinned_poetry(document: Document, stage: Stage) -> tuple[Version | None, bool]:
    """The Poetry version the Dockerfile itself makes the stage run (pinned, or the most the retired installer
    can install), and whether that is exact; (None, False) when the build takes whatever is newest."""
    setup = poetry_setup(document, stage)
    for ancestor in document.ancestors(stage):
        if setup is not None:
            break
        setup = poetry_setup(document, ancestor)
    if setup is not None and setup.version is not None:
        return setup.version, True
    if setup is not None and setup.kind == "installer" and "get-poetry.py" in " ".join(document.raw(setup.instruction)):
        # The retired get-poetry.py installer cannot install Poetry 1.2 or later (python-poetry/poetry#4094).
        return Version(1, 1, 15, "1.1.15"), False
    return None, False


def effective_poetry(document: Document, stage: Stage, context: Context) -> tuple[Version, bool]:
    """The Poetry version the stage will run, and whether it is known (False: assumed to be the newest)."""
    pinned, exact = pinned_poetry(document, stage)
    if pinned is not None:
        return pinned, exact
    if context.options.poetry_version is not None:
        return context.options.poetry_version, True
    if context.project is not None:
        target, _reason = context.project.target_poetry()
        if target is not None:
            return target, True
    return LATEST_KNOWN, False


def truthy(value: str | None) -> bool:
    return (value or "").strip().strip("'\"").lower() in ("1", "true", "yes", "on")


def falsy(value: str | None) -> bool:
    return (value or "").strip().strip("'\"").lower() in ("0", "false", "no", "off")


def venv_in_project(document: Document, stage: Stage, before_line: int | None = None) -> bool:
    return truthy(document.stage_env(stage, before_line).get("POETRY_VIRTUALENVS_IN_PROJECT"))


def project_dir(document: Document, stage: Stage, instruction: Instruction) -> str | None:
    """Absolute directory `poetry install` runs in (the WORKDIR), or None when it is not a literal path."""
    return _project_dir(document, stage, instruction.start)


@per_document
def _project_dir(document: Document, stage: Stage, line: int) -> str | None:
    workdir = stage.workdir_before(line)
    if workdir is None:
        return "/"
    expanded = expand(workdir, document.stage_env(stage, line))
    if expanded is None or not expanded.startswith("/") or re.search(r"\s", expanded):
        return None
    return posixpath.normpath(expanded)


def user_before(document: Document, stage: Stage, line: int) -> str | None:
    """The user (name or uid, without the group) a RUN at raw line `line` runs as: the stage's last USER before
    it, else the one it inherits from the stage it is built FROM; None when no USER is set (root)."""
    user = None
    for instruction in stage.instructions:
        if instruction.start >= line:
            break
        if instruction.keyword == "USER":
            user = instruction.value.strip().split(":")[0]
    if user is None:
        for ancestor in document.ancestors(stage):
            users = [i for i in ancestor.instructions if i.keyword == "USER"]
            if users:
                return users[-1].value.strip().split(":")[0]
    return user


def runs_as_root(user: str | None) -> bool:
    return user in (None, "", "root", "0")


DEV_GROUP_NAMES = {
    "dev", "devel", "develop", "development", "test", "tests", "testing", "lint", "linting", "linters", "lint-and-format",
    "docs", "doc", "documentation", "typing", "types", "typecheck", "mypy", "format", "formatting", "style", "qa",
    "ci", "bench", "benchmark", "benchmarks", "coverage", "debug", "tools", "pre-commit", "check", "checks",
}


def is_dev_group(name: str) -> bool:
    lowered = name.lower()
    return lowered in DEV_GROUP_NAMES or lowered.startswith(("dev-", "test-", "lint-", "docs-")) or lowered.endswith(("-dev", "-test", "-tests", "-lint", "-docs"))


MANIFESTS = {"pyproject.toml", "poetry.lock", "poetry.toml", "poetry.lock*"}


def copy_sources(instruction: Instruction) -> list[str] | None:
    """Sources of a COPY/ADD from the build context; None for `--from` copies and the exec form."""
    sources = _copy_sources(instruction)
    return list(sources) if sources is not None else None


@per_text
def _copy_sources(instruction: Instruction) -> tuple[str, ...] | None:
    if instruction.keyword not in ("COPY", "ADD"):
        return None
    flags, rest = instruction.flags_and_args()
    if any(flag.startswith("--from") for flag in flags):
        return None
    parts = rest.split()
    return tuple(part.strip('"') for part in parts[:-1]) if len(parts) >= 2 else None


def copy_arguments(instruction: Instruction) -> list[str] | None:
    """Sources and destination of a COPY/ADD from the build context, in either form (`COPY a b ./`,
    `COPY ["a", "b", "./"]`); None for `--from` copies and arguments that do not parse."""
    if instruction.keyword not in ("COPY", "ADD"):
        return None
    flags, rest = instruction.flags_and_args()
    if any(flag.startswith("--from") for flag in flags):
        return None
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            return None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            return None
        parts = parsed
    else:
        parts = [part.strip('"') for part in rest.split()]
    return parts if len(parts) >= 2 else None


def brings(sources: list[str], name: str) -> bool:
    """Whether copying `sources` from the top of the context brings the top-level file `name` (the whole
    context, or the name itself or a glob matching it)."""
    for source in sources:
        source = posixpath.normpath(source)
        if source == "." or source == name or (any(c in source for c in "*?[") and fnmatch.fnmatchcase(name, source)):
            return True
    return False


def pyproject_destination(document: Document, stage: Stage, install: Instruction) -> str | None:
    """The folder of the pyproject.toml `install` finds: Poetry looks from the WORKDIR upwards and makes an
    in-project virtualenv beside the first it finds. Of the folders the stage's copies put pyproject.toml in
    (`COPY . /app`, `COPY pyproject.toml poetry.lock ./`), the nearest at or above the WORKDIR. None when none is,
    or a copy's folder is not a literal path."""
    directory = _project_dir(document, stage, install.start)
    if directory is None:
        return None
    found: list[str] = []
    for instruction in stage.instructions:
        if instruction.start >= install.start:
            break
        arguments = copy_arguments(instruction)
        if not arguments or not brings(arguments[:-1], "pyproject.toml"):
            continue
        destination = arguments[-1]
        expanded = expand(destination, document.stage_env(stage, instruction.start))
        if expanded is None:
            return None
        if not expanded.startswith("/"):
            here = _project_dir(document, stage, instruction.start)
            if here is None:
                return None
            expanded = posixpath.join(here, expanded)
        sources = [posixpath.normpath(source) for source in arguments[:-1]]
        if sources == ["pyproject.toml"] and not expanded.endswith("/") and \
                posixpath.basename(posixpath.normpath(expanded)) == "pyproject.toml":
            expanded = posixpath.dirname(posixpath.normpath(expanded))
        found.append(posixpath.normpath(expanded))
    for arguments in poetry_installs(install):  # `poetry install --directory /opt/build` (or -C)
        chosen = next((arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a in ("--directory", "-C")),
                      next((a.split("=", 1)[1] for a in arguments if a.startswith("--directory=")), None))
        if chosen is not None:
            return None if "$" in chosen else posixpath.normpath(posixpath.join(directory, chosen))
    above = [folder for folder in found
             if folder == directory or directory.startswith(folder.rstrip("/") + "/")]
    # None above the WORKDIR: Poetry would find none there, so name where it was copied (a refusal says so).
    return max(above, key=len) if above else (found[-1] if found else None)


def is_manifest_copy(instruction: Instruction, project=None) -> bool:
    """A COPY of Poetry's manifests only (pyproject.toml, poetry.lock, poetry.toml, together or apart), and of
    the license file the project's pyproject.toml names (Poetry 2 reads it to load the project)."""
    sources = _copy_sources(instruction)
    if not sources:
        return False
    license_file = project.license_in_context if project is not None else None
    return all(s.lstrip("./") in MANIFESTS or (license_file and posixpath.normpath(s) == license_file)
               or manifests_only_glob(s, project) for s in sources)


def manifests_only_glob(source: str, project) -> bool:
    """`*.lock`, `poetry.*`: a pattern whose matches in the build context are all manifests (and one at least)."""
    name = posixpath.normpath(source)
    if project is None or not any(c in name for c in "*?[") or "/" in name:
        return False
    matches = [entry for entry in project.context_entries() if fnmatch.fnmatchcase(entry, name)]
    return bool(matches) and all(entry in MANIFESTS for entry in matches)


@per_document
def system_install(document: Document, stage: Stage) -> bool:
    """Whether Poetry installs into the system interpreter here (`virtualenvs.create false`, set in this stage or
    inherited from the stage it is built FROM)."""
    if falsy(document.stage_env(stage).get("POETRY_VIRTUALENVS_CREATE")):
        return True
    return any(
        creates_no_venv(args)
        for member in [stage, *document.ancestors(stage)]
        for instruction in member.instructions if instruction.keyword == "RUN"
        for args in poetry_config_commands(instruction)
    )


def copied_before(stage: Stage, line: int, name: str, project: PoetryProject | None = None) -> bool:
    """Whether a COPY of the stage before raw line `line` brings the file `name` of the context (not when the
    project's .dockerignore leaves it out of the context)."""
    if project is not None and project.is_ignored(name):
        return False
    return any(instruction.start < line and (arguments := copy_arguments(instruction)) is not None
               and _brings_path(arguments[:-1], name) for instruction in stage.instructions)


def _brings_path(sources: list[str], name: str) -> bool:
    """Whether copying `sources` brings the file `name` (a path in the context): the whole context, the file, a
    glob matching it, or a folder above it."""
    for source in sources:
        source = posixpath.normpath(source).lstrip("/")
        if source in (".", name) or name.startswith(source.rstrip("/") + "/") or (
                any(c in source for c in "*?[") and fnmatch.fnmatchcase(name, source)):
            return True
    return False


def project_system_install(document: Document, stage: Stage, project: PoetryProject | None) -> bool:
    """system_install, or the project's poetry.toml, copied in before the install, says `virtualenvs.create =
    false` and no ENV overrides it."""
    if system_install(document, stage):
        return True
    installs = install_runs(stage)
    return project is not None and bool(installs) and project.poetry_toml_creates_no_venv and \
        "POETRY_VIRTUALENVS_CREATE" not in document.stage_env(stage) and \
        copied_before(stage, installs[0].start, "poetry.toml", project)


def venv_sees_system_packages(document: Document, stage: Stage, project: PoetryProject | None) -> str | None:
    """Where `virtualenvs.options.system-site-packages` is turned on for this install (ENV, `poetry config`, or a
    poetry.toml the image gets): such a venv imports what the image's interpreter has, which another image (a
    slim runtime) does not. None when it is not."""
    value = document.stage_env(stage).get("POETRY_VIRTUALENVS_OPTIONS_SYSTEM_SITE_PACKAGES")
    if value is not None:
        return "POETRY_VIRTUALENVS_OPTIONS_SYSTEM_SITE_PACKAGES" if truthy(value) else None
    for member in [stage, *document.ancestors(stage)]:
        for instruction in member.instructions:
            if instruction.keyword == "RUN":
                for arguments in poetry_config_commands(instruction):
                    words = [a for a in arguments if a != "--local"]
                    if words[:1] == ["virtualenvs.options.system-site-packages"] and truthy(" ".join(words[1:2])):
                        return f"`poetry config virtualenvs.options.system-site-packages` at line {instruction.line_number}"
    installs = install_runs(stage)
    if project is not None and installs and project.poetry_toml_system_site_packages and \
            copied_before(stage, installs[0].start, "poetry.toml", project):
        return "the project's poetry.toml"
    return None


def creates_no_venv(config_arguments: list[str]) -> bool:
    """`poetry config [--local] virtualenvs.create false` (also the pre-1.0 `settings.virtualenvs.create`)."""
    arguments = [a for a in config_arguments if a != "--local"]
    return len(arguments) >= 2 and arguments[0].removeprefix("settings.") == "virtualenvs.create" and \
        arguments[1].strip("'\"").lower() in ("false", "0")


@per_document
def inherited_system_install(document: Document, stage: Stage) -> Stage | None:
    """The ancestor stage that sets `virtualenvs.create false` for `stage`, if any."""
    for ancestor in document.ancestors(stage):
        if system_install(document, ancestor):
            return ancestor
    return None


@per_document
def copies_from(document: Document, stage: Stage) -> Instruction | None:
    """The first `COPY --from=<stage>` of another stage that takes files out of `stage` (by name or index), or
    out of a stage built FROM it."""
    sources = {stage.index, *(s.index for s in descendants(document, stage))}
    names = {str(index) for index in sources} | {
        document.stages[index].name.lower() for index in sources if document.stages[index].name}
    for other in document.stages:
        if other.index in sources:
            continue
        for instruction in other.instructions:
            if instruction.keyword in ("COPY", "ADD"):
                for flag in instruction.flags_and_args()[0]:
                    if flag.startswith("--from=") and flag.split("=", 1)[1].lower() in names:
                        return instruction
    return None


def descendants(document: Document, stage: Stage) -> list[Stage]:
    """The stages built FROM `stage`, directly or through others."""
    return [other for other in document.stages if stage in document.ancestors(other)]


def feeds_final_image(document: Document, stage: Stage) -> bool:
    """Whether `stage` is the last stage or something the last stage is built FROM or copies from."""
    if not document.stages:
        return False
    final = document.stages[-1]
    wanted = [final]
    seen: set[int] = set()
    while wanted:
        current = wanted.pop()
        if current.index in seen:
            continue
        seen.add(current.index)
        parent = document.parent(current)
        if parent is not None:
            wanted.append(parent)
        for instruction in current.instructions:
            if instruction.keyword in ("COPY", "ADD"):
                flags, _ = instruction.flags_and_args()
                for flag in flags:
                    if flag.startswith("--from="):
                        source = flag.split("=", 1)[1].lower()
                        wanted.extend(s for s in document.stages
                                      if (s.name or "").lower() == source or str(s.index) == source)
    return stage.index in seen


DEV_TOOLS = {"pytest", "py.test", "tox", "nox", "mypy", "ruff", "black", "flake8", "pylint", "isort", "coverage",
             "poe", "pre-commit", "bandit", "pyright", "behave", "unittest"}


def is_cache_cleanup(command: Command) -> bool:
    """`rm -rf $POETRY_CACHE_DIR`, `rm -rf /tmp/*`, `pip cache purge` and the like: removes a cache or temporary
    files, never the code or the venv."""
    if command.tokens[:3] in (("pip", "cache", "purge"), ("pip3", "cache", "purge")) or \
            command.tokens[:3] == ("poetry", "cache", "clear"):
        return True
    if command.tokens[:1] != ("rm",):
        return False
    # `rm -rf $(poetry config cache-dir)/{cache,artifacts}` (a common template): Poetry's cache, however spelled.
    text = " ".join(command.tokens[1:]).replace("$(poetry config cache-dir)", "$POETRY_CACHE_DIR")
    targets = [token.strip("'\"") for token in text.split() if not token.startswith("-")]
    return bool(targets) and all("cache" in target.lower() or target.startswith(("/tmp/", "/var/tmp/"))
                                 for target in targets)


RUNNER_FILES = {"make": ("Makefile", "makefile", "GNUmakefile"), "honcho": ("Procfile",),
                 "foreman": ("Procfile",), "invoke": ("tasks.py",), "just": ("justfile", "Justfile")}


def script_run_matching(stage: Stage, project, directory: str | None, pattern: re.Pattern,
                        shell_scripts: bool = False) -> tuple[str, re.Match] | None:
    """A script of the build context that the stage's CMD or ENTRYPOINT runs (`./start.sh`, `/app/bin/run`,
    `sh docker/entrypoint.sh`) and whose text `pattern` finds: the word that names it, and the match.
    `shell_scripts`: only shell scripts, read without their comments (a program's name in a Python file or a
    comment is no command)."""
    if project is None:
        return None
    copied: tuple | None = None  # see _copied_to
    # The command's words, a shell script's words (`sh -c "cd scripts && ./entry.sh"`: with its `cd` folder
    # too), and then, for each script found, the scripts it runs in turn (`exec ./scripts/run.sh`), a few deep.
    queue: list[tuple[str, str]] = []  # (word, the word named first, for the message)
    for instruction in stage.instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT"):
            argv = instruction.argv() or []
            for word in argv:
                queue += [(w, w) for w in _script_words(word)]
            # `make run` reads the Makefile, `honcho start` the Procfile: the commands they run are in there.
            runner = next((word.rsplit("/", 1)[-1] for word in argv[:1]), "")
            queue += [(name, name) for name in RUNNER_FILES.get(runner, ())]
    seen_files: set[str] = set()
    queued = {word for word, _named in queue}
    while queue:
        word, named = queue.pop(0)
        if word.startswith("-") or not word or posixpath.normpath(word).startswith(".."):
            continue  # (a path above the context is no file of it)
        candidates: list[str] = []
        if directory and word.startswith(directory.rstrip("/") + "/"):
            candidates.append(word[len(directory.rstrip("/")) + 1:])
        elif not word.startswith("/"):
            candidates.append(word.removeprefix("./"))
        # Where a COPY put it: `COPY entrypoint.sh /entrypoint.sh`, `COPY bin/start /usr/local/bin/` (a bare
        # name is looked up on PATH).
        relative_image = posixpath.normpath(posixpath.join(directory, word)) \
            if directory and "/" in word and not word.startswith("/") else None
        if word.startswith("/") or _copy_may_name(stage, posixpath.basename(word), on_path="/" not in word,
                                                  image_path=relative_image):
            if copied is None:
                copied = _copied_to(stage, project)
            if word.startswith("/"):
                image_paths = [word]
            elif "/" in word:  # `./entrypoint.sh`: where a COPY put it in the WORKDIR
                image_paths = [posixpath.normpath(posixpath.join(directory, word))] if directory else []
            else:
                folders = (*_path_folders(stage), *_PATH_FOLDERS)
                may_be_copied = word in copied[1] or any(
                    folder == filled or folder.startswith(filled.rstrip("/") + "/")
                    for filled in copied[2] for folder in folders)
                image_paths = [f"{folder}/{word}" for folder in folders] if may_be_copied else []
            candidates += [relative for image_path in image_paths
                           for relative in _context_file(copied[0], image_path)]
        for relative in dict.fromkeys(candidates):
            if not relative or relative in seen_files or not project.may_hold(relative):
                continue  # `python`, `-m`: no stat for words like these
            path = project.root / relative
            if shell_scripts and path.suffix.lower() in _NOT_SHELL:
                continue
            try:
                if path.is_file() and path.stat().st_size < 1_000_000:
                    seen_files.add(relative)
                    text = path.read_text(encoding="utf-8", errors="replace")
                    if shell_scripts:
                        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
                    match = pattern.search(text)
                    if match:
                        return named, match
                    if len(seen_files) < 12 and _is_shell_script(path, text):
                        folder = posixpath.dirname(relative)
                        for line in text.splitlines()[:500]:
                            for token in _line_words(line):
                                for w in _script_words(token, folder):
                                    if ("/" in w or w.endswith(".sh")) and w not in queued and len(queued) < 200:
                                        queued.add(w)
                                        queue.append((w, named))
            except OSError:
                continue
    return None


def _is_shell_script(path, text: str) -> bool:
    """A file worth following the scripts of: a `.sh`/`.bash` file, or one without a suffix that starts with a
    shell's `#!` line."""
    suffix = path.suffix.lower()
    if suffix in (".sh", ".bash"):
        return True
    return suffix == "" and bool(re.match(r"#!\S*(?:/|env\s+)(?:ba|da|z|k)?sh\b", text))


def _script_words(word: str, folder: str = "") -> list[str]:
    """`word`, or, for a shell script given as one word (`cd scripts && ./entry.sh`), its words, each also
    taken in the folders a `cd` names before it and in `folder` (where the script that names it is)."""
    if not any(c in word for c in " \t;&|"):
        return [word] + ([posixpath.normpath(posixpath.join(folder, word))] if folder and "/" in word else [])
    words: list[str] = []
    folders = [folder] if folder else []
    tokens = _line_words(word)
    for index, token in enumerate(tokens):
        if tokens[index - 1:index] == ["cd"]:
            folders.append(token)
            continue
        words.append(token)
        words += [posixpath.normpath(posixpath.join(f, token)) for f in folders if not token.startswith("/")]
    return words


def _line_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def login_shell(stage: Stage) -> Instruction | None:
    """The SHELL, CMD or ENTRYPOINT of the stage that runs a login shell (`bash -lc …`, `SHELL ["/bin/bash",
    "--login", "-c"]`): it reads /etc/profile, which resets PATH, so a virtualenv put on PATH by ENV is lost."""
    for instruction in stage.instructions:
        if instruction.keyword not in ("SHELL", "CMD", "ENTRYPOINT"):
            continue
        argv = instruction.exec_form() if instruction.keyword == "SHELL" else instruction.argv()
        # The shell may come after a wrapper: `tini -- bash -lc …`, `dumb-init bash -l …`.
        start = next((i for i, word in enumerate(argv or []) if posixpath.basename(word) in _SHELLS), None)
        if start is None:
            continue
        options = iter(argv[start + 1:])
        for argument in options:
            if argument == "--login" or re.fullmatch(r"-[a-z]*l[a-z]*", argument):
                return instruction
            if re.fullmatch(r"[-+][a-zA-Z]*[oO]", argument):
                next(options, None)  # `-o pipefail`, `-eo pipefail`
            elif not argument.startswith(("-", "+")):
                break
    return None


_SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
_NOT_SHELL = {".py", ".pyc", ".pyw", ".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".txt", ".md", ".rst"}


def _path_folders(stage: Stage) -> list[str]:
    """The literal folders the stage's ENV puts on PATH (`ENV PATH="/app/bin:$PATH"`)."""
    folders: list[str] = []
    for instruction in stage.instructions:
        if instruction.keyword == "ENV":
            value = parse_assignments(instruction.value).get("PATH")
            if value:
                folders = [folder.rstrip("/") for folder in value.split(":")
                           if folder.startswith("/") and "$" not in folder] + folders
    return folders
_PATH_FOLDERS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _copy_may_name(stage: Stage, word: str, on_path: bool, image_path: str | None = None) -> bool:
    """Whether a COPY of the stage could have put the file `word` (a bare name looked up on PATH, when `on_path`;
    else the last part of a relative one, at `image_path`) where the command finds it. A cheap test on the COPYs'
    text: most words of a command (`python`, `gunicorn`, a module after `-m`) fail it, and need no mapping."""
    onto_path, tokens, destinations = _copy_words(stage)
    if on_path:
        return onto_path
    return word in tokens or any(token.endswith("/" + word) for token in tokens) or (
        image_path is not None and any(image_path.startswith(d.rstrip("/") + "/") for d in destinations))


@per_object
def _copy_words(stage: Stage) -> tuple[bool, frozenset[str], tuple[str, ...]]:
    """Whether a COPY of the stage fills a folder on PATH (`COPY start /usr/local/bin/`, one an ENV puts there,
    or a folder above it: `COPY . .` in /app with /app/bin on PATH), every word of its COPYs, and where they
    copy to."""
    folders = (*_path_folders(stage), *_PATH_FOLDERS)
    onto_path = False
    tokens: set[str] = set()
    destinations: list[str] = []
    for instruction in stage.instructions:
        arguments = copy_arguments(instruction)  # either form; a `--from` copy brings no file of the context
        if not arguments:
            continue
        tokens.update(arguments)
        destination = arguments[-1]
        if not destination.startswith("/"):  # `COPY bin ./bin` under WORKDIR /app: /app/bin
            destination = posixpath.join(stage.workdir_before(instruction.start) or "/", destination)
        destination = posixpath.normpath(destination)
        destinations.append(destination)
        onto_path = onto_path or any(destination == folder or destination.startswith(folder + "/")
                                     or folder.startswith(destination.rstrip("/") + "/")
                                     for folder in folders if destination != "/")
    return onto_path, frozenset(tokens), tuple(destinations)


def _copied_to(stage: Stage, project) -> tuple[tuple[tuple[bool, str, str], ...], frozenset[str], frozenset[str]]:
    """(whether it is a folder, image path, context path) for every source of the stage's COPYs from the build
    context (a folder's files go under its image path, a file is at its image path); with the names of the files
    and the image paths of the folders, for a quick "could a COPY have put it there". Worked out once per stage
    (the Poetry and the slim-image checks both ask)."""
    memo = stage.__dict__.get("_memo_copied_to")
    if memo is not None and memo[0] is project:
        return memo[1]
    found = [entry for instruction in stage.instructions for entry in _copy_entries(stage, instruction, project)]
    value = (tuple(found), frozenset(posixpath.basename(path) for folder, path, _ in found if not folder),
             frozenset(path for folder, path, _ in found if folder))
    stage.__dict__["_memo_copied_to"] = (project, value)
    return value


def _copy_entries(stage: Stage, instruction: Instruction, project,
                  document: Document | None = None) -> list[tuple[bool, str, str]]:
    """`_copied_to`'s entries for one COPY from the build context (none for another instruction). With
    `document`, a destination or WORKDIR with variables (`COPY README.md $APP_HOME/`) is expanded as Docker does;
    without, such a COPY has none."""
    arguments = copy_arguments(instruction)
    if not arguments:
        return []
    sources, destination = arguments[:-1], arguments[-1]
    here = stage.workdir_before(instruction.start) or "/"
    if "$" in destination or "$" in here:
        env = document.stage_env(stage, instruction.start) if document is not None else None
        destination = expand(destination, env) if env is not None else None
        here = expand(here, env) if env is not None else None
        if destination is None or here is None:
            return []
    target = posixpath.normpath(destination if destination.startswith("/") else posixpath.join(here, destination))
    found: list[tuple[bool, str, str]] = []
    for source in sources:
        source = posixpath.normpath(source).lstrip("/")
        if any(c in source for c in "*?[$"):
            continue
        try:
            folder = source == "." or (project.is_dir(source) if "/" not in source
                                       else (project.root / source).is_dir())
        except OSError:  # unreadable, a name too long: not a folder the tool can look into
            folder = False
        if folder:
            found.append((True, target, "" if source == "." else source))
            continue
        found.append((False, posixpath.join(target, posixpath.basename(source)), source))
        if not destination.endswith("/") and len(sources) == 1:
            found.append((False, target, source))  # `COPY run.sh /start`: renamed (or into an existing folder)
    return found


def lands_at(stage: Stage, project, relative: str, image_path: str, before_line: int,
             document: Document | None = None) -> bool:
    """Whether a COPY of the stage before raw line `before_line` puts the context file `relative` at
    `image_path` (a glob source counts when it matches the name within one folder)."""
    for instruction in stage.instructions:
        if instruction.start >= before_line:
            break
        if (arguments := copy_arguments(instruction)) is not None and any(
                any(c in source for c in "*?[") and "/" not in posixpath.normpath(source).strip("/")
                and "/" not in relative and fnmatch.fnmatchcase(relative, posixpath.normpath(source))
                for source in arguments[:-1]):
            here = stage.workdir_before(instruction.start) or "/"
            destination = arguments[-1]
            target = posixpath.normpath(destination if destination.startswith("/") else posixpath.join(here, destination))
            if posixpath.join(target, relative) == image_path:
                return True
        if relative in _context_file(tuple(_copy_entries(stage, instruction, project, document)), image_path):
            return True
    return False


def _context_file(copied: tuple[tuple[bool, str, str], ...], image_path: str) -> list[str]:
    """The context paths the stage's COPYs put at `image_path`, the last COPY first."""
    found = []
    for folder, target, source in reversed(copied):
        if not folder:
            if image_path == target:
                found.append(source)
        elif image_path.startswith(target.rstrip("/") + "/"):
            rest = image_path[len(target.rstrip("/")) + 1:]
            found.append(posixpath.join(source, rest) if source else rest)
    return found
