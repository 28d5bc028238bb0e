"""narrow-copy: copy what the build needs instead of the whole build context."""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
from pathlib import Path

from ..refactor import entrypoint
from ..refactor.compose import compose_commands
from ..refactor.document import Document, Instruction, Stage, expand, parse_assignments, per_document
from ..refactor.edits import Edit
from ..refactor.entrypoint import strip_poetry_run
from ..refactor.facts import (
    DEV_TOOLS,
    Context,
    copy_arguments,
    install_runs,
    install_stage,
    is_manifest_copy,
    project_dir,
)
from ..refactor.imports import (
    ImportScan,
    TooManyFiles,
    path_heads,
    python_sources,
    scan_imports,
)
from ..refactor.project import PoetryProject
from ..refactor.shell import poetry_installs, run_commands, split_commands
from .base import Pass, PassResult
from .cache_mount import local_venv_replaces

# Top-level names of a Python repository that an image never needs at run time. Anything else the tool cannot
# place (data folders, templates, config files, stray scripts) keeps a broad COPY: correctness beats size.
NOT_NEEDED = (
    ".git", ".github", ".gitlab", ".gitlab-ci.yml", ".gitignore", ".gitattributes", ".gitmodules", ".dockerignore",
    "Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile", "Containerfile.*",
    "docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml", "compose.*.yml", "compose.*.yaml",
    ".venv", "venv", ".env.example", "tests", "test", "docs", "doc", "*.md", "*.rst", "LICENSE*", "LICENCE*",
    "COPYING*", "NOTICE*", "AUTHORS*", "CHANGELOG*", "CHANGES*", "HISTORY*", "CONTRIBUTING*", "CODEOWNERS",
    "Makefile", "noxfile.py", "tox.ini", "pytest.ini", "conftest.py", "mypy.ini", ".mypy.ini", ".flake8",
    ".pylintrc", ".coveragerc", ".coverage", "htmlcov", ".editorconfig", ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml", ".python-version", ".tool-versions", "__pycache__", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".tox", ".nox", ".hypothesis", "dist", "build", "*.egg-info", "node_modules", ".idea",
    ".vscode", ".DS_Store", "renovate.json", ".readthedocs.yaml", ".readthedocs.yml", "mkdocs.yml", ".devcontainer",
    "ruff.toml", ".ruff.toml", ".yamllint", ".markdownlint*", ".golden",
)


_NOT_NEEDED = re.compile("|".join(fnmatch.translate(pattern) for pattern in NOT_NEEDED))


def _only_these_below(project: PoetryProject, folder: str, names: frozenset[str]) -> bool:
    """Whether every file below the context's `folder` is one of `names` (paths relative to the context)."""
    try:
        files = [path for path in (project.root / folder).rglob("*") if not path.is_dir()]
    except OSError:
        return False
    return bool(files) and all(path.relative_to(project.root).as_posix() in names for path in files)


def not_needed_at_run_time(name: str) -> bool:
    """A top-level entry of a Python repository that the running app never needs (tests, docs, build output,
    tool configuration: NOT_NEEDED)."""
    return _NOT_NEEDED.match(name) is not None


def _absolute_reference(document: Document, copy: Instruction, entries: list[str]) -> tuple[int, str] | None:
    """(line, path) of the first instruction (but `copy`) that names a top-level entry of the context by its
    absolute path at the image root (`/start.sh`, `/config/app.yaml`): a WORKDIR /app would move it."""
    if not entries:
        return None
    pattern = re.compile(r"(?<![\w.$}/-])/(?:" + "|".join(re.escape(name) for name in entries) + r")(?![\w.-])")
    for instruction in document.instructions:  # before the COPY too: `ENV CONFIG=/config/app.yaml`
        if instruction is not copy and instruction.keyword != "FROM":
            match = pattern.search(instruction.value)
            if match:
                return instruction.line_number, match.group(0)
    return None


def _absolute_in_code(project: PoetryProject, entries: list[str]) -> tuple[str, str] | None:
    """(file, path) of the first string literal in the app's own code that names a top-level entry of the context
    by its absolute path at the image root (`open("/annapurna/data.txt")`): a WORKDIR /app would move it."""
    if not entries:
        return None
    pattern = re.compile(r"""["'](/(?:""" + "|".join(re.escape(name) for name in entries) + r""")(?:/[^"'\s]*)?)["']""")
    for relative, text in app_sources(project):
        for match in pattern.finditer(text):
            end = text.find("\n", match.end())
            line = text[text.rfind("\n", 0, match.start()) + 1 : end if end >= 0 else len(text)]
            if not _URL_CONTEXT.search(line):  # `docs_url="/docs"`, `@app.get("/app/{id}")`: a route, no file
                return relative, match.group(1)
    return None


