"""multi-stage: build the virtualenv in one stage, run the app from a slim stage without Poetry."""

from __future__ import annotations

import posixpath
import re
import shlex

from ..refactor.compose import compose_commands, compose_runs_poetry
from ..refactor.document import Document, Instruction, Stage, parse_assignments
from ..refactor.edits import Edit, delete_block
from ..refactor.entrypoint import strip_poetry_run
from ..refactor.facts import (
    INSTALLER_HOST,
    PYTHON_IMAGE,
    Context,
    copied_before,
    copy_sources,
    install_runs,
    install_stage,
    is_cache_cleanup,
    installs_only_poetry_tools,
    is_manifest_copy,
    lands_at,
    login_shell,
    pip_install_arguments,
    project_dir,
    project_system_install,
    pyproject_destination,
    script_run_matching,
    venv_in_project,
    venv_sees_system_packages,
)
from ..refactor.shell import is_poetry_setup, poetry_installs, poetry_subcommand, run_commands
from .base import Pass, PassResult
from .cache_mount import in_project_venv
from .narrow_copy import app_sources, code_mentions, env_mentions

RUNTIME_KEYWORDS = {"ENV", "EXPOSE", "LABEL", "HEALTHCHECK", "VOLUME", "STOPSIGNAL", "ENTRYPOINT", "CMD", "ARG",
                    "COPY", "ADD", "SHELL"}


def slim_twin(image: str) -> tuple[str, str]:
    """The runtime image for a builder image, and why that one."""
    match = PYTHON_IMAGE.match(image)
    if not match:
        if "-slim" in image:  # `python:${PY}-slim-bookworm`: a variable in the tag, but slim all the same
            return image, f"`{image}` is already slim; the runtime stage uses it too, without Poetry and its caches"
        return image, f"`{image}` has no known slim variant; the runtime stage uses the same image"
    variant = match.group("variant") or ""
    if variant.startswith("-slim"):
        return image, f"`{image}` is already slim; the runtime stage uses it too, without Poetry and its caches"
    if variant in ("-alpine",) or variant.startswith("-alpine") or variant.startswith("-windows"):
        return image, f"`{image}` has no slim variant; the runtime stage uses the same image"
    slim = f"{match.group('repo')}:{match.group('version')}-slim{variant}"
    return slim, (f"`{slim}` has the same Python minor version at the same path and the same Debian release as "
                  f"`{image}`, so the virtualenv's links and compiled wheels keep working")


def _is_poetry_setup_or_install(document: Document, instruction: Instruction, stage: Stage, directory: str,
                                project=None) -> bool:
    """RUNs the builder stage is made of: installing Poetry, configuring it, installing with it. Besides those, a
    `mkdir` of the project folder or one above it (the runtime's WORKDIR makes those again), an empty README
    touched in the project folder (the article's stand-in), and, beside an install, split-install's empty
    stand-in of the packages (the runtime gets the real code). Not a folder or file the app may use at run time
    (`mkdir -p /var/log/web`)."""
    script = " ".join(document.raw(instruction))
    commands = run_commands(instruction)
    if not commands:
        return False
    if INSTALLER_HOST in script:
        return True
    installs = bool(poetry_installs(instruction))
    here = ""  # the folder the RUN runs in: worked out for a mkdir or touch only
    for command in commands:
        if is_poetry_setup(command):
            continue
        if not here and command.tokens[:1] in (("touch",), ("mkdir",)):
            here = project_dir(document, stage, instruction) or stage.workdir_before(instruction.start) or "/"
        if is_cache_cleanup(command) or command.tokens[:1] in (("touch",), ("mkdir",)) and installs and \
                _stand_in_paths(command.tokens[1:], here, directory, project):
            continue
        if command.tokens[:1] == ("mkdir",) and _makes_only_folders_of(command.tokens[1:], here, directory):
            continue
        if command.tokens[:1] == ("touch",) and _touches_only_readmes(command.tokens[1:], here, directory):
            continue
        arguments = pip_install_arguments(command)
        if arguments is not None and installs_only_poetry_tools(arguments):
            continue
        if _poetry_home_venv(command, commands, directory):
            continue
        return False
    return True


_MAY_ADD_PLUGIN = re.compile(r"poetry[-_.][A-Za-z]|\bself\s+add\b|\binject\b")  # (a first, cheap look)


def _poetry_plugin(document: Document, stage: Stage, project) -> str | None:
    """A Poetry plugin the build installs (`pip install poetry poetry-dotenv-plugin`, `poetry self add …`,
    pipx inject) or pyproject.toml requires ([tool.poetry.requires-plugins]), if any."""
    for member in [*document.ancestors(stage), stage]:
        for instruction in member.instructions:
            if instruction.keyword != "RUN" or not _MAY_ADD_PLUGIN.search(instruction.value):
                continue
            for command in run_commands(instruction):
                arguments = pip_install_arguments(command)
                parsed = poetry_subcommand(command)
                if parsed is not None and parsed[0] == "self" and parsed[1][:1] == ["add"]:
                    arguments = parsed[1][1:]
                elif command.tokens[:2] == ("pipx", "inject"):
                    arguments = list(command.tokens[3:])
                for argument in arguments or []:
                    name = re.split(r"[\s\[<>=!~;@(]", argument.strip("'\""), maxsplit=1)[0].lower()
                    if not argument.startswith("-") and "poetry" in name and name != "poetry" and \
                            name not in ("poetry-core", "poetry-plugin-export"):
                        return name
    return project.poetry_plugins[0] if project is not None and project.poetry_plugins else None


