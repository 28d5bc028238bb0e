"""split-install: dependencies become a cached layer that code changes do not invalidate."""

from __future__ import annotations

import posixpath
import re
import shlex

from ..refactor.document import Document, Instruction, parse_assignments, per_object
from ..refactor.edits import Edit, delete_block
from ..refactor.facts import (
    MANIFESTS,
    Context,
    copy_arguments,
    copy_sources,
    effective_poetry,
    install_runs,
    install_stage,
    installs_only_poetry_tools,
    is_cache_cleanup,
    is_manifest_copy,
    manifests_only_glob,
    pip_install_arguments,
    project_dir,
)
from ..refactor.project import PoetryProject
from ..refactor.shell import (
    INSTALL_VALUE_OPTIONS,
    POETRY_INSTALL,
    is_poetry_setup,
    locate,
    poetry_installs,
    run_commands,
)
from ..refactor.versions import PoetryCapabilities
from .base import Pass, PassResult
from .cache_mount import local_venv_replaces
from .narrow_copy import _VERSION_GIVEN
from .poetry_env import is_python_m_poetry

# Instructions that neither read the code nor change how an install behaves: the install may move above them.
# (ENV and ARG can change the install: POETRY_* variables, build arguments. VOLUME discards later writes.)
METADATA_ONLY = {"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER"}
_INSTALL_WITH_ARGS = re.compile(POETRY_INSTALL.pattern + r"(?P<args>(?:[ \t]+[^\s&|;\\#]+)*)")


@per_object
def skeleton_command(project: PoetryProject) -> str | None:
    """Shell commands that create an empty stand-in for every package, or None when one cannot be made."""
    directories: list[str] = []
    files: list[str] = []
    for package in project.packages:
        if not package.is_simple:
            return None
        path = project.root / package.path
        if path.is_dir() and (path / "__init__.py").is_file():
            directories.append(package.path.rstrip("/"))
            files.append(f"{package.path.rstrip('/')}/__init__.py")
        elif path.is_file() and path.suffix == ".py":
            if package.source_dir:
                directories.append(package.source_dir)
            files.append(package.path)
        else:
            return None
    if not files:
        return None
    commands = []
    if directories:
        commands.append("mkdir -p " + " ".join(directories))
    commands.append("touch " + " ".join(files))
    return " && ".join(commands)


# Where Poetry and pip read settings and credentials (a COPY's destination): Poetry's config folder, pip's, and the
# home's .netrc / .pypirc. Not the app's own `config.toml` in the project.
_CONFIGURATION = re.compile(r"pypoetry|/etc/pip|/\.pip(?:/|$)|/\.config/pip(?:/|$)|/pip\.conf$|/\.netrc$|/\.pypirc$")


def _outside(instruction: Instruction, directory: str | None) -> bool:
    """Whether a COPY puts its files in an absolute folder outside the project folder `directory`."""
    arguments = copy_arguments(instruction)
    if directory is None or directory == "/" or not arguments:
        return False
    destination = arguments[-1]
    if not destination.startswith("/") or "$" in destination:
        return False
    target = posixpath.normpath(destination)
    return target != directory and not target.startswith(directory.rstrip("/") + "/") and \
        not directory.startswith(target.rstrip("/") + "/")


def _local_venv_copy(document: Document, stage, install: Instruction, code_copies: list[Instruction],
                     directory: str | None, project: PoetryProject) -> Instruction | None:
    """The code COPY that, once the install comes before it, would put the developer's local .venv where the
    image's virtualenv is (see cache_mount.local_venv_replaces)."""
    if not local_venv_replaces(document, stage, install, project):
        return None
    for instruction in code_copies:
        sources = {posixpath.normpath(source) for source in copy_sources(instruction) or []}
        arguments = copy_arguments(instruction)
        if "." not in sources or not arguments:
            continue
        destination = arguments[-1]
        if "$" in destination or posixpath.normpath(destination) == "." or (
                destination.startswith("/") and posixpath.normpath(destination) == directory):
            return instruction
    return None


def _version_given(document: Document, stage, install: Instruction) -> bool:
    """Whether the build hands the git-versioning tool its version (POETRY_DYNAMIC_VERSIONING_BYPASS,
    SETUPTOOLS_SCM_PRETEND_VERSION…), so it reads no .git."""
    given = set(document.stage_env(stage, install.start + 1)) | set(re.findall(r"\w+", install.value))
    return any(_VERSION_GIVEN.fullmatch(name) for name in given)


