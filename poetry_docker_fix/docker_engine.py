"""Build, run and inspect Docker images to check rewritten Dockerfiles end to end.

This module drives the ``docker`` command-line client with :mod:`subprocess`; it needs no Docker SDK and
imports nothing from the test suite or from pytest, so the package (a future ``--verify`` option) and the
benchmark can reuse it as it is.

Every build goes through BuildKit (``DOCKER_BUILDKIT=1``, needed on Engine 20.10) with ``--network=host``
and ``--progress=plain``, so that the build log can be read back by :func:`parse_build_steps`. Nothing here
ever pulls an image: the base images must already be in the engine's image store.

Environment variables:

``POETRY_DOCKER_FIX_DOCKER``
    The client binary to run (default: ``/usr/bin/docker`` when it exists, else ``docker`` on ``PATH``).
``POETRY_DOCKER_FIX_REQUIRE_DOCKER``
    ``1`` makes a missing or unreachable Docker engine an error for callers that honour
    :func:`docker_required` (the end-to-end tests fail instead of being skipped). CI sets it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

DOCKER_BINARY_ENV = "POETRY_DOCKER_FIX_DOCKER"
REQUIRE_DOCKER_ENV = "POETRY_DOCKER_FIX_REQUIRE_DOCKER"
DEFAULT_DOCKER_BINARY = "/usr/bin/docker"

BUILD_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 300
INFO_TIMEOUT_SECONDS = 30
COMMAND_TIMEOUT_SECONDS = 120

TOUCH_COMMENT = "# touched"


# --------------------------------------------------------------------------- finding the engine


def docker_binary() -> str:
    """Return the Docker client to run: ``$POETRY_DOCKER_FIX_DOCKER``, ``/usr/bin/docker`` or ``docker``."""
    configured = os.environ.get(DOCKER_BINARY_ENV, "").strip()
    if configured:
        return configured
    if os.path.isfile(DEFAULT_DOCKER_BINARY) and os.access(DEFAULT_DOCKER_BINARY, os.X_OK):
        return DEFAULT_DOCKER_BINARY
    return "docker"


def docker_required() -> bool:
    """True when ``POETRY_DOCKER_FIX_REQUIRE_DOCKER`` asks for an unreachable engine to be an error."""
    return os.environ.get(REQUIRE_DOCKER_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def docker_command(arguments: list[str], *, timeout: float = COMMAND_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
    """Run a Docker client command (``arguments[0]`` is the client) with no stdin, its output captured as text
    (undecodable bytes replaced). Raises ``subprocess.TimeoutExpired`` and ``OSError`` as subprocess does."""
    return subprocess.run(
        arguments,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )


def docker_available(docker: str | None = None, *, timeout: float = INFO_TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Tell whether the client exists and ``docker info`` reaches an engine within ``timeout`` seconds.

    Returns ``(True, "<client>: Docker Engine <version>")`` or ``(False, <why not>)``.
    """
    docker = docker or docker_binary()
    resolved = shutil.which(docker)
    if resolved is None:
        return False, f"Docker client {docker!r} not found (set {DOCKER_BINARY_ENV} to name another)"
    try:
        completed = docker_command([resolved, "info"], timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"`{docker} info` did not answer within {timeout:g} s"
    except OSError as error:
        return False, f"cannot run {docker!r}: {error}"
    version = ""
    for line in completed.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Server Version":
            version = value.strip()
    if completed.returncode == 0 and not version:
        return False, (f"`{docker} info` exited 0 but named no Docker server version: {resolved} does not look "
                       "like a Docker client")
    if completed.returncode != 0 or not version:
        lines = [line.strip() for line in (completed.stdout + "\n" + completed.stderr).splitlines()]
        errors = [line for line in lines if line.startswith("ERROR") or "Cannot connect" in line]
        detail = (errors or [line for line in lines if line] or ["no output"])[-1]
        return False, f"`{docker} info` failed (exit {completed.returncode}): {detail}"
    return True, f"{resolved}: Docker Engine {version}"


def unavailable_message(reason: str) -> str:
    """The message a test shows when it cannot reach Docker."""
    return f"no Docker daemon reachable: {reason}; set {REQUIRE_DOCKER_ENV}=1 to make this a failure"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BuildResult:
    """The outcome of one ``docker build``: exit status, the whole plain-progress log, and the tag asked for."""

    returncode: int
    output: str
    tag: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the build log, for error messages."""
        return "\n".join(self.output.rstrip("\n").splitlines()[-lines:])


@dataclass(frozen=True)
class RunResult:
    """The outcome of one ``docker run``.

    ``timed_out`` is True when the container was still running after the timeout and was removed; then
    ``returncode`` is 124, ``stdout``/``stderr`` hold what it printed until then, and ``stderr`` ends with
    :func:`stop_notice` (see :func:`output_before_stop`).
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass(frozen=True)
class BuildStep:
    """One Dockerfile instruction as BuildKit reported it in plain progress output.

    ``#12 [builder 5/5] RUN poetry install --no-root`` gives ``number=12``, ``stage="builder"``,
    ``position=5``, ``total=5`` and ``instruction="RUN poetry install --no-root"``. ``status`` is the last
    status line seen for the vertex: ``"CACHED"``, ``"DONE"``, ``"ERROR"``, ``"CANCELED"``, or ``"STARTED"``
    when none was printed (the build stopped first).
    """

    number: int
    name: str
    stage: str | None
    position: int
    total: int
    instruction: str
    status: str

    @property
    def cached(self) -> bool:
        return self.status == "CACHED"


# --------------------------------------------------------------------------- Dockerfile text

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)