def _drops_poetry_run(document: Document, stage: Stage) -> bool:
    """Whether a command the runtime stage takes over runs through `poetry run` (which it drops)."""
    return any(i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and re.search(r"\bpoetry\b", i.value)
               for i in stage.instructions)


def _workdir_argument(document: Document, stage: Stage, install: Instruction) -> str | None:
    """The build argument (an ARG no ENV sets) the install's WORKDIR is made of (`WORKDIR $APP_HOME` after
    `ARG APP_HOME=/srv/app`), if any."""
    workdir = stage.workdir_before(install.start) or ""
    names = re.findall(r"\$\{?([A-Za-z_]\w*)", workdir)
    if not names:
        return None
    arguments = set(document.global_args()) | {
        name for member in [*document.ancestors(stage), stage] for instruction in member.instructions
        if instruction.keyword == "ARG" for name in parse_assignments(instruction.value, "ARG")}
    set_by_env: dict[str, str] = {}  # as written: `ENV APP_HOME=$APP_HOME` follows the argument
    for member in [*document.ancestors(stage), stage]:
        for instruction in member.instructions:
            if instruction.keyword == "ENV" and (member is not stage or instruction.start < install.start):
                set_by_env.update(parse_assignments(instruction.value, "ENV"))
    seen: set[str] = set()
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        referenced = re.findall(r"\$\{?([A-Za-z_]\w*)", set_by_env.get(name, ""))
        if (name not in set_by_env or name in referenced) and name in arguments:
            return name  # an ARG, or `ENV APP_HOME=$APP_HOME` after one: the argument's value
        names += [n for n in referenced if n != name]
    return None


_STAGE_NAME = re.compile(r"(\s[Aa][Ss]\s+)(\S+)\s*$")  # `FROM image AS name` on the FROM's own line


def _poetry_home_venv(command, commands, directory: str) -> bool:
    """`python -m venv $POETRY_HOME` whose pip then installs Poetry (`$POETRY_HOME/bin/pip install poetry`, as
    Poetry's docs suggest): a virtualenv for Poetry alone, outside the project, which the runtime does not need.
    (The loop above checks that every pip install of the RUN is Poetry's.)"""
    tokens = list(command.tokens)
    if len(tokens) < 4 or not re.match(r"(?:\S*/)?python[\d.]*$", tokens[0]) or tokens[1:3] != ["-m", "venv"]:
        return False
    folders = [token for token in tokens[3:] if not token.startswith("-")]
    if len(folders) != 1:
        return False
    folder = folders[0].rstrip("/")
    if not folder.startswith("/") and not folder.startswith("$"):
        return False
    if folder.startswith("/") and (posixpath.normpath(folder) == directory or
                                   posixpath.normpath(folder).startswith(directory.rstrip("/") + "/")):
        return False
    return any(pip_install_arguments(other) is not None and other.tokens[0].startswith(folder + "/")
               for other in commands if other is not command)


def _makes_only_folders_of(arguments: tuple[str, ...] | list[str], here: str, directory: str) -> bool:
    """Whether `mkdir [-p] PATH…` (run in `here`) makes only `directory` or folders above it."""
    paths = [a for a in arguments if a not in ("-p", "--parents")]
    if not paths or any(a.startswith("-") or "$" in a for a in paths):
        return False
    for path in paths:
        full = posixpath.normpath(posixpath.join(here, path))
        if full != directory and not directory.startswith(full.rstrip("/") + "/"):
            return False
    return True


def _stand_in_paths(arguments: tuple[str, ...] | list[str], here: str, directory: str, project) -> bool:
    """Whether `mkdir -p`/`touch` (run in `here`) make only paths inside the project's packages (or their
    `from` folder) in the project folder: split-install's empty stand-in, which the runtime's code replaces."""
    if project is None:
        return False
    allowed: set[str] = set()  # the package folders (and their `from` folders), their __init__.py, module files
    for package in project.packages:
        parts = package.path.strip("/").split("/")
        allowed |= {"/".join(parts[:depth]) for depth in range(1, len(parts) + 1)}
        allowed.add(f"{package.path.strip('/')}/__init__.py")
    paths = [a for a in arguments if a not in ("-p", "--parents")]
    if not paths or any(a.startswith("-") or "$" in a for a in paths):
        return False
    for path in paths:
        full = posixpath.normpath(posixpath.join(here, path))
        if not full.startswith(directory.rstrip("/") + "/") or full[len(directory.rstrip("/")) + 1:] not in allowed:
            return False  # `mkdir -p app/uploads`: a folder the app uses, not the stand-in
    return True


def _touches_only_readmes(arguments: tuple[str, ...] | list[str], here: str, directory: str) -> bool:
    """Whether `touch PATH…` (run in `here`) makes only an empty README in the project folder: the article's way
    to let the root install find the readme pyproject.toml names. The app does not read it."""
    return bool(arguments) and all(
        not a.startswith("-") and posixpath.dirname(posixpath.normpath(posixpath.join(here, a))) == directory
        and posixpath.basename(a).upper().startswith("README") for a in arguments)


