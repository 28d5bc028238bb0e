"""``--verify``: build the original and the rewritten Dockerfile on the user's Docker engine and compare them.

:func:`verify` copies the build context to a temporary folder, builds both Dockerfiles there with BuildKit
(each first from cold, ``--no-cache``), measures the image sizes, runs both images with ``--network=none``
and compares what they do, then appends a comment to one source file of the copy and rebuilds both, reading
from BuildKit's log whether the dependency install was reused. Everything it makes — images, containers, the
temporary copy — is removed before it returns, also when it fails or is interrupted.

:func:`format_report` turns the resulting :class:`VerifyReport` into the side-by-side table the command line
prints. The comparison itself (:func:`compare_runs`, :func:`normalise_venv_paths`, :func:`assess`) is pure and
needs no Docker.

The Docker work goes through :mod:`poetry_docker_fix.docker_engine`; this module imports no command-line
library: the CLI maps :class:`VerifyError` (and its subclass :class:`DockerUnavailable`) to exit 2 and a report
that is not :attr:`VerifyReport.ok` to exit 1.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from . import docker_engine as engine

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_RUN_TIMEOUT = 10.0
"""Seconds each image may run before it counts as "kept running" (a server) and is stopped."""

LABEL_KEY = "poetry-docker-fix.verify"
"""Label put on every image and container :func:`verify` makes; its value is the run's repository name."""

REPOSITORY_PREFIX = "poetry-docker-fix-verify"
"""Every image :func:`verify` builds is tagged ``<prefix>-<project>-<random>:<what>``."""

TEMP_PREFIX = "poetry-docker-fix-verify-"
"""Prefix of the temporary folder holding the copy of the context and the two Dockerfiles."""

SKIPPED_CONTEXT_ENTRIES = frozenset({".git", ".venv", "node_modules"})
"""Folders left out of the context copy, at any depth (Docker applies ``.dockerignore`` itself)."""

VARIANTS = ("original", "rewritten")

Progress = Callable[[str], None]


class VerifyError(Exception):
    """Verification could not be carried out (not: the rewrite failed it). The CLI exits 2 with the message."""


class DockerUnavailable(VerifyError):
    """No Docker client, no reachable daemon, or a client that cannot build with BuildKit."""


class LayerReuse(str, Enum):
    """What happened to the dependency install step in the rebuild after a code-only change."""

    REUSED = "reused"  # every dependency install step was CACHED
    REBUILT = "rebuilt"  # at least one of them ran again
    NOT_FOUND = "no install step"  # no RUN with `poetry install`/`poetry sync` in the build
    NOT_MEASURED = "-"  # no rebuild (a build failed, no source file to touch)


@dataclass
class VariantResult:
    """Everything measured for one Dockerfile: ``name`` is ``"original"`` or ``"rewritten"``."""

    name: str
    build: engine.BuildResult | None = None
    build_seconds: float | None = None
    size: int | None = None  # bytes
    rebuild: engine.BuildResult | None = None
    rebuild_seconds: float | None = None
    dependency_layer: LayerReuse = LayerReuse.NOT_MEASURED
    rebuild_changed_steps: int | None = None  # steps (FROM aside) not CACHED in the rebuild
    run: engine.RunResult | None = None

    @property
    def built(self) -> bool:
        return self.build is not None and self.build.ok