# A line that speaks of a URL: `docs_url="/docs"`, `prefix="/api"`, `@router.get("/app/{id}")`,
# `app.mount("/static", …)`. Not `os.environ.get("CONFIG", "/config/app.yaml")`, which is a file.
_URL_CONTEXT = re.compile(r"(?i:(?:url|route|prefix|redirect|href|endpoint)\w*\s*[=:(])"
                          r"|^\s*@[\w.]+\.(?:get|post|put|patch|delete|head|options|route|api_route|websocket)\("
                          r"|\.mount\(|(?<![\w.])(?:path|re_path)\(")


# Build and development tools that read the project's tests, docs and configuration (and .git) when a step of
# the build runs them after the COPY: `RUN poetry run pytest`, `RUN make`, `CMD ["tox"]`.
BUILD_TOOLS = DEV_TOOLS | {"make", "mkdocs", "sphinx-build", "invoke", "doit", "nox", "poetry build"}
# What no build step needs from the context: virtualenvs, caches, editor files, the Dockerfiles themselves.
NEVER_READ = re.compile("|".join(fnmatch.translate(pattern) for pattern in (
    ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox",
    "node_modules", ".idea", ".vscode", ".DS_Store", "htmlcov", ".coverage", "Dockerfile", "Dockerfile.*",
    "*.Dockerfile", "*.dockerfile", "Containerfile", "Containerfile.*", ".dockerignore", "docker-compose*.yml",
    "docker-compose*.yaml", "compose.yml", "compose.yaml", "compose.*.yml", "compose.*.yaml")))


DOCKER_FILES = re.compile("|".join(fnmatch.translate(pattern) for pattern in (
    "Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile", "Containerfile.*", "dockerfile",
    ".dockerignore", "*.dockerignore", "docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml",
    "compose.*.yml", "compose.*.yaml")))
_SHELLS = ("sh", "bash", "ash", "dash", "zsh")


def _command_lines(instruction: Instruction) -> list[list[str]]:
    """The simple commands an instruction runs, in any form: `RUN a && b`, `RUN ["pytest"]`,
    `CMD ["sh", "-c", "a && b"]`, `HEALTHCHECK --interval=5s CMD curl …`."""
    value = instruction.value
    if instruction.keyword == "HEALTHCHECK":
        match = re.search(r"(?:^|\s)CMD\s+(.*)$", value, re.IGNORECASE | re.DOTALL)
        if match is None:
            return []
        value = match.group(1)
    exec_form = None
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
            exec_form = [str(item) for item in parsed] if isinstance(parsed, list) else None
        except json.JSONDecodeError:
            exec_form = None
    if exec_form is not None:
        if exec_form and exec_form[0].rsplit("/", 1)[-1] in _SHELLS and "-c" in exec_form[1:-1]:
            script = exec_form[exec_form.index("-c") + 1]
            return [list(c.tokens) for c in split_commands(script) or []] or [exec_form]
        return [exec_form]
    if instruction.keyword == "RUN":
        return [list(c.tokens) for c in run_commands(instruction)]
    script = instruction.flags_and_args()[1] if instruction.keyword != "HEALTHCHECK" else value
    return [list(c.tokens) for c in split_commands(script) or []]


_PATH_WORD = re.compile(r"[^\s/\"'=:;,&|()<>`$]+")  # the parts of the paths a command may name


def _later_steps(document: Document, copy: Instruction) -> list[Instruction]:
    """The RUN, CMD, ENTRYPOINT and HEALTHCHECK instructions after the broad COPY that can see what it copies:
    those of its stage, of stages built FROM it, and of stages that COPY --from one of these."""
    seeing = {copy.stage}
    for stage in document.stages[copy.stage + 1:]:
        parent = document.parent(stage)
        sources = {flag.split("=", 1)[1].lower() for i in stage.instructions if i.keyword in ("COPY", "ADD")
                   for flag in i.flags_and_args()[0] if flag.startswith("--from=")}
        if (parent is not None and parent.index in seeing) or any(
                (other.name or "").lower() in sources or str(other.index) in sources
                for other in document.stages if other.index in seeing):
            seeing.add(stage.index)
    return [i for i in document.instructions if i.start > copy.start and i.stage in seeing
            and i.keyword in ("RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK")]


