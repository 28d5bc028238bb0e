"""Compose files that may run the image: those of the build context and those of the folders above it (the
monorepo layout), read line by line as they are usually written (the tool has no YAML parser). What the passes
ask: the volumes that would cover the folder of an in-project virtualenv, and the commands of the services that
may run this image. Where the reading is unsure (YAML anchors, a variable), it errs toward counting: a pass then
leaves the file as it was, which is never broken."""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from .document import per_object
from .facts import RUNNER_FILES

COMPOSE_PATTERNS = ("*docker-compose*.yml", "*docker-compose*.yaml", "compose.yml", "compose.yaml", "compose.*.yml",
                    "compose.*.yaml")
# Folders of the context where compose files of the project live (`docker/docker-compose.yml` with `build: ..`).
COMPOSE_SUBFOLDERS = ("docker", ".docker", "compose", "deploy", "deployment", "ops", "infra", ".devcontainer")
COMPOSE_LEVELS_UP = 4  # folders above the build context searched for compose files
MAX_COMPOSE_BYTES = 1_000_000


_COMPOSE_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in COMPOSE_PATTERNS))


def is_compose_name(name: str) -> bool:
    return _COMPOSE_NAME.match(name) is not None


@dataclass(frozen=True)
class ComposeFile:
    shown: str  # as messages name it: relative to the build context (`docker-compose.yml`, `../compose.yaml`)
    text: str
    relative: str  # the build context seen from the file's folder: "." for its own, `backend` for the one above
    absolute: str  # the build context on disk
    folder: str  # the compose file's folder on disk (compose names the project after it)


@per_object
def compose_files(project) -> tuple[ComposeFile, ...]:
    """The compose files that may run this image: those of the build context, and those of the folders above it
    (up to COMPOSE_LEVELS_UP) where one compose file names the context's folder, in a `build:` or a volume's
    source (`build: ./backend`, `- ./backend:/app`): then every compose file of that folder counts, since an
    override file (`docker-compose.override.yml`) adds to the same services without naming the folder again.
    Files they pull in with `extends: file:` or `include:` count with them."""
    absolute = os.path.abspath(project.root)
    found = _folder_files(absolute, "", ".", absolute, [name for name in project.top_level_names()
                                                        if is_compose_name(name)])
    for sub in COMPOSE_SUBFOLDERS:
        if project.is_dir(sub):
            below = os.path.join(absolute, sub)
            found += _naming(_folder_files(below, f"{sub}/", "..", absolute, _compose_names_in(below)))
    folder, relative = absolute, ""
    for level in range(1, COMPOSE_LEVELS_UP + 1):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        relative = posixpath.join(os.path.basename(folder), relative) if relative else os.path.basename(folder)
        folder = parent
        found += _naming(_folder_files(folder, "../" * level, relative, absolute, _compose_names_in(folder)))
    return tuple(dict.fromkeys(found))


def _folder_files(folder: str, prefix: str, relative: str, context: str, names) -> list[ComposeFile]:
    """The compose files `names` of a folder that can be read, and the files they pull in."""
    files = [ComposeFile(prefix + name, text, relative, context, folder) for name in names
             if (text := _read_text(Path(folder, name))) is not None]
    return files + _pulled_in(files, folder, context)


def _naming(files: list[ComposeFile]) -> list[ComposeFile]:
    """All of a folder's compose files when one of them names the build context's folder; none otherwise."""
    return files if any(_names_context(compose) for compose in files) else []


def _yaml_names(text: str) -> list[str]:
    """Words of the text that name YAML files (`common.yml`, `other/compose.yaml`), in order, once each."""
    names = []
    for line in text.splitlines():
        if ".yml" in line or ".yaml" in line:
            names += [word for word in re.split(r"""[\s"'#,{}\[\]]+""", line)
                      if word.endswith((".yml", ".yaml")) and not word.endswith(":")]
    return [name.removeprefix("file:").removeprefix("path:") for name in dict.fromkeys(names)]


