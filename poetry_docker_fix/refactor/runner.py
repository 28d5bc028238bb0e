"""From paths on disk to refactorings: find Dockerfiles, find and read their build context, run the pipeline."""

from __future__ import annotations

import fnmatch
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from .config import ToolConfig
from .facts import Context, Options
from .pipeline import Refactoring, Status, refactor, select_passes
from .project import PoetryProject, ProjectError, load_project
from .writer import InputError, read_dockerfile

DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile")
SKIP_DIRECTORIES = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
SERIAL_BELOW = 8  # fewer files than this are processed in this process: a pool costs more than it saves


@dataclass
class FileReport:
    path: Path
    refactoring: Refactoring | None = None
    error: str | None = None  # input error: one line naming the file
    context: Path | None = None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.FAILED
        assert self.refactoring is not None
        return self.refactoring.status


@dataclass(frozen=True)
class Request:
    """What the command line asked for; per-project configuration fills in what it left open."""

    options: Options = Options()
    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    context: Path | None = None  # --context: one build context for every file
    explicit: frozenset[str] = field(default_factory=frozenset)  # Options fields given as flags


def is_dockerfile_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def find_dockerfiles(directory: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """Dockerfiles below `directory`, sorted; `exclude` globs match names or paths relative to it."""
    patterns = tuple(exclude)

    def excluded(path: Path) -> bool:
        relative = path.relative_to(directory).as_posix()
        return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(path.name, p) for p in patterns)

    found: list[Path] = []
    for root, directories, files in os.walk(directory):
        base = Path(root)
        directories[:] = sorted(
            d for d in directories
            if d not in SKIP_DIRECTORIES and not d.endswith(".egg-info") and not excluded(base / d)
            and not (base / d / "pyvenv.cfg").exists()
        )
        found.extend(base / name for name in files if is_dockerfile_name(name) and not excluded(base / name))
    return sorted(found)


def discover_context(dockerfile: Path) -> Path:
    """The build context: the Dockerfile's folder, or — when that has no pyproject.toml, as for
    `docker/Dockerfile` — the nearest folder above it that has one (not past a repository root)."""
    folder = dockerfile.parent if str(dockerfile.parent) else Path(".")
    if (folder / "pyproject.toml").is_file():
        return folder
    try:
        parents = folder.resolve().parents
    except (OSError, RuntimeError):  # a symlink loop
        return folder
    for parent in parents:
        if (parent / "pyproject.toml").is_file():
            return parent
        if (parent / ".git").exists():
            break
    return folder


def process_text(text: str, context_dir: Path, options: Options, passes: list[type]) -> Refactoring:
    """Raises ProjectError when the context's pyproject.toml or poetry.lock cannot be read."""
    project = load_project(context_dir)
    return refactor(text, Context(project, options), passes)


def process_file(path: Path, context_dir: Path | None, options: Options, passes: list[type]) -> FileReport:
    """Run `passes` with `options` exactly as given (no configuration file is consulted)."""
    context = context_dir or discover_context(path)
    try:
        text = read_dockerfile(path)
        refactoring = process_text(text, context, options, passes)
    except (InputError, ProjectError) as error:
        return FileReport(path, error=str(error), context=context)
    return FileReport(path, refactoring, context=context)


def settings_for(project: PoetryProject | None, request: Request) -> tuple[Options, list[type]]:
    """Options and passes for one project: flags first, then its [tool.poetry-docker-fix], then defaults."""
    config = ToolConfig()
    if project is not None and project.tool_config:
        config = ToolConfig.from_table(project.tool_config, str(project.root / "pyproject.toml"))
    options = config.options(request.options, flags=set(request.explicit))
    select = list(request.select) or list(config.select)
    skip = list(request.skip) + [name for name in config.skip if name not in request.select]
    try:
        passes = select_passes(select, skip)
    except ValueError as error:
        where = f"{project.root / 'pyproject.toml'}: " if project is not None and not request.select else ""
        raise ProjectError(f"{where}{error}") from None
    return options, passes


def process(path: Path, request: Request) -> FileReport:
    """One Dockerfile as the CLI runs it: context found, project configuration applied."""
    context = request.context or discover_context(path)
    try:
        text = read_dockerfile(path)
        project = load_project(context)
        options, passes = settings_for(project, request)
        refactoring = refactor(text, Context(project, options), passes)
    except (InputError, ProjectError) as error:
        return FileReport(path, error=str(error), context=context)
    return FileReport(path, refactoring, context=context)


def process_many(paths: list[Path], request: Request, jobs: int,
                 progress: Callable[[int, int], None] | None = None) -> list[FileReport]:
    """Process files in parallel; the reports come back in the order of `paths`, whatever finishes first."""
    if jobs <= 1 or len(paths) < SERIAL_BELOW:
        reports = []
        for done, path in enumerate(paths, 1):
            reports.append(process(path, request))
            if progress:
                progress(done, len(paths))
        return reports
    reports_in_order: list[FileReport] = []
    chunk = max(1, min(64, len(paths) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for done, report in enumerate(pool.map(_process_for_pool, paths, [request] * len(paths), chunksize=chunk), 1):
            reports_in_order.append(report)
            if progress:
                progress(done, len(paths))
    return reports_in_order


def _process_for_pool(path: Path, request: Request) -> FileReport:
    return process(path, request)


def with_options(request: Request, **changes) -> Request:
    return replace(request, options=replace(request.options, **changes))