def _read_by_later_steps(document: Document, copy: Instruction, entries: list[str],
                         project: PoetryProject | None = None) -> set[str]:
    """Entries of the context a step after the broad COPY (the install's own RUN included) may read although the
    app never does: those a RUN, CMD, ENTRYPOINT or HEALTHCHECK names (`RUN pytest tests`), and, when one runs a
    build or development tool (pytest, tox, make, mkdocs, …) in any form, every entry but virtualenvs, caches
    and Dockerfiles. The commands of compose services that may run this image count as such steps
    (`command: pytest -q` in a `tests` service reads tests/)."""
    composed = set(_PATH_WORD.findall("\n".join(value for _name, _key, value in compose_commands(project)))) \
        if project is not None else set()
    if composed & BUILD_TOOLS:
        return {name for name in entries if not NEVER_READ.match(name)}
    named_by_compose = {name for name in entries if name in composed}
    later = _later_steps(document, copy)
    if not later:
        return named_by_compose
    # A RUN's --mount flags name context paths the step gets by itself (a bind mount), not from the COPY.
    words = set(_PATH_WORD.findall("\n".join(
        i.flags_and_args()[1] if i.keyword == "RUN" and "--mount" in i.value else i.value for i in later)))
    named = {name for name in entries if name in words}
    programs: list[str] = []
    for instruction in later:
        for tokens in _command_lines(instruction):
            tokens, _ = strip_poetry_run(tokens)
            if tokens[:1] and tokens[0].rsplit("/", 1)[-1].startswith("python") and tokens[1:2] == ["-m"]:
                tokens = tokens[2:]
            if tokens:
                programs.append(tokens[0].rsplit("/", 1)[-1])
                if _builds_the_project(tokens):
                    programs.append("poetry build")
    if any(program in BUILD_TOOLS for program in programs):
        named |= {name for name in entries if not NEVER_READ.match(name)}
    return named | named_by_compose


def _later_builds(document: Document, copy: Instruction) -> bool:
    """Whether a step after the broad COPY (the install's own RUN included) builds the project."""
    return any(_builds_the_project(strip_poetry_run(tokens)[0]) for instruction in _later_steps(document, copy)
               for tokens in _command_lines(instruction) if tokens)


def _builds_the_project(tokens: list[str]) -> bool:
    """`poetry build`, `pip wheel .`, `pip install .`, `python -m build`: a build of the project, which reads its
    README, license and included files besides the code (a real build: No such file '/app/README.md')."""
    if not tokens:
        return False
    if tokens[0].rsplit("/", 1)[-1].startswith("python") and tokens[1:2] == ["-m"]:
        tokens = tokens[2:]
        if not tokens:
            return False
    program = tokens[0].rsplit("/", 1)[-1]
    words = [token for token in tokens[1:] if not token.startswith("-")]
    if program == "poetry":
        return words[:1] in (["build"], ["publish"])
    if program.startswith("pip"):
        return words[:1] in (["wheel"], ["install"]) and any(w in (".", "./") or w.startswith("./") for w in words[1:])
    return program == "build"  # `python -m build`


# git, or a tool that asks git, run in any form: `RUN git describe`, `$(git rev-parse HEAD)`, `sh -c 'git …'`,
# `["git", "log"]`, `dunamai from git`, `python -m setuptools_scm`.
_GIT_PROGRAM = re.compile(r"""(?<![\w.$/-])(?:[\w./-]*/)?(git|dunamai|setuptools[_-]scm)(?=["'\s,\]);]|$)""")
_GIT_GLOBAL_OPTION = re.compile(r"-[Cc]$|--(?:git-dir|work-tree|namespace|exec-path)$")
# git subcommands that never read the repository they run in.
_NOT_THE_REPOSITORY = frozenset({"clone", "config", "init", "ls-remote", "help", "version", "--version", "--help",
                                 "-h", "credential", "archive-remote"})
_VERSION_GIVEN = re.compile(r"\b(?:POETRY_DYNAMIC_VERSIONING_BYPASS|SETUPTOOLS_SCM_PRETEND_VERSION\w*)\b")


def _runs_git(text: str) -> str | None:
    """The program of `text` (an instruction's arguments) that reads the git repository it runs in."""
    for match in _GIT_PROGRAM.finditer(text):
        program = match.group(1)
        if program != "git":
            return program
        words = re.findall(r"""[^\s"',\[\]]+""", text[match.end(): match.end() + 300])
        index = 0
        while index < len(words) and words[index].startswith("-"):
            index += 2 if _GIT_GLOBAL_OPTION.match(words[index]) else 1
        if index < len(words) and words[index] not in _NOT_THE_REPOSITORY:
            return "git"
    return None


def _binds_git(instruction: Instruction) -> bool:
    """`RUN --mount=type=bind,source=.git,…`: the step gets .git from the context by itself, not from a COPY."""
    return any(flag.startswith("--mount") and "type=bind" in flag
               and re.search(r"\b(?:source|src)=(?:\./)?\.git\b", flag) for flag in instruction.flags_and_args()[0])


