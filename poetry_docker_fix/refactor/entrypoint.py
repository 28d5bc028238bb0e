"""What the image runs: the ENTRYPOINT/CMD of the final stage, and which Python modules that starts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .document import Document, Instruction
from .project import PoetryProject

_PYTHON = re.compile(r"^(?:.*/)?python[0-9.]*$")
_SERVERS = {"uvicorn", "gunicorn", "hypercorn", "daphne", "granian"}


@dataclass
class EntryPoint:
    argv: list[str] = field(default_factory=list)  # ENTRYPOINT + CMD, `poetry run` removed
    modules: list[str] = field(default_factory=list)  # dotted module names it starts
    files: list[str] = field(default_factory=list)  # script paths it starts (relative to the project dir)
    uses_poetry_run: bool = False
    console_script: str | None = None  # the pyproject script it runs by name


def strip_poetry_run(argv: list[str]) -> tuple[list[str], bool]:
    if len(argv) >= 2 and re.match(r"^(?:.*/)?poetry$", argv[0]) and argv[1] == "run":
        return argv[2:], True
    return argv, False


def final_command(document: Document) -> tuple[Instruction | None, Instruction | None]:
    """The ENTRYPOINT and CMD in force in the last stage."""
    if not document.stages:
        return None, None
    entry = cmd = None
    for instruction in document.stages[-1].instructions:
        if instruction.keyword == "ENTRYPOINT":
            entry, cmd = instruction, None  # an ENTRYPOINT resets an earlier CMD
        elif instruction.keyword == "CMD":
            cmd = instruction
    return entry, cmd


def analyse(document: Document, project: PoetryProject | None) -> EntryPoint:
    entry, cmd = final_command(document)
    argv: list[str] = []
    for instruction in (entry, cmd):
        if instruction is not None:
            argv += instruction.argv() or []
    result = EntryPoint()
    argv, result.uses_poetry_run = strip_poetry_run(argv)
    if argv[:1] in (["sh"], ["/bin/sh"], ["bash"], ["/bin/bash"]) and argv[1:2] == ["-c"] and len(argv) > 2:
        import shlex

        try:
            argv = shlex.split(argv[2])
        except ValueError:
            argv = []
        argv, used = strip_poetry_run(argv)
        result.uses_poetry_run = result.uses_poetry_run or used
    result.argv = argv
    if not argv:
        return result
    program = argv[0].rsplit("/", 1)[-1]
    scripts = project.scripts if project else {}
    if _PYTHON.match(argv[0]):
        rest = argv[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-m":
            rest = rest[1:]
        if rest[:1] == ["-m"] and len(rest) > 1:
            result.modules.append(rest[1])
        elif rest and rest[0].endswith(".py"):
            result.files.append(rest[0].lstrip("./") if rest[0].startswith("./") else rest[0])
    elif program in scripts:
        result.console_script = program
        result.modules.append(scripts[program].split(":")[0].strip())
    elif program in _SERVERS:
        for argument in argv[1:]:
            if ":" in argument and not argument.startswith("-") and re.match(r"^[\w.]+:[\w.()]+$", argument):
                result.modules.append(argument.split(":")[0])
    elif program == "celery":
        for index, argument in enumerate(argv):
            if argument in ("-A", "--app") and index + 1 < len(argv):
                result.modules.append(argv[index + 1].split(":")[0])
    return result
