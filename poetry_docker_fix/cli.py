"""Command line: wires options to the engine, prints diffs and reports, owns the exit codes."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

EXIT_OK = 0
EXIT_CHANGES = 1  # --check: something would change
EXIT_INPUT = 2  # usage or input error (missing file, unreadable, bad pyproject.toml)
EXIT_INTERNAL = 3  # a bug in the tool: the file was left untouched

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


class WriteBack(str, Enum):
    DIFF = "diff"
    APPLY = "apply"
    CHECK = "check"
    OUTPUT = "output"


def _split(values: Optional[List[str]]) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _list_passes() -> None:
    from .transforms import PASSES

    for index, pass_class in enumerate(PASSES, 1):
        marker = "" if pass_class.safe else "  [needs care: " + (
            "requires BuildKit" if pass_class.name == "cache-mount" else "can change behaviour") + "]"
        typer.echo(f"{index}. {pass_class.name:<14} {pass_class.description}{marker}")


def _explain(name: str, refactoring) -> None:
    for outcome in refactoring.outcomes:
        for change in outcome.changes:
            _echo_err(f"{name}: {outcome.name}: {change.summary} — {change.reason}")
        for note in outcome.notes:
            _echo_err(f"{name}: {outcome.name}: {note}")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"poetry-docker-fix {__version__}")
        raise typer.Exit()


def _list_callback(value: bool) -> None:
    if value:
        _list_passes()
        raise typer.Exit()


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def run(
    paths: List[str] = typer.Argument(
        None, metavar="PATH", show_default=False,
        help="Dockerfiles, or folders searched for Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile. "
             "`-` reads a Dockerfile from stdin and writes the result to stdout.",
    ),
    apply: bool = typer.Option(False, "--apply", help="Rewrite the files in place (atomically, mode kept)."),
    check: bool = typer.Option(False, "--check", help="Change nothing; exit 1 when a file would change (for CI)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE", help="Write the result to this file instead "
                                          "(one input only)."),
    explain: bool = typer.Option(False, "--explain", help="Say, for every change, which pass made it and why; "
                                 "also why passes did nothing (on stderr)."),
    context: Optional[Path] = typer.Option(None, "--context", metavar="DIR", help="Build context to read pyproject.toml, "
                                           "poetry.lock and the code from (default: the Dockerfile's folder)."),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="PASS,...", help="Run only these passes (comma-separated "
                                               "or repeated); see --list-passes."),
    skip: Optional[List[str]] = typer.Option(None, "--skip", metavar="PASS,...", help="Do not run these passes."),
    poetry_version: Optional[str] = typer.Option(None, "--poetry-version", metavar="X.Y.Z",
                                                 help="Pin this Poetry instead of the version that wrote poetry.lock."),
    syntax_directive: bool = typer.Option(False, "--syntax-directive", help="Add `# syntax=docker/dockerfile:1` "
                                          "with the cache mount (makes every build fetch a frontend image)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print no summary and no per-file reasons."),
    list_passes: bool = typer.Option(False, "--list-passes", callback=_list_callback, is_eager=True,
                                     help="List the passes in the order they run, and exit."),
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Rewrite the Dockerfile of a Poetry project into a cached, multi-stage build.

    By default prints the unified diff it would apply and changes nothing. Exit codes: 0 done (or nothing to
    do), 1 --check found files that would change, 2 usage or input error, 3 internal error (file untouched).
    """
    from .refactor.facts import Options
    from .refactor.pipeline import select_passes
    from .refactor.versions import Version

    if not paths:
        _echo_err("error: no PATH given (try --help)")
        raise typer.Exit(EXIT_INPUT)
    modes = [flag for flag, on in (("--apply", apply), ("--check", check), ("--output", output is not None)) if on]
    if len(modes) > 1:
        _echo_err(f"error: {' and '.join(modes)} cannot be combined")
        raise typer.Exit(EXIT_INPUT)
    try:
        passes = select_passes(_split(select), _split(skip))
    except ValueError as error:
        _echo_err(f"error: {error}")
        raise typer.Exit(EXIT_INPUT)
    pinned = None
    if poetry_version is not None:
        pinned = Version.parse(poetry_version)
        if pinned is None or poetry_version.count(".") != 2:
            _echo_err(f"error: --poetry-version wants X.Y.Z, got {poetry_version!r}")
            raise typer.Exit(EXIT_INPUT)
    if context is not None and not context.is_dir():
        _echo_err(f"error: --context {context}: not a folder")
        raise typer.Exit(EXIT_INPUT)
    options = Options(poetry_version=pinned, syntax_directive=syntax_directive)
    mode = WriteBack.APPLY if apply else WriteBack.CHECK if check else WriteBack.OUTPUT if output else WriteBack.DIFF

    if paths == ["-"]:
        raise typer.Exit(_run_stdin(context, options, passes, mode, explain, quiet))
    if "-" in paths:
        _echo_err("error: `-` (stdin) cannot be mixed with other paths")
        raise typer.Exit(EXIT_INPUT)
    raise typer.Exit(_run_paths(paths, context, options, passes, mode, output, explain, quiet))