def _why_git_is_read(document: Document, copy: Instruction, install: Instruction, project) -> str:
    """Why the build reads the context's .git after the broad COPY: a later step runs git (or a tool that asks
    it), or the project's version comes from its git tags and nothing gives it otherwise. "" when nothing does."""
    for instruction in _later_steps(document, copy):
        if instruction.keyword == "RUN" and _binds_git(instruction):
            continue
        # Not in a RUN's flags: `--mount=type=cache,target=/cache/git` names no program.
        program = _runs_git(instruction.flags_and_args()[1] if instruction.keyword == "RUN" else instruction.value)
        if program:
            return f"a later step runs {program}"
    tool = project.version_from_git
    if tool:
        stage = document.stages[install.stage]
        given = set(document.stage_env(stage, install.start + 1)) | set(re.findall(r"\w+", install.value))
        if not any(_VERSION_GIVEN.fullmatch(name) for name in given):
            return f"{tool} takes the version from its git tags"
    return ""


BUILD_OUTPUT = {
    "dist": re.compile(r".*\.(?:whl|tar\.gz|zip|egg)$"),  # files in dist/
    "build": re.compile(r"(?:lib|bdist|scripts|temp)(?:[.-].*)?$"),  # folders in build/ (setuptools, poetry)
}


def _holds_only(folder: Path, pattern: re.Pattern[str]) -> bool:
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return False
    return bool(names) and all(pattern.match(name) for name in names)


def _relative(path: str) -> str:
    """`./config/`, `config/` → `config` (a path in the context as extra-copy gives it)."""
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def _not_needed_entry(project: PoetryProject, name: str) -> bool:
    """A top-level entry of the context the image never needs: one NOT_NEEDED names, a virtualenv under any
    name (it holds pyvenv.cfg), or a folder holding nothing but Docker's own files (a `docker/` folder with the
    Dockerfile and compose files). A folder with anything else (an entrypoint script, a config file) is needed."""
    if name in BUILD_OUTPUT and project.is_dir(name):
        # dist/ and build/ are Python build output (wheels, sdists, bdist.*) only when that is all they hold:
        # a web app's dist/ is its built frontend, which it serves.
        return _holds_only(project.root / name, BUILD_OUTPUT[name])
    if not_needed_at_run_time(name):
        return True
    if not project.is_dir(name):
        return False
    folder = project.root / name
    if (folder / "pyvenv.cfg").is_file():
        return True
    seen = 0
    for _current, _folders, files in os.walk(folder):
        for file in files:
            seen += 1
            # Only Docker's own files: a folder of *.md or LICENSE-like names may be data the app reads.
            if not DOCKER_FILES.match(file) or seen > 1000:
                return False
    return seen > 0  # an empty folder may be where the app writes: keep it


def broad_copy_sources(instruction: Instruction) -> tuple[list[str], str] | None:
    """(flags, destination) of `COPY . <dest>` / `ADD . <dest>`; None for any other COPY."""
    if instruction.keyword not in ("COPY", "ADD") or instruction.exec_form() is not None:
        return None
    flags, rest = instruction.flags_and_args()
    if any(flag.startswith("--from") for flag in flags):
        return None
    parts = rest.split()
    if len(parts) != 2 or parts[0] not in (".", "./"):
        return None
    return flags, parts[1]


