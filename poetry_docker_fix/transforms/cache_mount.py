"""cache-mount: keep Poetry's download cache across builds, and out of every layer."""

from __future__ import annotations

import fnmatch
import re

from ..refactor.document import Document, Instruction, expand
from ..refactor.edits import Edit, tidy_continuations
from ..refactor.facts import (
    Context,
    copied_before,
    install_runs,
    poetry_config_commands,
    project_dir,
    project_system_install,
    runs_as_root,
    truthy,
    user_before,
    venv_in_project,
)
from ..refactor.shell import poetry_installs, run_commands
from .base import Pass, PassResult

DEFAULT_CACHE = "/root/.cache/pypoetry"
_RUN_KEYWORD = re.compile(r"^(\s*run\s+)", re.IGNORECASE)
SYNTAX_LINE = "# syntax=docker/dockerfile:1"


def _cleanup_pattern(target: str) -> re.Pattern[str]:
    paths = [r"\$\{?POETRY_CACHE_DIR\}?", re.escape(target)]
    if target == DEFAULT_CACHE:
        paths += [r"~/\.cache/pypoetry", r"\$HOME/\.cache/pypoetry"]
    path = "(?:" + "|".join(paths) + r")(?:/[^\s&|;]*)?"
    return re.compile(r"\s*&&\s*rm\s+-(?:rf|fr|r)\s+" + path + r"(?:\s+" + path + r")*(?=\s*(?:$|\\|&&|;))")


class CacheMount(Pass):
    """Give `poetry install` a BuildKit cache mount on Poetry's cache directory.

    What: `RUN poetry install …` becomes `RUN --mount=type=cache,target=/tmp/poetry_cache poetry install …`,
    with the literal value of POETRY_CACHE_DIR (else the project's or `poetry config`'s cache-dir, else Poetry's
    default, which follows XDG_CACHE_HOME and HOME: /root/.cache/pypoetry for root), and a cleanup of that cache
    (`&& rm -rf $POETRY_CACHE_DIR`) is dropped since nothing is left in the layer to clean.
    Why: downloaded wheels survive from one build to the next, so a dependency change re-downloads only what
    changed, and the cache never lands in an image layer.
    The target is written literally: Docker 20.10 without a `# syntax` line takes `$POETRY_CACHE_DIR` in a mount
    literally and silently caches nothing. No `# syntax=` line is added unless `--syntax-directive` asks: it
    makes every build fetch a frontend image, which fails offline.
    Needs BuildKit (the default builder since Docker 23.0; `DOCKER_BUILDKIT=1` on 20.10): the legacy builder
    rejects `--mount`.
    Left alone: installs that already have a cache mount, root-only installs (they download nothing), a
    virtualenv kept inside the cache dir (the mount would hide it from the image), a non-root USER, a cache dir
    that is not a literal path, a `# syntax=` pinning a frontend older than 1.2 (it does not know `--mount`).
    """

    name = "cache-mount"
    description = "Mount Poetry's cache with BuildKit instead of baking it into a layer"
    safe = False  # the Dockerfile then needs BuildKit

    def run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        syntax = document.directives.get("syntax", "")
        if _OLD_FRONTEND.search(syntax):
            result.notes.append(f"`# syntax={syntax}` pins a Dockerfile frontend older than 1.2, which does not know "
                                "`RUN --mount`; left alone")
            return result
        for stage in document.stages:
            for instruction in install_runs(stage):
                self._mount(document, stage, instruction, result, context)
        if result.changes and context.options.syntax_directive and "syntax" not in document.directives:
            result.change(Edit.insert(0, [SYNTAX_LINE]), 1, "add `# syntax=docker/dockerfile:1`",
                          "asked for with --syntax-directive: older Docker engines then use a frontend that "
                          "expands variables in --mount")
        return result

    def _mount(self, document: Document, stage, instruction: Instruction, result: PassResult,
               context: Context) -> None:
        line = instruction.line_number
        flags, _rest = instruction.flags_and_args()
        if any(flag.startswith("--mount") and "type=cache" in flag for flag in flags):
            return
        installs = poetry_installs(instruction)
        if all("--only-root" in arguments for arguments in installs):
            return
        env = document.stage_env(stage, instruction.start)
        user = user_before(document, stage, instruction.start)
        if not runs_as_root(user):
            result.notes.append(f"line {line}: runs as USER {user}: a cache mount would need its uid; left alone")
            return
        inline = next((word.split("=", 1)[0] for command in run_commands(instruction) for word in command.assignments
                       if word.split("=", 1)[0] in ("XDG_CACHE_HOME", "HOME")), None)
        if inline is not None:
            result.notes.append(f"line {line}: `{inline}` is set for this command only, which moves Poetry's cache "
                                "dir where the pass does not look; left alone (set it with ENV)")
            return
        cache = env.get("POETRY_CACHE_DIR")
        if cache:
            target = expand(cache.strip("'\""), env)
            if target is None or not target.startswith("/"):
                result.notes.append(f"line {line}: POETRY_CACHE_DIR `{cache}` is not a literal path; left alone")
                return
        else:
            target, source = _configured_cache(document, stage, instruction, env, context.project)
            if target is None:
                result.notes.append(f"line {line}: Poetry's cache dir comes from {source}, which is not a literal "
                                    "path; left alone")
                return
        directory = project_dir(document, stage, instruction)
        if directory is not None and _inside(directory, target):
            result.notes.append(f"line {line}: the cache dir {target} holds the project ({directory}); a cache "
                                "mount would hide it; left alone")
            return
        if not in_project_venv(document, stage, instruction, context.project) and \
                not project_system_install(document, stage, context.project) and not _active_venv_outside(env, target):
            # Poetry keeps such a virtualenv in {cache-dir}/virtualenvs unless virtualenvs.path says otherwise.
            venvs = env.get("POETRY_VIRTUALENVS_PATH")
            venvs = expand(venvs.strip("'\""), env) if venvs else None
            if venvs is None or not venvs.startswith("/") or _inside(venvs, target):
                result.notes.append(f"line {line}: the virtualenv lives in Poetry's cache dir ({target}); a cache "
                                    "mount would hide it from the image (set POETRY_VIRTUALENVS_IN_PROJECT=1)")
                return
        first = document.lines[instruction.start]
        match = _RUN_KEYWORD.match(first)
        if match is None:
            result.notes.append(f"line {line}: cannot locate the RUN keyword")
            return
        mount = f"--mount=type=cache,target={target} "
        new_lines = [first[: match.end()] + mount + first[match.end():]] + document.lines[
            instruction.start + 1 : instruction.end + 1
        ]
        cleanup = _cleanup_pattern(target)
        removed = False
        for offset, text in enumerate(new_lines):
            if text.lstrip().startswith("#"):
                continue
            stripped = cleanup.sub("", text)
            if stripped != text:
                removed = True
                new_lines[offset] = stripped
        new_lines = tidy_continuations(new_lines)
        kept = _removes_mount(new_lines, target, env)
        if kept is not None:
            # `rm -rf` of a mount point fails (`Device or resource busy`), and the build with it.
            result.notes.append(f"line {line}: `{kept}` removes the folder a cache mount would be on, which fails "
                                "on a mount; left alone (drop the cleanup to allow it)")
            return
        reason = ("Poetry's downloads are kept between builds by BuildKit and never stored in a layer; the target "
                  "is literal because Docker 20.10 takes variables in --mount literally; needs BuildKit")
        if removed:
            reason += "; the cache cleanup is no longer needed"
        result.change(Edit.replace(instruction.start, instruction.end, new_lines), line,
                      f"cache mount on {target}", reason)


