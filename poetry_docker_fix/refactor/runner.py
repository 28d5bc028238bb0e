"""From paths on disk to refactorings: find Dockerfiles, find and read their build context, run the pipeline."""

from __future__ import annotations

import fnmatch
import gc
import os
import re
import signal
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .config import ToolConfig
from .context import discover_context
from .facts import Context, Options, named_for_development
from .pipeline import PassOutcome, Refactoring, Status, describe_bug, refactor, select_passes
from .project import PoetryProject, ProjectError, load_project
from .writer import InputError, read_dockerfile

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

# `dockerfile`: what `docker build` falls back to when there is no `Dockerfile`. `Dockerfile.dockerignore` is
# not one: it is the ignore file BuildKit reads for `Dockerfile`.
DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile", "dockerfile")
NOT_DOCKERFILE_PATTERNS = ("*.dockerignore",)
SKIP_DIRECTORIES = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
SERIAL_BELOW = 8  # fewer files than this are processed in this process: a pool costs more than it saves
BATCH = 16  # files sent to a worker at a time: few enough to keep both busy to the end, enough to amortise IPC


@dataclass
class FileReport:
    path: Path
    refactoring: Refactoring | None = None
    error: str | None = None  # input error: one line naming the file
    context: Path | None = None
    diff: str | None = field(default=None, compare=False)  # worked out once, see `unified_diff`

    def unified_diff(self) -> str:
        """The diff a changed file would get, named as `display_name` shows its path ("" when unchanged).
        Worked out once; pool workers do it before sending the report back."""
        if self.diff is None:
            from .report import display_name
            from .writer import unified_diff

            refactoring = self.refactoring
            changed = refactoring is not None and refactoring.changed
            self.diff = unified_diff(refactoring.original, refactoring.output, display_name(self.path)) \
                if changed else ""
        return self.diff

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.FAILED
        assert self.refactoring is not None
        return self.refactoring.status

    def __reduce__(self):
        # Reports travel back from the worker processes: as nested tuples of strings and numbers they pickle
        # several times faster than as dataclasses, enums and Path objects (which is main-process time).
        refactoring = self.refactoring
        packed = None if refactoring is None else (
            refactoring.status.value, refactoring.original, refactoring.output, refactoring.reason,
            tuple((o.name, o.safe, tuple((c.line, c.summary, c.reason, c.original_line) for c in o.changes),
                   tuple(o.notes)) for o in refactoring.outcomes),
        )
        return _unpack_report, (str(self.path), packed, self.error, None if self.context is None else str(self.context),
                                self.diff)


@dataclass(frozen=True)
class Request:
    """What the command line asked for; per-project configuration fills in what it left open."""

    options: Options = Options()
    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    context: Path | None = None  # --context: one build context for every file
    explicit: frozenset[str] = field(default_factory=frozenset)  # Options fields given as flags


def _unpack_report(path: str, packed, error: str | None, context: str | None, diff: str | None) -> FileReport:
    from ..transforms.base import Change

    refactoring = None
    if packed is not None:
        status, original, output, reason, outcomes = packed
        refactoring = Refactoring(Status(status), original, output, [
            PassOutcome(name, safe, [Change(*change) for change in changes], list(notes))
            for name, safe, changes, notes in outcomes
        ], reason)
    return FileReport(Path(path), refactoring, error, None if context is None else Path(context), diff)


def is_dockerfile_name(name: str) -> bool:
    return _DOCKERFILE_NAME.match(name) is not None and _NOT_DOCKERFILE_NAME.match(name) is None