class NarrowCopy(Pass):
    """Replace `COPY . <dir>` with the files the build and the app need.

    What: `COPY . .` / `COPY . /app` / `ADD . .` before `poetry install` becomes one COPY of the manifests
    (pyproject.toml, poetry.lock, poetry.toml), one of the README when the root install needs it, and one per
    code entry: the packages pyproject.toml declares, path dependencies, and every local module or package the
    entrypoint imports, followed transitively with libcst. A copy into the image root gets `WORKDIR /app` first.
    Why: a broad COPY puts tests, docs, .git and local caches into the image and invalidates every later layer
    on any change in the repository; the manifests alone are what the dependency install needs.
    Example: `COPY . .` → `COPY pyproject.toml poetry.lock ./` + `COPY README.md ./` + `COPY annapurna ./annapurna`.
    When unsure: if the context holds entries the tool cannot place (data folders, templates, config files,
    scripts nothing imports), the manifests are still copied first but `COPY . .` stays for the rest, and the
    reason names those entries.
    """

    name = "narrow-copy"
    description = "Copy the manifests and the code the app needs instead of the whole context"

    def run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        stage = install_stage(document)
        if stage is None:
            return result
        project = context.project
        if project is None:
            result.notes.append("no pyproject.toml in the build context: cannot tell what the build needs")
            return result
        first_install = install_runs(stage)[0]
        broad = next(
            (i for i in stage.instructions if i.start < first_install.start and broad_copy_sources(i) is not None),
            None,
        )
        if broad is None:
            return result
        if any(is_manifest_copy(i, project) for i in stage.instructions if i.start < broad.start):
            result.notes.append(f"line {broad.line_number}: `COPY . .` after the manifests COPY kept for files "
                                "the tool cannot place")
            return result
        flags, destination = broad_copy_sources(broad)  # type: ignore[misc]
        line = broad.line_number
        env = document.stage_env(stage, broad.start)
        expanded_destination = expand(destination, env)
        if expanded_destination is None:
            result.notes.append(f"line {line}: COPY destination `{destination}` uses an unknown variable")
            return result

        workdir = stage.workdir_before(broad.start)
        if workdir is None:  # `FROM base` where base set one: the copy is not at the image root
            workdir = next((w for ancestor in document.ancestors(stage)
                            if (w := ancestor.workdir_before(ancestor.end + 1)) is not None), None)
        if any(i.keyword == "WORKDIR" for i in stage.instructions if broad.start < i.start < first_install.start):
            result.notes.append(f"line {line}: WORKDIR changes between the COPY and `poetry install`; left alone")
            return result
        if workdir is not None and "$" in workdir:  # `WORKDIR $APP_HOME`, as Docker expands it
            expanded_workdir = expand(workdir, env)
            if expanded_workdir is None:
                result.notes.append(f"line {line}: WORKDIR `{workdir}` uses an unknown variable")
                return result
            workdir = expanded_workdir
        add_workdir = workdir is None and not expanded_destination.startswith("/")
        if add_workdir:
            entries = project.context_entries()
            absolute = _absolute_reference(document, broad, entries)
            if absolute is not None:
                result.notes.append(f"line {absolute[0]}: `{absolute[1]}` is read at the image root, where `COPY . .` "
                                    "puts it: no WORKDIR /app is added, and the copy is left as written")
                return result
            in_code = _absolute_in_code(project, entries)
            if in_code is not None:
                result.notes.append(f"{in_code[0]} reads `{in_code[1]}` at the image root, where `COPY . .` puts it: "
                                    "no WORKDIR /app is added, and the copy is left as written")
                return result
        install_dir = "/app" if add_workdir else (workdir or "/")
        copy_dir = expanded_destination if expanded_destination.startswith("/") else (
            install_dir.rstrip("/") + "/" + expanded_destination
        )
        if _normal(copy_dir) != _normal(install_dir):
            result.notes.append(
                f"line {line}: the COPY goes to {copy_dir} but `poetry install` runs in {install_dir}; left alone"
            )
            return result

        needed, unknown, reasons = self._needed_entries(document, stage, project, first_install,
                                                        context.options.extra_copy, broad)
        if needed is None:
            reason = reasons[0]
            prefix = "warning: " if reason.startswith("warning: ") else ""
            result.notes.append(f"{prefix}line {line}: {reason.removeprefix('warning: ')}")
            return result
        if unknown and local_venv_replaces(document, stage, first_install, project):
            # `COPY . .` stays, so the install could not go before it (split-install says why): the manifests COPY
            # would only add a layer.
            result.notes.append(f"line {line}: `{document.raw(broad)[0].strip()}` stays for files the tool cannot "
                                "place, and the install cannot go before it (a developer's local .venv could replace "
                                "the virtualenv): left as written")
            return result
        keyword = "COPY" if document.keyword_as_written(broad).isupper() else "copy"
        flag_text = "".join(f"{flag} " for flag in flags)
        base = destination if destination.endswith("/") else destination + "/"
        base = "./" if destination in (".", "./") else base

        new_lines: list[str] = []
        if add_workdir:
            new_lines.append(f"{document.kw('WORKDIR')} /app")
        new_lines.append(f"{keyword} {flag_text}{' '.join(project.manifests)} {base}")
        license_file = project.license_in_context
        if license_file and "/" in license_file:  # in a folder: its own COPY, to that folder
            new_lines.append(f"{keyword} {flag_text}{license_file} {base}{posixpath.dirname(license_file)}/")
        readmes = needed["readme"]
        if unknown:
            new_lines.extend(document.raw(broad))
        else:
            # Each README where pyproject.toml says it is: `docs/README.md` copied to ./ would not be found.
            by_folder: dict[str, list[str]] = {}
            for readme in readmes:
                by_folder.setdefault(posixpath.dirname(posixpath.normpath(readme)), []).append(readme)
            for folder, names in by_folder.items():
                new_lines.append(f"{keyword} {flag_text}{' '.join(names)} {base}{folder + '/' if folder else ''}")
            if needed["files"]:
                new_lines.append(f"{keyword} {flag_text}{' '.join(needed['files'])} {base}")
            for directory in needed["dirs"]:
                new_lines.append(f"{keyword} {flag_text}{directory} {base}{directory}")

        summary = f"narrow `{document.raw(broad)[0].strip()}`"
        if unknown:
            held = []
            if needed["git"]:
                held.append(f"{_names(['.git'], project)}, which the build reads ({needed['git']})")
            others = [name for name in unknown
                      if (name != ".git" or not needed["git"]) and name not in needed["named"]]
            if others:
                held.append(f"{_names(others, project)}, which the tool cannot tell the app does not need")
            for name in unknown:
                if name in needed["named"]:
                    held.append(f"{_names([name], project)}, which {needed['named'][name]} names")
            reason = (
                "the manifests go first so the dependency install can be cached; "
                f"`{document.raw(broad)[0].strip()}` stays for the rest "
                f"because the context holds {' and '.join(held)}"
            )
        else:
            reason = "copy only what the build needs: " + "; ".join(reasons)
        if add_workdir:
            reason += "; WORKDIR /app keeps the project out of the image root (hadolint DL3045)"
        result.change(Edit.replace(broad.start, broad.end, new_lines), line, summary, reason)
        return result

    def _needed_entries(self, document: Document, stage: Stage, project: PoetryProject, first_install: Instruction,
                        extra_copy: tuple[str, ...] = (), broad: Instruction | None = None):
        reasons: list[str] = ["the manifests for `poetry install`"]
        arguments = poetry_installs(first_install)[0]
        root_install = project.package_mode and "--no-root" not in arguments
        readmes = project.root_install_files if root_install else []
        if readmes:
            reasons.append(f"{', '.join(readmes)} for the root install")
        top_level: set[str] = set()
        for package in project.packages:
            first = package.source_dir or package.include.strip("/").split("/")[0]
            if not project.exists(first):
                if not root_install:
                    continue  # `--no-root`: never installed, nothing to copy for it (a flat app named `blog`)
                missing = (f"package `{package.path}` of the root install (named in pyproject.toml, or the "
                           "project's name) is not in the build context")
                return None, [], [missing]
            top_level.add(first)
        if top_level:
            reasons.append(f"the package{'s' if len(top_level) > 1 else ''} {_names(sorted(top_level), project)}")
        for dependency in project.path_dependencies:
            first = dependency.strip("./").split("/")[0]
            if dependency.startswith(".."):
                return None, [], [f"path dependency `{dependency}` lies outside the build context"]
            if first and project.exists(first):
                top_level.add(first)
                reasons.append(f"path dependency {first}")

        outside = [raw for raw in extra_copy if raw.startswith("/") or _relative(raw) in ("", ".")
                   or ".." in _relative(raw).split("/")]
        extra_paths = [_relative(path) for path in extra_copy]
        if outside:
            return None, [], [f"warning: extra-copy names {', '.join(outside)}, which is not a path inside the "
                              "build context"]
        missing = [path for path in extra_paths
                   if not project.exists(path.split("/")[0]) or not (project.root / path).exists()]
        if missing:
            return None, [], [f"warning: extra-copy names {', '.join(missing)}, which "
                              f"{'is' if len(missing) == 1 else 'are'} not in the build context"]
        extras = sorted({path.split("/")[0] for path in extra_paths})
        if extras:
            top_level.update(extras)
            reasons.append(f"{_names(extras, project)} as configured (extra-copy)")

        entry = entrypoint.analyse(document, project)
        root = project.root
        search_roots = [root] + sorted({root / p.source_dir for p in project.packages if p.source_dir})
        start_files: list[Path] = []
        packaged = set(top_level)
        directory = project_dir(document, stage, first_install)
        for file in entry.files:
            if file.startswith("/") and directory and file.startswith(directory.rstrip("/") + "/"):
                file = file[len(directory.rstrip("/")) + 1:]  # `CMD ["/app/scripts/run.py"]`, copied to /app
            path = root / file
            if file.startswith("/") or not path.is_file():
                return None, [], [f"the entrypoint runs {file}, which is not in the build context"]
            start_files.append(path)
            top_level.add(Path(file).parts[0])
        for module in entry.modules:
            parts = module.split(".")
            for search_root in search_roots:
                candidates = [search_root.joinpath(*parts).with_suffix(".py"), search_root.joinpath(*parts, "__init__.py")]
                found = [c for c in candidates if c.is_file()]
                if found:
                    start_files.extend(found)
                    top_level.add(found[0].relative_to(root).parts[0])
                    break
        started = sorted(top_level - packaged - set(extras))
        if started:
            reasons.append(f"{_names(started, project)}, which the image runs")
        # Only top-level Python modules outside the known entries can be missed; with none, nothing to read.
        # A package named like something an image never needs (`docs`, `tests`) is a candidate too when the app's
        # own code spells its name: `from docs import TEXT` would otherwise go unseen.
        candidates = [
            name for name in project.context_entries()
            if name not in top_level and _is_python_module(project, name)
            and (not not_needed_at_run_time(name) or _spelled_by_app(project, name.removesuffix(".py")))
        ]
        if candidates:
            for entry_name in sorted(top_level):
                path = root / entry_name
                start_files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
            scan = scan_imports(start_files, search_roots, root, known=top_level)
        else:
            scan = ImportScan()
        imported = sorted(scan.local - top_level)
        if imported:
            reasons.append(f"{_names(imported, project)} imported by the app")
        top_level |= scan.local
        if scan.unreadable:
            return None, [], [f"cannot read {scan.unreadable[0]} with libcst, so its imports are unknown"]

        placed = set(project.manifests) | set(readmes) | top_level
        # A folder holding nothing but license files (`LICENSES/`, `legal/LICENSE.txt`) is placed by copying them.
        placed |= {name.split("/")[0] for name in project.metadata_names if "/" in name
                   and _only_these_below(project, name.split("/")[0], project.metadata_names)}
        read_later = _read_by_later_steps(document, broad or first_install, project.context_entries(), project)
        # `COPY docker-entrypoint.sh /usr/local/bin/` before: that file already has its place in the image.
        placed |= {name for name in _copied_elsewhere(document, stage, broad or first_install, first_install, project)
                   if name not in read_later or _only_run_by_name(document, broad or first_install, name)}
        git = ""
        if ".git" in project.context_entries():
            git = _why_git_is_read(document, broad or first_install, first_install, project)
            if git:
                read_later.add(".git")
        unknown = [name for name in project.context_entries()
                   if name not in placed and (name in read_later or not _not_needed_entry(project, name))]
        # A declared README the root install does not need is still a README: not needed, unless a later step
        # builds the project (`poetry build`), which reads it and the license files.
        if not _later_builds(document, broad or first_install):
            unknown = [name for name in unknown if name not in project.metadata_names]
        # ... unless the app's code names it: `open("notes.md")`, `Path(__file__).parent / "docs"`.
        dropped = [name for name in project.context_entries()
                   if name not in placed and name not in unknown and _may_be_data(name)]
        directory = project_dir(document, stage, first_install)
        named = code_mentions(project, dropped, directory)
        named.update({name: where for name, where in env_mentions(document, dropped, directory).items()
                      if name not in named})
        unknown += [name for name in dropped if name in named]
        files = sorted(name for name in top_level if not project.is_dir(name) and (root / name).is_file())
        dirs = sorted(name for name in top_level if project.is_dir(name))
        return {"readme": readmes, "files": files, "dirs": dirs, "git": git if ".git" in unknown else "",
                "named": named}, unknown, reasons


