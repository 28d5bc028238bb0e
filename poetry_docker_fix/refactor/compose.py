"""Compose files that may run the image: those of the build context and those above it (the monorepo layout),
read line by line as they are usually written (the tool has no YAML parser): their bind mounts, the services that
may run this image, and the commands those run."""

from __future__ import annotations

import functools
import os
import posixpath
import re
from pathlib import Path

from .document import per_object

_COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml", "docker-compose.dev.yml",
                  "docker-compose.dev.yaml", "compose.override.yml", "compose.override.yaml")
_REPOSITORY_MARKERS = frozenset({".git", ".hg"})
COMPOSE_LEVELS_UP = 4  # folders above the build context searched for compose files (the repository's root stops it)
# Bind-mount sources: `.`, `./backend`, `../x`, `${PWD}/backend`, an absolute path (a bare name is a named volume).
_BIND_SOURCE = r"""(?:\.\.?|\$\{?PWD\}?|/)[^:"'\s,\]]*"""
# `- ./backend:/app`, `- "./:/app:cached"`, `[".:/app"]`, `${PWD}:/app` (short syntax), or `source: .` and
# `target: /app` in either order (long syntax).
_SHORT_MOUNT = re.compile(r"""(?:^|[\s\[,"'-])(""" + _BIND_SOURCE + r"""):(/[^:"'\s,\]]*)""", re.MULTILINE)
_LONG_MOUNT = re.compile(r"""(?ms)source:\s*["']?(""" + _BIND_SOURCE + r""")["']?\s*$.{0,200}?target:\s*["']?(/[^"'\s]*)"""
                         r"""|target:\s*["']?(/[^"'\s]*)["']?\s*$.{0,200}?source:\s*["']?(""" + _BIND_SOURCE +
                         r""")["']?\s*$""")


@per_object
def compose_files(project) -> tuple[tuple[str, str, str], ...]:
    """(name shown, text, the build context seen from the compose file's folder) for each compose file that may
    run this image: those of the build context (".": any of their services), and those of the folders above it,
    up to the repository's root, that name the context's folder in a `build:` or a bind mount (the monorepo
    layout: one compose file at the root, `build: ./backend`, `- ./backend:/app`)."""
    found = []
    for name in _COMPOSE_FILES:
        if project.may_hold(name):  # (.dockerignore does not matter: compose reads it from the checkout)
            text = _read_text(project.root / name)
            if text is not None:
                found.append((name, text, "."))
    if any(project.may_hold(marker) and os.path.lexists(project.root / marker) for marker in _REPOSITORY_MARKERS):
        return tuple(found)  # the context is the repository's root: a compose file above it is another project's
    absolute = os.path.abspath(project.root)
    folder, relative = absolute, ""
    for level in range(1, COMPOSE_LEVELS_UP + 1):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        relative = posixpath.join(os.path.basename(folder), relative) if relative else os.path.basename(folder)
        folder = parent
        names = _folder_names(folder)
        for name in _COMPOSE_FILES:
            if name in names:
                text = _read_text(Path(folder, name))
                if text is not None and _names_folder(text, relative, absolute):
                    found.append(("../" * level + name, text, relative))
        if names & _REPOSITORY_MARKERS:
            break  # the repository's root: a compose file above it is another project's
    return tuple(found)


def _folder_names(folder: str) -> frozenset[str]:
    """The names in a folder above build contexts: a bulk run asks about the same few folders for every file, so
    the listing is kept while the folder's modification time stays the same."""
    try:
        return _listing(folder, os.stat(folder).st_mtime_ns)
    except OSError:
        return frozenset()


@functools.lru_cache(maxsize=64)
def _listing(folder: str, _modified: int) -> frozenset[str]:
    return frozenset(os.listdir(folder))


def _read_text(path: Path) -> str | None:
    try:
        if path.stat().st_size > 1_000_000:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _resolves_to(source: str, relative: str, absolute: str) -> bool:
    """Whether a compose path (a bind-mount source, a build context) written in the compose file's folder names
    the build context, `relative` from there (`absolute` on disk)."""
    source = re.sub(r"^\$\{?PWD\}?", ".", source.strip().strip("\"'"))
    if "$" in source:
        return True  # `${APP_DIR:-./backend}`: it may
    if source.startswith("/"):
        return posixpath.normpath(source) == absolute
    return posixpath.normpath(source) == relative


def _mounts(text: str) -> list[tuple[str, str]]:
    """(source, target) of the file's bind mounts, short and long syntax."""
    return [*_SHORT_MOUNT.findall(text),
            *((a, b) if a else (d, c) for a, b, c, d in _LONG_MOUNT.findall(text))]