def strip_syntax_directive(text: str) -> str:
    """Drop a ``# syntax=`` parser directive, which would make BuildKit fetch a frontend image.

    Only the leading directive block is looked at, as BuildKit does: the first line that is not a
    directive ends it. Other directives (``# escape=``, ``# check=``) and the line endings are kept.
    """
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    in_directives = True
    for line in lines:
        match = _DIRECTIVE.match(line.rstrip("\r\n")) if in_directives else None
        if match is None:
            in_directives = False
            kept.append(line)
        elif match.group(1).lower() != "syntax":
            kept.append(line)
    return "".join(kept)


def copy_dockerfile_for_build(source: Path, destination: Path) -> Path:
    """Write ``source`` to ``destination`` without its ``# syntax=`` directive; return ``destination``."""
    data = source.read_bytes()
    text = data.decode("utf-8-sig")
    destination.write_bytes(strip_syntax_directive(text).encode("utf-8"))
    return destination


def _from_lines(text: str) -> list[str]:
    """The lines that start a ``FROM`` instruction (not comments, not continuation lines of another one)."""
    found = []
    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not continued:
            continue
        if not continued and _FROM.match(line):
            found.append(line)
        continued = stripped.endswith("\\")
    return found


def count_from_instructions(text: str) -> int:
    """Count the ``FROM`` instructions (stages) of a Dockerfile; good enough for well-formed files."""
    return len(_from_lines(text))


def from_images(text: str) -> list[str]:
    """The image named by each ``FROM`` instruction, in order (``--platform`` and ``AS name`` left out)."""
    images = []
    for line in _from_lines(text):
        words = [word for word in line.split()[1:] if not word.startswith("--")]
        if words:
            images.append(words[0])
    return images


# --------------------------------------------------------------------------- tags and images

_TAG_UNSAFE = re.compile(r"[^a-z0-9]+")


def unique_repository(name: str, prefix: str = "pdf-e2e") -> str:
    """A fresh image repository name ``<prefix>-<name>-<random>``, lowercased and made tag-safe."""
    safe = _TAG_UNSAFE.sub("-", name.lower()).strip("-")[:80] or "image"
    return f"{prefix}-{safe}-{secrets.token_hex(4)}"


def build_image(
    context: Path,
    dockerfile: Path,
    tag: str,
    *,
    docker: str | None = None,
    build_args: Mapping[str, str] | None = None,
    timeout: float = BUILD_TIMEOUT_SECONDS,
    extra_args: Sequence[str] = (),
) -> BuildResult:
    """Build ``dockerfile`` in ``context`` with BuildKit and tag the image ``tag``.

    Uses ``--network=host`` (so pip and Poetry reach the package index as this machine does) and
    ``--progress=plain``; stdout and stderr are merged into :attr:`BuildResult.output`. A build that
    outlives ``timeout`` is stopped and reported with return code 124. Never raises for a failed build.
    """
    docker = docker or docker_binary()
    command = [
        docker,
        "build",
        "--network=host",
        "--progress=plain",
        "-f",
        str(dockerfile),
        "-t",
        tag,
    ]
    for key, value in (build_args or {}).items():
        command += ["--build-arg", f"{key}={value}"]
    command += [*extra_args, str(context)]
    environment = {**os.environ, "DOCKER_BUILDKIT": "1"}
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        partial = _decode(expired.output)
        return BuildResult(124, partial + f"\n[docker build stopped after {timeout:g} s]\n", tag)
    except OSError as error:
        return BuildResult(127, f"cannot run {docker!r}: {error}\n", tag)
    return BuildResult(completed.returncode, _decode(completed.stdout), tag)


def stop_notice(timeout: float) -> str:
    """The line :func:`run_image` appends to the stderr of a container it stopped after ``timeout`` s."""
    return f"[container stopped after {timeout:g} s]"


def output_before_stop(run: RunResult) -> str:
    """``run.stderr`` without the stop notice :func:`run_image` appends when it stopped the container."""
    if not run.timed_out:
        return run.stderr
    return re.sub(r"\n?\[container stopped after [0-9.e+-]+ s\]\n\Z", "", run.stderr)