def _copied_elsewhere(document: Document, stage: Stage, before: Instruction, first_install: Instruction,
                      project: PoetryProject) -> set[str]:
    """Top-level files of the context that a COPY before `before` puts in an absolute folder outside the project
    folder (`COPY docker-entrypoint.sh /usr/local/bin/`): the image runs them from there."""
    directory = project_dir(document, stage, first_install)
    found: set[str] = set()
    if directory is None:
        return found
    for instruction in stage.instructions:
        if instruction.start >= before.start:
            break
        arguments = copy_arguments(instruction)
        if not arguments or not arguments[-1].startswith("/") or "$" in arguments[-1]:
            continue
        target = posixpath.normpath(arguments[-1])
        if target == directory or target.startswith(directory.rstrip("/") + "/") or \
                directory.startswith(target.rstrip("/") + "/"):
            continue
        for source in arguments[:-1]:
            name = posixpath.normpath(source)
            if "/" not in name and name not in (".", "..") and not any(c in name for c in "*?[$") \
                    and not project.is_dir(name):
                found.add(name)
    return found


def _only_run_by_name(document: Document, copy: Instruction, name: str) -> bool:
    """Whether the steps after `copy` name `name` only as the program of an exec-form CMD or ENTRYPOINT
    (`ENTRYPOINT ["docker-entrypoint.sh"]`), which runs the copy on PATH, not a file in the WORKDIR."""
    word = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])")
    for instruction in _later_steps(document, copy):
        mentions = len(word.findall(instruction.value))
        if not mentions:
            continue
        argv = instruction.exec_form() if instruction.keyword in ("CMD", "ENTRYPOINT") else None
        if not argv or argv[0] != name or mentions > 1:
            return False
    return True