class MultiStage(Pass):
    """Split the image into a builder stage that makes the virtualenv and a slim runtime stage that runs it.

    What: the stage that runs `poetry install` becomes `AS builder`; a new runtime stage on the builder's slim
    twin (`python:3.11-buster` → `python:3.11-slim-buster`, same Python minor and distro; an unknown base keeps
    the same image) gets the same WORKDIR, `VIRTUAL_ENV`/`PATH`, the virtualenv copied from the builder, the
    code, and every runtime instruction of the original (ENV, EXPOSE, LABEL, HEALTHCHECK, VOLUME, STOPSIGNAL,
    ENTRYPOINT, CMD), with `poetry run X` turned into `X` since Poetry is not in the runtime image.
    Why: compilers, Poetry itself and its caches stay in the builder; the article measured 1.1 GB → 170 MB.
    Example: see golden/article-6-multi-stage.
    Left alone (with the reason): files that already have several stages, stages that run other commands
    (apt-get, build steps, useradd: the runtime could miss their output), a USER before the install, a
    virtualenv not in the project (run poetry-env first), installs outside a literal WORKDIR.
    """

    name = "multi-stage"
    description = "Build the virtualenv in a builder stage and run the app from a slim runtime stage"

    def run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        stage = install_stage(document)
        if stage is None:
            return result
        if len(document.stages) > 1:
            result.notes.append("the file already has several stages")
            return result
        installs = install_runs(stage)
        last_install = installs[-1]
        if project_system_install(document, stage, context.project):
            result.notes.append("Poetry installs into the system interpreter (`virtualenvs.create false`): "
                                "no virtualenv to copy to a runtime stage")
            return result
        if not venv_in_project(document, stage, installs[0].start):
            active = document.stage_env(stage, installs[0].start).get("VIRTUAL_ENV")
            if active:
                result.notes.append(f"Poetry installs into the active virtualenv VIRTUAL_ENV={active.strip(chr(34))}"
                                    ", which the file makes itself; left single-stage")
            elif in_project_venv(document, stage, installs[0], context.project):
                # poetry.toml or `poetry config` puts it there, and poetry-env did not set the variable: it said why.
                result.notes.append("the virtualenv is in the project through poetry.toml or `poetry config`, not "
                                    "POETRY_VIRTUALENVS_IN_PROJECT, which poetry-env did not set (see its note); "
                                    "left single-stage")
            else:
                result.notes.append("the virtualenv is not in the project (POETRY_VIRTUALENVS_IN_PROJECT): "
                                    "nothing to copy to a runtime stage (poetry-env sets it where it can; see its "
                                    "note)")
            return result
        directory = project_dir(document, stage, installs[0])
        if directory is None or directory == "/":
            result.notes.append("`poetry install` runs in the image root or an unknown WORKDIR")
            return result
        argument = _workdir_argument(document, stage, installs[0])
        if argument is not None:
            # The runtime's paths are written out (WORKDIR, the venv's COPY --from, PATH): `--build-arg` would
            # move the builder's project and not them (a QA build: `failed to walk …/srv/app`).
            result.notes.append(f"the WORKDIR comes from the build argument {argument}, which `--build-arg` may "
                                "change; left single-stage")
            return result
        root_installed = any("--no-root" not in arguments for i in installs for arguments in poetry_installs(i))
        if context.project is not None and context.project.build_script and context.project.package_mode and \
                root_installed:
            result.notes.append(f"the root install runs the build script {context.project.build_script}, whose "
                                "output the runtime stage (which copies the code again) would not have; left "
                                "single-stage")
            return result
        beside = pyproject_destination(document, stage, installs[0])
        if beside is not None and beside != directory:
            result.notes.append(f"pyproject.toml is copied to {beside}, not to the WORKDIR {directory} where "
                                "`poetry install` runs: Poetry makes the virtualenv beside pyproject.toml; left "
                                "single-stage")
            return result
        for instruction in stage.instructions:
            keyword = instruction.keyword
            if keyword == "RUN" and not _is_poetry_setup_or_install(document, instruction, stage, directory,
                                                                       context.project):
                result.notes.append(f"line {instruction.line_number}: `{' '.join(document.raw(instruction)[0].split()[:4])}"
                                    "…` may make files or system packages the runtime needs; left single-stage")
                return result
            if keyword == "USER":
                result.notes.append(f"line {instruction.line_number}: USER in the build stage; left single-stage")
                return result
            if instruction.start > last_install.start and (
                keyword not in RUNTIME_KEYWORDS or (keyword in ("COPY", "ADD") and copy_sources(instruction) is None)
            ):
                result.notes.append(f"line {instruction.line_number}: {keyword} after the install; left single-stage")
                return result
            if keyword in ("ENTRYPOINT", "CMD") and not _command_ok(instruction) or \
                    keyword == "HEALTHCHECK" and _RUN_WITH_OPTIONS.search(instruction.value):
                result.notes.append(f"line {instruction.line_number}: the command uses Poetry beyond `poetry run`; "
                                    "left single-stage")
                return result
        for instruction in stage.instructions:
            if instruction.keyword not in ("COPY", "ADD") or is_manifest_copy(instruction, context.project):
                continue
            form = instruction.exec_form()  # `COPY --from=image` and exec-form copies go to the runtime too
            arguments = form if form is not None else instruction.flags_and_args()[1].split()
            if not arguments:
                continue
            destination = arguments[-1]
            here = project_dir(document, stage, instruction) or stage.workdir_before(instruction.start) or "/"
            if not destination.startswith(("/", "$")) and posixpath.normpath(here) != directory:
                result.notes.append(f"line {instruction.line_number}: COPY to `{destination}` relative to WORKDIR "
                                    f"{here}, not {directory}; left single-stage")
                return result
            if context.project is not None and not context.project.is_ignored(".venv") and "." in {
                    posixpath.normpath(source) for source in copy_sources(instruction) or []} and (
                    "$" in destination or posixpath.normpath(posixpath.join(here, destination)) == directory):
                # The runtime copies the virtualenv first, then the code: the developer's .venv would replace it.
                result.notes.append(f"line {instruction.line_number}: `{document.raw(instruction)[0].strip()}` could "
                                    "copy a local .venv (a developer's, in the build context) over the virtualenv "
                                    "the runtime stage copies from the builder; left single-stage (add `.venv` to "
                                    ".dockerignore to allow it)")
                return result
        sees = venv_sees_system_packages(document, stage, context.project)
        if sees is not None:
            result.notes.append(f"the virtualenv sees the builder's system site-packages ({sees}), which a runtime "
                                "stage would not have; left single-stage")
            return result
        onbuild = next((i for i in stage.instructions if i.keyword == "ONBUILD"), None)
        if onbuild is not None:
            # Its triggers belong to the final image, and may need Poetry or what the builder has.
            result.notes.append(f"line {onbuild.line_number}: ONBUILD triggers belong to the image built from this "
                                "one; left single-stage")
            return result
        login = login_shell(stage)
        if login is not None:
            result.notes.append(f"line {login.line_number}: a login shell resets PATH from /etc/profile, so the "
                                "runtime's commands would not find the virtualenv; left single-stage")
            return result
        unbuilt = _script_without_its_root(stage, installs, context.project, beside or directory, document)
        if unbuilt is not None:
            result.notes.append(unbuilt)
            return result
        plugin = _poetry_plugin(document, stage, context.project) if _drops_poetry_run(document, stage) else None
        if plugin is not None:
            # poetry-dotenv-plugin loads .env on every Poetry command: without `poetry run` the app lost its
            # variables (a QA build).
            result.notes.append(f"the Poetry plugin {plugin} may change what `poetry run` does, and the runtime stage "
                                "would run the command without it; left single-stage")
            return result
        compose = compose_runs_poetry(context.project)
        if compose is not None:
            result.notes.append(f"{compose} runs Poetry in a service (its image may be this one), which the runtime "
                                "stage would not have; left single-stage")
            return result
        script = _script_calling_poetry(stage, context.project, directory)
        if script is not None:
            result.notes.append(f"`{script}`, which the image runs, calls Poetry, which the runtime stage would not "
                                "have; left single-stage")
            return result
        # Project metadata (READMEs, license files): the runtime does not need them.
        readmes = set(context.project.metadata_names) if context.project else {"README.md", "README.rst", "README"}
        runtime_image, image_reason = slim_twin(stage.image)
        if runtime_image != stage.image:
            missing = _slim_lacks(document, stage, context.project, directory)
            if missing:
                runtime_image = stage.image
                image_reason = (f"the runtime uses `{stage.image}` too, because {missing}, which "
                                f"`{slim_twin(stage.image)[0]}` does not have")
        if context.options.runtime_image:
            clash = _python_clash(stage.image, context.options.runtime_image)
            if clash:
                result.notes.append(f"warning: runtime image `{context.options.runtime_image}` differs from the "
                                    f"builder `{stage.image}` in {clash}: the virtualenv would not run there; "
                                    "left single-stage")
                return result
            runtime_image = context.options.runtime_image
            image_reason = (f"runtime image `{runtime_image}` as configured; it must have the builder's Python "
                            "at the same path and the same libc")
        return self._rewrite(document, stage, last_install, directory, readmes, runtime_image, image_reason, result,
                             context.project)

    def _rewrite(self, document: Document, stage: Stage, last_install: Instruction, directory: str,
                 readmes: set[str], runtime_image: str, image_reason: str, result: PassResult,
                 project=None) -> PassResult:
        kw = document.kw
        from_instruction = stage.from_instruction
        edits: list[Edit] = []
        as_keyword = "as" if document.keyword_as_written(from_instruction).islower() else "AS"
        from_line = document.lines[from_instruction.start]
        # The final image keeps the stage's name (`docker build --target app`, compose's `target: app` go on
        # building what they built); the builder gets a name of its own. A stage already named `builder` stays
        # the builder (the article's first steps name it so, meaning to add a runtime stage).
        final = stage.name if stage.name and stage.name.lower() != "builder" else "runtime"
        builder = "builder"
        if stage.name is None or stage.name.lower() == "builder":
            builder = stage.name or "builder"
        if stage.name is None:
            edits.append(Edit.replace(from_instruction.start, from_instruction.start,
                                      [from_line.rstrip() + f" {as_keyword} builder"]))
        elif stage.name.lower() != "builder":
            named = _STAGE_NAME.search(from_line)
            if named is None or named.group(2) != stage.name:
                result.notes.append(f"line {from_instruction.line_number}: cannot locate the stage name to rename "
                                    "the builder; left single-stage")
                return PassResult(notes=result.notes)
            edits.append(Edit.replace(from_instruction.start, from_instruction.start,
                                      [from_line[:named.start(2)] + builder + from_line[named.end(2):]]))

        venv = f"{directory}/.venv"
        # The runtime runs on the platform the original image was built for: same --platform as the builder.
        platform = "".join(f"{flag} " for flag in from_instruction.flags_and_args()[0]
                           if flag.lower().startswith("--platform"))
        header = ["", f"{kw('FROM')} {platform}{runtime_image} {as_keyword} {final}", "",
                  f"{kw('WORKDIR')} {directory}", "",
                  f"{kw('ENV')} VIRTUAL_ENV={venv} \\", f'    PATH="{venv}/bin:$PATH"', "",
                  f"{kw('COPY')} --from={builder} {venv} {venv}"]
        carried: list[str] = []  # instructions before the install that the runtime needs as well
        dropped_run = False  # whether a `poetry run` is taken out of a command
        for instruction in stage.instructions:
            if instruction.start > last_install.start:
                break
            keyword = instruction.keyword
            block_start = document.comment_block_start(instruction)
            block = document.lines[block_start : instruction.end + 1]
            if keyword in ("COPY", "ADD"):
                sources = copy_sources(instruction)
                if sources is None:
                    # `COPY --from=image /wait /wait` (or an exec-form COPY): the runtime copies it the same way.
                    carried += block
                    continue
                metadata = is_manifest_copy(instruction, project) or all(s.lstrip("./") in readmes for s in sources)
                if metadata and not _read_at_run_time(sources, project, directory, document):
                    continue  # the manifests, the README: the builder's business, unless the app reads them
                carried += block  # the editable install points at the code: the runtime needs it too
            elif keyword in ("ENV", "ARG"):
                names = parse_assignments(instruction.value, keyword)
                if _poetry_only_env(names):
                    continue
                if _mentions_poetry_home(instruction) or any(name.startswith("POETRY_") for name in names):
                    # `ENV PYTHONUNBUFFERED=1 POETRY_HOME=/opt/poetry PATH="$POETRY_HOME/bin:$PATH"`: the app's
                    # variables go on; Poetry's, and a PATH leading to it, stay in the builder.
                    kept = _app_assignments(instruction.value)
                    if kept is None:
                        result.notes.append(f"line {instruction.line_number}: cannot tell the app's variables from "
                                            f"Poetry's in this {keyword}; left single-stage")
                        return PassResult(notes=result.notes)
                    if kept:
                        carried += block[: instruction.start - block_start] + [f"{kw(keyword)} {' '.join(kept)}"]
                    continue
                if _POETRY_REFERENCE.search(instruction.value):
                    # `ENV BUILD_INFO="poetry-$POETRY_VERSION"`: the variable it is made of stays in the builder.
                    result.notes.append(f"line {instruction.line_number}: the {keyword} uses Poetry's own variables, "
                                        "which stay in the builder; left single-stage")
                    return PassResult(notes=result.notes)
                carried += block
            elif keyword == "SHELL":
                carried += block  # the builder's RUNs after it need it too; the runtime's CMD as well
            elif keyword in RUNTIME_KEYWORDS:
                kept = _without_poetry_run(block)
                dropped_run = dropped_run or kept != block
                carried += kept
                edits.append(delete_block(document.lines, block_start, instruction.end))

        # Everything after the last install (code COPYs and runtime instructions, checked in `run`) moves.
        after = document.lines[last_install.end + 1 :]
        trailing = 0  # blank lines at the end of the file stay where they are, byte for byte
        while trailing < len(after) and after[len(after) - 1 - trailing].strip() == "":
            trailing += 1
        tail = after[: len(after) - trailing]
        while tail and tail[0].strip() == "":
            tail = tail[1:]
        dropped_run = dropped_run or _without_poetry_run(tail) != tail
        tail = _without_poetry_run(tail)
        runtime = header + carried
        if tail and not tail[0].lstrip().upper().startswith(("COPY", "ADD")):
            runtime.append("")
        runtime += tail
        # `ENV PATH="/usr/local/bin:$PATH"` (carried, or after the install) after the venv's: `poetry run` put the
        # venv first, and so must the runtime, right after the last ENV that sets PATH.
        body = runtime[len(header):]
        if any("PATH" in line for line in body):
            setting = [i for i in Document.from_text("\n".join(body) + "\n").instructions
                       if i.keyword == "ENV" and "PATH" in parse_assignments(i.value)]
            path = parse_assignments(setting[-1].value).get("PATH", "").strip("'\"") if setting else ""
            if setting and not path.startswith((f"{venv}/bin:", "$VIRTUAL_ENV/bin:", "${VIRTUAL_ENV}/bin:")):
                # (unless that ENV already puts the venv first: `ENV PATH="/app/.venv/bin:$PATH"` after the install)
                runtime.insert(len(header) + setting[-1].end + 1, f'{kw("ENV")} PATH="{venv}/bin:$PATH"')
        problem = _calls_poetry(runtime)
        if problem is not None:
            result.notes.append(f"the runtime stage would still call Poetry (`{problem}`), which it does not have; "
                                "left single-stage")
            return PassResult(notes=result.notes)
        edits.append(Edit(last_install.end + 1, len(document.lines) - trailing, tuple(runtime)))
        result.change(edits, from_instruction.line_number, f"builder stage + runtime stage on {runtime_image}",
                      "Poetry, compilers and caches stay in the builder; the runtime gets only the virtualenv and "
                      f"the code; {image_reason}" + ("; `poetry run` is dropped since the venv's bin is on PATH"
                                                     if dropped_run else "; the venv's bin is on PATH"))
        return result


