"""Run the passes in order over one Dockerfile, then prove the result is stable.

Every file ends as one of four outcomes (LibCST's runner habit): changed, unchanged, skipped (with the reason)
or failed (with the error). A failure inside the pipeline never produces output: the file is left untouched.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .document import Document, DocumentError, Instruction
from .edits import Edit, EditConflict, apply_edits
from .facts import Context, copy_sources, install_stage
from .shell import is_poetry_setup, poetry_installs, poetry_subcommand, run_commands, uses_poetry


class Status(str, Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


class InternalError(Exception):
    """A bug in the tool: a pass contradicted itself or did not converge. The file is left untouched."""


@dataclass
class PassOutcome:
    name: str
    safe: bool
    changes: list = field(default_factory=list)  # list[Change]
    notes: list[str] = field(default_factory=list)


@dataclass
class Refactoring:
    status: Status
    original: str
    output: str
    outcomes: list[PassOutcome] = field(default_factory=list)
    reason: str | None = None  # why skipped / failed / unchanged, or what bounded a change (an export-only file)

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED


_HAS_FROM = re.compile(r"^\s*from\s", re.IGNORECASE | re.MULTILINE)


def select_passes(select: list[str] | None = None, skip: list[str] | None = None) -> list[type]:
    """The passes to run, in pipeline order. Unknown names, or a selection that leaves no pass, raise ValueError
    saying so."""
    from ..transforms import PASS_NAMES, PASSES

    unknown = [name for name in (select or []) + (skip or []) if name not in PASS_NAMES]
    if unknown:
        raise ValueError(f"unknown pass {', '.join(unknown)} (passes: {', '.join(PASS_NAMES)})")
    chosen = [p for p in PASSES if not select or p.name in select]
    chosen = [p for p in chosen if p.name not in (skip or [])]
    if not chosen:
        # A selection that leaves nothing would make every --check pass: say so rather than a false green.
        raise ValueError(f"no pass left to run: select {', '.join(select or []) or '(all)'}, then skip "
                         f"{', '.join(skip or [])}")
    return chosen


PRAGMA = re.compile(r"^\s*#\s*poetry-docker-fix:\s*ignore(?:\s*=\s*(?P<passes>[\w,\s-]+))?\s*$", re.IGNORECASE)


def file_ignored(document: Document) -> bool:
    """`# poetry-docker-fix: ignore` (without `=`) on a comment line anywhere outside an instruction."""
    if not any("poetry-docker-fix" in line.lower() for line in document.lines):
        return False
    inside = {line for i in document.instructions for line in range(i.start, i.end + 1)}
    return any(
        (match := PRAGMA.match(line)) and not match.group("passes")
        for index, line in enumerate(document.lines) if index not in inside
    )


def protected_ranges(document: Document, pass_name: str) -> list[tuple[int, int, int]]:
    """(first, last, pragma) line indexes of instructions preceded by `# poetry-docker-fix: ignore=<pass>[,<pass>]`
    naming `pass_name` (or `all`); the comment (line `pragma`) may sit anywhere in the comment block directly above
    the instruction."""
    ranges = []
    for instruction in document.instructions:
        for line in range(document.comment_block_start(instruction), instruction.start):
            match = PRAGMA.match(document.lines[line])
            if match and match.group("passes"):
                names = {name.strip().lower() for name in match.group("passes").split(",")}
                if pass_name in names or "all" in names:
                    ranges.append((instruction.start, instruction.end, line))
                    break
    return ranges


def unknown_pragma_passes(document: Document) -> str | None:
    """Why the file cannot be trusted to the passes: a pragma naming a pass that does not exist, or one that is not
    directly above an instruction (either would leave the instruction it means to protect open to the pass).
    None when every pragma is sound."""
    from ..transforms import PASS_NAMES

    attached: set[int] | None = None
    for index, line in enumerate(document.lines):
        if "poetry-docker-fix" not in line.lower():
            continue
        match = PRAGMA.match(line)
        if match is None and line.lstrip().startswith("#") and "ignore" in line.lower():
            return (f"line {index + 1}: `{line.strip()}` is not a pragma the tool can read (write "
                    "`# poetry-docker-fix: ignore` or `# poetry-docker-fix: ignore=<pass>[,<pass>]` alone on the line)")
        if match and match.group("passes"):
            unknown = [name.strip() for name in match.group("passes").split(",")
                       if name.strip() and name.strip().lower() not in (*PASS_NAMES, "all")]
            if unknown:
                return (f"line {index + 1}: `{line.strip()}` names no pass called {', '.join(unknown)} "
                        f"(passes: {', '.join(PASS_NAMES)}, or all)")
            if attached is None:
                attached = {line for i in document.instructions
                            for line in range(document.comment_block_start(i), i.start)}
            if index not in attached:
                inside = next((i for i in document.instructions if i.start < index <= i.end), None)
                if inside is not None:
                    return (f"line {index + 1}: `{line.strip()}` is inside the instruction that starts at line "
                            f"{inside.line_number}, so it would protect nothing (put it on its own line above "
                            "the instruction)")
                return (f"line {index + 1}: `{line.strip()}` is not directly above an instruction (a blank line "
                        "comes between), so it would protect nothing")
    return None


# Settings the passes reason about (where the virtualenv and the cache live) only from ENV and `poetry config`.
INLINE_SETTINGS = ("POETRY_VIRTUALENVS_CREATE", "POETRY_VIRTUALENVS_IN_PROJECT", "POETRY_VIRTUALENVS_PATH",
                   "POETRY_CACHE_DIR")


def inline_poetry_settings(document: Document) -> str | None:
    """Why the file is left alone: a RUN sets where the virtualenv or the cache lives for its own commands
    (`RUN POETRY_VIRTUALENVS_CREATE=false poetry install`, `export …`, `env …`), which the passes would not see.
    None when no RUN does."""
    for instruction in document.instructions:
        if instruction.keyword != "RUN" or "POETRY_" not in instruction.value:
            continue
        for command in run_commands(instruction):
            words = list(command.assignments)
            if command.tokens[:1] in (("export",), ("env",)):
                words += [token for token in command.tokens[1:] if "=" in token]
            for word in words:
                if word.split("=", 1)[0] in INLINE_SETTINGS:
                    return (f"line {instruction.line_number}: `{word}` is set inside a RUN, where the passes do not "
                            "look for it: not handled (set it with ENV)")
    return None


_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")


def _as_original_lines(note: str, origin: list) -> str:
    """A pass's note speaks of the document it was given; say `line N` of the file as it was read instead
    (a line an earlier pass added is counted at the original line where it was added)."""
    if "line " not in note:
        return note

    def original(match: re.Match) -> str:
        index = int(match.group(1)) - 1
        if 0 <= index < len(origin) and origin[index] is not None:
            return f"line {origin[index] + 1}"
        return match.group(0)

    return _LINE_REFERENCE.sub(original, note)


def _touches(edit: Edit, first: int, last: int) -> bool:
    if edit.start == edit.end:  # an insertion: inside the instruction, or between it and its pragma
        return first <= edit.start <= last
    return edit.start <= last and edit.end > first


# narrow-copy's reason when `COPY . .` stays and only the manifests go first: worth a layer only when split-install
# then moves the install above that COPY.
MANIFESTS_FIRST = "the manifests go first so the dependency install can be cached"


def _run_all(document: Document, context: Context, passes: list[type]) -> tuple[Document, list[PassOutcome]]:
    """The passes in order; without narrow-copy when all it did was copy the manifests ahead of a `COPY . .`
    that stays, and split-install then left the install after that COPY anyway: the extra COPY would only add a
    layer, and its reason would promise a cached install that never comes."""
    result, outcomes = _run_passes(document, context, passes)
    by_name = {outcome.name: outcome for outcome in outcomes}
    narrowed, split = by_name.get("narrow-copy"), by_name.get("split-install")
    if narrowed is None or split is None or split.changes or len(narrowed.changes) != 1 or \
            not narrowed.changes[0].reason.startswith(MANIFESTS_FIRST):
        return result, outcomes
    line = narrowed.changes[0].original_line or narrowed.changes[0].line
    result, outcomes = _run_passes(document, context, [p for p in passes if p.name != "narrow-copy"])
    why = split.notes[0] if split.notes else "split-install did not move the install"
    note = (f"line {line}: not applied: `COPY . .` stays, and the install stays after it ({why.rstrip('.')}), so "
            "copying the manifests first would only add a layer")
    index = next(i for i, p in enumerate(passes) if p.name == "narrow-copy")
    outcomes.insert(index, PassOutcome("narrow-copy", narrowed.safe, [], [note]))
    for outcome in outcomes:
        if outcome.name == "split-install" and not outcome.changes:
            outcome.notes = split.notes  # why it left the install where it was, not "no separate manifests COPY"
    return result, outcomes


def _run_passes(document: Document, context: Context, passes: list[type]) -> tuple[Document, list[PassOutcome]]:
    outcomes: list[PassOutcome] = []
    origin = list(range(len(document.lines)))  # for each current line, the original line it stands for
    has_pragmas = any("poetry-docker-fix" in line.lower() for line in document.lines)
    for pass_class in passes:
        result = pass_class().run(document, context)
        outcome = PassOutcome(pass_class.name, pass_class.safe, result.changes, result.notes)
        outcomes.append(outcome)
        # Blocked: a pass that would change a marked instruction, or whose change is reported on it (an ENV
        # inserted after the Poetry install is reported on that install: the reviewer who marks the line the
        # annotation names must see the change go).
        blocked = [
            (first, last, pragma) for first, last, pragma in protected_ranges(document, pass_class.name)
            if any(_touches(edit, first, last) for edit in result.edits)
            or any(first <= change.line - 1 <= last for change in result.changes)
        ] if has_pragmas and result.edits else []
        if blocked:
            # Never half-apply a pass: one protected instruction drops all of this pass's edits.
            outcome.changes = []
            outcome.notes = result.notes + [
                f"not applied: line {first + 1} is marked `{document.lines[pragma].strip()}`"
                for first, _last, pragma in blocked
            ]
        outcome.notes = list(dict.fromkeys(_as_original_lines(note, origin) for note in outcome.notes))
        for change in outcome.changes:
            change.summary = _as_original_lines(change.summary, origin)
            change.reason = _as_original_lines(change.reason, origin)
        if blocked:
            continue
        for change in result.changes:
            index = min(max(change.line - 1, 0), len(origin) - 1) if origin else 0
            change.original_line = (origin[index] + 1) if origin and origin[index] is not None else None
        # The same change twice on one original line (cache-mount on split-install's two installs, both standing
        # for the install the file had): one explanation, one annotation.
        seen: set = set()
        outcome.changes = [change for change in outcome.changes
                           if (key := (change.original_line, change.summary, change.reason)) not in seen
                           and not seen.add(key)]
        if result.edits:
            try:
                lines = apply_edits(document.lines, result.edits)
                origin = apply_edits(origin, [_origin_edit(edit, origin) for edit in result.edits])
            except EditConflict as error:
                raise InternalError(f"pass {pass_class.name}: {error}") from error
            document = document.with_lines(lines)
            try:
                _ = document.instructions
            except DocumentError as error:
                raise InternalError(f"pass {pass_class.name} produced a file that does not parse: {error}") from error
    return document, outcomes


def _origin_edit(edit: Edit, origin: list) -> Edit:
    """The same edit on the origin map. A moved line keeps the original line it came from; a new line stands
    for the original line it replaces, or, when inserted, for the line it follows (an ENV block inserted after
    the Poetry install is about that install, not about the blank line below it)."""
    if edit.start == edit.end and edit.start > 0:
        anchor = origin[min(edit.start, len(origin)) - 1]
    else:
        anchor = origin[edit.start] if edit.start < len(origin) else (origin[-1] if origin else None)
    sources = edit.sources or (None,) * len(edit.lines)
    return Edit(edit.start, edit.end, tuple(
        origin[source] if source is not None and 0 <= source < len(origin) else anchor for source in sources))


def exports_only(document: Document) -> int | None:
    """The line of the first `poetry export` when every Poetry command of the file is an export or Poetry's own
    set-up (`poetry config`, `poetry self add` …): the FastAPI documentation's layout, a stage that exports
    requirements.txt for pip. None otherwise."""
    first = None
    for instruction in document.instructions:
        if instruction.keyword != "RUN":
            continue
        for command in run_commands(instruction):
            parsed = poetry_subcommand(command)
            if parsed is None:
                continue
            if parsed[0] == "export":
                first = first or instruction.line_number
            elif not is_poetry_setup(command) or parsed[0] == "lock":
                return None
    return first


def check_parse(document: Document) -> None:
    """Raise InternalError unless the pipeline's own instruction splitter reads `document` exactly as
    dockerfile-parse does. Run on every input, the one part of the file the tool does not write: the passes
    decide on the fast reading. (Outputs are the input's lines plus lines the passes write, and
    tests/test_parser_agreement.py checks the two readings agree on every golden output and on generated files.)"""
    reference = Document._parse_uncached("".join(line + "\n" for line in document.lines))
    if document.instructions != reference:
        line = next((ours.line_number for ours, theirs in zip(document.instructions, reference) if ours != theirs),
                    min(len(document.instructions), len(reference)) + 1)
        raise InternalError(f"the instruction near line {line} is read differently by dockerfile-parse")


def _project_folder_copy(document: Document, root: Path | None) -> tuple[Instruction, str] | None:
    """(the COPY, the folder) when the copy nearest before the install brings a folder of the context that holds
    its own pyproject.toml (`COPY services/api/ .` in a monorepo built from its root): the project the install
    installs is there."""
    if root is None:
        return None
    copies = [i for i in document.instructions if i.keyword in ("COPY", "ADD")]
    # The copy nearest before the install names the project it installs (a shared library may come first).
    install = next((i for i in document.instructions if i.keyword == "RUN" and poetry_installs(i)), None)
    if install is not None:
        copies = [i for i in copies if i.start < install.start]
    for instruction in reversed(copies):
        for source in copy_sources(instruction) or ():
            folder = posixpath.normpath(source.lstrip("/")).rstrip("/")
            if posixpath.basename(folder) == "pyproject.toml":
                folder = posixpath.dirname(folder)
            if folder in ("", ".") or folder.startswith("..") or any(c in folder for c in "*?[$"):
                continue
            try:
                found = (root / folder / "pyproject.toml").is_file()
            except OSError:
                found = False
            if found:
                return instruction, folder
    return None


def _brings_root_pyproject(document: Document) -> bool:
    """Whether a COPY before the first install brings the pyproject.toml at the top of the context."""
    install = next((i for i in document.instructions if i.keyword == "RUN" and poetry_installs(i)), None)
    for instruction in document.instructions:
        if install is not None and instruction.start >= install.start:
            break
        if instruction.keyword in ("COPY", "ADD") and "--from" not in " ".join(instruction.flags_and_args()[0]):
            for source in copy_sources(instruction) or ():
                name = posixpath.normpath(source.lstrip("/"))
                if name == "." or "$" in name or fnmatch.fnmatchcase("pyproject.toml", name):
                    return True
    return False


def _no_project_reason(document: Document, root: Path | None) -> str:
    """Why a Poetry build whose context has no pyproject.toml is skipped. A COPY from a folder of the context
    that holds the project (`COPY services/api/ .` in a monorepo built from its root) says where it is: the
    passes read the project at the top of the context only, so giving that folder as the context would not do."""
    found = _project_folder_copy(document, root)
    if found is not None:
        instruction, folder = found
        return (f"no pyproject.toml at the top of the build context; line {instruction.line_number} "
                f"copies the project from its folder `{folder}/`, a layout the passes do not handle "
                "(they read the project at the top of the context)")
    return ("no pyproject.toml in the build context: cannot tell what the build needs (give the project folder "
            "with --context)")


def _subproject_reason(document: Document, root: Path | None) -> str | None:
    """Why a build that installs the project of a context folder, not the one at the context's top, is skipped:
    the passes would pin, narrow and split by the wrong project's pyproject.toml and poetry.lock (a real build
    of such a rewrite failed)."""
    if _brings_root_pyproject(document):
        return None
    found = _project_folder_copy(document, root)
    if found is None:
        return None
    instruction, folder = found
    return (f"line {instruction.line_number} copies the project from its folder `{folder}/`, which has its own "
            "pyproject.toml, and not the one at the top of the build context: a layout the passes do not handle "
            "(they read the project at the top of the context)")


def describe_bug(error: BaseException) -> str:
    """One line for an exception the tool did not expect: what, where in the tool, and that it is a bug."""
    import traceback

    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if "poetry_docker_fix" in frame.filename]
    where = ""
    if frames:
        filename = frames[-1].filename.replace("\\", "/")
        where = f" at {filename[filename.rindex('poetry_docker_fix'):]}:{frames[-1].lineno}"
    return f"{type(error).__name__}: {error}{where} (a bug in poetry-docker-fix; please report it)"


def refactor(text: str, context: Context, passes: list[type] | None = None) -> Refactoring:
    """Apply `passes` (default: all) to the Dockerfile `text` read with the facts in `context`.

    Never raises: an exception the tool did not expect (a bug) makes this one file `failed`, untouched, with
    the exception named, so a run over many files goes on and ends with the internal-error exit code."""
    try:
        return _refactor(text, context, passes)
    except Exception as error:  # noqa: BLE001 - one file's bug must not stop the run
        return Refactoring(Status.FAILED, text, text, reason=f"internal error: {describe_bug(error)}")


def _refactor(text: str, context: Context, passes: list[type] | None) -> Refactoring:
    if passes is None:
        passes = select_passes()
    if not text.strip("\ufeff \t\r\n"):
        return Refactoring(Status.SKIPPED, text, text, reason="empty file: not a Dockerfile")
    if "poetry" not in text.lower() and _HAS_FROM.search(text):
        return Refactoring(Status.UNCHANGED, text, text, reason="not a Poetry build (no `poetry install`)")
    try:
        document = Document.from_text(text)
        check_parse(document)
        reason = document.unsupported_reason
    except DocumentError as error:
        return Refactoring(Status.SKIPPED, text, text, reason=str(error))
    except InternalError as error:
        return Refactoring(Status.FAILED, text, text, reason=f"internal error: {error}")
    if reason:
        return Refactoring(Status.SKIPPED, text, text, reason=reason)
    if file_ignored(document):
        return Refactoring(Status.SKIPPED, text, text, reason="marked `# poetry-docker-fix: ignore`")
    typo = unknown_pragma_passes(document)
    if typo:
        return Refactoring(Status.SKIPPED, text, text, reason=typo)
    if not document.stages:
        return Refactoring(Status.SKIPPED, text, text, reason="no FROM instruction: not a Dockerfile")
    inline = inline_poetry_settings(document)
    if inline:
        return Refactoring(Status.SKIPPED, text, text, reason=inline)
    exporting = None
    if install_stage(document) is None:
        exec_form = next((i for i in document.instructions if i.keyword == "RUN" and i.exec_form()
                          and "poetry" in " ".join(i.exec_form() or []).lower()), None)
        if exec_form is not None:
            return Refactoring(Status.SKIPPED, text, text, reason=f"line {exec_form.line_number}: an exec-form RUN "
                               "(`RUN [\"poetry\", …]`) involves Poetry: not handled")
        exporting = exports_only(document)
        if exporting is None and any(uses_poetry(i) for i in document.instructions if i.keyword == "RUN"):
            return Refactoring(Status.SKIPPED, text, text, reason="uses Poetry but never runs `poetry install` "
                               "(nor only `poetry export`): not handled")
        if exporting is None:
            return Refactoring(Status.UNCHANGED, text, text, reason="not a Poetry build (no `poetry install`)")
    if context.development:
        return Refactoring(Status.SKIPPED, text, text, reason="the file is named for development: a "
                           "production rewrite would drop its dev dependencies, tests and Poetry (name the passes "
                           "with --select to rewrite it anyway)")
    if context.project is None:
        return Refactoring(Status.SKIPPED, text, text, reason=_no_project_reason(document, context.root))
    subproject = _subproject_reason(document, context.root)
    if subproject:
        return Refactoring(Status.SKIPPED, text, text, reason=subproject)
    if exporting is not None:
        # Requirements exported with `poetry export` and installed with pip: there is no Poetry install to
        # split, cache or slim down, and only the Poetry that runs the export is left to pin.
        passes = [p for p in passes if p.name == "pin-poetry"]
        if not passes:
            return Refactoring(Status.UNCHANGED, text, text, reason=f"line {exporting}: the file runs `poetry export`"
                               " and installs the requirements with pip; only pin-poetry applies to it, and it is not "
                               "selected")
    try:
        result, outcomes = _run_all(document, context, passes)
        output = result.to_text()
        if output != text:
            final = Document.from_text(output)
            if (final.lines, final.newline, final.bom, final.final_newline) == \
                    (result.lines, result.newline, result.bom, result.final_newline):
                # The output reads back as the document the passes ended with: check that one, so what they
                # learnt about it (its instructions, stages and facts) is not worked out again.
                final = result
            again, second = _run_all(final, context, passes)
            if again.to_text() != output:
                culprits = [o.name for o in second if o.changes]
                raise InternalError(f"not idempotent: a second run changes the output again ({', '.join(culprits)})")
    except InternalError as error:
        return Refactoring(Status.FAILED, text, text, reason=f"internal error: {error}")
    status = Status.CHANGED if output != text else Status.UNCHANGED
    reason = None if exporting is None else (f"line {exporting} runs `poetry export`, not `poetry install`: only "
                                             "pin-poetry applies")
    return Refactoring(status, text, output, outcomes, reason)