# Entries left out as not needed that an app may still read at run time: documents, license and notice files,
# an example .env, build output. (Version control, virtualenvs, caches, tests and tool configuration never are.)
_MAY_BE_DATA = re.compile("|".join(fnmatch.translate(pattern) for pattern in (
    "docs", "doc", "*.md", "*.rst", "*.txt", "LICENSE*", "LICENCE*", "COPYING*", "NOTICE*", "AUTHORS*",
    "CHANGELOG*", "CHANGES*", "HISTORY*", "CONTRIBUTING*", ".env.example", "dist", "build")))


def _may_be_data(name: str) -> bool:
    return _MAY_BE_DATA.match(name) is not None


def app_sources(project: PoetryProject) -> list[tuple[str, str]]:
    """The app's own Python code (imports.python_sources): tests, docs and the other entries an image never
    needs, and what .dockerignore leaves out, are not read. Read once per project; [] when there is too much."""
    sources = project.__dict__.get("_app_sources")
    if sources is None:
        try:
            sources = python_sources(project.root,
                                     skip=lambda name: not_needed_at_run_time(name) or project.is_ignored(name))
        except TooManyFiles:
            sources = []  # too large to read: as before these checks
        project.__dict__["_app_sources"] = sources
    return sources


def code_mentions(project: PoetryProject, names: list[str], directory: str | None = None) -> dict[str, str]:
    """Which of `names` (top-level entries) the app's own code spells as a relative path in a string
    (imports.path_heads), or by its absolute path in the project folder `directory` (`open("/app/docs/x.md")`),
    each with the first file that does."""
    if not names:
        return {}
    heads = project.__dict__.get("_path_heads")
    if heads is None:
        heads = project.__dict__["_path_heads"] = path_heads(app_sources(project))
    found = {name: heads[name] for name in names if name in heads}
    if directory and directory != "/" and len(found) < len(names):
        key = "_absolute_heads" + directory
        absolute = project.__dict__.get(key)
        if absolute is None:
            pattern = re.compile(r"""["']""" + re.escape(directory.rstrip("/")) + r"""/([^"'/\\\s{}]+)(?=["'/])""")
            absolute = {}
            for relative, text in app_sources(project):
                if directory in text:
                    for head in pattern.findall(text):
                        absolute.setdefault(head, relative)
            project.__dict__[key] = absolute
        found.update({name: absolute[name] for name in names if name in absolute and name not in found})
    return found