def _pulled_in(files: list[ComposeFile], folder: str, context: str) -> list[ComposeFile]:
    """Other YAML files that `extends: {file: common.yml}` or `include: [other/compose.yaml]` bring into these
    compose files (one level), each reading its paths from its own folder."""
    pulled = []
    for compose in files:
        if "extends" not in compose.text and "include" not in compose.text:
            continue
        for name in _yaml_names(compose.text)[:20]:
            path = os.path.normpath(os.path.join(folder, name))
            text = _read_text(Path(path))
            if text is not None and not any(Path(folder, other.shown.rsplit("/", 1)[-1]) == Path(path)
                                            for other in files):
                shown = posixpath.join(posixpath.dirname(compose.shown), name)
                pulled.append(ComposeFile(shown, text, os.path.relpath(context, os.path.dirname(path)), context,
                                          os.path.dirname(path)))
    return pulled


def _compose_names_in(folder: str) -> tuple[str, ...]:
    """The compose files of a folder above build contexts, sorted: a bulk run asks about the same few folders
    (of thousands of entries) for every file, so the answer is kept while the folder's modification time stays
    the same."""
    try:
        return _compose_listing(folder, os.stat(folder).st_mtime_ns)
    except OSError:
        return ()


@functools.lru_cache(maxsize=64)
def _compose_listing(folder: str, _modified: int) -> tuple[str, ...]:
    return tuple(sorted(name for name in os.listdir(folder) if is_compose_name(name)))


def _read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_COMPOSE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# --- reading a compose file line by line ------------------------------------------------------------------------

_KEY = re.compile(r"""^([ \t]*(?:-[ \t]+)?)["']?([\w.-]+)["']?[ \t]*:(?:[ \t]+|$)(.*)$""")
VALUE_LINES = 500  # a value longer than this is not a command or a volume list anyone writes


def _values(text: str, keys: frozenset[str]) -> list[tuple[str, str]]:
    """(key, value) of each occurrence of these keys: the inline value (`command: poetry run web-cli`, a flow
    list), and the lines below it that belong to it (a block list, a block scalar, a long-syntax volume, a plain
    scalar folded onto the next lines), joined by newlines; not a later key at its depth, nor another service."""
    lines = text.splitlines()
    values = []
    index = 0
    while index < len(lines):
        match = _KEY.match(lines[index])
        index += 1
        if match is None or match.group(2) not in keys:
            continue
        # The key's own column: `- command:` in a list item is deeper than the dash.
        indent, key, rest = len(match.group(1)), match.group(2), _without_comment(match.group(3)).strip()
        value = [rest]
        following = index
        while following < min(len(lines), index + VALUE_LINES):
            line = lines[following]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                depth = len(line) - len(line.lstrip())
                if depth < indent or depth == indent and (rest or not stripped.startswith("- ")):
                    break  # the next key: the value ended
                value.append(stripped)
            following += 1
        values.append((key, "\n".join(value)))
    return values


def _without_comment(value: str) -> str:
    if value.lstrip().startswith("#"):
        return ""  # `command: # the tests`, the list below
    return value.split(" #", 1)[0] if " #" in value else value


_ALIAS = re.compile(r"(?:^|[\s\[,])\*[A-Za-z_][\w.-]*(?=[ \t]*(?:$|[,\]}#]))", re.MULTILINE)
_ANCHOR_DEFINED = re.compile(r"(?:^|:[ \t]|-[ \t])[ \t]*&[A-Za-z_][\w.-]*", re.MULTILINE)
_TOP_KEY = re.compile(r"""^["']?services["']?[ \t]*:[ \t]*(?:#.*)?$""")