def _readme_beside_manifests(copies: list[Instruction], project) -> tuple[Instruction, list[str]] | None:
    """(the COPY, the README files it adds) when the only copies before the install bring the manifests and the
    README files pyproject.toml names (`COPY pyproject.toml poetry.lock README.md ./`): no code comes first."""
    readmes = {posixpath.normpath(name) for name in project.readme}
    found = None
    for instruction in copies:
        sources = [posixpath.normpath(source) for source in copy_sources(instruction) or []]
        others = [source for source in sources if source not in MANIFESTS and source not in readmes]
        if others or not sources:
            return None
        if "pyproject.toml" in sources and any(source in readmes for source in sources):
            found = (instruction, [source for source in sources if source in readmes])
    return found


def _metadata_copy(copies: list[Instruction], project) -> Instruction | None:
    """The COPY of pyproject.toml with only other manifests and the metadata files pyproject.toml names (README,
    license) beside it, when no copy before it brings anything else."""
    metadata = {posixpath.normpath(name) for name in project.readme}
    if project.license_in_context:
        metadata.add(project.license_in_context)
    for instruction in copies:
        sources = [posixpath.normpath(source) for source in copy_sources(instruction) or []]
        if not sources or any(source not in MANIFESTS and source not in metadata for source in sources):
            return None
        if "pyproject.toml" in sources:
            return instruction
    return None


def _stand_in_anchor(later: list[Instruction], moved: list[Instruction], project: PoetryProject,
                     manifest_copy: Instruction) -> int:
    """The line after which the stand-in's root install goes: after the README copies and placeholder RUNs it
    needs (not the set-up RUNs, which move up with the install)."""
    placeholders = [i for i in later if i not in moved and (
        copy_sources(i) is not None and _only_readme(i, project) or i.keyword == "RUN")]
    return max((i.end for i in placeholders), default=manifest_copy.end)


def _only_poetry_settings(instruction: Instruction) -> bool:
    """`ENV POETRY_VIRTUALENVS_IN_PROJECT=1 …` (poetry-env's block after Poetry is installed): settings of the
    install, which no COPY reads."""
    names = parse_assignments(instruction.value, "ENV")
    return bool(names) and all(name.startswith("POETRY_") or name in ("VIRTUAL_ENV", "PATH") for name in names)


def _is_setup_run(instruction: Instruction) -> bool:
    """A RUN that only installs or configures Poetry (`pip install poetry==2.1.4`, `poetry config …`): it reads
    no code, so it may move above the code COPY with the install that needs it."""
    commands = run_commands(instruction)
    if not commands or poetry_installs(instruction):
        return False
    for command in commands:
        arguments = pip_install_arguments(command)
        if is_poetry_setup(command) or is_cache_cleanup(command):
            continue
        if arguments is not None and any(a.lower().startswith("poetry") for a in arguments) and \
                installs_only_poetry_tools(arguments):
            continue
        return False
    return True


def _is_placeholder_run(instruction: Instruction) -> bool:
    """`RUN touch README.md` and the like: makes files the root install wants, reads no code."""
    commands = run_commands(instruction)
    return bool(commands) and all(c.tokens[:1] in (("touch",), ("mkdir",)) for c in commands)