# Programs the full python images have (from buildpack-deps) and the slim ones do not.
NOT_IN_SLIM = ("curl", "wget", "git", "make", "gcc", "g++", "cc", "ssh", "nc", "netcat", "ps", "psql", "mysql",
               "jq", "unzip", "xz", "bzip2", "gpg", "ping", "pg_isready", "ffmpeg")
# A program where a command starts (after a space, a quote, `[`, `;`, `&`, `|`, `(`), by name or from a bin folder;
# not a word inside a URL or a path argument (`http://localhost/ping`, `/api/make`).
_NOT_IN_SLIM = re.compile(r"(?<![^\s\"'\[;&|(])(?:/(?:usr/)?(?:local/)?s?bin/)?(" + "|".join(re.escape(p) for p in NOT_IN_SLIM)
                          + r")(?=[\s\"'\],;&|)]|$)")
# The app's own code starting a program the slim image lacks: `subprocess.run(["git", …])`, `check_output("curl …")`,
# `os.system("git pull")`. Only a call whose first argument starts with the program's name counts.
_PROGRAM_CALL = re.compile(r"""(?:\b(?:subprocess\.)?(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)"""
                           r"""|\bos\.(?:system|popen|exec\w*|spawn\w*))\(\s*\[?\s*[fbr]?["']"""
                           r"""(?:/(?:usr/)?(?:local/)?s?bin/)?(""" + "|".join(re.escape(p) for p in NOT_IN_SLIM)
                           + r""")(?=["'\s])""")
