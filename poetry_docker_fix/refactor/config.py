"""`[tool.poetry-docker-fix]` in the project's pyproject.toml: per-project defaults that flags override."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .facts import Options
from .project import ProjectError
from .versions import Version

KEYS = {
    "select": "passes to run (list of names)",
    "skip": "passes to leave out (list of names)",
    "poetry-version": "the Poetry version to pin (X.Y.Z) instead of the lock's writer",
    "runtime-image": "the base image of the runtime stage (default: the builder's slim twin)",
    "extra-copy": "paths the app needs at run time that the tool cannot see (list), copied with the code",
    "syntax-directive": "add `# syntax=docker/dockerfile:1` with the cache mount (true/false)",
}


# An image reference as Docker reads one (distribution/reference): [host[:port]/]path[:tag][@digest], the path
# in lower case. A build argument (`$RUNTIME` / `${RUNTIME}`) is accepted as written.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
    rf":[0-9a-fA-F]{{32,}})?"
)
_VARIABLE = re.compile(r"\$(?:\{\w+\}|\w+)")


def image_problem(value: str) -> str | None:
    """Why `value` cannot follow FROM as the runtime image; None when it can."""
    if not value.strip():
        return "is empty"
    if any(character.isspace() for character in value):
        return f"{value!r} is not one image name (it contains white space)"
    if _VARIABLE.search(value) or _IMAGE.fullmatch(value):
        return None
    return f"{value!r} is not an image name such as python:3.11-slim or registry.example.com/team/python:3.11"


@dataclass(frozen=True)
class ToolConfig:
    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    poetry_version: Version | None = None
    runtime_image: str | None = None
    extra_copy: tuple[str, ...] = ()
    syntax_directive: bool | None = None

    @classmethod
    def from_table(cls, table: dict, where: str) -> "ToolConfig":
        """Validate the table; any unknown key or wrong type is an error naming the file and the key."""
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ProjectError(f"{where}: unknown key {', '.join(unknown)} in [tool.poetry-docker-fix] "
                               f"(known: {', '.join(KEYS)})")

        def names(key: str) -> tuple[str, ...]:
            value = table.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ProjectError(f"{where}: [tool.poetry-docker-fix] {key} must be a list of strings")
            return tuple(value)

        version = None
        if "poetry-version" in table:
            text = str(table["poetry-version"])
            version = Version.parse(text)
            if version is None or text.count(".") != 2:
                raise ProjectError(f"{where}: [tool.poetry-docker-fix] poetry-version must be X.Y.Z, got {text!r}")
        runtime = table.get("runtime-image")
        if runtime is not None and not isinstance(runtime, str):
            raise ProjectError(f"{where}: [tool.poetry-docker-fix] runtime-image must be an image name")
        if runtime is not None and image_problem(runtime):
            raise ProjectError(f"{where}: [tool.poetry-docker-fix] runtime-image {image_problem(runtime)}")
        syntax = table.get("syntax-directive")
        if syntax is not None and not isinstance(syntax, bool):
            raise ProjectError(f"{where}: [tool.poetry-docker-fix] syntax-directive must be true or false")
        from ..transforms import PASS_NAMES

        for key in ("select", "skip"):
            unknown_passes = [name for name in names(key) if name not in PASS_NAMES]
            if unknown_passes:
                raise ProjectError(f"{where}: [tool.poetry-docker-fix] {key} names unknown pass "
                                   f"{', '.join(unknown_passes)} (passes: {', '.join(PASS_NAMES)})")
        return cls(names("select"), names("skip"), version, runtime, names("extra-copy"), syntax)

    def options(self, given: Options, *, flags: set[str]) -> Options:
        """`given` (from the command line) over this configuration: a flag in `flags` was set explicitly."""
        merged = given
        if "poetry_version" not in flags and self.poetry_version is not None:
            merged = replace(merged, poetry_version=self.poetry_version,
                             poetry_version_from="poetry-version in [tool.poetry-docker-fix]")
        if "runtime_image" not in flags and self.runtime_image is not None:
            merged = replace(merged, runtime_image=self.runtime_image)
        if "syntax_directive" not in flags and self.syntax_directive is not None:
            merged = replace(merged, syntax_directive=self.syntax_directive)
        return replace(merged, extra_copy=tuple(dict.fromkeys(given.extra_copy + self.extra_copy)))