def find_dockerfiles(directory: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """Dockerfiles below `directory`, sorted; `exclude` globs match names or paths relative to it."""
    return sorted(iter_dockerfiles(directory, exclude))


def iter_dockerfiles(directory: Path, exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Dockerfiles below `directory` as the walk finds them (unsorted: a caller can start on the first ones
    while the walk goes on); `exclude` globs match names or paths relative to `directory`."""
    # `examples/` and `./examples` mean the folder `examples`, as they would to a shell.
    patterns = tuple(p for p in (_normal_glob(pattern) for pattern in exclude) if p)
    top = os.fspath(directory)
    prefix = len(top.rstrip(os.sep)) + 1

    def excluded(path: str, name: str) -> bool:
        if not patterns:
            return False
        relative = path[prefix:].replace(os.sep, "/")
        return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)

    # os.walk's own loop, with strings instead of Path objects: a tree of thousands of projects has tens of
    # thousands of entries.
    for root, directories, files in os.walk(top):
        if root != top and "pyvenv.cfg" in files:
            directories[:] = []  # a virtualenv, whatever its name: nothing below it is the project's
            continue
        directories[:] = sorted(
            d for d in directories
            if d not in SKIP_DIRECTORIES and not d.endswith(".egg-info") and not excluded(os.path.join(root, d), d)
        )
        for name in sorted(files):
            if is_dockerfile_name(name):
                path = os.path.join(root, name)
                if not excluded(path, name) and not _links_inside(path, top, excluded):
                    yield Path(path)


def _normal_glob(pattern: str) -> str:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern.rstrip("/")


def _links_inside(path: str, top: str, excluded: Callable[[str, str], bool] = lambda path, name: False) -> bool:
    """A symlink to a Dockerfile that this walk of `top` finds under its own name (processing both would report
    one file twice, and --apply never writes through a link). A link to a file the walk leaves out (excluded,
    in a virtualenv or a skipped folder) or to one outside `top` is processed under its own name."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    root = os.path.realpath(top)
    if not os.path.isfile(target) or os.path.commonpath([target, root]) != root:
        return False
    parts = os.path.relpath(target, root).split(os.sep)
    folder = root
    for depth, part in enumerate(parts[:-1], 1):
        if part in SKIP_DIRECTORIES or part.endswith(".egg-info") or excluded(os.path.join(top, *parts[:depth]), part):
            return False
        folder = os.path.join(folder, part)
        if os.path.isfile(os.path.join(folder, "pyvenv.cfg")):
            return False
    return is_dockerfile_name(parts[-1]) and not excluded(os.path.join(top, *parts), parts[-1])


_DOCKERFILE_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in DOCKERFILE_PATTERNS))
_NOT_DOCKERFILE_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in NOT_DOCKERFILE_PATTERNS))


def process_text(text: str, context_dir: Path, options: Options, passes: list[type],
                 dockerfile: Path | None = None) -> Refactoring:
    """Raises ProjectError when the context's pyproject.toml or poetry.lock cannot be read. `dockerfile`: where
    the text comes from, for its own `<Dockerfile>.dockerignore`."""
    project = load_project(context_dir, dockerfile)
    return refactor(text, Context(project, options, context_dir), passes)


def process_file(path: Path, context_dir: Path | None, options: Options, passes: list[type]) -> FileReport:
    """Run `passes` with `options` exactly as given (no configuration file is consulted)."""
    context = context_dir or discover_context(path)
    try:
        text = read_dockerfile(path)
        refactoring = process_text(text, context, options, passes, path)
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
    """One Dockerfile as the CLI runs it: context found, project configuration applied. An exception the tool
    did not expect (a bug) makes this file `failed` and leaves it untouched; the other files go on."""
    context = request.context or discover_context(path)
    text = ""
    try:
        text = read_dockerfile(path)
        project = load_project(context, path)
        options, passes = settings_for(project, request)
        # A file named for development keeps its dev dependencies, tests and Poetry, unless passes are chosen.
        development = path.name if not request.select and named_for_development(os.path.abspath(path)) else None
        refactoring = refactor(text, Context(project, options, context, development), passes)
    except (InputError, ProjectError) as error:
        return FileReport(path, error=str(error), context=context)
    except Exception as error:  # noqa: BLE001 - one file's bug must not stop the run
        refactoring = Refactoring(Status.FAILED, text, text, reason=f"internal error: {describe_bug(error)}")
    return FileReport(path, refactoring, context=context)


def _warm_up() -> None:
    """Worker start-up: import the passes while the parent still walks the tree, and collect garbage rarely
    (see `fewer_collections`). Not libcst: it takes about 0.12 s of each worker's time to import, and only a
    project whose imports narrow-copy must read needs it (imports.py imports it then); a tree of packaged apps
    never does."""
    fewer_collections()
    # Ctrl-C reaches the whole process group: the parent stops the pool and exits; a worker printing its own
    # KeyboardInterrupt traceback would only bury that.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .. import transforms  # noqa: F401