# Packages that build against, or load, a system library the full images have and the slim ones do not.
NEEDS_SYSTEM_LIBRARY = {"psycopg2": "libpq", "mysqlclient": "libmysqlclient", "python-ldap": "libldap",
                        "lightgbm": "libgomp (OpenMP)",
                        "pycurl": "libcurl", "pygraphviz": "graphviz", "gdal": "libgdal", "pyodbc": "unixODBC",
                        "pycairo": "cairo", "pygobject": "GObject", "python-magic": "libmagic", "pyaudio": "portaudio"}
_PSYCOPG = ("psycopg", "psycopg-binary", "psycopg-c")
# Packages that run a program the full images have and the slim ones do not (GitPython fails at import).
NEEDS_PROGRAM = {"gitpython": "git"}


def _python_clash(builder: str, runtime: str) -> str | None:
    """How two official python images differ in what a virtualenv depends on (Python minor version, libc);
    None when they agree or either is not a `python:X.Y…` tag."""
    first, second = PYTHON_IMAGE.match(builder), PYTHON_IMAGE.match(runtime)
    if first and not second and _NO_LOCAL_PYTHON.search(runtime):
        # The venv's interpreter is a link to /usr/local/bin/python3.X; these images have none there (distroless
        # and the distributions' own images keep Python in /usr/bin, if they have one at all).
        return f"where Python lives (`{builder}` has it in /usr/local/bin, which the virtualenv links to)"
    if not first or not second:
        return None
    minor = [".".join(match.group("version").split(".")[:2]) for match in (first, second)]
    if minor[0] != minor[1]:
        return f"its Python ({minor[1]}, not {minor[0]})"
    libc = ["musl" if "alpine" in (match.group("variant") or "") else "glibc" for match in (first, second)]
    if libc[0] != libc[1]:
        return f"its C library ({libc[1]}, not {libc[0]})"
    releases = [next((r for r in DEBIAN_RELEASES if r in (match.group("variant") or "")), None)
                for match in (first, second)]
    if None not in releases and DEBIAN_RELEASES.index(releases[1]) < DEBIAN_RELEASES.index(releases[0]):
        # Wheels compiled on the builder link against its glibc, which an older release does not have.
        return f"its Debian release ({releases[1]}, older than {releases[0]}: an older glibc)"
    return None