def env_mentions(document: Document, names: list[str], directory: str | None) -> dict[str, str]:
    """Which of `names` (top-level entries) an ENV of the file names as a path, relative or in the project folder
    (`ENV DOCS_DIR=/app/docs`, `ENV TERMS_FILE=TERMS.md`: the app reads what the variable names), each with the
    line that does."""
    if not names:
        return {}
    heads = _env_heads(document, directory)
    return {name: heads[name] for name in names if name in heads}


@per_document
def _env_heads(document: Document, directory: str | None) -> dict[str, str]:
    """The first path component of every word of every ENV value, expanded as Docker does (`ENV D=${BASE}/docs`),
    relative or made relative to `directory` (`--intro /app/docs/x.md`, a PATH-like list), each with its line."""
    found: dict[str, str] = {}
    prefix = directory.rstrip("/") + "/" if directory and directory != "/" else None
    for instruction in document.instructions:
        if instruction.keyword != "ENV" or instruction.stage < 0:
            continue
        env = document.stage_env(document.stages[instruction.stage], instruction.start) \
            if "$" in instruction.value else {}
        for value in parse_assignments(instruction.value, "ENV").values():
            value = expand(value, env) or value if "$" in value else value
            for part in re.split(r"""[\s:=,;"']+""", value):
                if prefix and part.startswith(prefix):
                    part = part[len(prefix):]
                if part and not part.startswith("/"):
                    found.setdefault(part.removeprefix("./").split("/")[0], f"line {instruction.line_number}")
    return found


def _spelled_by_app(project: PoetryProject, name: str) -> bool:
    """Whether the app's own code spells `name` as a word (the least an import of it needs)."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    return any(word.search(text) for _relative, text in app_sources(project))


def _is_python_module(project: PoetryProject, name: str) -> bool:
    if not project.is_dir(name):
        return name.endswith(".py") and project.exists(name)
    path = project.root / name
    return any(path.glob("*.py")) or (path / "__init__.py").exists()


def _normal(path: str) -> str:
    return path.rstrip("/").replace("/./", "/").removesuffix("/.") or "/"


def _names(names: list[str], project: PoetryProject | None = None) -> str:
    def shown(name: str) -> str:
        is_dir = project.is_dir(name) if project is not None else "." not in name
        return f"{name}/" if is_dir else name

    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(shown(name) for name in names[:5]) + more