def _run_stdin(context, options, passes, mode, explain, quiet) -> int:
    from .refactor.pipeline import Status
    from .refactor.project import ProjectError
    from .refactor.runner import process_text
    from .refactor.writer import InputError, decode

    try:
        text = decode(sys.stdin.buffer.read(), "<stdin>")
        refactoring = process_text(text, context or Path.cwd(), options, passes)
    except (InputError, ProjectError) as error:
        _echo_err(f"error: {error}")
        return EXIT_INPUT
    if explain:
        _explain("<stdin>", refactoring)
    if refactoring.reason and not quiet:
        _echo_err(f"<stdin>: {refactoring.status.value}: {refactoring.reason}")
    sys.stdout.write(refactoring.output)
    if refactoring.status is Status.FAILED:
        return EXIT_INTERNAL
    return EXIT_CHANGES if mode is WriteBack.CHECK and refactoring.changed else EXIT_OK


def _run_paths(paths, context, options, passes, mode, output, explain, quiet) -> int:
    from .refactor.pipeline import Status
    from .refactor.runner import FileReport, find_dockerfiles, process_file
    from .refactor.writer import unified_diff, write_atomically

    files: list[Path] = []
    reports: list[FileReport] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = find_dockerfiles(path)
            if not found and not quiet:
                _echo_err(f"{path}: no Dockerfile found in this folder")
            files.extend(found)
        else:
            files.append(path)
    if output is not None and len(files) != 1:
        _echo_err(f"error: --output takes exactly one input file, got {len(files)}")
        return EXIT_INPUT

    counts = {status: 0 for status in Status}
    for path in files:
        report = process_file(path, context, options, passes)
        reports.append(report)
        name = str(path)
        if report.error is not None:
            _echo_err(f"error: {report.error}")
            counts[Status.FAILED] += 1
            continue
        refactoring = report.refactoring
        counts[refactoring.status] += 1
        if explain:
            _explain(name, refactoring)
        if refactoring.status in (Status.SKIPPED, Status.FAILED) or (refactoring.reason and explain):
            if not quiet or refactoring.status is Status.FAILED:
                _echo_err(f"{name}: {refactoring.status.value}: {refactoring.reason}")
        if mode is WriteBack.OUTPUT:
            try:
                write_atomically(output, refactoring.output)
            except OSError as error:
                _echo_err(f"error: {output}: cannot write ({error.strerror or error})")
                return EXIT_INPUT
            continue
        if not refactoring.changed:
            continue
        if mode is WriteBack.APPLY:
            if path.is_symlink():
                _echo_err(f"{name}: skipped: is a symlink; not written through (give the target's path)")
                counts[Status.CHANGED] -= 1
                counts[Status.SKIPPED] += 1
                continue
            try:
                write_atomically(path, refactoring.output)
            except OSError as error:
                _echo_err(f"error: {name}: cannot write ({error.strerror or error})")
                counts[Status.CHANGED] -= 1
                counts[Status.FAILED] += 1
                reports[-1].error = "cannot write"
        else:
            sys.stdout.write(unified_diff(refactoring.original, refactoring.output, _diff_name(path)))

    if not quiet and (len(files) > 1 or mode is not WriteBack.DIFF):
        verb = {WriteBack.APPLY: "rewritten", WriteBack.CHECK: "would be rewritten",
                WriteBack.OUTPUT: f"changed (written to {output})"}.get(mode, "would change")
        parts = [f"{counts[Status.CHANGED]} {verb}", f"{counts[Status.UNCHANGED]} unchanged"]
        if counts[Status.SKIPPED]:
            parts.append(f"{counts[Status.SKIPPED]} skipped")
        if counts[Status.FAILED]:
            parts.append(f"{counts[Status.FAILED]} failed")
        _echo_err(", ".join(parts) + ".")

    if any(r.refactoring is not None and r.refactoring.status is Status.FAILED for r in reports):
        return EXIT_INTERNAL
    if any(r.error is not None for r in reports):
        return EXIT_INPUT
    if mode is WriteBack.CHECK and counts[Status.CHANGED]:
        return EXIT_CHANGES
    return EXIT_OK


def _diff_name(path: Path) -> str:
    """The path shown after a/ and b/: relative to the current folder when inside it, never with a leading /."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        return str(path).lstrip("/")


def main() -> None:
    app()