@dataclass(frozen=True)
class RunComparison:
    """How the rewritten image's run compares with the original's.

    ``summary`` is the short text of the table's ``run`` row (``"same output"``, ``"same output (venv path
    differs only)"``, ``"both kept running, same output"``, ``"output differs"``…); ``detail`` names the first
    difference in one line (empty when ``same``).
    """

    same: bool
    summary: str
    detail: str = ""


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`. ``ok`` is the verdict; ``problems`` says why not, one line each."""

    original: VariantResult
    rewritten: VariantResult
    comparison: RunComparison | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    touched_file: str | None = None  # the source file (relative to the context) the code-only change touched
    command: list[str] | None = None
    timeout: float = DEFAULT_RUN_TIMEOUT

    @property
    def ok(self) -> bool:
        """True when the rewrite builds and its image behaves like the original's."""
        return not self.problems


# --------------------------------------------------------------------------- comparing runs (pure)

_PATH_CHAR = r"[\w.+@~-]"
# Any interpreter's or environment's package folder: /usr/local/lib/python3.11/site-packages,
# /app/.venv/lib/python3.11/site-packages, /usr/lib/python3/dist-packages.
_SITE_PACKAGES = re.compile(
    rf"(?<![\w./+@~-])/?(?:{_PATH_CHAR}+/)*?lib/python\d+(?:\.\d+)?/(?:site|dist)-packages(?!{_PATH_CHAR})"
)
# Poetry's own environments: /root/.cache/pypoetry/virtualenvs/annapurna-il7asoJj-py3.11 (and the folder).
_POETRY_VENV = re.compile(
    rf"(?<![\w./+@~-])/?(?:{_PATH_CHAR}+/)*?pypoetry/virtualenvs(?:/{_PATH_CHAR}+?-py\d+\.\d+)?(?!{_PATH_CHAR})"
)
# A path with a `.venv` / `venv` folder in it: /app/.venv, /opt/venv/bin/python, .venv/bin/python.
_VENV_FOLDER = re.compile(
    rf"(?<![\w./+@~-])(?:/(?:{_PATH_CHAR}+/)*?|(?:{_PATH_CHAR}+/)+?|(?=\.venv/))\.?venv(?!{_PATH_CHAR})"
)

SITE_PACKAGES_PLACEHOLDER = "<site-packages>"
VENV_PLACEHOLDER = "<venv>"

# Lines Poetry itself writes to stderr on `poetry run` (the rewrite usually runs the program directly).
_POETRY_MESSAGES = [
    re.compile(pattern)
    for pattern in (
        r"^Skipping virtualenv creation, as specified in config file\.$",
        r"^Creating virtualenv \S+ in \S+$",
        r"^Using virtualenv: \S+$",
        r"^Warning: '[^']*' is an entry point defined in pyproject\.toml, but it's not installed as a script\.",
        r"^You may get improper `sys\.argv\[0\]`\.$",
        r"^The support to run uninstalled scripts will be removed in a future release\.$",
        r"^Run `poetry install` to resolve and get rid of this message\.$",
        r"^The \"poetry\.dev-dependencies\" section is deprecated",
        r"^The currently activated Python version \S+ is not supported by the project",
        r"^Trying to find and use a compatible version\.$",
        r"^Using python\S* \(\d+\.\d+\.\d+\)$",
    )
]


def normalise_venv_paths(text: str) -> str:
    """Replace every virtualenv or site-packages location in ``text`` by a placeholder.

    ``/root/.cache/pypoetry/virtualenvs/app-xyz-py3.11/bin/python`` and ``/app/.venv/bin/python`` both become
    ``<venv>/bin/python``; ``/usr/local/lib/python3.11/site-packages/x.py`` and
    ``/app/.venv/lib/python3.11/site-packages/x.py`` both become ``<site-packages>/x.py``. Everything else
    is kept as it is.
    """
    text = _SITE_PACKAGES.sub(SITE_PACKAGES_PLACEHOLDER, text)
    text = _POETRY_VENV.sub(VENV_PLACEHOLDER, text)
    return _VENV_FOLDER.sub(VENV_PLACEHOLDER, text)


def drop_poetry_messages(text: str) -> str:
    """Remove the lines Poetry itself prints on ``poetry run`` (and blank lines) from a stderr text."""
    kept = [
        line
        for line in text.splitlines()
        if line.strip() and not any(pattern.match(line.strip()) for pattern in _POETRY_MESSAGES)
    ]
    return "\n".join(kept) + ("\n" if kept else "")


def _streams(run: engine.RunResult, *, venv: bool, poetry: bool) -> tuple[str, str]:
    stdout, stderr = run.stdout, engine.output_before_stop(run)
    if venv:
        stdout, stderr = normalise_venv_paths(stdout), normalise_venv_paths(stderr)
    if poetry:
        stderr = drop_poetry_messages(stderr)
    return stdout, stderr


# The ways outputs may be made comparable, strictest first, and what the table then says.
_LEVELS = (
    (False, False, ""),
    (True, False, " (venv path differs only)"),
    (False, True, " (Poetry's own messages differ only)"),
    (True, True, " (venv path and Poetry's own messages differ only)"),
)


def _agree(first: str, second: str, *, snapshot: bool) -> bool:
    """Equal; or, for output captured from two programs still running, one a prefix of the other."""
    if first == second:
        return True
    return snapshot and (first.startswith(second) or second.startswith(first))


def _clip(text: str, width: int = 80) -> str:
    text = text.rstrip("\r")
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _show(line: str | None) -> str:
    return "<end>" if line is None else _clip(line)


def first_difference(first: str, second: str) -> str:
    """Where two texts first differ: ``"line 3: 'a' vs 'b'"`` (``<end>`` for a text that stopped)."""
    first_lines, second_lines = first.splitlines(), second.splitlines()
    for index in range(max(len(first_lines), len(second_lines))):
        left = first_lines[index] if index < len(first_lines) else None
        right = second_lines[index] if index < len(second_lines) else None
        if left != right:
            return f"line {index + 1}: original {_show(left)}, rewritten {_show(right)}"
    return "only in line endings or the final newline"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return _clip(lines[-1].strip()) if lines else ""


def _describe_end(run: engine.RunResult, timeout: float | None) -> str:
    if run.timed_out:
        return "kept running" + (f" after {timeout:g} s" if timeout else "")
    return f"exited with code {run.returncode}"


def compare_runs(
    original: engine.RunResult, rewritten: engine.RunResult, *, timeout: float | None = None
) -> RunComparison:
    """Compare the run of the rewritten image with the original's: exit status, stdout, then stderr.

    Outputs that differ only in virtualenv locations (see :func:`normalise_venv_paths`) or, on stderr, in
    the lines Poetry itself prints on ``poetry run`` count as the same, and the summary says so. Two
    containers that were both still running at the timeout behave alike ("both kept running"); their output
    so far must agree, one being allowed to have printed more than the other before it was stopped.
    """
    if original.timed_out != rewritten.timed_out:
        return RunComparison(
            False,
            "behaviour differs",
            f"the original {_describe_end(original, timeout)} but the rewritten {_describe_end(rewritten, timeout)}",
        )
    running = original.timed_out
    if not running and original.returncode != rewritten.returncode:
        detail = f"exit code differs: original {original.returncode}, rewritten {rewritten.returncode}"
        tail = _last_line(rewritten.stderr) or _last_line(rewritten.stdout)
        if tail:
            detail += f"; the rewritten image's last line: {tail}"
        return RunComparison(False, "exit code differs", detail)
    prefix = "both kept running, " if running else ""
    for venv, poetry, qualifier in _LEVELS:
        out_a, err_a = _streams(original, venv=venv, poetry=poetry)
        out_b, err_b = _streams(rewritten, venv=venv, poetry=poetry)
        if _agree(out_a, out_b, snapshot=running) and _agree(err_a, err_b, snapshot=running):
            return RunComparison(True, f"{prefix}same output{qualifier}")
    out_a, err_a = _streams(original, venv=True, poetry=True)
    out_b, err_b = _streams(rewritten, venv=True, poetry=True)
    so_far = " so far" if running else ""
    if not _agree(out_a, out_b, snapshot=running):
        return RunComparison(False, f"{prefix}output differs", f"stdout{so_far} differs at {first_difference(out_a, out_b)}")
    return RunComparison(False, f"{prefix}stderr differs", f"stderr{so_far} differs at {first_difference(err_a, err_b)}")


def dependency_layer(build_output: str, *, package_mode: bool = True) -> LayerReuse:
    """Read from a BuildKit plain log whether the dependency install step was reused (CACHED).

    The dependency install is the RUN with ``poetry install``/``poetry sync`` and ``--no-root`` (see
    :func:`docker_engine.dependency_install_steps`); a Dockerfile without such a step (the naive single
    ``poetry install``) has its every Poetry install, ``--only-root`` ones aside, counted instead.
    """
    steps = engine.parse_build_steps(build_output)
    installs = engine.dependency_install_steps(steps, package_mode=package_mode)
    if not installs:
        installs = [
            step for step in engine.dependency_install_steps(steps, package_mode=False)
            if "--only-root" not in step.instruction
        ]
    if not installs:
        return LayerReuse.NOT_FOUND
    return LayerReuse.REUSED if all(step.cached for step in installs) else LayerReuse.REBUILT


def changed_steps(build_output: str) -> int:
    """How many Dockerfile steps (``FROM`` aside) a build ran instead of taking from the cache."""
    return sum(
        1 for step in engine.parse_build_steps(build_output)
        if not step.cached and not step.instruction.upper().startswith("FROM ")
    )


def build_error(result: engine.BuildResult) -> str:
    """One line saying why a build failed: its last ``ERROR`` line, else the last line of its log."""
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^(?:#\d+ )?ERROR\b", line) or line.startswith("error:")]
    chosen = (errors or lines or ["no output"])[-1]
    chosen = re.sub(r"^#\d+ ", "", chosen)
    return chosen if len(chosen) <= 200 else chosen[:199] + "…"


def assess(
    original: VariantResult,
    rewritten: VariantResult,
    comparison: RunComparison | None,
    *,
    touched_file: str | None = None,
) -> tuple[list[str], list[str]]:
    """The verdict's reasons: ``(problems, notes)``. Any problem fails the verification.

    Problems: a Dockerfile that does not build (the original too: then there is nothing to compare the
    rewrite with), a rewrite that does not rebuild after a code-only change, an image that behaves
    differently. Notes (no failure): a rewrite that re-runs its dependency install on a code change or is
    not smaller, a code-only change that touched nothing in the images, an original that did not rebuild.
    """
    problems: list[str] = []
    notes: list[str] = []
    if original.build is not None and not original.build.ok:
        problems.append(
            f"the original Dockerfile does not build (exit {original.build.returncode}: {build_error(original.build)}); "
            "there is nothing to compare the rewrite with"
        )
    if rewritten.build is not None and not rewritten.build.ok:
        problems.append(
            f"the rewritten Dockerfile does not build (exit {rewritten.build.returncode}: {build_error(rewritten.build)})"
        )
    if rewritten.rebuild is not None and not rewritten.rebuild.ok:
        problems.append(
            f"the rewritten Dockerfile does not rebuild after a code-only change "
            f"(exit {rewritten.rebuild.returncode}: {build_error(rewritten.rebuild)})"
        )
    if comparison is not None and not comparison.same:
        problems.append(f"the rewritten image behaves differently: {comparison.detail}")
    elif comparison is None and original.built and rewritten.built:
        problems.append("the images could not be run and compared")

    if original.rebuild is not None and not original.rebuild.ok:
        notes.append(f"the original Dockerfile did not rebuild after the code-only change "
                     f"(exit {original.rebuild.returncode}: {build_error(original.rebuild)})")
    if rewritten.dependency_layer is LayerReuse.REBUILT:
        notes.append("the rewrite still re-runs its dependency install after a code-only change")
    if original.size is not None and rewritten.size is not None and rewritten.size >= original.size:
        notes.append(f"the rewritten image is not smaller ({format_size(rewritten.size)} vs {format_size(original.size)})")
    if touched_file is not None:
        unchanged = [v.name for v in (original, rewritten) if v.rebuild is not None and v.rebuild.ok
                     and v.rebuild_changed_steps == 0]
        if unchanged:
            notes.append(f"appending a comment to {touched_file} changed no build step of the "
                         f"{' and '.join(unchanged)} image: that file is not in it, so its rebuild measures nothing")
    return problems, notes


# --------------------------------------------------------------------------- formatting (pure)


def format_size(size: int | None) -> str:
    """Bytes in decimal units with three significant digits, as ``docker images`` shows them: ``211 MB``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 999.5 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
    return f"{value:.{digits}f} {unit}"


def format_seconds(seconds: float | None) -> str:
    """``41.2 s``; ``-`` when not measured."""
    return "-" if seconds is None else f"{seconds:.1f} s"


def _build_cell(result: engine.BuildResult | None, seconds: float | None) -> str:
    if result is None:
        return "-"
    if not result.ok:
        return f"failed (exit {result.returncode})"
    return format_seconds(seconds)


def _run_cell(variant: VariantResult) -> str:
    if variant.run is None:
        return "-"
    if variant.run.timed_out:
        return "running"
    return f"exit {variant.run.returncode}"


def report_rows(report: VerifyReport) -> list[tuple[str, str, str, str]]:
    """The table as ``(label, original, rewritten, remark)`` rows, the header first."""
    original, rewritten = report.original, report.rewritten
    run_remark = report.comparison.summary if report.comparison is not None else ""
    return [
        ("", "original", "rewritten", ""),
        ("build (cold)", _build_cell(original.build, original.build_seconds),
         _build_cell(rewritten.build, rewritten.build_seconds), ""),
        ("image size", format_size(original.size), format_size(rewritten.size), ""),
        ("rebuild after code", _build_cell(original.rebuild, original.rebuild_seconds),
         _build_cell(rewritten.rebuild, rewritten.rebuild_seconds), ""),
        ("dependency layer", original.dependency_layer.value, rewritten.dependency_layer.value, ""),
        ("run", _run_cell(original), _run_cell(rewritten), run_remark),
    ]


def format_report(report: VerifyReport) -> str:
    """The side-by-side table, the notes and a final verdict line, as plain text ending with a newline."""
    rows = report_rows(report)
    widths = [max(len(row[column]) for row in rows) + 3 for column in range(3)]
    widths[0] = max(widths[0], 23)
    widths[1] = max(widths[1], 13)
    widths[2] = max(widths[2], 13)
    lines = []
    for label, first, second, remark in rows:
        cells = label.ljust(widths[0]) + first.ljust(widths[1])
        cells += (second.ljust(widths[2]) + remark) if remark else second
        lines.append(cells.rstrip())
    details = []
    if report.touched_file is not None:
        details.append(f"code-only change: a comment appended to {report.touched_file}")
    if report.command is not None:
        details.append(f"command: {shlex.join(report.command)}")
    details.extend(f"note: {note}" for note in report.notes)
    if details:
        lines.append("")
        lines.extend(details)
    lines.append("")
    if report.ok:
        lines.append("verify: PASS: the rewritten Dockerfile builds and its image behaves like the original's")
    else:
        count = len(report.problems)
        lines.append(f"verify: FAIL: {count} problem{'s' if count != 1 else ''}")
        lines.extend(f"  - {problem}" for problem in report.problems)
    return "\n".join(lines) + "\n"


def split_command(text: str) -> list[str]:
    """Split a ``--verify-command`` string like a POSIX shell; raises ValueError (unbalanced quotes, empty)."""
    words = shlex.split(text)
    if not words:
        raise ValueError("--verify-command is empty")
    return words


# --------------------------------------------------------------------------- the Docker work


def copy_context(source: Path, destination: Path) -> None:
    """Copy the build context ``source`` to ``destination`` (which must not exist), symlinks as symlinks.

    ``.git``, ``.venv`` and ``node_modules`` folders are left out at any depth. Raises VerifyError.
    """

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if name in SKIPPED_CONTEXT_ENTRIES and (Path(directory) / name).is_dir()}

    try:
        shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    except (OSError, shutil.Error) as error:
        raise VerifyError(f"cannot copy the build context {source} to a temporary folder: {error}") from error


def _read_pyproject(context: Path) -> dict:
    try:
        with (context / "pyproject.toml").open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _write_dockerfile(path: Path, text: str) -> Path:
    text = text.removeprefix("\ufeff")
    path.write_bytes(engine.strip_syntax_directive(text).encode("utf-8"))
    return path


_BUILDX_MISSING = re.compile(
    r"buildx component is missing|requires the buildx component|buildx.*not installed", re.IGNORECASE
)


class _Session:
    """The images, containers and temporary folder of one verification, and their removal."""

    def __init__(self, docker: str, repository: str) -> None:
        self.docker = docker
        self.repository = repository
        self.label = f"{LABEL_KEY}={repository}"
        self.tags: list[str] = []
        self.containers: list[str] = []
        self.workdir: Path | None = None

    def make_workdir(self) -> Path:
        self.workdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        return self.workdir

    def build(self, context: Path, dockerfile: Path, what: str, build_args: Mapping[str, str],
              *, cold: bool) -> tuple[engine.BuildResult, float]:
        tag = f"{self.repository}:{what}"
        self.tags.append(tag)
        extra = ["--label", self.label] + (["--no-cache"] if cold else [])
        started = time.monotonic()
        result = engine.build_image(context, dockerfile, tag, docker=self.docker, build_args=build_args,
                                    extra_args=extra)
        elapsed = time.monotonic() - started
        if not result.ok:
            if _BUILDX_MISSING.search(result.output):
                raise DockerUnavailable(
                    f"the Docker client {self.docker!r} cannot build with BuildKit: {build_error(result)} "
                    "(install the buildx plugin, or pick another client with --docker)"
                )
            self.check_engine()
        return result, elapsed

    def check_engine(self) -> None:
        """After a failure: raise DockerUnavailable when the daemon no longer answers (not the rewrite's fault)."""
        available, reason = engine.docker_available(self.docker, timeout=15)
        if not available:
            raise DockerUnavailable(f"the Docker daemon stopped answering during verification: {reason}")

    def run(self, tag: str, command: Sequence[str] | None, timeout: float) -> engine.RunResult:
        name = f"{self.repository}-run-{secrets.token_hex(3)}"
        self.containers.append(name)
        result = engine.run_image(tag, docker=self.docker, command=command, timeout=timeout, name=name,
                                  extra_args=["--label", self.label])
        if result.returncode == 125 and not result.timed_out:  # `docker run` itself failed
            self.check_engine()
        return result

    def cleanup(self) -> None:
        """Remove everything this verification made; never raises."""
        try:
            engine.remove_containers(self.containers, docker=self.docker)
            leftover = engine.containers_with_label(self.label, docker=self.docker)
            engine.remove_containers(leftover, docker=self.docker)
            engine.remove_images(self.tags, docker=self.docker)
            engine.remove_images(engine.images_with_label(self.label, docker=self.docker), docker=self.docker)
        finally:
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)


def verify(
    original_text: str,
    rewritten_text: str,
    context_dir: Path,
    *,
    docker: str | None = None,
    build_args: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    timeout: float = DEFAULT_RUN_TIMEOUT,
    progress: Progress | None = None,
) -> VerifyReport:
    """Build, run and compare ``original_text`` and ``rewritten_text`` as Dockerfiles of ``context_dir``.

    In a temporary copy of the context (the user's folder is never written), with the Dockerfiles written
    outside the copy (so ``COPY . .`` sees the context as it is) and without a ``# syntax=`` line:

    1. build each Dockerfile from cold (``--no-cache``; the base images must be local), then its image size;
    2. run each image once with ``--network=none`` and ``command`` (default: the image's own
       ENTRYPOINT/CMD), for at most ``timeout`` seconds, and compare them (:func:`compare_runs`);
    3. append a random comment to one source file of the copy and rebuild, once for each Dockerfile (a new
       comment each time), reading from BuildKit's log whether the dependency install was reused.

    ``docker`` is the client binary (default :func:`docker_engine.docker_binary`); ``build_args`` go to
    every build as ``--build-arg KEY=VALUE``; ``progress`` receives one line per step (for stderr).

    Returns a :class:`VerifyReport`, ``ok`` or not. Raises :class:`DockerUnavailable` when no engine
    answers (before, or after a failed build or ``docker run``: a daemon that went away is not the rewrite's
    fault) or the client cannot build with BuildKit; :class:`VerifyError` when the context is not a folder
    or cannot be copied. Every image, container and temporary file made is removed before returning or raising,
    KeyboardInterrupt included.
    """
    say = progress or (lambda message: None)
    docker = docker or engine.docker_binary()
    context_dir = Path(context_dir)
    if not context_dir.is_dir():
        raise VerifyError(f"build context {context_dir}: not a folder")
    available, reason = engine.docker_available(docker)
    if not available:
        raise DockerUnavailable(f"cannot verify: no Docker daemon reachable: {reason}")
    arguments = dict(build_args or {})
    run_command = list(command) if command is not None else None

    project_name = _project_name(_read_pyproject(context_dir)) or context_dir.resolve().name
    session = _Session(docker, engine.unique_repository(project_name, prefix=REPOSITORY_PREFIX))
    try:
        return _verify(session, original_text, rewritten_text, context_dir, arguments, run_command, timeout, say)
    finally:
        say("verify: removing the images, containers and temporary files it made")
        session.cleanup()


def _project_name(pyproject: Mapping) -> str | None:
    name = pyproject.get("project", {}).get("name") or pyproject.get("tool", {}).get("poetry", {}).get("name")
    return name if isinstance(name, str) and name.strip() else None


def _verify(session: _Session, original_text: str, rewritten_text: str, context_dir: Path,
            build_args: dict[str, str], command: list[str] | None, timeout: float, say: Progress) -> VerifyReport:
    workdir = session.make_workdir()
    context = workdir / "context"
    say(f"verify: copying the build context {context_dir} to {workdir}")
    copy_context(context_dir, context)
    dockerfiles = {
        "original": _write_dockerfile(workdir / "original.Dockerfile", original_text),
        "rewritten": _write_dockerfile(workdir / "rewritten.Dockerfile", rewritten_text),
    }
    variants = {name: VariantResult(name) for name in VARIANTS}
    report = VerifyReport(variants["original"], variants["rewritten"], command=command, timeout=timeout)

    for name, variant in variants.items():
        say(f"verify: building the {name} Dockerfile from cold (--no-cache)")
        variant.build, variant.build_seconds = session.build(context, dockerfiles[name], name, build_args, cold=True)
        if variant.built:
            try:
                variant.size = engine.image_size(variant.build.tag, docker=session.docker)
            except (RuntimeError, ValueError, OSError):
                variant.size = None
        else:
            say(f"verify: the {name} Dockerfile failed to build: {build_error(variant.build)}")

    for name, variant in variants.items():
        if variant.built:
            what = f"`{shlex.join(command)}`" if command is not None else "its own entrypoint"
            say(f"verify: running the {name} image with {what} (--network=none, up to {timeout:g} s)")
            variant.run = session.run(variant.build.tag, command, timeout)
    if report.original.run is not None and report.rewritten.run is not None:
        report.comparison = compare_runs(report.original.run, report.rewritten.run, timeout=timeout)

    if all(variant.built for variant in variants.values()):
        pyproject = _read_pyproject(context)
        source = engine.pick_source_file(context, pyproject)
        if source is None:
            report.notes.append("no Python source file to change: the rebuild after a code change was not measured")
        else:
            report.touched_file = source.relative_to(context).as_posix()
            package_mode = engine.project_package_mode(pyproject)
            for name, variant in variants.items():
                # A new random comment before each rebuild: the rewritten's rebuild must not find in the build
                # cache a step the original's rebuild just made from the same bytes (a shared prefix of
                # instructions would then look "reused"), nor one from an earlier run.
                engine.touch_source_file(source, f"# poetry-docker-fix --verify {secrets.token_hex(8)}")
                say(f"verify: appended a comment to {report.touched_file}; rebuilding the {name} Dockerfile")
                variant.rebuild, variant.rebuild_seconds = session.build(
                    context, dockerfiles[name], f"{name}-rebuild", build_args, cold=False)
                if variant.rebuild.ok:
                    variant.dependency_layer = dependency_layer(variant.rebuild.output, package_mode=package_mode)
                    variant.rebuild_changed_steps = changed_steps(variant.rebuild.output)

    problems, notes = assess(report.original, report.rewritten, report.comparison, touched_file=report.touched_file)
    report.problems.extend(problems)
    report.notes.extend(notes)
    return report