def _removes_mount(lines: list[str], target: str, env: dict) -> str | None:
    """The `rm` command (as words) of the RUN `lines` that removes `target` or a folder above it, which the
    cleanup pattern did not take out (`rm -rf "$POETRY_CACHE_DIR"`, `; rm -Rf …`, across a line break)."""
    if not any("rm" in line for line in lines):
        return None
    document = Document.from_text("FROM scratch\n" + "\n".join(lines) + "\n")
    instruction = next((i for i in document.instructions if i.keyword == "RUN"), None)
    if instruction is None:
        return None
    home = env.get("HOME", "/root").strip("'\"") or "/root"
    for command in run_commands(instruction):
        if command.tokens[:1] != ("rm",):
            continue
        words = " ".join(command.tokens[1:]).replace("$(poetry config cache-dir)", target).split()
        for token in words:
            if token.startswith("-"):
                continue
            path = token.strip("'\"")
            path = re.sub(r"^~(?=/|$)", home, path)
            path = expand(path, {"HOME": home, **env}) if "$" in path else path
            if path is None or not path.startswith("/"):
                continue
            path = path.rstrip("/") or "/"
            if target == path or target.startswith(path.rstrip("/") + "/"):
                return " ".join(command.tokens)
            if any(c in path for c in "*?["):  # `rm -rf /tmp/*`: the target, or a folder above it, matches
                folders = [target] + [target[:i] for i in range(1, len(target)) if target[i] == "/"]
                if any(fnmatch.fnmatchcase(folder, path) for folder in folders):
                    return " ".join(command.tokens)
    return None


