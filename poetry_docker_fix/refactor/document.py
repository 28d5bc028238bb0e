"""The Dockerfile as raw lines plus the instruction boundaries dockerfile-parse finds in them.

Passes read instructions here and answer with line-range edits; they never re-serialise an instruction from
parsed content, so comments inside continuations, indentation and keyword case survive untouched.
"""

from __future__ import annotations

import functools
import io
import json
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache

_DIRECTIVE = re.compile(r"^#\s*(syntax|escape|check)\s*=\s*(\S*)\s*$", re.IGNORECASE)
_HEREDOC = re.compile(r"<<-?\s*['\"]?[A-Za-z_][A-Za-z0-9_]*['\"]?")
_RUNAWAY = re.compile(r"\s*(?:FROM|RUN|COPY|ADD|ENV|ARG|WORKDIR|CMD|ENTRYPOINT|EXPOSE|LABEL|USER|VOLUME|HEALTHCHECK|"
                      r"SHELL|ONBUILD|STOPSIGNAL|MAINTAINER)\s")
_KEYWORDS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}


class cached_property:  # noqa: N801 - a drop-in for functools.cached_property
    """functools.cached_property without its per-access lock (Python < 3.12 takes one): computed on first use,
    then read straight from the instance's __dict__. Works on frozen dataclasses too."""

    def __init__(self, function):
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


def per_object(function):
    """Cache `function(thing)` on `thing`, an object that never changes (an instruction, a stage, a project).
    The cached value is shared: `function` must return something immutable (a tuple, a string, a frozen
    object)."""
    key = "_memo_" + function.__qualname__

    @functools.wraps(function)
    def wrapper(thing):
        cache = thing.__dict__
        try:
            return cache[key]
        except KeyError:
            value = cache[key] = function(thing)
            return value

    return wrapper


_TEXT_FACTS: dict[tuple[str, str], dict] = {}  # see Instruction.facts


def per_text(function):
    """Cache `function(instruction)`, which depends only on the instruction's keyword and value, for every
    instruction with that keyword and value: the documents a pass leaves behind share most instructions with
    the one it was given, and a bulk run sees the same `RUN poetry install` many times. The cached value is
    shared: it must be immutable."""
    key = "_text_" + function.__qualname__

    @functools.wraps(function)
    def wrapper(instruction):
        own = instruction.__dict__
        try:
            return own[key]
        except KeyError:
            pass
        shared = instruction.facts
        try:
            value = shared[key]
        except KeyError:
            value = shared[key] = function(instruction)
        own[key] = value
        return value

    return wrapper


class text_property(cached_property):  # noqa: N801
    """A cached_property that depends only on the instruction's keyword and value (see per_text)."""

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        shared = instance.facts
        try:
            value = shared[self.name]
        except KeyError:
            value = shared[self.name] = self.function(instance)
        instance.__dict__[self.name] = value
        return value


def per_document(function):
    """Cache `function(document, *args)` on the document: a document never changes (an edit makes a new one),
    so passes that ask the same question about it share one answer. Arguments must be cheap to hash: stages
    hash by identity, instructions are better passed as their line number. The cached value is shared:
    `function` must return something immutable, or its callers must not change it."""
    name = function.__qualname__

    @functools.wraps(function)
    def wrapper(document, *args):
        key = (name, *args)
        memo = document._memo
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = function(document, *args)
            return value

    return wrapper


class DocumentError(Exception):
    """The text is not something the tool can safely treat as a Dockerfile."""