_NO_LOCAL_PYTHON = re.compile(r"(?:^|/)(?:distroless/|chainguard/|(?:debian|ubuntu|alpine|busybox|fedora|centos"
                              r"|rockylinux|almalinux|amazonlinux)(?::|@|$)|scratch$)|^cgr\.dev/")
DEBIAN_RELEASES = ("stretch", "buster", "bullseye", "bookworm", "trixie", "forky")


def _slim_lacks(document: Document, stage: Stage, project, directory: str | None = None) -> str | None:
    """Why the slim twin cannot run this image: a program its runtime instructions call (or a script of the
    context they run: a "wait for the database" entrypoint calling curl), or a system library a locked package
    needs (`psycopg`, without its binary build, loads libpq). None when nothing is missing."""
    for instruction in stage.instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
            match = _NOT_IN_SLIM.search(instruction.value)
            if match:
                return f"line {instruction.line_number} runs `{match.group(1)}`"
    in_script = script_run_matching(stage, project, directory, _NOT_IN_SLIM, shell_scripts=True)
    if in_script is not None:
        return f"`{in_script[0]}`, which the image runs, calls `{in_script[1].group(1)}`"
    if project is not None:
        for name, key, value in compose_commands(project):
            match = _NOT_IN_SLIM.search(value)
            if match:
                return f"{name} (`{key}:`) runs `{match.group(1)}` in a service that may run this image"
        for relative, text in app_sources(project):
            if "(" in text and any(word in text for word in ("subprocess", "os.system", "os.popen", "os.exec")):
                match = _PROGRAM_CALL.search(text)
                if match:
                    return f"{relative} runs `{match.group(1)}`"
    locked = project.locks(*NEEDS_SYSTEM_LIBRARY, *NEEDS_PROGRAM, *_PSYCOPG) if project is not None else frozenset()
    for package, library in NEEDS_SYSTEM_LIBRARY.items():
        if package.replace("-", "_") in locked:
            return f"poetry.lock has {package}, which needs {library}"
    for package, program in NEEDS_PROGRAM.items():
        if package.replace("-", "_") in locked:
            return f"poetry.lock has {package}, which runs `{program}`"
    if "psycopg" in locked and not locked & {"psycopg_binary", "psycopg_c"}:
        return "poetry.lock has psycopg without psycopg-binary, so it loads libpq"
    return None