class SplitInstall(Pass):
    """Install the dependencies from the manifests alone, before the code is copied.

    What: `COPY pyproject.toml poetry.lock ./` is followed at once by `poetry install … --no-root`; the README
    and code COPYs come after it. When the project itself must be installed (console scripts, entry points,
    its metadata), the root install runs against an empty stand-in of each package
    (`mkdir -p pkg && touch pkg/__init__.py && poetry install --only-root`) before the real code is copied,
    so a code-only change re-runs no install at all; where no stand-in can be made (glob `packages`, Poetry
    1.1) the root install stays after the code COPY.
    Why: Docker reuses a layer only while everything it depends on is unchanged; with the code copied first,
    every edit to a .py file reinstalls every dependency.
    Example: `COPY annapurna ./annapurna` + `RUN poetry install --only main` →
    `RUN poetry install --only main --no-root` before the code COPY.
    Left alone: an install already preceded by manifests only, path dependencies (they need their code
    before the dependency install), and installs chained with other commands.
    """

    name = "split-install"
    description = "Install dependencies from the manifests before copying the code"

    def run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        stage = install_stage(document)
        project = context.project
        if stage is None or project is None:
            return result
        first = install_runs(stage)[0]
        arguments = poetry_installs(first)[0]
        if "--only-root" in arguments:
            return result
        # A copy to a folder outside the project (`COPY docker-entrypoint.sh /usr/local/bin/`) is neither code
        # nor a manifest: the install does not read it.
        directory = project_dir(document, stage, first)
        copies = [i for i in stage.instructions if i.start < first.start and copy_sources(i) is not None
                  and not _outside(i, directory)]
        # (a README-only COPY is no code: `COPY README.md ./` may come before the manifests)
        first_code = next((i for i in copies if not is_manifest_copy(i, project) and not _only_readme(i, project)),
                          None)
        manifest_copies = [i for i in copies if is_manifest_copy(i, project)]
        if first_code is not None and any(i.start > first_code.start for i in manifest_copies):
            result.notes.append(f"line {first_code.line_number}: a manifest is copied after the code; left alone")
            return result
        # The install goes after the *last* manifest COPY: pyproject.toml and poetry.lock may come separately.
        manifest_copy = manifest_copies[-1] if manifest_copies else None
        if manifest_copy is None:
            # `COPY pyproject.toml poetry.lock README.md ./` then `COPY src/ src/`: the install goes after the first
            # (the README only makes it run again when the README changes too).
            metadata = _metadata_copy(copies, project)
            if metadata is not None and any(i.start > metadata.start for i in copies):
                manifest_copy, manifest_copies = metadata, [metadata]
        if manifest_copy is None:
            extras = _readme_beside_manifests(copies, project)
            broad = next((i for i in copies if copy_sources(i) in (["."], ["./"])), None)
            if extras:
                instruction, names = extras
                result.notes.append(f"line {instruction.line_number} copies {', '.join(names)} with the manifests, "
                                    "before any code: the install already comes before the code (it runs again "
                                    f"only when {', '.join(names)} changes too); left alone")
            elif broad is not None and _local_venv_copy(document, stage, first, [broad], directory, project):
                result.notes.append(f"line {broad.line_number}: `{document.raw(broad)[0].strip()}` brings the "
                                    "manifests with the code, and the install cannot go before it: it could copy a "
                                    "local .venv (a developer's) over the project's virtualenv (Poetry uses an "
                                    "existing .venv in the project); left alone (add `.venv` to .dockerignore to "
                                    "allow it)")
            elif any("pyproject.toml" in (copy_sources(i) or []) for i in copies) or broad is not None:
                result.notes.append("the manifests are copied together with the code (narrow-copy makes the "
                                    "separate COPY this pass needs where it can: see its note)")
            elif copies:
                result.notes.append(f"no COPY brings pyproject.toml and poetry.lock alone before the install (they "
                                    f"come with the code, as `{document.raw(copies[-1])[0].strip()}` at line "
                                    f"{copies[-1].line_number} may bring them): the install cannot go before the "
                                    "code; copy the manifests first to allow it")
            return result
        later = [i for i in stage.instructions if manifest_copy.start < i.start < first.start]
        code_copies = [i for i in later if copy_sources(i) is not None and not is_manifest_copy(i, project)]
        if not code_copies:
            return result  # already split: only manifests precede the first install
        venv_copy = _local_venv_copy(document, stage, first, code_copies, directory, project)
        if venv_copy is not None:
            result.notes.append(f"line {venv_copy.line_number}: `{document.raw(venv_copy)[0].strip()}` could copy a "
                                "local .venv (a developer's) over the project's virtualenv once the install comes "
                                "before it (Poetry uses an existing .venv in the project); left alone (add `.venv` to "
                                ".dockerignore to allow it)")
            return result
        setup_runs: list[Instruction] = []  # `RUN pip install poetry` after the code COPY: moves up with the install
        for instruction in later:
            if instruction.keyword == "RUN" and _is_setup_run(instruction) or \
                    instruction.keyword == "ENV" and _only_poetry_settings(instruction):
                setup_runs.append(instruction)
                continue
            if copy_sources(instruction) is None and not (
                instruction.keyword == "RUN" and _is_placeholder_run(instruction)
            ) and instruction.keyword not in METADATA_ONLY:
                result.notes.append(f"line {instruction.line_number}: `{instruction.keyword}` between the code COPY "
                                    "and `poetry install` may read the code or change the install; left alone")
                return result
            copied = copy_arguments(instruction)  # (not `arguments`: the install's, used below)
            landing = [] if not copied else [copied[-1]] + [  # `COPY .netrc /root/` lands at /root/.netrc
                copied[-1].rstrip("/") + "/" + posixpath.basename(posixpath.normpath(source)) for source in copied[:-1]]
            if any(_CONFIGURATION.search(path) for path in landing):
                # `COPY auth.toml /root/.config/pypoetry/auth.toml`: credentials or settings the install reads.
                result.notes.append(f"line {instruction.line_number}: copies configuration Poetry or pip reads "
                                    "before `poetry install`; left alone")
                return result
        if project.path_dependencies:
            result.notes.append("path dependencies need their code before the dependency install; left alone")
            return result
        git_version = project.version_from_git if not _version_given(document, stage, first) else None
        if git_version == "poetry-dynamic-versioning":
            # The plugin runs on every `poetry install`, --no-root too, and needs .git, which comes with the code.
            result.notes.append("poetry-dynamic-versioning takes the version from git on every `poetry install` "
                                "(--no-root too), and .git comes with the code; left alone")
            return result
        license_file = project.license_in_context
        if license_file and not any(license_file in {posixpath.normpath(s) for s in copy_sources(i) or []}
                                    for i in manifest_copies):
            version, _known = effective_poetry(document, stage, context)
            if version.major >= 2:
                result.notes.append(f"pyproject.toml names its license file {license_file}, which Poetry {version} "
                                    "reads before any install, and it is copied with the code; left alone (copy it "
                                    "with the manifests)")
                return result
        commands = run_commands(first)
        others = [c for c in commands if not is_cache_cleanup(c) and not is_poetry_setup(c)]
        if len(poetry_installs(first)) != 1 or others:
            chained = " ".join(others[0].tokens[:3]) if others else "poetry install"
            result.notes.append(f"line {first.line_number}: `poetry install` is chained with `{chained}`, which "
                                "may need the code; left alone")
            return result

        located = locate(document, first, _INSTALL_WITH_ARGS)
        if located is None:
            result.notes.append(f"line {first.line_number}: cannot locate `poetry install` to split")
            return result
        index, match = located
        root_needed = project.package_mode and "--no-root" not in arguments
        path = document.stage_env(stage, first.start).get("PATH", "")
        if root_needed and any(is_python_m_poetry(c) for c in run_commands(first)) and (
                ".venv/bin" in path or "VIRTUAL_ENV" in path):
            # Two installs: the second one's `python` is the virtualenv's the first made, without Poetry.
            result.notes.append(f"line {first.line_number}: `python -m poetry` would find the virtualenv's python, "
                                "which has no Poetry, once the dependency install made it (the virtualenv is first "
                                "on PATH); left alone")
            return result
        dependency_lines = list(document.raw(first))
        if root_needed:
            line = dependency_lines[index - first.start]
            words = match.group("args").split()
            # `poetry install --only \` + `main` on the next line: after the option would split it from its value.
            at = match.end(1) if words and words[-1] in INSTALL_VALUE_OPTIONS else match.end()
            dependency_lines[index - first.start] = line[:at] + " --no-root" + line[at:]
        block_start = document.comment_block_start(first)
        moved = document.lines[block_start : first.start] + dependency_lines
        sources = tuple(range(block_start, first.end + 1))
        edits = []
        for setup in reversed(setup_runs):  # Poetry's own set-up goes first, as it did
            setup_start = document.comment_block_start(setup)
            moved = document.lines[setup_start : setup.end + 1] + moved
            sources = tuple(range(setup_start, setup.end + 1)) + sources
            edits.append(delete_block(document.lines, setup_start, setup.end))
        edits.insert(0, Edit.insert(manifest_copy.end + 1, moved, sources=sources))
        version, _known = effective_poetry(document, stage, context)
        # README or license files the manifests COPY brings too (`COPY pyproject.toml poetry.lock README.md ./`).
        beside_manifests = sorted({posixpath.normpath(source) for source in copy_sources(manifest_copy) or []
                                   if not manifests_only_glob(source, project)}
                                  - {posixpath.normpath(name) for name in MANIFESTS} - {project.license_in_context})
        blocker = None
        if root_needed:
            if not PoetryCapabilities(version).has_groups:
                blocker = "Poetry before 1.2 has no `--only-root`"
            elif any(flag.startswith(("--chown", "--chmod")) for i in code_copies for flag in i.flags_and_args()[0]):
                blocker = ("the code COPY sets its owner or mode, which the folders an empty stand-in makes first "
                           "would not get")
            elif git_version:
                blocker = f"{git_version} takes the project's version from git, and .git comes with the code"
            elif project.build_script:
                blocker = (f"the project's build script {project.build_script}, which the root install runs, needs "
                           "the code")
            elif skeleton_command(project) is None:
                blocker = "no empty stand-in can be made for the packages"
            elif not _readmes_copied_alone(later, project, beside_manifests + [
                    posixpath.normpath(source) for i in copies if i.start < manifest_copy.start
                    and _only_readme(i, project) for source in copy_sources(i) or []]):
                blocker = "the README the root install needs is copied together with the code"
            elif _stand_in_anchor(later, setup_runs, project, manifest_copy) > code_copies[0].start:
                blocker = "the README the root install needs is copied after the code"
        skeleton = skeleton_command(project) if root_needed and blocker is None else None
        if root_needed and skeleton is None:
            reason_tail = "the root install stays after the code COPY: " + str(blocker)
        else:
            edits.append(delete_block(document.lines, block_start, first.end))
            reason_tail = ""
        if skeleton is not None:
            keyword = document.keyword_as_written(first)
            anchor = _stand_in_anchor(later, setup_runs, project, manifest_copy)
            # Never `poetry sync --only-root`: sync removes what the groups it installs (none) do not need, every
            # dependency the line before installed.
            command = re.sub(r"sync$", "install", match.group(1))
            # `python -m poetry install`: the root install runs Poetry the same way (`poetry` may not be on PATH).
            before = document.lines[index][:match.start(1)]
            runner = re.search(r"(?:\S*/)?python[\d.]*\s+-m\s+$", before)
            if runner is not None and not re.search(r"[\w/-]$", before[:runner.start()]):
                command = runner.group(0) + command
            root_line = f"{keyword} {skeleton} && {command} --only-root{_extras_options(arguments)}"
            edits.append(Edit.insert(anchor + 1, [root_line]))
            reason_tail = ("the project itself is installed against an empty stand-in of its packages, so a code "
                           "change re-runs no install step")
        if beside_manifests:
            why = (f"dependencies are installed from the manifests and {', '.join(beside_manifests)}, copied before "
                   "the code, so the layer is reused until they change instead of on every code edit")
        else:
            why = ("dependencies are installed from pyproject.toml and poetry.lock alone, so the layer is reused "
                   "until they change instead of on every code edit")
        if reason_tail:
            why += "; " + reason_tail
        result.change(edits, first.line_number, "install dependencies before copying the code", why)
        return result