@dataclass(unsafe_hash=True)
class Instruction:
    """One instruction. Treat as immutable (not frozen only because a frozen dataclass is several times slower
    to create, and the pipeline creates one per instruction every time a pass edits the file)."""

    keyword: str  # upper case
    start: int  # index of the first raw line
    end: int  # index of the last raw line (inclusive)
    value: str  # arguments, continuations joined, comments inside them left out
    stage: int  # index of the stage it belongs to (-1: before the first FROM)

    @property
    def line_number(self) -> int:
        return self.start + 1

    @cached_property
    def facts(self) -> dict:
        """Facts about this instruction's text, shared with every instruction of the same keyword and value."""
        key = (self.keyword, self.value)
        found = _TEXT_FACTS.get(key)
        if found is None:
            if len(_TEXT_FACTS) > 50_000:
                _TEXT_FACTS.clear()
            found = _TEXT_FACTS[key] = {}
        return found

    def flags_and_args(self) -> tuple[list[str], str]:
        """Leading `--flag=value` options and the rest of the arguments, as text."""
        flags, rest = self._flags_and_rest
        return list(flags), rest

    @text_property
    def _flags_and_rest(self) -> tuple[tuple[str, ...], str]:
        # Passes ask for this many times per instruction: computed once (instructions are immutable).
        flags: list[str] = []
        rest = self.value.strip()
        while rest.startswith("--"):
            token, _, remainder = rest.partition(" ")
            flags.append(token)
            rest = remainder.strip()
        return tuple(flags), rest

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD/ENTRYPOINT/RUN, or None for the shell form."""
        parsed = self._exec_form
        return list(parsed) if parsed is not None else None

    @text_property
    def _exec_form(self) -> tuple[str, ...] | None:
        text = self.value.strip()
        if not text.startswith("["):
            return None
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return tuple(parsed)
        return None

    @text_property
    def shell_script(self) -> str | None:
        """The shell script of a RUN in shell form (after its --flags), None for the exec form."""
        if self.keyword != "RUN" or self._exec_form is not None:
            return None
        return self._flags_and_rest[1]

    def argv(self) -> list[str] | None:
        """CMD/ENTRYPOINT arguments as a list, from either form; None when the shell form does not split."""
        exec_form = self.exec_form()
        if exec_form is not None:
            return exec_form
        _flags, rest = self.flags_and_args()
        try:
            return shlex.split(rest)
        except ValueError:
            return None


@dataclass(frozen=True, eq=False)
class Stage:
    """One stage of a document (compared and hashed by identity: it belongs to the document that made it)."""

    index: int
    from_instruction: Instruction
    image: str
    name: str | None
    instructions: tuple[Instruction, ...]

    @property
    def end(self) -> int:
        return self.instructions[-1].end if self.instructions else self.from_instruction.end

    def env(self) -> dict[str, str]:
        """ENV and ARG defaults set in this stage, in order (later wins); values unquoted, unexpanded."""
        values: dict[str, str] = {}
        for instruction in self.instructions:
            if instruction.keyword in ("ENV", "ARG"):
                values.update(parse_assignments(instruction.value, instruction.keyword))
        return values

    def workdir_before(self, line: int) -> str | None:
        """The WORKDIR in force at raw line `line`, or None when the stage sets none before it."""
        current: str | None = None
        for instruction in self.instructions:
            if instruction.start >= line:
                break
            if instruction.keyword == "WORKDIR":
                target = instruction.value.strip().strip('"')
                if target.startswith("/") or current is None:
                    current = target
                else:
                    current = current.rstrip("/") + "/" + target
        return current


_ESCAPE_DIRECTIVE = re.compile(r"^\s*#\s*escape\s*=\s*(\\|`)\s*$", re.IGNORECASE)
_SYNTAX_DIRECTIVE = re.compile(r"^\s*#\s*syntax\s*=\s*(.*)\s*$", re.IGNORECASE)


def _line_info(line: str, escape: str) -> tuple[bool, str | None, str, str, str, bool]:
    """How the splitter reads one line: (comment?, keyword in upper case or None for a blank line, the value
    it starts an instruction with, its value as a continuation of a non-empty value, its value as the
    continuation of an empty one, whether it continues on the next line)."""
    # str.lstrip/rstrip/split strip exactly what the reference's `\s` matches (str.isspace characters).
    stripped = line.lstrip()
    if stripped[:1] == "#":
        return True, None, "", "", "", False
    tail = line.rstrip()
    continues = tail.endswith(escape)
    if not stripped:
        return False, None, "", "", "", False
    parts = stripped.split(None, 1)
    first = parts[1].rstrip() if len(parts) > 1 else ""
    if first.endswith(escape):
        first = first[:-1]
    kept = tail[:-1] if continues else tail
    lean = tail.lstrip()
    if lean.endswith(escape):
        lean = lean[:-1]
    return False, parts[0].upper(), first, kept, lean, continues


_LINES: dict[str, tuple[bool, str | None, str, str, str, bool]] = {}  # _line_info with the default escape


def _parse_lines(lines: list[str]) -> list[Instruction]:
    """Instruction boundaries and values exactly as dockerfile-parse's `structure` finds them (the reference:
    `Document._parse_uncached`), without its per-line dictionaries and byte round trips. Passes re-read the
    file after every edit, so this runs several times per Dockerfile, mostly over lines it has read before:
    each distinct line is looked at once. tests/test_parser_agreement.py checks the two readings agree, on the
    golden files and on generated ones, and the pipeline checks every input it reads."""
    result: list[Instruction] = []
    escape = "\\"
    directive_possible = True
    stage = -1
    keyword: str | None = ""
    value = ""
    start = 0
    in_continuation = False
    cache = _LINES
    if len(cache) > 100_000:
        cache.clear()
    for number, line in enumerate(lines):
        if directive_possible:
            match = _ESCAPE_DIRECTIVE.match(line)
            if match:
                escape = match.group(1)
                cache = {}  # another escape character: another reading of every line
            elif not _SYNTAX_DIRECTIVE.match(line):
                directive_possible = False
        info = cache.get(line)
        if info is None:
            info = cache[line] = _line_info(line, escape)
        comment, word, first, kept, lean, continues = info
        if comment:
            continue  # a comment, also inside a continuation: it neither ends nor extends the instruction
        if not in_continuation:
            if word is None:
                continue  # a blank line between instructions
            keyword, start, value = word, number, first
        elif value:
            value += kept
        else:
            value = lean
        in_continuation = continues
        if not in_continuation:
            if keyword == "FROM":
                stage += 1
            result.append(Instruction(keyword, start, number, value, stage))
    # An instruction still open at the end of the file is dropped, as dockerfile-parse does (and such a file is
    # unsupported anyway: see `unsupported_reason`).
    return result


def _expanded(assignments: dict[str, str], values: dict[str, str], raw: str = "") -> dict[str, str]:
    """ENV values as Docker stores them: `ENV APP_HOME=$BASE/app` is expanded from the variables set before it
    (`$PATH` and other unknown ones: kept as written). An instruction with single quotes or `\\$` keeps its values
    as parsed: Docker does not expand those, and which value they belong to is not tracked here."""
    if "'" in raw or "\\$" in raw:
        return assignments
    return {name: (expanded if "$" in value and (expanded := expand(value, values)) is not None else value)
            for name, value in assignments.items()}


def parse_assignments(value: str, keyword: str = "ENV") -> dict[str, str]:
    """`A=1 B="x y"` (or legacy `ENV A 1`) as a dict. ARG without a default maps to ''."""
    return dict(_assignments(value, keyword))


@lru_cache(maxsize=4096)
def _assignments(value: str, keyword: str) -> tuple[tuple[str, str], ...]:
    if any(character in value for character in "'\"\\"):
        try:
            tokens = shlex.split(value, posix=True)
        except ValueError:
            return ()
    else:
        tokens = value.split()
    return tuple(_pairs(tokens, keyword).items())


def _pairs(tokens: list[str], keyword: str) -> dict[str, str]:
    if not tokens:
        return {}
    if keyword == "ENV" and "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}
    result: dict[str, str] = {}
    for token in tokens:
        name, sep, assigned = token.partition("=")
        result[name] = assigned if sep else ""
    return result


_VARIABLE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


def expand(text: str, env: dict[str, str]) -> str | None:
    """Expand $VAR / ${VAR} / ${VAR:-default} from `env`; None when a variable is unknown."""
    unknown = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(2)
        default = match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        unknown = True
        return ""

    if "$" not in text:
        return text
    result = _VARIABLE.sub(replace, text)
    return None if unknown else result


@dataclass
class Document:
    """Raw lines (without terminators) plus how to write them back byte-for-byte."""

    lines: list[str]
    newline: str = "\n"
    bom: bool = False
    final_newline: bool = True
    _instructions: list[Instruction] | None = field(default=None, repr=False)
    _memo: dict = field(default_factory=dict, repr=False, compare=False)  # see per_document

    @classmethod
    def from_text(cls, text: str) -> "Document":
        bom = text.startswith("\ufeff")
        if bom:
            text = text[1:]
        newline = "\r\n" if "\r\n" in text else "\n"
        final_newline = text.endswith("\n") or text == ""
        body = text[:-len(newline)] if text.endswith(newline) else text
        lines = body.split(newline) if body else []
        if newline == "\r\n" and any("\n" in line or "\r" in line for line in lines):
            raise DocumentError("mixed line endings (CRLF and LF)")
        return cls(lines=lines, newline=newline, bom=bom, final_newline=final_newline)

    def with_lines(self, lines: list[str]) -> "Document":
        return Document(lines=lines, newline=self.newline, bom=self.bom, final_newline=self.final_newline)

    def to_text(self) -> str:
        text = self.newline.join(self.lines)
        if self.lines and self.final_newline:
            text += self.newline
        return ("\ufeff" if self.bom else "") + text

    # --- structure -------------------------------------------------------------------------------------
    @cached_property
    def directives(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.lines:
            match = _DIRECTIVE.match(line.strip())
            if not match:
                break
            found[match.group(1).lower()] = match.group(2)
        return found

    @cached_property
    def unsupported_reason(self) -> str | None:
        """Why no pass may touch this file, or None."""
        escape = self.directives.get("escape")
        if escape not in (None, "\\"):
            # Quoted with repr: the usual other escape character is a backtick, which a `…` quote would swallow.
            return f"escape directive {escape!r} is not supported (only the default, a backslash)"
        for index, line in enumerate(self.lines):
            if not line.rstrip().endswith("\\") or line.lstrip().startswith("#"):
                continue
            following = next((j for j in range(index + 1, len(self.lines))
                              if not self.lines[j].lstrip().startswith("#")), None)
            if following is None:
                return f"line {index + 1}: the file ends inside a continuation (parsers disagree on where it ends)"
            if not self.lines[following].strip():
                # BuildKit joins the instruction with the next non-empty line; dockerfile-parse ends it here.
                return f"line {following + 1}: empty line inside a continuation (parsers disagree on where it ends)"
        for instruction in self.instructions:
            code = [line for line in self.raw(instruction) if not line.lstrip().startswith("#")]
            # HEALTHCHECK's CMD and ONBUILD's instruction legitimately start a continuation line.
            joined = None if instruction.keyword in ("HEALTHCHECK", "ONBUILD") else next(
                (line for line in code[1:] if _RUNAWAY.match(line)), None)
            if joined is not None:
                # `RUN a && \` then `RUN b`: both parsers read one RUN (`a && RUN b`), which is a bug in the file.
                return (f"line {instruction.line_number}: a continuation runs into what looks like the next "
                        f"instruction (`{joined.strip()[:40]}`); remove the trailing backslash")
            if code and code[-1].rstrip().endswith("\\"):
                # BuildKit would carry on into the next instruction; dockerfile-parse stopped here.
                return (f"line {instruction.line_number}: `{instruction.keyword}` ends in a continuation that "
                        "parsers read differently")
            if instruction.keyword not in _KEYWORDS:
                return f"line {instruction.line_number}: unknown instruction `{instruction.keyword}`"
            if instruction.keyword in ("RUN", "COPY", "ADD") and _HEREDOC.search(self.lines[instruction.start]):
                return f"line {instruction.line_number}: heredoc (not edited by this tool)"
        return None

    @property
    def instructions(self) -> list[Instruction]:
        if self._instructions is None:
            self._instructions = self._parse()
        return self._instructions

    def _parse(self) -> list[Instruction]:
        return _parse_lines(self.lines)

    @staticmethod
    def _parse_uncached(source: str) -> list[Instruction]:
        """dockerfile-parse's reading of `source`: the reference `_parse_lines` must agree with."""
        from dockerfile_parse import DockerfileParser  # imported here: the CLI must start fast

        parser = DockerfileParser(fileobj=io.BytesIO(source.encode("utf-8")), env_replace=False)
        result: list[Instruction] = []
        stage = -1
        try:
            structure = parser.structure
        except Exception as error:  # the parser's own errors are not part of its API
            raise DocumentError(f"cannot parse: {error}") from error
        for entry in structure:
            keyword = entry["instruction"].upper()
            if keyword == "COMMENT":
                continue
            if keyword == "FROM":
                stage += 1
            result.append(Instruction(keyword, entry["startline"], entry["endline"], entry["value"], stage))
        return result

    @cached_property
    def stages(self) -> list[Stage]:
        stages: list[Stage] = []
        for instruction in self.instructions:
            if instruction.keyword == "FROM":
                tokens = instruction.value.split()
                positional = [token for token in tokens if not token.startswith("--")]
                image = positional[0] if positional else ""
                name = positional[2] if len(positional) >= 3 and positional[1].lower() == "as" else None
                members = tuple(i for i in self.instructions if i.stage == instruction.stage and i is not instruction)
                stages.append(Stage(instruction.stage, instruction, image, name, members))
        return stages

    def global_args(self) -> dict[str, str]:
        return dict(self._global_args())

    @per_document
    def _global_args(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.instructions:
            if instruction.stage >= 0:
                break
            if instruction.keyword == "ARG":
                values.update(parse_assignments(instruction.value, "ARG"))
        return values

    @per_document
    def parent(self, stage: Stage) -> Stage | None:
        """The earlier stage this one is built `FROM`, if any."""
        for candidate in self.stages[: stage.index]:
            if candidate.name and candidate.name.lower() == stage.image.lower():
                return candidate
        return None

    def ancestors(self, stage: Stage) -> list[Stage]:
        """Stages this one inherits from, nearest first."""
        return list(self._ancestors(stage))

    @per_document
    def _ancestors(self, stage: Stage) -> tuple[Stage, ...]:
        found: list[Stage] = []
        current = self.parent(stage)
        while current is not None and current not in found:
            found.append(current)
            current = self.parent(current)
        return tuple(found)

    def stage_env(self, stage: Stage, before_line: int | None = None) -> dict[str, str]:
        """Variables visible in `stage` (global ARG defaults, ENV inherited from the stage it is built FROM, then
        the stage's own ENV/ARG), optionally only those set before raw line `before_line`."""
        return dict(self._stage_env(stage, before_line))

    @per_document
    def _stage_env(self, stage: Stage, before_line: int | None) -> dict[str, str]:
        values = self.global_args()
        for ancestor in reversed(self.ancestors(stage)):
            for instruction in ancestor.instructions:
                if instruction.keyword == "ENV":
                    values.update(_expanded(parse_assignments(instruction.value, "ENV"), values, instruction.value))
        for instruction in stage.instructions:
            if before_line is not None and instruction.start >= before_line:
                break
            if instruction.keyword in ("ENV", "ARG"):
                assignments = parse_assignments(instruction.value, instruction.keyword)
                for name, value in (_expanded(assignments, values, instruction.value) if instruction.keyword == "ENV"
                                    else assignments).items():
                    if instruction.keyword == "ARG" and value == "" and name in values:
                        continue  # `ARG NAME` re-declares a global ARG: keeps its default
                    values[name] = value
        return values

    def raw(self, instruction: Instruction) -> list[str]:
        return self.lines[instruction.start : instruction.end + 1]

    def raw_text(self, instruction: Instruction) -> str:
        return "\n".join(self.raw(instruction))

    def keyword_as_written(self, instruction: Instruction) -> str:
        return self.lines[instruction.start].lstrip().split(None, 1)[0]

    @cached_property
    def lowercase_keywords(self) -> bool:
        """True when most instructions are written in lower case: new ones follow the file's style."""
        written = [self.keyword_as_written(i) for i in self.instructions]
        lower = sum(1 for word in written if word.islower())
        return bool(written) and lower * 2 > len(written)

    def kw(self, keyword: str) -> str:
        return keyword.lower() if self.lowercase_keywords else keyword.upper()

    def comment_block_start(self, instruction: Instruction) -> int:
        """First line of the comments written directly above `instruction` (they belong to it)."""
        line = instruction.start
        while line > 0 and self.lines[line - 1].lstrip().startswith("#") and not _DIRECTIVE.match(
            self.lines[line - 1].strip()
        ):
            line -= 1
        return line
