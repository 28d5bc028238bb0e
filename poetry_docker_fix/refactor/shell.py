"""Just enough shell reading to recognise the commands a Poetry Dockerfile runs.

RUN values are split into simple commands at `&&`, `||`, `;` and `|`; each command is a token list. Edits are
then made on the raw lines with anchored regular expressions, so quoting and layout stay as written.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from .document import Document, Instruction, per_text

OPERATORS = ("&&", "||", ";", "|", "&")


@dataclass(frozen=True)
class Command:
    tokens: tuple[str, ...]  # without leading VAR=value assignments
    assignments: tuple[str, ...]
    operator_before: str  # "" for the first command


@lru_cache(maxsize=4096)
def _split_cached(script: str) -> tuple[Command, ...] | None:
    commands = _split(script)
    return tuple(commands) if commands is not None else None


def split_commands(script: str) -> list[Command] | None:
    """Simple commands of a shell script, or None when it does not tokenise (unbalanced quotes)."""
    commands = _split_cached(script)
    return list(commands) if commands is not None else None


_PLAIN_SCRIPT = re.compile(r"^[^'\"\\`$#(){}<>*?\[\]~]*$")
_PLAIN_TOKEN = re.compile(r"&&|\|\||[;&|]|[^\s;&|]+")


def _split(script: str) -> list[Command] | None:
    if _PLAIN_SCRIPT.match(script):
        # Fast path: nothing to unquote or expand, so a regular expression splits exactly as shlex would.
        return _group(_PLAIN_TOKEN.findall(script))
    return _split_with_shlex(script)


def _split_with_shlex(script: str) -> list[Command] | None:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    return _group(tokens)


def _group(tokens: list[str]) -> list[Command]:
    commands: list[Command] = []
    current: list[str] = []
    operator = ""
    for token in tokens:
        if token in OPERATORS or (token and set(token) <= set(";&|")):
            commands.append(_command(current, operator))
            current, operator = [], token
        else:
            current.append(token)
    commands.append(_command(current, operator))
    return [command for command in commands if command.tokens or command.assignments]


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(.*/)?python[0-9.]*$")
_POETRY = re.compile(r"^(.*/)?poetry$")


def _command(tokens: list[str], operator: str) -> Command:
    assignments: list[str] = []
    while tokens and _ASSIGNMENT.match(tokens[0]):
        assignments.append(tokens.pop(0))
    return Command(tuple(tokens), tuple(assignments), operator)


def run_script(instruction: Instruction) -> str | None:
    """The shell script of a RUN in shell form (after its --flags), None for the exec form."""
    return instruction.shell_script


def run_commands(instruction: Instruction) -> list[Command]:
    return list(_run_commands(instruction))


@per_text
def _run_commands(instruction: Instruction) -> tuple[Command, ...]:
    script = instruction.shell_script
    if script is None:
        return ()
    return _split_cached(script) or ()


def poetry_subcommand(command: Command) -> tuple[str, list[str]] | None:
    """For `poetry X args` (or `python -m poetry X args`): (X, args); None for anything else."""
    tokens = list(command.tokens)
    if tokens[:1] and _PYTHON.match(tokens[0]) and tokens[1:3] == ["-m", "poetry"]:
        tokens = tokens[2:]
    if not tokens or not _POETRY.match(tokens[0]):
        return None
    arguments = tokens[1:]
    # global options may precede the subcommand: `poetry -n install`, `poetry --no-ansi install`
    while arguments and arguments[0].startswith("-"):
        option = arguments.pop(0)
        if option in ("-C", "--directory", "-P", "--project") and arguments:
            arguments.pop(0)
    if not arguments:
        return None
    return arguments[0], arguments[1:]


# Poetry subcommands that configure Poetry or fill the virtualenv from the manifests, and read no code nor leave
# anything outside the virtualenv: a RUN made of these (and the install) may move above the code COPY, and may
# run in a builder stage whose only product is the virtualenv. `run`, `build`, `export`, `publish`, `shell` do
# not qualify: they read the code, or make files the runtime stage would not get; nor does `check`, which fails
# when the README pyproject.toml declares is not there yet.
SETUP_SUBCOMMANDS = frozenset({"install", "sync", "config", "self", "plugin", "env", "lock", "show", "source",
                               "about", "debug", "cache", "version", "list", "help"})


def is_poetry_setup(command: Command) -> bool:
    """`poetry config …`, `poetry install …`, `poetry --version` and the like (see SETUP_SUBCOMMANDS)."""
    parsed = poetry_subcommand(command)
    if parsed is None:
        tokens = list(command.tokens)
        if tokens[:1] and _PYTHON.match(tokens[0]) and tokens[1:3] == ["-m", "poetry"]:
            tokens = tokens[2:]
        # `poetry --version`: options only, no subcommand
        return bool(tokens) and _POETRY.match(tokens[0]) is not None and all(t.startswith("-") for t in tokens[1:])
    return parsed[0] in SETUP_SUBCOMMANDS


# Install options whose value is the next word (`--extras $EXTRAS` is a value, not options).
INSTALL_VALUE_OPTIONS = frozenset({"-E", "--extras", "--with", "--without", "--only", "-C", "--directory", "-P",
                                   "--project"})
# `poetry sync` (Poetry 2.0+) is `poetry install --sync`: an install that also removes what the lock does not name.
INSTALL_SUBCOMMANDS = ("install", "sync")


def poetry_installs(instruction: Instruction) -> list[list[str]]:
    """The argument lists of every `poetry install` (or `poetry sync`) in a RUN."""
    return [list(arguments) for arguments in _poetry_installs(instruction)]


@per_text
def _poetry_installs(instruction: Instruction) -> tuple[tuple[str, ...], ...]:
    script = instruction.shell_script
    if script is None or "poetry" not in script:
        return ()
    return _installs_in(script)


@lru_cache(maxsize=4096)
def _installs_in(script: str) -> tuple[tuple[str, ...], ...]:
    found = []
    for command in split_commands(script) or []:
        parsed = poetry_subcommand(command)
        if parsed and parsed[0] in INSTALL_SUBCOMMANDS:
            found.append(tuple(parsed[1]))
    return tuple(found)


@per_text
def uses_poetry(instruction: Instruction) -> bool:
    return any(poetry_subcommand(command) for command in _run_commands(instruction))


def option_values(arguments: list[str], name: str) -> list[str] | None:
    """Values of a repeatable option (`--only main`, `--only=main,dev`); None when the option is absent."""
    values: list[str] = []
    present = False
    iterator = iter(range(len(arguments)))
    for index in iterator:
        argument = arguments[index]
        if argument == name and index + 1 < len(arguments):
            present = True
            values.extend(arguments[index + 1].split(","))
            next(iterator, None)
        elif argument.startswith(name + "="):
            present = True
            values.extend(argument.split("=", 1)[1].split(","))
    return [value.strip() for value in values if value.strip()] if present else None


def locate(document: Document, instruction: Instruction, pattern: re.Pattern[str]) -> tuple[int, re.Match[str]] | None:
    """The single raw line of `instruction` where `pattern` matches, or None when none does or several do."""
    hits = []
    for index in range(instruction.start, instruction.end + 1):
        line = document.lines[index]
        if line.lstrip().startswith("#"):
            continue
        for match in pattern.finditer(line):
            hits.append((index, match))
    return hits[0] if len(hits) == 1 else None


POETRY_INSTALL = re.compile(r"(?<![\w/-])((?:\S*/)?poetry(?:\s+(?:-n|--no-interaction|--no-ansi|-q|--quiet|-v+))*\s+"
                            r"(?:install|sync))(?![\w-])")