def _extras_options(arguments: list[str]) -> str:
    """The install's extras options (`-E pg`, `--extras=pg`, `--all-extras`), for the root install: Poetry 1.x
    removes every extra an install does not name, so `poetry install --only-root` alone would take out what the
    dependency install just put in."""
    kept: list[str] = []
    taking = False
    for argument in arguments:
        if taking:
            kept.append(_quote(argument))
            taking = False
        elif argument in ("-E", "--extras"):
            kept.append(argument)
            taking = True
        elif argument == "--all-extras" or argument.startswith(("--extras=", "-E")):
            kept.append(_quote(argument))
    return "".join(f" {option}" for option in kept)


def _quote(word: str) -> str:
    """`word` for the shell: single quotes, unless it holds a variable, which must still expand (`--extras
    "$EXTRAS"`): then double quotes (a QA build failed with `Extra [$extras] is not specified`)."""
    if "$" not in word:
        return shlex.quote(word)
    return '"' + re.sub(r'(["\\`])', r"\\\1", word) + '"'


def _readmes_copied_alone(instructions: list[Instruction], project: PoetryProject,
                          already: list[str] | tuple[str, ...] = ()) -> bool:
    """Every README the root install needs is brought in by a README-only COPY (or a placeholder RUN), or
    `already` (by the manifests COPY)."""
    needed = set(project.root_install_files)
    if not needed:
        return True
    copied: set[str] = set(already)
    for instruction in instructions:
        if copy_sources(instruction) is not None and _only_readme(instruction, project):
            copied |= {s.lstrip("./") for s in copy_sources(instruction) or []}
        elif instruction.keyword == "RUN" and _is_placeholder_run(instruction):
            copied |= needed  # `RUN touch README.md`
    return needed <= copied


def _only_readme(instruction: Instruction, project: PoetryProject) -> bool:
    sources = copy_sources(instruction) or []
    return bool(sources) and all(posixpath.normpath(s) in project.metadata_names for s in sources)