_BUILD = re.compile(r"""^[ \t]*build[ \t]*:[ \t]*["']?([^"'#\s{>|][^"'#\s]*)""", re.MULTILINE)
_BUILD_CONTEXT = re.compile(r"""(?:^|[\s{,])context[ \t]*:[ \t]*["']?([^"'#\s,}]+)""", re.MULTILINE)


def _build_contexts(text: str) -> list[str]:
    return [*_BUILD.findall(text), *_BUILD_CONTEXT.findall(text)]


def _names_folder(text: str, relative: str, absolute: str) -> bool:
    return any(_resolves_to(source, relative, absolute)
               for source in (*_build_contexts(text), *(source for source, _target in _mounts(text))))


def _services(text: str) -> list[str]:
    """The text of each service under `services:` (line-based, as compose files are usually written); the whole
    file as one when it has no block `services:` (a version 1 file, a flow mapping)."""
    blocks: list[list[str]] = []
    inside, indent, current, seen = False, None, None, False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            inside = re.match(r"services[ \t]*:[ \t]*(?:#.*)?$", line) is not None
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


def compose_mounts_source(project, directory: str) -> str | None:
    """A compose file that bind-mounts the build context over `directory` (the docker-compose development
    set-up): an in-project .venv there would be hidden by the mount."""
    absolute = os.path.abspath(project.root)
    for name, text, relative in compose_files(project):
        if any(posixpath.normpath(target) == directory and _resolves_to(source, relative, absolute)
               for source, target in _mounts(text)):
            return name
    return None


# `command: poetry run web-cli`, `entrypoint: ["poetry", "run"]`, or a list whose first item is poetry.
_COMPOSE_KEY = re.compile(r"^([ \t]*)(command|entrypoint|test)[ \t]*:(.*)$")
_POETRY_WORD = re.compile(r"(?<![\w-])(?:\S*/)?poetry(?![\w-])")


def _compose_values(text: str) -> list[tuple[str, str]]:
    """(key, value) of each `command`, `entrypoint` and healthcheck `test`: inline (`command: poetry run web-cli`,
    a flow list), or with the lines below it that belong to it (a block list of `- pytest`, a block scalar
    `command: >`), not a later key or another service; a value's lines joined by newlines."""
    lines = text.splitlines()
    values = []
    for index, line in enumerate(lines):
        match = _COMPOSE_KEY.match(line)
        if match is None:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3).split(" #", 1)[0].strip()
        value = [rest]
        if not rest or rest[0] in ">|":
            for following in lines[index + 1:]:
                stripped = following.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                depth = len(following) - len(following.lstrip())
                if depth < indent or depth == indent and (rest or not stripped.startswith("- ")):
                    break  # the next key: the value ended
                value.append(stripped)
        values.append((key, "\n".join(value)))
    return values


@per_object
def compose_commands(project) -> tuple[tuple[str, str, str], ...]:
    """(file, key, value) of each command, entrypoint and healthcheck test of the compose services that may run
    this image: in a compose file of the build context, any service; in one above it, a service built from the
    context or from no build at all (an `image:` that may be this one)."""
    absolute = os.path.abspath(project.root)
    found = []
    for name, text, relative in compose_files(project):
        services = [text] if relative == "." else [
            service for service in _services(text)
            if not _build_contexts(service)
            or any(_resolves_to(build, relative, absolute) for build in _build_contexts(service))]
        found += [(name, key, value) for service in services for key, value in _compose_values(service)]
    return tuple(found)


def compose_runs_poetry(project) -> str | None:
    """`file (`command:`)` when a compose service that may run this image runs Poetry (`command: poetry run
    web-cli`): the image must still have it."""
    if project is None:
        return None
    return next((f"{name} (`{key}:`)" for name, key, value in compose_commands(project)
                 if _POETRY_WORD.search(value)), None)


_COMMAND_WORD = re.compile(r"""[^\s"'\[\],;&|()<>`]+""")


def compose_programs(project) -> list[tuple[str, str]]:
    """(file, program) for each word of the commands of the compose services that may run this image, with its
    folder dropped (`/usr/local/bin/pytest` -> `pytest`) and `python -m pytest`'s module standing for a program:
    every word, not only the first, since `sh -c "…"`, `bash -lc` and wrappers hide where commands start (a word
    taken for a program keeps more than needed, never less)."""
    if project is None:
        return []
    found = []
    for name, _key, value in compose_commands(project):
        found += [(name, word.rsplit("/", 1)[-1]) for word in _COMMAND_WORD.findall(value)]
    return found