def _poetry_only_env(names: dict[str, str]) -> bool:
    """ENV/ARG that only configure Poetry or the virtualenv the runtime header sets up again."""
    own = {"VIRTUAL_ENV", "PATH", "POETRY_VERSION"}
    if "PATH" in names and _app_path_parts(names["PATH"]):
        return False  # `PATH="/app/bin:$PATH"` beside POETRY_VERSION: the app's folder must go on
    return all(name.startswith("POETRY_") or name in own for name in names) and any(
        name.startswith("POETRY_") or name == "VIRTUAL_ENV" for name in names
    )


_POETRY_HOME = re.compile(r"/root/\.local/bin|POETRY_HOME|pypoetry")
_POETRY_REFERENCE = re.compile(r"\$\{?(?:POETRY_\w+|VIRTUAL_ENV)\b")


def _mentions_poetry_home(instruction: Instruction) -> bool:
    return bool(_POETRY_HOME.search(instruction.value))


def _app_assignments(value: str) -> list[str] | None:
    """The `NAME=value` words of an ENV/ARG value, as written, without Poetry's own (POETRY_*, VIRTUAL_ENV, a
    PATH leading to Poetry); None when the value is not plain `NAME=value` words (legacy `ENV NAME value`,
    a backslash, an unclosed quote)."""
    words: list[str] = []
    current, quote = "", None
    for character in value.strip():
        if character == "\\":
            return None
        if quote:
            quote = None if character == quote else quote
            current += character
        elif character in "'\"":
            quote = character
            current += character
        elif character.isspace():
            if current:
                words.append(current)
            current = ""
        else:
            current += character
    if quote:
        return None
    if current:
        words.append(current)
    if not words or any("=" not in word or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word.split("=", 1)[0])
                        for word in words):
        return None
    kept = []
    # `POETRY_HOME=/opt/poetry PATH="/opt/poetry/bin:$PATH"`: that folder is Poetry's too.
    homes = [word.split("=", 1)[1].strip("'\"").rstrip("/") for word in words if word.startswith("POETRY_HOME=")]
    home = re.compile("|".join([_POETRY_HOME.pattern]
                               + [re.escape(h) + r"(?:/|$)" for h in homes if h.startswith("/")]))
    for word in words:
        name, value = word.split("=", 1)
        if name.startswith("POETRY_") or name == "VIRTUAL_ENV":
            continue
        if name == "PATH" and home.search(value):
            others = [part for part in _app_path_parts(value) if not home.search(part)]
            if not others:
                continue
            # `PATH="$POETRY_HOME/bin:/app/bin:$PATH"`: the app's folders go on, Poetry's stay in the builder.
            parts = [part for part in value.strip("'\"").split(":") if not home.search(part)]
            word = f'PATH="{":".join(parts)}"'
        if _POETRY_REFERENCE.search(word.split("=", 1)[1]):
            return None  # `APP_DIR="$POETRY_HOME/../app"` would lose what it is made of
        kept.append(word)
    return kept


def _app_path_parts(value: str) -> list[str]:
    """The folders a PATH value adds that are neither Poetry's (its home, ~/.local/bin) nor the virtualenv's."""
    return [part for part in value.strip("'\"").split(":")
            if part and part not in ("$PATH", "${PATH}") and not _POETRY_HOME.search(part)
            and "VIRTUAL_ENV" not in part and ".venv" not in part]


def _command_ok(instruction: Instruction) -> bool:
    """Whether the command runs Poetry only as `poetry run` (which the runtime stage drops). In shell form every
    `poetry run` is dropped (`CMD poetry run alembic upgrade head && poetry run uvicorn app:app`), as
    `_without_poetry_run` does."""
    argv = instruction.argv()
    if argv is None:
        return "poetry" not in instruction.value
    if _RUN_WITH_OPTIONS.search(instruction.value):
        return False  # `poetry run -- x`, `poetry run -C /app x`: dropping `poetry run` would leave the options
    if instruction.exec_form() is None:
        script = _POETRY_RUN_SHELL.sub("", instruction.flags_and_args()[1])
        if _POETRY_COMMAND.search(script):  # `$(poetry env info --path)/bin/python`, `` `poetry …` ``
            return False
        try:
            rest = shlex.split(script)
        except ValueError:
            return False
    else:
        rest, _ = strip_poetry_run(argv)
    return "poetry" not in [a.rsplit("/", 1)[-1] for a in rest]


_RUN_WITH_OPTIONS = re.compile(r"""(?<![\w/-])(?:\S*/)?poetry["']?\s*,?\s*["']?run["']?\s*,?\s*["']?-""")
_POETRY_RUN_JSON = re.compile(r'"(?:[^"]*/)?poetry"\s*,\s*"run"\s*(?:,\s*|(?=\]))')
_POETRY_RUN_SHELL = re.compile(r"(?<![\w/-])(?:\S*/)?poetry\s+run\s+")


_RUN_TARGET = re.compile(r"(?<![\w/-])(?:\S*/)?poetry\s+run\s+(?:(?:-C|--directory|-P|--project)\s+\S+\s+|--\S*\s+)*"
                         r"([\w.-]+)")