def fewer_collections() -> None:
    """Run the cyclic garbage collector less often. A bulk run creates millions of short-lived objects and
    keeps thousands of reports alive; with the default thresholds the collector keeps re-scanning them (about a
    third of the time spent receiving reports from the workers). Nothing here relies on collecting cycles."""
    gc.set_threshold(50_000, 50, 100)


class Workers:
    """A pool of worker processes, started before the files are known: forking and importing then overlap the
    directory walk. `jobs <= 1` (or too few files, see SERIAL_BELOW) processes in this process instead."""

    def __init__(self, jobs: int, start_now: bool = False,
                 warn: Callable[[str], None] = lambda message: print(f"warning: {message}", file=sys.stderr)) -> None:
        self.jobs = jobs
        self.warn = warn
        self.broken = False
        self.pool: "ProcessPoolExecutor | None" = None
        if start_now and jobs > 1:
            self._start()

    def _start(self) -> "ProcessPoolExecutor":
        if self.pool is None:
            # Imported here: multiprocessing costs a single-file run ~7 ms of start-up for nothing.
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_warm_up)
            self.pool.submit(int)  # with fork, the first task starts every worker at once
        return self.pool

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, paths: Iterable[Path], request: Request,
            progress: Callable[[int, int], None] | None = None, through_links: bool = False) -> list[FileReport]:
        """Process each file once; the reports come back sorted by path, whatever finishes first. `paths` may be
        a generator still walking a tree: with the pool started, files go to the workers as they are found.
        `through_links`: the paths come from several arguments, which may reach one file through different
        symlinked folders (one walk never does: it does not enter them)."""
        if self.pool is None:
            seen_once: set[str] = set()
            paths = sorted(path for path in paths if not _already(path, seen_once, through_links))
            if self.jobs <= 1 or len(paths) < SERIAL_BELOW:
                reports = []
                for done, path in enumerate(paths, 1):
                    reports.append(process(path, request))
                    if progress:
                        progress(done, len(paths))
                return reports
        from concurrent.futures.process import BrokenProcessPool

        pool = self._start()
        fewer_collections()
        seen: set[str] = set()
        submitted = 0
        batches: list[tuple[list[Path], "Future | None"]] = []

        def submit(batch: list[Path]) -> None:
            try:
                batches.append((batch, pool.submit(_process_batch, batch, request)))
            except BrokenProcessPool:
                batches.append((batch, None))

        batch: list[Path] = []
        for path in paths:
            if _already(path, seen, through_links):
                continue
            submitted += 1
            batch.append(path)
            if len(batch) == BATCH:
                submit(batch)
                batch = []
        if batch:
            submit(batch)
        reports: list[FileReport] = []
        for batch, future in batches:
            try:
                done = future.result() if future is not None else None
            except BrokenProcessPool:
                done = None
            if done is None:
                # A worker died (killed, out of memory, a crash in native code): no file is lost, the ones it
                # had and all that follow are processed here instead.
                if not self.broken:
                    self.broken = True
                    self.warn("a worker process died; its files and the rest are processed in the main process")
                done = [process(path, request) for path in batch]
            reports.extend(done)
            if progress:
                progress(len(reports), submitted)
        return sorted(reports, key=lambda report: report.path)


def _already(path: Path, seen: set[str], through_links: bool = False) -> bool:
    """Whether `path` names a file already seen under another spelling (`Dockerfile`, `./Dockerfile`,
    `/abs/Dockerfile`, and with `through_links` a path through a symlinked folder); records it otherwise. A
    symlinked Dockerfile keeps its own name: --apply never writes through it, so it must not stand in for the
    file it points to."""
    key = os.path.abspath(path)
    if through_links and not os.path.islink(key):
        key = os.path.realpath(key)
    if key in seen:
        return True
    seen.add(key)
    return False


def process_many(paths: list[Path], request: Request, jobs: int,
                 progress: Callable[[int, int], None] | None = None) -> list[FileReport]:
    """Process files in parallel (`jobs` processes); one report per file, sorted by path."""
    with Workers(jobs) as workers:
        return workers.map(paths, request, progress)


def _process_batch(paths: list[Path], request: Request) -> list[FileReport]:
    reports = [process(path, request) for path in paths]
    for report in reports:
        report.unified_diff()  # here, in parallel, rather than in the parent afterwards
    return reports


def with_options(request: Request, **changes) -> Request:
    return replace(request, options=replace(request.options, **changes))