# `docker/dockerfile:1.0`, `:1.1.7`, `docker.io/docker/dockerfile:1.0.0`: frontends before 1.2, where `RUN --mount`
# is not known (their `-experimental` tags do know it).
_OLD_FRONTEND = re.compile(r"(?:^|/)dockerfile:1\.[01](?:\.\d+)?(?:@\S*)?$")


def _configured_cache(document: Document, stage, instruction: Instruction, env: dict, project) \
        -> tuple[str | None, str]:
    """Poetry's cache dir for this install when POETRY_CACHE_DIR is not set, and where it comes from: the
    project's poetry.toml `cache-dir`, else the last `poetry config cache-dir …` before it, else the platform's
    default, which follows XDG_CACHE_HOME and HOME (root's: /root/.cache/pypoetry). None when not literal."""
    configured = None
    for other, value in _config_settings(document, stage, instruction, "cache-dir"):
        configured = (value, f"`poetry config cache-dir` at line {other.line_number}")
    local = project.poetry_toml_cache_dir if project is not None and \
        copied_before(stage, instruction.start, "poetry.toml", project) else None
    if local is not None:
        configured = (local, "the project's poetry.toml")
    if configured is not None:
        value, source = configured
    elif env.get("XDG_CACHE_HOME"):
        value, source = env["XDG_CACHE_HOME"].strip("'\"") + "/pypoetry", "XDG_CACHE_HOME"
    elif env.get("HOME"):
        value, source = env["HOME"].strip("'\"") + "/.cache/pypoetry", "HOME"
    else:
        return DEFAULT_CACHE, "Poetry's default for root"
    target = expand(value, env)
    if target is None or not target.startswith("/"):
        return None, source
    return target.rstrip("/") or "/", source


def _config_settings(document: Document, stage, instruction: Instruction, key: str):
    """(RUN, value) for each `poetry config [--local] <key> <value>` before `instruction`, in the stages it is
    built FROM and then its own, in order (the last one is in force)."""
    for member in [*reversed(document.ancestors(stage)), stage]:
        for other in member.instructions:
            if member is stage and other.start >= instruction.start:
                break
            if other.keyword == "RUN":
                for arguments in poetry_config_commands(other):
                    arguments = [a for a in arguments if a != "--local"]
                    if len(arguments) >= 2 and arguments[0] == key:
                        yield other, arguments[1]


def in_project_venv(document: Document, stage, instruction: Instruction, project) -> bool:
    """Whether the install makes an in-project virtualenv: POETRY_VIRTUALENVS_IN_PROJECT in force, else the last
    `poetry config virtualenvs.in-project …` before it (this stage or those it is built FROM), else poetry.toml."""
    env = document.stage_env(stage, instruction.start)
    if "POETRY_VIRTUALENVS_IN_PROJECT" in env:
        return venv_in_project(document, stage, instruction.start)
    setting = None
    for _other, value in _config_settings(document, stage, instruction, "virtualenvs.in-project"):
        setting = truthy(value)
    if setting is not None:
        return setting
    return project is not None and project.poetry_toml_in_project and \
        copied_before(stage, instruction.start, "poetry.toml", project)


def _active_venv_outside(env: dict, target: str) -> bool:
    """Whether Poetry installs into an activated virtualenv (VIRTUAL_ENV, a literal path) outside `target`."""
    active = expand(env["VIRTUAL_ENV"].strip("'\""), env) if env.get("VIRTUAL_ENV") else None
    return bool(active) and active.startswith("/") and not _inside(active, target)


def local_venv_replaces(document: Document, stage, install: Instruction, project) -> bool:
    """Whether a developer's local .venv, copied into the project folder after `install` (by `COPY . .`, unless
    .dockerignore leaves it out), would replace the virtualenv the image uses: the install's own when it is in the
    project, and the one `poetry run` finds first when nothing says it is not (Poetry uses an existing .venv in the
    project unless virtualenvs.in-project is false). Copied before the install, as naive files do, Poetry
    recreates it; copied after, the app runs in it (a real build: ModuleNotFoundError)."""
    if project is None or project.is_ignored(".venv") or project_system_install(document, stage, project):
        return False
    env = document.stage_env(stage, install.start)
    if "POETRY_VIRTUALENVS_IN_PROJECT" in env:
        return truthy(env["POETRY_VIRTUALENVS_IN_PROJECT"])
    settings = [value for _other, value in _config_settings(document, stage, install, "virtualenvs.in-project")]
    return not settings or truthy(settings[-1])


def _inside(path: str, folder: str) -> bool:
    path, folder = path.rstrip("/") + "/", folder.rstrip("/") + "/"
    return path.startswith(folder)