def _script_without_its_root(stage: Stage, installs: list[Instruction], project, directory: str,
                             document: Document | None = None) -> str | None:
    """Why `poetry run <script>` cannot become `<script>`: it runs a script of pyproject.toml, which `poetry run`
    finds there even when the project itself is not installed, but the runtime only has the console scripts the
    root install made. None when there is no such command or the root install makes them."""
    if project is None or not project.scripts:
        return None
    if not project.package_mode:
        why = "the project is not installed (package-mode = false)"
    elif all("--no-root" in arguments for i in installs for arguments in poetry_installs(i)):
        why = "every `poetry install` has --no-root"
    elif _readme_missing(stage, installs, project, directory, document):
        why = (f"the root install lacks {_readme_missing(stage, installs, project, directory, document)}, which "
               "pyproject.toml names and no COPY before the install brings (Poetry 1.x then skips the root install)")
    else:
        return None
    # `ENTRYPOINT ["poetry", "run"]` (wherever it stands: the last one counts): the CMD names what it runs.
    entrypoints = [i.exec_form() for i in stage.instructions if i.keyword == "ENTRYPOINT"]
    entry_runs = bool(entrypoints) and entrypoints[-1] is not None and strip_poetry_run(entrypoints[-1]) == ([], True)
    for instruction in stage.instructions:
        if instruction.keyword not in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
            continue
        names = _RUN_TARGET.findall(instruction.value)
        argv = instruction.exec_form()
        if argv is not None:
            rest, used = strip_poetry_run(argv)
            if rest and (used or instruction.keyword == "CMD" and entry_runs):
                names.append(rest[0])
        found = next((name for name in names if name in project.scripts), None)
        if found is not None:
            return (f"line {instruction.line_number}: `poetry run {found}` runs a script of pyproject.toml, which the "
                    f"runtime stage could only run as an installed command, but {why}; left single-stage")
    return None


def _readme_missing(stage: Stage, installs: list[Instruction], project, directory: str,
                    document: Document | None = None) -> str | None:
    """A README pyproject.toml names that the image lacks at the last root install, in the folder Poetry finds
    it (`COPY pyproject.toml poetry.lock ./` alone; a README .dockerignore leaves out): without it Poetry 1.x
    skips the root install with a warning, and 2.x fails. An empty one a RUN touches there counts (the article's
    stand-in)."""
    roots = [i for i in installs for arguments in poetry_installs(i) if "--no-root" not in arguments]
    if not roots or not project.readme:
        return None
    last = roots[-1]
    missing = []
    existing = {posixpath.normpath(name) for name in project.existing_readmes}
    for name in (posixpath.normpath(name) for name in project.readme):
        image_path = posixpath.join(directory, name)
        if name in existing and lands_at(stage, project, name, image_path, last.start, document):
            continue
        if any(i.keyword == "RUN" and i.start < last.start and _touches_only_readmes(
                [t for c in run_commands(i) if c.tokens[:1] == ("touch",) for t in c.tokens[1:]],
                stage.workdir_before(i.start) or "/", directory) and posixpath.basename(name) in i.value
               for i in stage.instructions):
            continue
        missing.append(name)
    return ", ".join(missing) or None


def _read_at_run_time(sources: list[str], project, directory: str | None = None,
                      document: Document | None = None) -> bool:
    """Whether the app's code names one of these COPY sources (`open("pyproject.toml")` for its version,
    `Path(__file__).parents[1] / "README.md"`, `open("/app/README.md")`), or an ENV of the file does: the runtime
    stage must have them too."""
    if project is None:
        return False
    names = sorted({posixpath.normpath(source).split("/")[0] for source in sources} - {".", ".."})
    names = [name for name in names if project.exists(name)]
    return bool(code_mentions(project, names, directory)) or (
        document is not None and bool(env_mentions(document, names, directory)))


def _script_calling_poetry(stage: Stage, project, directory: str) -> str | None:
    """A script of the build context that the CMD or ENTRYPOINT runs and that calls Poetry: the runtime stage
    has no Poetry."""
    found = script_run_matching(stage, project, directory, _POETRY_WORD)
    return found[0] if found else None


_POETRY_WORD = re.compile(r"(?<![\w-])poetry(?![\w-])")


def _calls_poetry(lines: list[str]) -> str | None:
    """The CMD/ENTRYPOINT of these runtime lines that still runs Poetry, or is left empty in shell form."""
    for instruction in Document.from_text("\n".join(lines) + "\n").instructions:
        if instruction.keyword == "HEALTHCHECK" and _POETRY_WORD.search(instruction.value):
            return instruction.value.strip()
        if instruction.keyword not in ("CMD", "ENTRYPOINT"):
            continue
        argv = instruction.argv()
        if argv is None or (instruction.exec_form() is None and not argv):
            return instruction.value.strip() or instruction.keyword
        if any(word.rsplit("/", 1)[-1] == "poetry" or (" " in word and _POETRY_COMMAND.search(word))
               for word in argv):  # a word with spaces is a script (`sh -c "…"`): Poetry anywhere in it
            return instruction.value.strip()
    return None


_POETRY_COMMAND = re.compile(r"(?<![\w/.-])(?:\S*/)?poetry(?:\s|$)")


def _without_poetry_run(block: list[str]) -> list[str]:
    out = []
    for line in block:
        if line.lstrip().startswith("#"):
            out.append(line)
            continue
        replaced = _POETRY_RUN_JSON.sub("", line, count=1)
        if replaced == line:
            # Every one: `sh -c "poetry run alembic upgrade head && poetry run python -m app"`.
            replaced = _POETRY_RUN_SHELL.sub("", line)
        out.append(replaced)
    return out