def _services(text: str) -> list[str]:
    """The text of each service under `services:`; the whole file as one when it has no block `services:` (a
    version 1 file, a flow mapping) or uses YAML anchors (`<<: *common`, `command: *cmd`): what an alias brings
    cannot be told apart line by line, so every line counts for every service."""
    if _ALIAS.search(text) and _ANCHOR_DEFINED.search(text):
        return [text]
    blocks: list[list[str]] = []
    inside, indent, current, seen = False, None, None, False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            inside = _TOP_KEY.match(line) is not None
            seen = seen or inside
            current = None
            continue
        if not inside:
            continue
        if indent is None or depth <= indent:
            indent = depth if indent is None else indent
            current = [line]
            blocks.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(block) for block in blocks] if seen else [text]


def _scalar(value: str) -> str:
    return value.strip().strip("\"'").strip()


def _builds(service: str) -> list[tuple[str | None, str | None]]:
    """(context, dockerfile or None) of each `build:` in a service: `build: ./backend`, or the `context:` and
    `dockerfile:` of its long form."""
    found = []
    for _key, value in _values(service, frozenset({"build"})):
        first = value.partition("\n")[0]
        if first and first[0] not in "{>|":
            found.append((_scalar(first), None))
            continue
        flow = dict(re.findall(r"""(context|dockerfile)[ \t]*:[ \t]*["']?([^"',}\s]+)""", value))
        # No `context:`: an override file adding `args:` or `target:` to the service the main file builds.
        found.append((flow.get("context"), flow.get("dockerfile")))
    return found


_MASKED = re.compile(r"\$\{[^{}]*\}")


def _volumes(service: str) -> list[tuple[str | None, str]]:
    """(source or None, target) of each volume of a service: short syntax (`- ./backend:/app:cached`,
    `["data:/app"]`, `${SRC:-.}:/app`) and long syntax (`target: /app` with its `source:`, block or flow)."""
    found: list[tuple[str | None, str]] = []
    for key, value in _values(service, frozenset({"volumes", "tmpfs"})):
        items = [item for line in value.strip("[] \n").split("\n")
                 for item in ([line] if "{" in line else line.split(","))]
        long_source = None
        for raw in items:
            item = raw.strip().removeprefix("- ").strip().strip("[]").strip().strip("\"'")
            if not item:
                continue
            if "target:" in item or "source:" in item or item.startswith("{"):
                fields = dict(re.findall(r"""(source|target)[ \t]*:[ \t]*["']?([^"',}\s]+)""", item))
                if "source" in fields:
                    long_source = fields["source"]
                if "target" in fields:
                    found.append((fields.get("source", long_source), fields["target"]))
                    long_source = None
                continue
            masked = _MASKED.sub(lambda variable: "$" + "x" * (len(variable.group(0)) - 1), item)
            colon = masked.find(":")
            if key == "tmpfs" or colon < 0:
                if item.startswith(("/", "$")):
                    found.append((None, masked.split(":", 1)[0] if key == "tmpfs" else item))  # anonymous, tmpfs
            elif colon > 0 and item[colon + 1:colon + 2] in ("/", "$"):
                end = masked.find(":", colon + 1)
                found.append((item[:colon], item[colon + 1:end if end > 0 else None]))
    return found


def _resolves_to(path: str | None, compose: ComposeFile, unknown: bool = True) -> bool:
    """Whether a compose path written in the compose file's folder (a build context, a volume's source) names the
    build context. A variable stands for its default (`${APP_DIR:-./backend}`); without one, or from the home
    folder (`~/src`), the answer is `unknown`. None (a `build:` without `context:`) is unknown too."""
    if path is None:
        return unknown
    path = re.sub(r"^\$\{?PWD\}?", ".", _scalar(path))
    path = re.sub(r"\$\{\w+:?-([^{}]*)\}", r"\1", path)
    if "$" in path or path.startswith("~"):
        return unknown
    if path.startswith("/"):
        return posixpath.normpath(path) == compose.absolute
    return posixpath.normpath(path) == compose.relative