def run_image(
    tag: str,
    *,
    docker: str | None = None,
    command: Sequence[str] | None = None,
    timeout: float = RUN_TIMEOUT_SECONDS,
    network: str = "none",
    name: str | None = None,
    extra_args: Sequence[str] = (),
) -> RunResult:
    """Run ``tag`` once with ``docker run --rm --network=none`` and capture its output.

    ``command`` replaces the image's CMD. A container still running after ``timeout`` seconds is
    removed and reported with return code 124 and ``timed_out=True``. ``name`` names the container
    (default: ``pdf-run-<random>``), so that a caller interrupted meanwhile can remove it with
    :func:`remove_containers`; ``extra_args`` go before the image (``--label k=v``, ``--env …``).
    """
    docker = docker or docker_binary()
    name = name or f"pdf-run-{secrets.token_hex(6)}"
    arguments = [docker, "run", "--rm", f"--network={network}", "--name", name, *extra_args, tag, *(command or [])]
    try:
        completed = subprocess.run(
            arguments,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        _quiet([docker, "rm", "-f", name])
        stderr = _decode(expired.stderr) + f"\n{stop_notice(timeout)}\n"
        return RunResult(124, _decode(expired.stdout), stderr, timed_out=True)
    return RunResult(completed.returncode, _decode(completed.stdout), _decode(completed.stderr))


def image_size(tag: str, *, docker: str | None = None) -> int:
    """The image's size in bytes, as ``docker image inspect -f '{{.Size}}'`` reports it."""
    docker = docker or docker_binary()
    completed = subprocess.run(
        [docker, "image", "inspect", "-f", "{{.Size}}", tag],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"docker image inspect {tag} failed: {completed.stderr.strip()}")
    return int(completed.stdout.strip())


def remove_images(tags: Iterable[str], *, docker: str | None = None) -> None:
    """Remove the images tagged ``tags``; ignore tags that do not exist. Never raises."""
    tags = [tag for tag in tags if tag]
    if not tags:
        return
    _quiet([docker or docker_binary(), "image", "rm", "--force", *tags])


def image_exists(tag: str, *, docker: str | None = None) -> bool:
    """True when the engine has an image called ``tag``."""
    return _quiet([docker or docker_binary(), "image", "inspect", tag]) == 0


def remove_containers(names: Iterable[str], *, docker: str | None = None) -> None:
    """Kill and remove the containers called ``names``; ignore names that do not exist. Never raises."""
    names = [name for name in names if name]
    if not names:
        return
    _quiet([docker or docker_binary(), "container", "rm", "--force", "--volumes", *names])


def images_with_label(label: str, *, docker: str | None = None) -> list[str]:
    """The IDs of the images carrying ``label`` (``key`` or ``key=value``); empty when the engine fails."""
    return _list_ids([docker or docker_binary(), "image", "ls", "--quiet", "--no-trunc", "--filter", f"label={label}"])


def containers_with_label(label: str, *, docker: str | None = None) -> list[str]:
    """The IDs of the containers, running or not, carrying ``label``; empty when the engine fails."""
    return _list_ids([docker or docker_binary(), "container", "ls", "--all", "--quiet", "--no-trunc",
                      "--filter", f"label={label}"])


def _list_ids(command: list[str]) -> list[str]:
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if completed.returncode != 0:
        return []
    return sorted(set(completed.stdout.split()))


def _quiet(command: list[str]) -> int:
    try:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- BuildKit plain progress

# "#12 [builder 5/5] RUN ..." – the vertex number, then a line of text.
_PROGRESS_LINE = re.compile(r"^#(\d+) (.*)$")
# "[builder 5/8] RUN ...", "[2/4] COPY ...", "[linux/amd64 builder 1/3] FROM ...".
_STEP_NAME = re.compile(r"^\[(?:(?P<prefix>[^\]]*?) )?(?P<position>\d+)/(?P<total>\d+)\] (?P<instruction>.*)$")
_STATUS = re.compile(r"^(?P<status>CACHED|DONE|ERROR|CANCELED)\b")


def parse_build_steps(output: str) -> list[BuildStep]:
    """Read BuildKit ``--progress=plain`` output into the Dockerfile steps it ran, in first-seen order.

    A vertex is introduced by ``#N <name>``; its later lines are ``#N sha256:…``, ``#N 0.52 <log line>``,
    and a status: ``#N CACHED``, ``#N DONE 3.2s``, ``#N ERROR: …`` or ``#N CANCELED``. BuildKit may repeat
    the name line when output of several vertices interleaves. Internal vertices (``[internal] …``,
    ``exporting to image``) are left out: only names of the form ``[<stage> i/n] <instruction>`` count.
    """
    names: dict[int, str] = {}
    statuses: dict[int, str] = {}
    order: list[int] = []
    for raw_line in output.splitlines():
        match = _PROGRESS_LINE.match(raw_line.rstrip("\r"))
        if match is None:
            continue
        number, text = int(match.group(1)), match.group(2)
        if number not in names:
            names[number] = text
            order.append(number)
            continue
        status = _STATUS.match(text)
        if status is not None:
            statuses[number] = status.group("status")
    steps = []
    for number in order:
        name = names[number]
        step = _STEP_NAME.match(name)
        if step is None:
            continue
        prefix = step.group("prefix")
        stage = prefix.split()[-1] if prefix else None
        steps.append(
            BuildStep(
                number=number,
                name=name,
                stage=stage,
                position=int(step.group("position")),
                total=int(step.group("total")),
                instruction=step.group("instruction").strip(),
                status=statuses.get(number, "STARTED"),
            )
        )
    return steps


def cached_steps(build_output: str) -> dict[str, bool]:
    """Map each step's instruction text (without the ``[stage i/n]`` prefix) to whether it was CACHED.

    When two stages run the same instruction text, the entry is True only if every one of them was cached.
    """
    result: dict[str, bool] = {}
    for step in parse_build_steps(build_output):
        result[step.instruction] = result.get(step.instruction, True) and step.cached
    return result


_POETRY_INSTALL = re.compile(r"\bpoetry\s+(?:install|sync)\b")


def dependency_install_steps(steps: Iterable[BuildStep], *, package_mode: bool = True) -> list[BuildStep]:
    """The RUN steps that install a project's dependencies with Poetry.

    Those are the RUNs whose text runs ``poetry install`` (or ``poetry sync``) with ``--no-root``. In a
    project with ``package-mode = false`` there is no root to leave out, so every Poetry install counts.
    """
    found = []
    for step in steps:
        text = step.instruction
        if not text.upper().startswith("RUN") or not _POETRY_INSTALL.search(text):
            continue
        if "--no-root" in text or not package_mode:
            found.append(step)
    return found


# --------------------------------------------------------------------------- code-only changes

_SKIPPED_DIRECTORIES = {"tests", "test", "docs", "node_modules", "__pycache__", "build", "dist"}


def project_package_mode(pyproject: Mapping) -> bool:
    """False when ``[tool.poetry] package-mode = false``."""
    return bool(pyproject.get("tool", {}).get("poetry", {}).get("package-mode", True))


def pick_source_file(project: Path, pyproject: Mapping | None = None) -> Path | None:
    """Choose one Python source file of ``project`` whose change should be a code-only change.

    Prefers a file of the project's own package (``tool.poetry.packages``, else the project name, in the
    project root or under ``src/``); falls back to the shallowest ``*.py`` outside tests, hidden folders
    and virtual environments. Returns None when the project has no Python file.
    """
    pyproject = pyproject or {}
    candidates: list[Path] = []
    for directory in _package_directories(project, pyproject):
        if directory.is_file() and directory.suffix == ".py":
            candidates.append(directory)
        elif directory.is_dir():
            candidates.extend(sorted(path for path in directory.rglob("*.py") if _is_source(project, path)))
        if candidates:
            return candidates[0]
    everything = sorted(
        (path for path in project.rglob("*.py") if _is_source(project, path)),
        key=lambda path: (len(path.relative_to(project).parts), str(path)),
    )
    return everything[0] if everything else None


def touch_source_file(path: Path, comment: str = TOUCH_COMMENT) -> None:
    """Append a comment line to a Python file: a change to the code that changes no behaviour."""
    data = path.read_bytes()
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    if data and not data.endswith(b"\n"):
        data += newline
    path.write_bytes(data + comment.encode("utf-8") + newline)


def _package_directories(project: Path, pyproject: Mapping) -> list[Path]:
    poetry = pyproject.get("tool", {}).get("poetry", {})
    directories: list[Path] = []
    for package in poetry.get("packages", []) or []:
        if isinstance(package, Mapping) and isinstance(package.get("include"), str):
            include = package["include"]
            if not any(character in include for character in "*?["):
                directories.append(project / package.get("from", ".") / include)
    name = poetry.get("name") or pyproject.get("project", {}).get("name")
    if isinstance(name, str) and name:
        module = re.sub(r"[-.]+", "_", name).lower()
        for base in (project, project / "src"):
            directories += [base / module, base / f"{module}.py"]
    return directories


def _is_source(project: Path, path: Path) -> bool:
    parts = path.relative_to(project).parts
    folders = parts[:-1]
    if any(part.startswith(".") for part in parts):
        return False
    if any(part in _SKIPPED_DIRECTORIES or part.endswith("venv") for part in folders):
        return False
    return not (parts[-1].startswith("test_") or parts[-1].endswith("_test.py") or parts[-1] == "conftest.py")
