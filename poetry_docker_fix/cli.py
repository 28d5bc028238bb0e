"""Command line: wires options to the engine, prints diffs and reports, owns the exit codes."""

from __future__ import annotations

import errno
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from . import __version__

EXIT_OK = 0
EXIT_CHANGES = 1  # --check found a file that would change; --verify found a rewrite that fails
EXIT_INPUT = 2  # usage or input error (missing file, unreadable, bad pyproject.toml), or no Docker for --verify
EXIT_INTERNAL = 3  # a bug in the tool: the file was left untouched

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


class WriteBack(str, Enum):
    DIFF = "diff"
    APPLY = "apply"
    CHECK = "check"
    OUTPUT = "output"


class Format(str, Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"


def _split(values: Optional[List[str]]) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _echo_err(message: str) -> None:
    try:
        typer.echo(message, err=True)
    except OSError:  # stderr full or gone: the message is lost, the exit code still tells
        pass


def _out(text: str) -> None:
    """Write to standard output; a device that fails (full, gone) ends the run with exit code 2 and one line
    that says so, rather than a traceback and a code that `--check` would read as "changes found". A reader
    that went away (`| head`) is click's to handle: it exits quietly with code 1, as it always did."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as error:
        _output_lost(error)
        raise typer.Exit(EXIT_INPUT) from None


# A standard stream that fails: full, out of quota, an I/O error, closed underneath.
_WRITE_ERRORS = {getattr(errno, name) for name in ("ENOSPC", "EIO", "EDQUOT", "EFBIG", "EBADF") if hasattr(errno, name)}


def _raised_by_a_write(error: OSError) -> bool:
    """Whether the innermost frame was writing or flushing a stream (not reading one: stdin can fail too)."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    line = frames[-1].line or ""  # empty when only the bytecode is installed: then the function's name tells
    return ".write(" in line or ".flush(" in line or frames[-1].name in ("echo", "_out", "write", "flush")


def _output_lost(error: OSError) -> None:
    # What is still buffered is lost too: a later flush (at exit) must not fail again.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    _echo_err(f"error: cannot write to standard output ({error.strerror or error})")


def _flushed_exit_code(code: object) -> object:
    """The exit code once standard output is flushed: EXIT_INPUT when what was buffered cannot be written
    (said in one line); at least 1 when the reader went away before it was (as click exits when that happens
    during a write: the output did not arrive, so the run did not succeed); else `code` unchanged."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing to tell anyone: the reader is gone
        return code if code not in (None, 0) else 1
    except OSError as error:
        _output_lost(error)
        return EXIT_INPUT
    return code


def _list_passes() -> None:
    from .transforms import PASSES

    for index, pass_class in enumerate(PASSES, 1):
        marker = "" if pass_class.safe else "  [needs BuildKit]"
        _out(f"{index}. {pass_class.name:<14} {pass_class.description}{marker}\n")


def _explain(name: str, refactoring) -> None:
    for outcome in refactoring.outcomes:
        for change in outcome.changes:
            where = f" (line {change.original_line})" if change.original_line else ""
            _echo_err(f"{name}: {outcome.name}{where}: {change.summary} — {change.reason}")
        for note in outcome.notes:
            _echo_err(f"{name}: {outcome.name}: {note}")


def _warnings(name: str, refactoring) -> None:
    """Notes that say the tool could not do what was asked (a pin it refused, an extra-copy path that is not
    there): shown without --explain, since the run still ends with exit 0."""
    for outcome in refactoring.outcomes:
        for note in outcome.notes:
            if note.startswith("warning:"):
                _echo_err(f"{name}: {outcome.name}: {note}")


def _version_callback(value: bool) -> None:
    if value:
        _out(f"poetry-docker-fix {__version__}\n")
        raise typer.Exit()


def _list_callback(value: bool) -> None:
    if value:
        _list_passes()
        raise typer.Exit()


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def run(
    paths: List[str] = typer.Argument(
        None, metavar="PATH...", show_default=False,
        help="Dockerfiles, or folders searched for Dockerfile, Dockerfile.*, *.Dockerfile, *.dockerfile, "
             "Containerfile, dockerfile. `-` reads a Dockerfile from stdin and writes the result to stdout.",
    ),
    apply: bool = typer.Option(False, "--apply", help="Rewrite the files in place (atomically; mode, and owner "
                               "when root, kept)."),
    check: bool = typer.Option(False, "--check", help="Change nothing; print the diffs and exit 1 when a file would "
                               "change (for CI)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE",
                                          help="Write the result to this file instead (one input only)."),
    explain: bool = typer.Option(False, "--explain", help="Say, for every change, which pass made it and why; "
                                 "also why passes did nothing (on stderr)."),
    output_format: Format = typer.Option(Format.TEXT, "--format", case_sensitive=False,
                                         help="text: diffs and a summary; json: one report for scripts; github: "
                                         "workflow annotations on the lines a pass would change; sarif: for "
                                         "code-scanning dashboards."),
    context: Optional[Path] = typer.Option(None, "--context", metavar="DIR", help="Build context to read "
                                           "pyproject.toml, poetry.lock and the code from (default: the "
                                           "Dockerfile's folder, or the nearest folder above it with a "
                                           "pyproject.toml)."),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="PASS,...", help="Run only these "
                                               "passes (comma-separated or repeated); see --list-passes."),
    skip: Optional[List[str]] = typer.Option(None, "--skip", metavar="PASS,...", help="Do not run these passes "
                                             "(comma-separated or repeated)."),
    poetry_version: Optional[str] = typer.Option(None, "--poetry-version", metavar="X.Y.Z",
                                                 help="Pin this Poetry instead of the version that wrote poetry.lock."),
    runtime_image: Optional[str] = typer.Option(None, "--runtime-image", metavar="IMAGE",
                                                help="Base image of the runtime stage (default: the builder's "
                                                "slim twin, e.g. python:3.11-slim for python:3.11)."),
    extra_copy: Optional[List[str]] = typer.Option(None, "--extra-copy", metavar="PATH,...",
                                                   help="Context paths the app needs at run time that the tool "
                                                   "cannot see (files it opens, plugins); copied with the code."),
    syntax_directive: Optional[bool] = typer.Option(None, "--syntax-directive/--no-syntax-directive",
                                                    show_default=False,
                                                    help="Add `# syntax=docker/dockerfile:1` with the cache mount "
                                                    "(makes every build fetch a frontend image); --no-… overrides "
                                                    "the configuration's `syntax-directive = true`."),
    exclude: Optional[List[str]] = typer.Option(None, "--exclude", metavar="GLOB",
                                                help="Skip files and folders matching this glob in folder "
                                                "searches (repeatable)."),
    jobs: int = typer.Option(0, "-j", "--jobs", metavar="N", show_default=False, help="Files processed in parallel (default: all "
                             "cores). Output order is always sorted by path."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="A progress bar on stderr "
                                            "(default: on a terminal, for more than 50 files)."),
    verify: bool = typer.Option(False, "--verify", help="Build the original and the rewrite with Docker, run "
                                "both, and compare size, rebuild time and behaviour; exit 1 when the rewrite "
                                "fails or behaves differently (with --apply: then it is not written)."),
    verify_command: Optional[str] = typer.Option(None, "--verify-command", metavar="CMD",
                                                 help="With --verify: the command to run in both images "
                                                 "instead of their own CMD."),
    verify_timeout: Optional[float] = typer.Option(None, "--verify-timeout", metavar="SECONDS", show_default=False,
                                                   help="With --verify: how long the app may run (default: 10); "
                                                   "both still running at the end counts as the same behaviour "
                                                   "(servers)."),
    docker: Optional[str] = typer.Option(None, "--docker", metavar="PATH", help="With --verify: the Docker "
                                         "client binary (default: POETRY_DOCKER_FIX_DOCKER, /usr/bin/docker or "
                                         "docker on PATH)."),
    build_arg: Optional[List[str]] = typer.Option(None, "--build-arg", metavar="KEY=VALUE",
                                                  help="With --verify: passed to both builds (repeatable)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print no summary and no per-file reasons."),
    list_passes: bool = typer.Option(False, "--list-passes", callback=_list_callback, is_eager=True,
                                     help="List the passes in the order they run, and exit."),
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Rewrite the Dockerfile of a Poetry project into a pinned, cached, multi-stage build.

    By default prints the unified diff it would apply and changes nothing. A project's pyproject.toml may set
    defaults in [tool.poetry-docker-fix] (select, skip, poetry-version, runtime-image, extra-copy,
    syntax-directive); flags win. Exit codes: 0 done (or nothing to do), 1 --check found files that would
    change (or --verify found a failing rewrite), 2 usage or input error, 3 internal error (file untouched).
    """
    from .refactor.facts import Options
    from .refactor.pipeline import select_passes
    from .refactor.runner import Request
    from .refactor.versions import Version

    if not paths:
        _echo_err("error: no PATH given (try --help)")
        raise typer.Exit(EXIT_INPUT)
    modes = [flag for flag, on in (("--apply", apply), ("--check", check), ("--output", output is not None)) if on]
    if len(modes) > 1:
        _echo_err(f"error: {' and '.join(modes)} cannot be combined")
        raise typer.Exit(EXIT_INPUT)
    selected, skipped = _split(select), _split(skip)
    try:
        select_passes(selected, skipped)
    except ValueError as error:
        _echo_err(f"error: {error}")
        raise typer.Exit(EXIT_INPUT)
    pinned = None
    if poetry_version is not None:
        pinned = Version.parse(poetry_version)
        if pinned is None or poetry_version.count(".") != 2:
            _echo_err(f"error: --poetry-version wants X.Y.Z, got {poetry_version!r}")
            raise typer.Exit(EXIT_INPUT)
    if runtime_image is not None:
        from .refactor.config import image_problem

        problem = image_problem(runtime_image)
        if problem:
            _echo_err(f"error: --runtime-image {problem}")
            raise typer.Exit(EXIT_INPUT)
    if context is not None and not context.is_dir():
        _echo_err(f"error: --context {context}: not a folder")
        raise typer.Exit(EXIT_INPUT)
    build_args: dict[str, str] = {}
    for item in build_arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _echo_err(f"error: --build-arg wants KEY=VALUE, got {item!r}")
            raise typer.Exit(EXIT_INPUT)
        build_args[key] = value
    if (verify_command or docker or build_args or verify_timeout is not None) and not verify:
        _echo_err("error: --verify-command, --verify-timeout, --docker and --build-arg go with --verify")
        raise typer.Exit(EXIT_INPUT)
    if verify_timeout is not None and not verify_timeout > 0:
        _echo_err(f"error: --verify-timeout wants a number of seconds above 0, got {verify_timeout:g}")
        raise typer.Exit(EXIT_INPUT)
    if jobs < 0:
        _echo_err(f"error: --jobs wants a number of processes (0: one per core), got {jobs}")
        raise typer.Exit(EXIT_INPUT)
    explicit = {name for name, given in (("poetry_version", pinned is not None),
                                         ("runtime_image", runtime_image is not None),
                                         ("syntax_directive", syntax_directive is not None)) if given}
    request = Request(
        options=Options(poetry_version=pinned, syntax_directive=bool(syntax_directive), runtime_image=runtime_image,
                        extra_copy=tuple(_split(extra_copy))),
        select=tuple(selected), skip=tuple(skipped), context=context, explicit=frozenset(explicit),
    )
    mode = WriteBack.APPLY if apply else WriteBack.CHECK if check else WriteBack.OUTPUT if output else WriteBack.DIFF

    if paths == ["-"]:
        if verify:
            _echo_err("error: --verify needs a Dockerfile on disk (its folder is the build context)")
            raise typer.Exit(EXIT_INPUT)
        raise typer.Exit(_run_stdin(request, mode, explain, quiet, output, output_format))
    if "-" in paths:
        _echo_err("error: `-` (stdin) cannot be mixed with other paths")
        raise typer.Exit(EXIT_INPUT)
    verification = None
    if verify:
        verification = {"docker": docker, "build_args": build_args,
                        "timeout": 10.0 if verify_timeout is None else verify_timeout,
                        "command": _split_command(verify_command)}
    raise typer.Exit(_run_paths(paths, request, mode, output, explain, quiet, output_format, exclude or [],
                                jobs or os.cpu_count() or 1, progress, verification))


def _split_command(command: Optional[str]) -> list[str] | None:
    if command is None:
        return None
    from .verify import split_command

    try:
        return split_command(command)
    except ValueError as error:
        _echo_err(f"error: --verify-command: {error}")
        raise typer.Exit(EXIT_INPUT)


def _run_stdin(request, mode, explain, quiet, output, output_format) -> int:
    """`-`: the Dockerfile comes from stdin, the build context is --context or the current folder. By default the
    result goes to stdout; --output writes it to a file, --check prints the diff, --format a report."""
    from .refactor.facts import Context
    from .refactor.pipeline import Status, refactor
    from .refactor.project import ProjectError, load_project
    from .refactor.report import to_github, to_json, to_sarif
    from .refactor.runner import FileReport, settings_for
    from .refactor.writer import InputError, decode

    if mode is WriteBack.APPLY:
        _echo_err("error: --apply cannot write back to stdin; without it the result goes to stdout "
                  "(or to a file with -o FILE)")
        return EXIT_INPUT
    context = request.context or Path.cwd()
    try:
        try:
            data = sys.stdin.buffer.read()
        except OSError as error:
            raise InputError(f"cannot read standard input ({error.strerror or error})") from None
        text = decode(data, "<stdin>")
        project = load_project(context)
        options, passes = settings_for(project, request)
        refactoring = refactor(text, Context(project, options, context), passes)
    except (InputError, ProjectError) as error:
        _echo_err(f"error: {error}")
        return EXIT_INPUT
    if explain:
        _explain("<stdin>", refactoring)
    elif not quiet:
        _warnings("<stdin>", refactoring)
    if refactoring.reason and not quiet:
        _echo_err(f"<stdin>: {refactoring.status.value}: {refactoring.reason}")
    report = FileReport(Path("-"), refactoring, context=context)
    if mode is WriteBack.OUTPUT and not _write_output(output, refactoring.output):
        return EXIT_INPUT
    if output_format is Format.JSON:
        _out(to_json([report]))
    elif output_format is Format.GITHUB:
        _out(to_github([report]))
    elif output_format is Format.SARIF:
        _out(to_sarif([report], __version__))
    elif mode is WriteBack.CHECK:
        _out(report.unified_diff())
    elif mode is WriteBack.DIFF:
        _out(refactoring.output)
    if refactoring.status is Status.FAILED:
        return EXIT_INTERNAL
    return EXIT_CHANGES if mode is WriteBack.CHECK and refactoring.changed else EXIT_OK


def _write_output(output: Path, text: str) -> bool:
    """-o FILE; False (after saying why) when it cannot be written."""
    from .refactor.writer import write_output

    try:
        write_output(output, text)
    except OSError as error:
        _echo_err(f"error: {output}: cannot write ({error.strerror or error})")
        return False
    return True


def _collect(paths: list[str], exclude: list[str], quiet: bool) -> Iterator[Path]:
    """The files named and the Dockerfiles found in the folders named, as found (Workers.map sorts them)."""
    from .refactor.runner import iter_dockerfiles

    for raw in paths:
        path = Path(raw)
        if path.is_dir():  # a folder named on the command line is searched, through a symlink too
            found = False
            for dockerfile in iter_dockerfiles(path, exclude):
                found = True
                yield dockerfile
            if not found and not quiet:
                _echo_err(f"{path}: no Dockerfile found in this folder")
        else:
            yield path


PROGRESS_WIDTH = 30


def _progress_printer(enabled: Optional[bool]):
    """Progress on stderr: with --progress, or by default on a terminal once there are more than 50 files."""
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None

    def report(done: int, total: int) -> None:
        if enabled is None and total <= 50:
            return
        filled = PROGRESS_WIDTH * done // total if total else PROGRESS_WIDTH
        bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{total} files" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return report


def _run_paths(paths, request, mode, output, explain, quiet, output_format, exclude, jobs, progress,
               verification) -> int:
    from .refactor.pipeline import Status
    from .refactor.report import shown_path, summary, to_github, to_json, to_sarif
    from .refactor import import_reader
    from .refactor.runner import Workers
    from .refactor.writer import write_atomically

    # A folder usually means many files: start the workers now, so their start-up overlaps the walk.
    with Workers(jobs, start_now=any(Path(raw).is_dir() for raw in paths)) as workers:
        files = _collect(paths, exclude, quiet)
        if output is not None:
            files = sorted(dict.fromkeys(files))
            if len(files) != 1:
                _echo_err(f"error: --output takes exactly one input file, got {len(files)}")
                return EXIT_INPUT
        reports = workers.map(files, request, _progress_printer(progress), through_links=len(paths) > 1)
    import_reader.stop()  # the rewrites are done: nothing more to parse (and --verify may need the process slot)
    text_format = output_format is Format.TEXT
    verify_failed = False
    written_to_output = False

    for report in reports:
        name = shown_path(report.path)
        if report.error is not None:
            _echo_err(f"error: {report.error}")
            continue
        refactoring = report.refactoring
        if explain:
            _explain(name, refactoring)
        elif not quiet:
            _warnings(name, refactoring)
        if refactoring.status in (Status.SKIPPED, Status.FAILED) or (refactoring.reason and explain):
            if not quiet or refactoring.status is Status.FAILED:
                _echo_err(f"{name}: {refactoring.status.value}: {refactoring.reason}")
        if verification is not None and refactoring.changed:
            outcome = _verify(report, verification, quiet, to_stdout=text_format)
            if outcome == EXIT_INPUT:
                return EXIT_INPUT
            if outcome != EXIT_OK:
                verify_failed = True
                if mode is WriteBack.APPLY:
                    _echo_err(f"{name}: not written: the rewrite did not pass --verify")
                    continue
        if mode is WriteBack.OUTPUT:
            if not _write_output(output, refactoring.output):
                return EXIT_INPUT
            written_to_output = True
            continue
        if not refactoring.changed:
            continue
        if mode is WriteBack.APPLY:
            if report.path.is_symlink():
                _echo_err(f"{name}: not written: is a symlink (give the path of the file it points to)")
                report.error = "is a symlink; not written"
                continue
            try:
                write_atomically(report.path, refactoring.output)
            except OSError as error:
                report.error = f"{name}: cannot write ({error.strerror or error})"
                _echo_err(f"error: {report.error}")
        elif text_format:
            _out(report.unified_diff())

    if output_format is Format.JSON:
        _out(to_json(reports))
    elif output_format is Format.GITHUB:
        _out(to_github(reports))
    elif output_format is Format.SARIF:
        _out(to_sarif(reports, __version__))

    if not quiet and (len(reports) > 1 or mode is not WriteBack.DIFF):
        written = f"changed (written to {output})" if written_to_output else "changed (nothing written)"
        verb = {WriteBack.APPLY: "rewritten", WriteBack.CHECK: "would be rewritten",
                WriteBack.OUTPUT: written}.get(mode, "would change")
        _echo_err(summary(reports, verb))

    if any(r.refactoring is not None and r.refactoring.status is Status.FAILED for r in reports):
        return EXIT_INTERNAL
    if any(r.error is not None for r in reports):
        return EXIT_INPUT
    if verify_failed:
        return EXIT_CHANGES
    if mode is WriteBack.CHECK and any(r.status is Status.CHANGED for r in reports):
        return EXIT_CHANGES
    return EXIT_OK


def _verify(report, verification, quiet, to_stdout: bool) -> int:
    """Build and run the original and the rewrite; EXIT_OK when the rewrite passes."""
    from .verify import VerifyError, format_report, verify

    name = str(report.path)
    try:
        result = verify(report.refactoring.original, report.refactoring.output, report.context,
                        docker=verification["docker"], build_args=verification["build_args"],
                        command=verification["command"], timeout=verification["timeout"],
                        progress=None if quiet else (lambda message: _echo_err(f"{name}: {message}")))
    except VerifyError as error:  # DockerUnavailable included
        _echo_err(f"error: --verify: {error}")
        return EXIT_INPUT
    text = f"{name}:\n{format_report(result)}"
    if to_stdout:
        _out(text)
    else:
        sys.stderr.write(text)
    return EXIT_OK if result.ok else EXIT_CHANGES


def main() -> None:
    # A closed standard stream (`>&-`) leaves Python with None for it: what would be written there is dropped,
    # and the exit code still tells.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115 - `-` then reads an empty file
    try:
        app()
    except BrokenPipeError:
        raise
    except OSError as error:
        # Click's own writes (`--help`, usage errors) to a device that fails: as _out says it, not a traceback.
        if error.filename is not None or error.errno not in _WRITE_ERRORS or not _raised_by_a_write(error):
            raise
        _output_lost(error)
        raise SystemExit(EXIT_INPUT) from None
    except SystemExit as done:
        code = _flushed_exit_code(done.code)
        if code is done.code:
            raise
        raise SystemExit(code) from None