def _names_context(compose: ComposeFile) -> bool:
    """Whether a compose file outside the context names it, in a build or a volume's source: a variable without
    a default, or a path from the home folder, names nothing (`~/.cache/pip:/root/.cache/pip`)."""
    services = _services(compose.text)
    return any(context is not None and _resolves_to(context, compose, unknown=False)
               for service in services for context, _dockerfile in _builds(service)) or \
        any(source is not None and _resolves_to(source, compose, unknown=False)
            for service in services for source, _target in _volumes(service))


def _builds_this(service: str, compose: ComposeFile, dockerfile: str | None) -> bool:
    """A service built from the build context with this Dockerfile (compose's default: `Dockerfile` in the
    context); a variable or a missing `context:` may be it."""
    for context, named in _builds(service):
        if not _resolves_to(context, compose):
            continue
        if dockerfile is None or context is None or "$" in (named or "") or "$" in context:
            return True
        if posixpath.normpath(os.path.join(compose.absolute, named or "Dockerfile")) == dockerfile:
            return True
    return False


_EXTENDS = re.compile(r"^[ \t]*extends[ \t]*:", re.MULTILINE)
_IMAGE = re.compile(r"""^[ \t]*image[ \t]*:[ \t]*["']?([^"'#\s]+)""", re.MULTILINE)


def _image_name(reference: str) -> str:
    """`registry:5000/team/api:1.2@sha256:…` -> `api`."""
    reference = reference.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


@per_object
def _services_running_this(project) -> tuple[tuple[ComposeFile, str], ...]:
    """The compose services that may run this image: those built from the context with this Dockerfile, and
    those with no build at all when the file does not build this image itself (a deployment file pulling it
    from a registry) or when their `image:` is the one a service built from it is tagged with, or is named like
    the project or that service (`image: acme/api` beside `api: build: .`). An `image: node:20` beside the
    service that builds this Dockerfile is another program."""
    dockerfile = getattr(project, "dockerfile", None)
    found = []
    for compose in compose_files(project):
        services = _services(compose.text)
        ours = [service for service in services if _builds(service) and _builds_this(service, compose, dockerfile)]
        # The tags compose gives a service it builds: its `image:`, or `<project>-<service>` (`_` before v2),
        # the project being the compose file's folder.
        project_name = os.path.basename(compose.folder).lower()
        names = {_image_name(image) for service in ours for image in _IMAGE.findall(service)}
        names |= {f"{project_name}{joint}{_service_name(service)}" for service in ours for joint in "-_"}
        names |= {_service_name(service) for service in ours} | {(project.name or "").lower()}
        for service in services:
            if service in ours or _EXTENDS.search(service):  # `extends:` may bring this build
                found.append((compose, service))
            elif not _builds(service):
                images = _IMAGE.findall(service)
                if not ours or not images or any("$" in image or _image_name(image) in names for image in images):
                    found.append((compose, service))
    return tuple(found)


def _service_name(service: str) -> str:
    return service.lstrip().split(":", 1)[0].strip("\"'").lower()


def compose_covering_mount(project, directory: str) -> tuple[str, str] | None:
    """(file, target) of a volume of a compose service that may run this image, mounted over `directory` or a
    folder above it (`- .:/app`, `- ./backend:/app`, `- .:/workspace` over /workspace/backend, a named volume),
    or on the virtualenv itself (`- /app/.venv`, `- venv:/app/.venv`: compose keeps such volumes across builds):
    a virtualenv in `directory` would be hidden by it, or kept stale from an older image."""
    if project is None:
        return None
    for compose, service in _services_running_this(project):
        for _source, target in _volumes(service):
            if "$" in target:
                return compose.shown, _scalar(target)  # `.:${APP_DIR:-/app}`: it may be the project folder
            target = posixpath.normpath("/" + _scalar(target).lstrip("/"))
            venv = posixpath.join(directory, ".venv")
            if target != "/" and (directory == target or directory.startswith(target.rstrip("/") + "/")
                                  or target == venv or target.startswith(venv + "/")):
                return compose.shown, target
    return None


_COMMAND_KEYS = frozenset({"command", "entrypoint", "test"})
_POETRY_WORD = re.compile(r"(?<![\w-])poetry(?![\w-])")


@per_object
def compose_commands(project) -> tuple[tuple[str, str, str], ...]:
    """(file, key, value) of each command, entrypoint and healthcheck test of the compose services that may run
    this image; a value that is an alias (`command: *cmd`) stands for what its anchor (`&cmd …`) holds. A script
    of the context such a command runs (`./scripts/start.sh`, `/app/bin/run`), or the Makefile, justfile or
    Procfile of `make test`, `just run`, `honcho start`, comes after it as (`file → script`, "script", its text):
    what runs Poetry or pytest may be in there."""
    found = []
    anchors: dict[int, dict[str, str]] = {}
    for compose, service in _services_running_this(project):
        for key, value in _values(service, _COMMAND_KEYS):
            alias = re.fullmatch(r"\*([\w.-]+)", value.strip())
            if alias is not None:
                if id(compose) not in anchors:
                    anchors[id(compose)] = _anchors(compose.text)
                value = anchors[id(compose)].get(alias.group(1), value)
            found.append((compose.shown, key, value))
            found += [(f"{compose.shown} → {script}", "script", text) for script, text in _scripts_run(project, value)]
    return tuple(dict.fromkeys(found))


def _scripts_run(project, value: str) -> list[tuple[str, str]]:
    """(path in the context, text) of the context's files a command names (`./start.sh`, `scripts/run.py`, an
    image path like `/app/bin/start` whose tail is a file of the context) and of the runner files of `make`,
    `just`, `honcho`, `foreman`, `invoke`."""
    root = os.path.abspath(project.root)
    found = []
    for word in dict.fromkeys(_COMMAND_WORD.findall(value)):
        candidates = list(RUNNER_FILES.get(word.rsplit("/", 1)[-1], ()))
        if "/" in word or word.endswith((".sh", ".py", ".bash")):
            parts = [part for part in word.split("/") if part not in ("", ".")]
            candidates += ["/".join(parts[start:]) for start in range(min(len(parts), 4))]
        for relative in candidates:
            if ".." in relative.split("/") or not project.may_hold(relative):
                continue
            text = _read_text(Path(root, relative))
            if text is not None:
                found.append((relative, text))
                break
    return found


_ANCHOR = re.compile(r"&([\w.-]+)")


def _anchors(text: str) -> dict[str, str]:
    """What each `&anchor` of a file holds: the rest of its line and the lines indented below it (a command is
    never long: at most 50 of them)."""
    lines = text.splitlines()
    held: dict[str, str] = {}
    for index, line in enumerate(lines):
        for match in _ANCHOR.finditer(line):
            if match.group(1) in held:
                continue
            indent = len(line) - len(line.lstrip())
            value = [line[match.end():].strip()]
            for following in lines[index + 1:index + 51]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                value.append(following.strip())
            held[match.group(1)] = "\n".join(value)
    return held


def compose_runs_poetry(project) -> str | None:
    """`file (`command:`)` when a compose service that may run this image runs Poetry (`command: poetry run
    web-cli`): the image must still have it."""
    if project is None:
        return None
    return next((f"{name} (`{key}:`)" for name, key, value in compose_commands(project)
                 if _POETRY_WORD.search(value)), None)


_COMMAND_WORD = re.compile(r"""[^\s"'\[\],;&|()<>`{}$:=]+""")


def compose_programs(project) -> list[tuple[str, str]]:
    """(file, program) for each word of the commands of the compose services that may run this image, with its
    folder dropped (`/usr/local/bin/pytest` -> `pytest`): every word, not only the first, since `sh -c "…"`,
    `bash -lc` and wrappers hide where commands start (a word taken for a program keeps more than needed, never
    less)."""
    if project is None:
        return []
    found = []
    for name, _key, value in compose_commands(project):
        found += [(name, word.rsplit("/", 1)[-1]) for word in _COMMAND_WORD.findall(value.replace(":-", " "))]
    return found
